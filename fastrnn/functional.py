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
``None`` without bias), exactly as :mod:`fastrnn.oracle`.
"""
import numpy as np

from . import _sequence as _seq
from ._validation import (as_compute_array, as_real_array, check_array, check_bool, check_choice,
                          check_shape, float_dtype, shape_error)

__all__ = ["lstm_forward", "lstm_backward", "lstm_cell_forward", "lstm_cell_backward",
           "gru_forward", "gru_backward", "gru_cell_forward", "gru_cell_backward",
           "rnn_forward", "rnn_backward", "rnn_cell_forward", "rnn_cell_backward"]

NONLINEARITIES = ("tanh", "relu")


# --- unchecked cores (also used by fastrnn.nn): C-contiguous arrays of one float dtype ----

class _LSTM:
    name, gates, state_names = "lstm", 4, ("h", "c")

    @staticmethod
    def forward(x, states, w_ih, w_hh, b_ih, b_hh, option):
        bias = None if b_ih is None else b_ih + b_hh
        out, h_n, c_n, cache = _seq.lstm_seq_forward(x, states[0], states[1], w_ih, w_hh, bias, "torch")
        return out, (h_n, c_n), cache

    @staticmethod
    def backward(cache, dout, dstates, dw_ih, dw_hh, db_ih, db_hh, accumulate):
        db = _combined_bias_grad(db_ih, accumulate)
        dx, dh0, dc0 = _seq.lstm_seq_backward(cache, dout, dstates[0], dstates[1], dw_ih, dw_hh, db,
                                              accumulate)
        _split_bias_grad(db, db_ih, db_hh, accumulate)
        return dx, (dh0, dc0)


class _GRU:
    name, gates, state_names = "gru", 3, ("h",)

    @staticmethod
    def forward(x, states, w_ih, w_hh, b_ih, b_hh, reset_after):
        out, h_n, cache = _seq.gru_seq_forward(x, states[0], w_ih, w_hh, b_ih, b_hh, "torch", reset_after)
        return out, (h_n,), cache

    @staticmethod
    def backward(cache, dout, dstates, dw_ih, dw_hh, db_ih, db_hh, accumulate):
        dx, dh0 = _seq.gru_seq_backward(cache, dout, dstates[0], dw_ih, dw_hh, db_ih, db_hh, accumulate)
        return dx, (dh0,)


class _RNN:
    name, gates, state_names = "rnn", 1, ("h",)

    @staticmethod
    def forward(x, states, w_ih, w_hh, b_ih, b_hh, nonlinearity):
        bias = None if b_ih is None else b_ih + b_hh
        out, h_n, cache = _seq.rnn_seq_forward(x, states[0], w_ih, w_hh, bias, "torch", nonlinearity)
        return out, (h_n,), cache

    @staticmethod
    def backward(cache, dout, dstates, dw_ih, dw_hh, db_ih, db_hh, accumulate):
        db = _combined_bias_grad(db_ih, accumulate)
        dx, dh0 = _seq.rnn_seq_backward(cache, dout, dstates[0], dw_ih, dw_hh, db, accumulate)
        _split_bias_grad(db, db_ih, db_hh, accumulate)
        return dx, (dh0,)


def _combined_bias_grad(db_ih, accumulate):
    """The kernel's single bias gradient buffer (b_ih + b_hh enter the same sum)."""
    if db_ih is None:
        return None
    return np.zeros(db_ih.shape, db_ih.dtype) if accumulate else db_ih


def _split_bias_grad(db, db_ih, db_hh, accumulate):
    if db is None:
        return
    if accumulate:
        db_ih += db
        db_hh += db
    else:
        db_hh[...] = db


KINDS = {"lstm": _LSTM, "gru": _GRU, "rnn": _RNN}


# --- the checked public functions ---------------------------------------------------------

class FunctionalCache:
    """What a functional forward returns for its backward (opaque; consumed once)."""

    __slots__ = ("kind", "step", "seq", "shape", "w_shapes", "has_bias", "dtype")

    def __init__(self, kind, step, seq, shape, w_shapes, has_bias, dtype):
        self.kind, self.step, self.seq, self.shape = kind, step, seq, shape
        self.w_shapes, self.has_bias, self.dtype = w_shapes, has_bias, dtype

    def __repr__(self):
        state = "consumed" if self.seq.consumed else "ready"
        return f"<fastrnn.functional cache of {self._origin()} {state}>"

    def _origin(self):
        return f"{self.kind.name}_{'cell_' if self.step else ''}forward"


def _gate_label(gates):
    return "hidden_size" if gates == 1 else f"{gates}*hidden_size"


def _check_params(gates, w_ih, w_hh, b_ih, b_hh):
    """-> (w_ih, w_hh, b_ih, b_hh) C-contiguous in the weights' dtype, dtype, input_size, hidden_size."""
    w_ih = as_real_array("w_ih", w_ih)
    dtype = float_dtype("w_ih", w_ih)
    label = _gate_label(gates)
    if w_ih.ndim != 2:
        raise shape_error("w_ih", w_ih, ((label, None), ("input_size", None)))
    checked = [w_ih]
    for name, arr in (("w_hh", w_hh), ("b_ih", b_ih), ("b_hh", b_hh)):
        if arr is None:
            checked.append(None)
            continue
        arr = as_real_array(name, arr)
        if arr.dtype != dtype:
            raise TypeError(f"{name}: expected dtype {dtype} (the dtype of w_ih), got {arr.dtype}")
        checked.append(arr)
    w_ih, w_hh, b_ih, b_hh = checked
    if w_hh is None:
        raise TypeError("w_hh: expected an array, got None")
    if w_hh.ndim != 2 or w_hh.shape[0] != gates * w_hh.shape[1] or w_hh.shape[1] == 0:
        raise shape_error("w_hh", w_hh, ((label, None), ("hidden_size", None)))
    H = w_hh.shape[1]
    check_shape("w_ih", w_ih, ((label, gates * H), ("input_size", None)))
    if (b_ih is None) != (b_hh is None):
        missing = "b_hh" if b_hh is None else "b_ih"
        raise ValueError(f"{missing}: expected an array since "
                         f"{'b_ih' if missing == 'b_hh' else 'b_hh'} is given (give both biases or neither), "
                         "got None")
    if b_ih is not None:
        check_shape("b_ih", b_ih, ((label, gates * H),))
        check_shape("b_hh", b_hh, ((label, gates * H),))
    params = tuple(None if p is None else as_compute_array(p, dtype) for p in (w_ih, w_hh, b_ih, b_hh))
    return params, dtype, w_ih.shape[1], H


def _forward(kind, step, x, states, w_ih, w_hh, b_ih, b_hh, option):
    params, dtype, I, H = _check_params(kind.gates, w_ih, w_hh, b_ih, b_hh)
    x = as_real_array("x", x)
    if step:
        check_shape("x", x, (("N", None), ("input_size", I)))
        N = x.shape[0]
    else:
        check_shape("x", x, (("T", None), ("N", None), ("input_size", I)))
        if x.shape[0] == 0:
            raise ValueError(f"x: expected a sequence of length T >= 1, got shape {x.shape}")
        N = x.shape[1]
    x = as_compute_array(x, dtype)
    if step:
        x = x[None]
    suffix = "" if step else "0"
    states = tuple(np.zeros((N, H), dtype) if s is None else
                   check_array(name + suffix, s, (("N", N), ("hidden_size", H)), dtype)
                   for name, s in zip(kind.state_names, states))
    out, final, seq = kind.forward(x, states, *params, option)
    cache = FunctionalCache(kind, step, seq, (x.shape[0], N, H),
                            (params[0].shape, params[1].shape), params[2] is not None, dtype)
    return out, final, cache


def _backward(kind, step, cache, dout, dstates):
    origin = f"{kind.name}_{'cell_' if step else ''}forward"
    if not isinstance(cache, FunctionalCache) or cache.kind is not kind or cache.step != step:
        got = cache._origin() if isinstance(cache, FunctionalCache) else type(cache).__name__
        raise TypeError(f"cache: expected the cache returned by {origin}, got {got}")
    if cache.seq.consumed:
        raise RuntimeError(f"cache: this {origin} cache was already used by a backward; "
                           "run the forward again for a second backward")
    T, N, H = cache.shape
    dtype = cache.dtype
    if dout is not None:
        dout = check_array("dout", dout, (("T", T), ("N", N), ("hidden_size", H)), dtype)
    prefix, suffix = ("d", "1") if step else ("d", "_n")
    dstates = tuple(None if d is None else
                    check_array(prefix + name + suffix, d, (("N", N), ("hidden_size", H)), dtype)
                    for name, d in zip(kind.state_names, dstates))
    w_ih_shape, w_hh_shape = cache.w_shapes
    grads = (np.empty(w_ih_shape, dtype), np.empty(w_hh_shape, dtype),
             np.empty(w_hh_shape[0], dtype) if cache.has_bias else None,
             np.empty(w_hh_shape[0], dtype) if cache.has_bias else None)
    dx, d0 = kind.backward(cache.seq, dout, dstates, *grads, False)
    return (dx[0] if step else dx), d0, grads


def lstm_forward(x, h0, c0, w_ih, w_hh, b_ih=None, b_hh=None):
    """x (T, N, I), h0, c0 (N, H) or None -> out (T, N, H), h_n (N, H), c_n (N, H), cache."""
    out, (h_n, c_n), cache = _forward(_LSTM, False, x, (h0, c0), w_ih, w_hh, b_ih, b_hh, None)
    return out, h_n, c_n, cache


def lstm_backward(dout, dh_n, dc_n, cache):
    """dout (T, N, H), dh_n, dc_n (N, H), each or None -> dx, dh0, dc0, (dw_ih, dw_hh, db_ih, db_hh)."""
    dx, (dh0, dc0), grads = _backward(_LSTM, False, cache, dout, (dh_n, dc_n))
    return dx, dh0, dc0, grads


def lstm_cell_forward(x, h, c, w_ih, w_hh, b_ih=None, b_hh=None):
    """x (N, I), h, c (N, H) or None -> h1 (N, H), c1 (N, H), cache."""
    _, (h1, c1), cache = _forward(_LSTM, True, x, (h, c), w_ih, w_hh, b_ih, b_hh, None)
    return h1, c1, cache


def lstm_cell_backward(dh1, dc1, cache):
    """dh1, dc1 (N, H) or None -> dx (N, I), dh (N, H), dc (N, H), (dw_ih, dw_hh, db_ih, db_hh)."""
    dx, (dh, dc), grads = _backward(_LSTM, True, cache, None, (dh1, dc1))
    return dx, dh, dc, grads


def gru_forward(x, h0, w_ih, w_hh, b_ih=None, b_hh=None, reset_after=True):
    """x (T, N, I), h0 (N, H) or None -> out (T, N, H), h_n (N, H), cache."""
    reset_after = check_bool("reset_after", reset_after)
    out, (h_n,), cache = _forward(_GRU, False, x, (h0,), w_ih, w_hh, b_ih, b_hh, reset_after)
    return out, h_n, cache


def gru_backward(dout, dh_n, cache):
    """dout (T, N, H), dh_n (N, H), each or None -> dx, dh0, (dw_ih, dw_hh, db_ih, db_hh)."""
    dx, (dh0,), grads = _backward(_GRU, False, cache, dout, (dh_n,))
    return dx, dh0, grads


def gru_cell_forward(x, h, w_ih, w_hh, b_ih=None, b_hh=None, reset_after=True):
    """x (N, I), h (N, H) or None -> h1 (N, H), cache."""
    reset_after = check_bool("reset_after", reset_after)
    _, (h1,), cache = _forward(_GRU, True, x, (h,), w_ih, w_hh, b_ih, b_hh, reset_after)
    return h1, cache


def gru_cell_backward(dh1, cache):
    """dh1 (N, H) or None -> dx (N, I), dh (N, H), (dw_ih, dw_hh, db_ih, db_hh)."""
    dx, (dh,), grads = _backward(_GRU, True, cache, None, (dh1,))
    return dx, dh, grads


def rnn_forward(x, h0, w_ih, w_hh, b_ih=None, b_hh=None, nonlinearity="tanh"):
    """x (T, N, I), h0 (N, H) or None -> out (T, N, H), h_n (N, H), cache; nonlinearity 'tanh' | 'relu'."""
    nonlinearity = check_choice("nonlinearity", nonlinearity, NONLINEARITIES)
    out, (h_n,), cache = _forward(_RNN, False, x, (h0,), w_ih, w_hh, b_ih, b_hh, nonlinearity)
    return out, h_n, cache


def rnn_backward(dout, dh_n, cache):
    """dout (T, N, H), dh_n (N, H), each or None -> dx, dh0, (dw_ih, dw_hh, db_ih, db_hh)."""
    dx, (dh0,), grads = _backward(_RNN, False, cache, dout, (dh_n,))
    return dx, dh0, grads


def rnn_cell_forward(x, h, w_ih, w_hh, b_ih=None, b_hh=None, nonlinearity="tanh"):
    """x (N, I), h (N, H) or None -> h1 (N, H), cache; nonlinearity 'tanh' | 'relu'."""
    nonlinearity = check_choice("nonlinearity", nonlinearity, NONLINEARITIES)
    _, (h1,), cache = _forward(_RNN, True, x, (h,), w_ih, w_hh, b_ih, b_hh, nonlinearity)
    return h1, cache


def rnn_cell_backward(dh1, cache):
    """dh1 (N, H) or None -> dx (N, I), dh (N, H), (dw_ih, dw_hh, db_ih, db_hh)."""
    dx, (dh,), grads = _backward(_RNN, True, cache, None, (dh1,))
    return dx, dh, grads
