"""One layer, one direction: LSTM / GRU / RNN forward and backward in PyTorch's layout.

Sequences are time-major ``x (T, N, I)``; states ``(N, H)``; weights ``w_ih (G*H, I)``,
``w_hh (G*H, H)``, biases ``b_ih, b_hh (G*H,)`` (both or neither), with G = 4 for LSTM
(gates i, f, g, o), 3 for GRU (r, z, n), 1 for RNN. The weights' dtype (float32 or
float64) is the compute dtype: other inputs (integer, float16, non-contiguous, ...) are
converted to it, outputs have it. Initial states and output gradients may be ``None``
(zeros). A forward returns an opaque cache that the matching backward consumes once;
the cache keeps references to ``x``, the weights and the returned ``out``, so change
none of them in place before the backward. Backward functions return the gradients of
the inputs, of the initial state(s) and ``(dw_ih, dw_hh, db_ih, db_hh)`` (bias entries
``None`` without bias), exactly as :mod:`fastrnn.oracle`. Sequence forwards take ``lengths``
for variable-length batches (the backward reads them from the cache).

Besides the per-cell functions, :func:`sequence_forward` / :func:`sequence_backward` and
:func:`cell_forward` / :func:`cell_backward` take the cell's name, its states and
parameters as tuples (in the orders above) and its options as keywords.
"""
import numpy as np

from . import _cells
from ._packing import packing_for
from ._validation import (as_compute_array, as_real_array, check_array, check_lengths, check_shape, float_dtype,
                          shape_error)

__all__ = ["lstm_forward", "lstm_backward", "lstm_cell_forward", "lstm_cell_backward",
           "gru_forward", "gru_backward", "gru_cell_forward", "gru_cell_backward",
           "rnn_forward", "rnn_backward", "rnn_cell_forward", "rnn_cell_backward",
           "sequence_forward", "sequence_backward", "cell_forward", "cell_backward"]

class FunctionalCache:
    """What a functional forward returns for its backward (opaque; consumed once)."""

    __slots__ = ("cell", "step", "seq", "shape", "grad_shapes", "dtype", "packing", "used")

    def __init__(self, cell, step, seq, shape, grad_shapes, dtype, packing):
        self.cell, self.step, self.seq, self.shape = cell, step, seq, shape
        self.grad_shapes, self.dtype, self.packing = grad_shapes, dtype, packing
        self.used = False

    @property
    def consumed(self):
        return self.used if self.seq is None else self.seq.consumed

    def __repr__(self):
        state = "consumed" if self.consumed else "ready"
        return f"<fastrnn.functional cache of {self._origin()} {state}>"

    def _origin(self):
        return _origin(self.cell, self.step)


def _origin(cell, step):
    return f"{cell.name}_{'cell_' if step else ''}forward"


def check_params(cell, values):
    """Torch-layout parameters -> (tuple of C-contiguous arrays or None, dtype, input_size, hidden_size,
    proj_size (None for a cell without a projection)).

    ``values`` follows ``cell.params('torch')``; the first one fixes the dtype, bias entries
    are all given or all None. Errors name the argument (``w_ih``, ...), the expected shape
    and what came.
    """
    specs = cell.params("torch")
    if len(values) != len(specs):
        raise TypeError(f"params: expected {len(specs)} arrays ({', '.join(p.arg for p in specs)}), "
                        f"got {len(values)}")
    arrays, dtype = [], None
    for p, value in zip(specs, values):
        if value is None:
            if not p.bias:
                raise TypeError(f"{p.arg}: expected an array, got None")
            arrays.append(None)
            continue
        arr = as_real_array(p.arg, value)
        if dtype is None:
            dtype = float_dtype(p.arg, arr)
        elif arr.dtype != dtype:
            raise TypeError(f"{p.arg}: expected dtype {dtype} (the dtype of {specs[0].arg}), got {arr.dtype}")
        arrays.append(arr)
    given = [p.arg for p, a in zip(specs, arrays) if p.bias and a is not None]
    missing = [p.arg for p, a in zip(specs, arrays) if p.bias and a is None]
    if given and missing:
        raise ValueError(f"{missing[0]}: expected an array since {given[0]} is given "
                         "(give both biases or neither), got None")
    for p, arr in zip(specs, arrays):          # ranks first: the sizes are read off the arrays
        if arr is not None and arr.ndim != len(p.dims):
            raise shape_error(p.arg, arr, p.labels(None, None, cell.gates))
    sizes, source = cell.sizes_of_arrays("torch", arrays)
    needed = ("I", "H", "P") if cell.projects else ("I", "H")
    # the array H is read off first (every G*H is inferred from it): when it is inconsistent
    # in itself, it is the one to blame
    for p, arr in sorted(zip(specs, arrays), key=lambda pa: pa[0] is not source["H"]):
        if arr is None:
            continue
        shown = {s: (None if source[s] is p else sizes[s]) for s in sizes}
        if None in (sizes[s] for s in needed) or arr.shape != p.shape(sizes["I"], sizes["H"], cell.gates,
                                                                        sizes["P"]):
            raise shape_error(p.arg, arr, p.labels(shown["I"], shown["H"], cell.gates, shown["P"]))
    params = tuple(None if a is None else as_compute_array(a, dtype) for a in arrays)
    return params, dtype, sizes["I"], sizes["H"], sizes["P"]


def _forward(cell, step, x, states, params, options, lengths=None):
    options = cell.check_options(options)
    params, dtype, I, H, P = check_params(cell, params)
    sizes = cell.state_sizes(H, P)
    x = as_real_array("x", x)
    if step:
        check_shape("x", x, (("N", None), ("input_size", I)))
        N = x.shape[0]
    else:
        check_shape("x", x, (("T", None), ("N", None), ("input_size", I)))
        if x.shape[0] == 0:
            raise ValueError(f"x: expected a sequence of length T >= 1, got shape {x.shape}")
        N = x.shape[1]
    states = _check_states(cell, states, "" if step else "0", N, sizes, dtype)
    lengths = check_lengths(lengths, x.shape[0], N)
    x = as_compute_array(x, dtype)
    if step:
        x = x[None]
    T = x.shape[0]
    states = tuple(np.zeros((N, size), dtype) if s is None else s for s, size in zip(states, sizes))
    packing = packing_for(lengths, T, N)
    grad_shapes = tuple(None if p is None else p.shape for p in params)
    if packing.rows == 0 and lengths is not None:        # every length 0: no step runs
        out, final, seq = np.zeros((T, N, sizes[0]), dtype), tuple(s.copy() for s in states), None
    else:
        out, final, seq = cell.forward(packing.pack(x), tuple(packing.sort(s) for s in states), params, "torch",
                                       options, packing.batch_sizes)
        out, final = packing.unpack(out), tuple(packing.unsort(f) for f in final)
    return out, final, FunctionalCache(cell, step, seq, (T, N, sizes), grad_shapes, dtype, packing)


def _check_states(cell, states, suffix, N, sizes, dtype, prefix=""):
    """Each state (N, its size: ``sizes``) or None."""
    states = tuple(states)
    if len(states) != len(cell.state_names):
        raise TypeError(f"states: expected {len(cell.state_names)} arrays "
                        f"({', '.join(prefix + n + suffix for n in cell.state_names)}), got {len(states)}")
    return tuple(None if s is None else check_array(prefix + name + suffix, s, (("N", N), (label, size)), dtype)
                 for name, s, label, size in zip(cell.state_names, states, cell.state_labels(), sizes))


def _backward(cell, step, cache, dout, dstates):
    if not isinstance(cache, FunctionalCache) or (cell is not None and cache.cell is not cell) \
            or cache.step != step:
        origin = _origin(cell, step) if cell is not None else f"{'cell' if step else 'sequence'}_forward"
        got = cache._origin() if isinstance(cache, FunctionalCache) else type(cache).__name__
        raise TypeError(f"cache: expected the cache returned by {origin}, got {got}")
    cell = cache.cell
    if cache.consumed:
        raise RuntimeError(f"cache: this {cache._origin()} cache was already used by a backward; "
                           "run the forward again for a second backward")
    T, N, sizes = cache.shape
    dtype, packing = cache.dtype, cache.packing
    if dout is not None:
        dout = check_array("dout", dout, (("T", T), ("N", N), (cell.state_labels()[0], sizes[0])), dtype)
    dstates = _check_states(cell, dstates, "1" if step else "_n", N, sizes, dtype, prefix="d")
    if cache.seq is None:                               # every length 0: nothing ran
        cache.used = True
        grads = tuple(None if s is None else np.zeros(s, dtype) for s in cache.grad_shapes)
        dx = np.zeros((T, N, cache.grad_shapes[0][1]), dtype)
        d0 = tuple(np.zeros((N, size), dtype) if d is None else d.copy() for d, size in zip(dstates, sizes))
        return dx, d0, grads
    grads = tuple(None if s is None else np.empty(s, dtype) for s in cache.grad_shapes)
    dx, d0 = cell.backward(cache.seq, None if dout is None else packing.pack(dout),
                           tuple(None if d is None else packing.sort(d) for d in dstates), grads, False)
    dx, d0 = packing.unpack(dx), tuple(packing.unsort(d) for d in d0)
    return (dx[0] if step else dx), d0, grads


# --- by name ----------------------------------------------------------------------------------

def sequence_forward(cell, x, states, params, lengths=None, **options):
    """cell name, x (T, N, I), states tuple of (N, H) or None, params tuple (w_ih, w_hh, b_ih, b_hh)
    -> out (T, N, H), final states tuple, cache. ``lengths`` as in :func:`lstm_forward`;
    options (``reset_after``, ``nonlinearity``, ...) as keywords."""
    return _forward(_cells.get(cell), False, x, states, params, options, lengths)


def sequence_backward(cache, dout, dstates):
    """dout (T, N, H) or None, dstates tuple of (N, H) or None -> dx, initial-state grads tuple, grads tuple."""
    return _backward(None, False, cache, dout, dstates)


def cell_forward(cell, x, states, params, **options):
    """One step: x (N, I), states tuple of (N, H) or None -> new states tuple, cache."""
    _, final, cache = _forward(_cells.get(cell), True, x, states, params, options)
    return final, cache


def cell_backward(cache, dstates):
    """dstates tuple of (N, H) or None -> dx (N, I), state grads tuple, grads tuple."""
    return _backward(None, True, cache, None, dstates)


# --- per cell (the names of the contract) -------------------------------------------------------

_LSTM, _GRU, _RNN = _cells.get("lstm"), _cells.get("gru"), _cells.get("rnn")


def lstm_forward(x, h0, c0, w_ih, w_hh, b_ih=None, b_hh=None, lengths=None):
    """x (T, N, I), h0, c0 (N, H) or None -> out (T, N, H), h_n (N, H), c_n (N, H), cache.

    ``lengths`` (N,) integers in [0, T] or None: sequence n has its first lengths[n] steps
    (torch's packed semantics, as fastrnn.oracle states them): out is 0 after them, h_n and
    c_n are its states after its last step; the padding is skipped, not computed.
    """
    out, (h_n, c_n), cache = _forward(_LSTM, False, x, (h0, c0), (w_ih, w_hh, b_ih, b_hh), {}, lengths)
    return out, h_n, c_n, cache


def lstm_backward(dout, dh_n, dc_n, cache):
    """dout (T, N, H), dh_n, dc_n (N, H), each or None -> dx, dh0, dc0, (dw_ih, dw_hh, db_ih, db_hh)."""
    dx, (dh0, dc0), grads = _backward(_LSTM, False, cache, dout, (dh_n, dc_n))
    return dx, dh0, dc0, grads


def lstm_cell_forward(x, h, c, w_ih, w_hh, b_ih=None, b_hh=None):
    """x (N, I), h, c (N, H) or None -> h1 (N, H), c1 (N, H), cache."""
    _, (h1, c1), cache = _forward(_LSTM, True, x, (h, c), (w_ih, w_hh, b_ih, b_hh), {})
    return h1, c1, cache


def lstm_cell_backward(dh1, dc1, cache):
    """dh1, dc1 (N, H) or None -> dx (N, I), dh (N, H), dc (N, H), (dw_ih, dw_hh, db_ih, db_hh)."""
    dx, (dh, dc), grads = _backward(_LSTM, True, cache, None, (dh1, dc1))
    return dx, dh, dc, grads


def gru_forward(x, h0, w_ih, w_hh, b_ih=None, b_hh=None, reset_after=True, lengths=None):
    """x (T, N, I), h0 (N, H) or None -> out (T, N, H), h_n (N, H), cache; ``lengths`` as in lstm_forward."""
    out, (h_n,), cache = _forward(_GRU, False, x, (h0,), (w_ih, w_hh, b_ih, b_hh), {"reset_after": reset_after},
                                  lengths)
    return out, h_n, cache


def gru_backward(dout, dh_n, cache):
    """dout (T, N, H), dh_n (N, H), each or None -> dx, dh0, (dw_ih, dw_hh, db_ih, db_hh)."""
    dx, (dh0,), grads = _backward(_GRU, False, cache, dout, (dh_n,))
    return dx, dh0, grads


def gru_cell_forward(x, h, w_ih, w_hh, b_ih=None, b_hh=None, reset_after=True):
    """x (N, I), h (N, H) or None -> h1 (N, H), cache."""
    _, (h1,), cache = _forward(_GRU, True, x, (h,), (w_ih, w_hh, b_ih, b_hh), {"reset_after": reset_after})
    return h1, cache


def gru_cell_backward(dh1, cache):
    """dh1 (N, H) or None -> dx (N, I), dh (N, H), (dw_ih, dw_hh, db_ih, db_hh)."""
    dx, (dh,), grads = _backward(_GRU, True, cache, None, (dh1,))
    return dx, dh, grads


def rnn_forward(x, h0, w_ih, w_hh, b_ih=None, b_hh=None, nonlinearity="tanh", lengths=None):
    """x (T, N, I), h0 (N, H) or None -> out (T, N, H), h_n (N, H), cache; nonlinearity 'tanh' | 'relu';
    ``lengths`` as in lstm_forward."""
    out, (h_n,), cache = _forward(_RNN, False, x, (h0,), (w_ih, w_hh, b_ih, b_hh),
                                  {"nonlinearity": nonlinearity}, lengths)
    return out, h_n, cache


def rnn_backward(dout, dh_n, cache):
    """dout (T, N, H), dh_n (N, H), each or None -> dx, dh0, (dw_ih, dw_hh, db_ih, db_hh)."""
    dx, (dh0,), grads = _backward(_RNN, False, cache, dout, (dh_n,))
    return dx, dh0, grads


def rnn_cell_forward(x, h, w_ih, w_hh, b_ih=None, b_hh=None, nonlinearity="tanh"):
    """x (N, I), h (N, H) or None -> h1 (N, H), cache; nonlinearity 'tanh' | 'relu'."""
    _, (h1,), cache = _forward(_RNN, True, x, (h,), (w_ih, w_hh, b_ih, b_hh), {"nonlinearity": nonlinearity})
    return h1, cache


def rnn_cell_backward(dh1, cache):
    """dh1 (N, H) or None -> dx (N, I), dh (N, H), (dw_ih, dw_hh, db_ih, db_hh)."""
    dx, (dh,), grads = _backward(_RNN, True, cache, None, (dh1,))
    return dx, dh, grads
