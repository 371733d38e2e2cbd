"""What a registry entry says about a cell (private).

A :class:`Cell` is everything the faces need to know about one recurrent cell: its name,
gate count, state names, options, the parameters of each weight layout (names, shapes,
initialisation), the gate blocks of each layout, the oracle's calls and the kernels'
sequence calls. The faces (``functional``, ``nn``, ``layers``, ``torch``, ``models``), the
benchmark engine and the tests read these fields and never name a cell themselves.

Shapes are written as dimension specs, a tuple of strings, each ``"I"`` (the input size),
``"H"`` (the hidden size), ``"P"`` (the projection size, torch's ``proj_size``: the size of
the h state of a cell that projects it) or ``"k*H"`` with ``k`` an integer or ``G`` (the
gate count): ``("G*H", "I")`` is torch's ``weight_ih``, ``("P", "H")`` its ``weight_hr``.
A cell's ``state_dims`` give each state's size the same way (``("P", "H")``: h has P
features and c has H); its output rows are as wide as its first state.

Layouts:

=========  ===========================================  =======================================
layout     parameters (LSTM, GRU, RNN)                   sequences
=========  ===========================================  =======================================
``torch``  ``weight_ih (G*H, I)``, ``weight_hh (G*H, H)``,  time-major, torch's gate order
           ``bias_ih``, ``bias_hh (G*H,)``
``book``   ``Wx (I, G*H)``, ``Wh (H, G*H)``, ``b (G*H,)``   batch-major at the face; the book's
                                                        column blocks
=========  ===========================================  =======================================
"""
import dataclasses
import functools
import math
from typing import Callable

import numpy as np

LAYOUTS = ("torch", "book")


@dataclasses.dataclass(frozen=True)
class Param:
    """One parameter array of a layer: its name, shape spec, and initialisation.

    ``arg`` is its argument name in ``fastrnn.functional`` (``w_ih``); ``bias`` marks the
    arrays a layer built with ``bias=False`` leaves out; ``init`` is ``"uniform"``
    (torch's U(−1/√H, 1/√H)), ``"fan_in_normal"`` (the book's randn / √fan-in, fan-in
    being the first dimension), ``"zeros"`` or ``"ones"``.
    """
    name: str
    dims: tuple
    arg: str = ""
    bias: bool = False
    init: str = "uniform"

    def shape(self, input_size, hidden_size, gates, proj_size=None):
        """The concrete shape for the given sizes (None for a size not known)."""
        return tuple(_dim_size(d, input_size, hidden_size, gates, proj_size) for d in self.dims)

    def labels(self, input_size, hidden_size, gates, proj_size=None):
        """``(label, size)`` pairs for error messages (``fastrnn._validation`` dims)."""
        return tuple((dim_label(d, gates), None if size is None else size)
                     for d, size in zip(self.dims, self.shape(input_size, hidden_size, gates, proj_size)))


def _split_dim(dim):
    """``"G*H"`` -> (``"G"``, ``"H"``); ``"H"`` -> (1, ``"H"``)."""
    if "*" not in dim:
        return 1, dim
    k, symbol = dim.split("*")
    return (k if k == "G" else int(k)), symbol


def _dim_size(dim, input_size, hidden_size, gates, proj_size=None):
    k, symbol = _split_dim(dim)
    base = {"I": input_size, "H": hidden_size, "P": proj_size}[symbol]
    if base is None:
        return None
    return (gates if k == "G" else k) * base


def dim_symbols(dims):
    """The size symbols (``"I"``, ``"H"``, ``"P"``) a dimension spec tuple uses."""
    return {_split_dim(d)[1] for d in dims}


TORCH_NAMES = {"I": "input_size", "H": "hidden_size", "P": "proj_size"}


def dim_label(dim, gates, names=TORCH_NAMES):
    """A dimension spec spelled for messages: ``"G*H"`` -> ``"4*hidden_size"`` (``names`` spells I and H)."""
    k, symbol = _split_dim(dim)
    name = names[symbol]
    k = gates if k == "G" else k
    return name if k == 1 else f"{k}*{name}"


@dataclasses.dataclass(frozen=True)
class Option:
    """A named option of a cell (GRU ``reset_after``, RNN ``nonlinearity``, ...)."""
    name: str
    default: object
    choices: tuple

    def check(self, value):
        """``value`` if it is one of ``choices``; TypeError/ValueError naming the option else."""
        if all(isinstance(c, bool) for c in self.choices):
            if not isinstance(value, (bool, np.bool_)):
                raise TypeError(f"{self.name}: expected a bool, got {type(value).__name__} {value!r}")
            return bool(value)
        if not isinstance(value, type(self.default)) or value not in self.choices:
            raise ValueError(f"{self.name}: expected one of {', '.join(map(repr, self.choices))}, "
                             f"got {value!r}")
        return value


@dataclasses.dataclass(frozen=True)
class Layout:
    """One weight layout of a cell: its parameters, gate blocks and the options it fixes.

    ``blocks[k]`` is the column block of torch's gate ``k`` (LSTM i, f, g, o -> the book's
    f, g, i, o is ``(2, 0, 1, 3)``). ``fixed`` are option values this layout always runs
    with (the book's GRU: reset before the matmul, the book's blend).
    """
    params: tuple
    blocks: tuple
    fixed: dict = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True)
class Cell:
    """A registry entry: one recurrent cell and every call the faces make for it.

    Sequence calls (kernels; C-contiguous arrays of one float dtype, T >= 1; callers validate):

    - ``forward(x, states, params, layout, options, batch_sizes=None) -> (out, finals, cache)``
      where ``x`` is time-major padded (T, N, I) and ``out`` (T, N, H), or, with
      ``batch_sizes`` (T,) int64, packed (R, I) and (R, H) (fastrnn/_kernels/packed.py:
      sequences sorted by length, longest first, b_t >= 1 rows a step); ``states`` is a
      tuple in ``state_names`` order of ``(N, H)`` arrays (sorted like the rows), ``finals``
      each sequence's states after its last step; ``params`` the layout's parameter tuple
      (``None`` for a left-out bias);
    - ``backward(cache, dout, dstates, grads, accumulate) -> (dx, dstates0)``: ``dout`` (in
      the forward's layout) and ``dstates`` entries may be None (zeros); ``grads`` is aligned with ``params``
      (C-contiguous, the dtype); ``accumulate`` adds into them, else overwrites.

    Oracle calls (torch layout, ``fastrnn.oracle``'s readable NumPy):

    - ``oracle_forward(x, states, params, options, lengths=None) -> (out, finals, cache)``
      (padded x (T, N, I); ``lengths`` (N,): fastrnn.oracle's variable-length semantics);
    - ``oracle_backward(cache, dout, dstates) -> (dx, dstates0, grads)``.

    ``state_dims`` (optional): each state's size as a dimension spec (``("P", "H")``: h has
    the projection size); every state ``H`` when empty. ``variant_of`` (optional): the name
    of the cell this entry is a variant of (the LSTM's peephole and projection entries);
    the benchmark engine's default cells leave variants out.

    ``infer`` (optional, same arguments as ``forward``) ``-> (out, finals)``: the forward
    without a cache, in memory that does not grow with T beyond ``out``; a cell without one
    runs ``forward`` and drops the cache (:meth:`forward_only`).

    ``plan`` (optional) ``plan(T, N, params, options) -> run``: forward only, torch layout,
    on a padded (T, N) batch, with the workspaces made and the kernel's fixed arguments bound
    once, for repeated calls of the same shape (serving, streaming: fastrnn.nn's fast path).
    ``run(rows (T*N, I), states, out (T*N, H), finals)`` fills ``out`` and the final states
    (each (N, H)); every array C-contiguous of the params' dtype, checked by the caller.
    ``run`` reads ``params`` as they are when it runs (in-place updates are seen; arrays
    replaced need a new plan) and uses its workspaces: one call at a time.

    ``zoneout`` (optional, default False): True when the sequence calls take
    ``options["zoneout"]``, the keep weights of zoneout on h (``fastrnn.oracle``'s
    ``zoneout_blend``: h_t = keep ⊙ h_{t−1} + (1 − keep) ⊙ h'_t): None or absent for none,
    an array (H,) of one weight for every row (evaluation: p), or an array shaped like the
    call's ``out`` (training: a Bernoulli(p) mask per step, row and unit), of the call's
    dtype. :func:`zoneout_keep` turns it into the kernels' ``keep`` rows.

    ``onnx`` / ``keras`` (optional): the standard ONNX operator and the Keras 3 layer that
    compute the cell (formats.py), read by ``fastrnn.onnx`` and ``fastrnn.convert``; None
    where there is none.
    """
    name: str
    title: str
    gates: int
    gate_names: tuple
    state_names: tuple
    options: tuple
    layouts: dict
    forward: Callable
    backward: Callable
    oracle_forward: Callable
    oracle_backward: Callable
    doc: str = ""
    infer: Callable = None
    plan: Callable = None
    state_dims: tuple = ()
    variant_of: str = ""
    zoneout: bool = False
    onnx: object = None
    keras: object = None

    def __post_init__(self):
        # the sequence calls run on both halves of a big batch in two threads when the thread
        # budget allows (fastrnn/_cells/batch_split.py); small calls go straight through
        from .batch_split import split_backward, split_forward, split_infer
        for name, wrap in (("forward", split_forward), ("backward", split_backward), ("infer", split_infer)):
            call = getattr(self, name)
            if call is not None and not getattr(call, "splits", False):
                object.__setattr__(self, name, wrap(call))

    # --- sizes --------------------------------------------------------------------------
    @property
    def projects(self):
        """True when a parameter or state has the projection size ``"P"`` (its faces then
        take ``proj_size >= 1``; the other cells take 0)."""
        dims = [d for layout in self.layouts.values() for p in layout.params for d in p.dims]
        return "P" in dim_symbols(tuple(dims) + tuple(self.state_dims))

    def state_sizes(self, hidden_size, proj_size=None):
        """Each state's size (``state_dims``; every state ``H`` when not given)."""
        dims = self.state_dims or ("H",) * len(self.state_names)
        return tuple(_dim_size(d, None, hidden_size, self.gates, proj_size) for d in dims)

    def state_labels(self):
        """Each state's size as spelled in messages: ``'hidden_size'`` or ``'proj_size'``."""
        return tuple(dim_label(d, self.gates) for d in (self.state_dims or ("H",) * len(self.state_names)))

    def output_size(self, hidden_size, proj_size=None):
        """The width of one direction's output rows: the size of the first state."""
        return self.state_sizes(hidden_size, proj_size)[0]

    def forward_only(self, x, states, params, layout, options, batch_sizes=None):
        """``(out, finals)`` of a forward that saves nothing for a backward."""
        if self.infer is not None:
            return self.infer(x, states, params, layout, options, batch_sizes)
        return self.forward(x, states, params, layout, options, batch_sizes)[:2]

    # --- options ------------------------------------------------------------------------
    def check_options(self, given=None, layout="torch"):
        """Every option's value: the given ones checked, the rest defaults, the layout's fixed."""
        given = dict(given or {})
        unknown = sorted(set(given) - {o.name for o in self.options})
        if unknown:
            names = ", ".join(o.name for o in self.options) or "none"
            raise TypeError(f"{unknown[0]}: not an option of the {self.title} cell (its options: {names})")
        values = {o.name: o.check(given[o.name]) if o.name in given else o.default for o in self.options}
        values.update(self.layouts[layout].fixed)
        return values

    # --- parameters ---------------------------------------------------------------------
    def params(self, layout, bias=True):
        """The layout's Param entries, bias entries left out when ``bias`` is False."""
        return tuple(p for p in self.layouts[layout].params if bias or not p.bias)

    def param_shapes(self, layout, input_size, hidden_size, bias=True, proj_size=None):
        """``(name, shape)`` of each parameter of one layer."""
        return [(p.name, p.shape(input_size, hidden_size, self.gates, proj_size)) for p in self.params(layout, bias)]

    def sizes_of_arrays(self, layout, arrays):
        """Input, hidden and projection size read off a layer's arrays (aligned with
        ``params(layout)``, None entries skipped) -> ``({"I": n, "H": n, "P": n}, {"I": param,
        ...})``: each size and the first parameter holding it as a plain dimension (None where
        no array does). Arrays of the wrong rank are skipped (the caller reports them)."""
        sizes, source = {"I": None, "H": None, "P": None}, {"I": None, "H": None, "P": None}
        for p, arr in zip(self.layouts[layout].params, arrays):
            if arr is None or arr.ndim != len(p.dims):
                continue
            for dim, n in zip(p.dims, arr.shape):
                if dim in sizes and sizes[dim] is None and n > 0:
                    sizes[dim], source[dim] = n, p
        return sizes, source

    def init_params(self, layout, input_size, hidden_size, dtype, rng, bias=True, prefix="", suffix="",
                    proj_size=None):
        """A dict ``prefix + name + suffix -> array`` drawn with each parameter's init."""
        out = {}
        for p in self.params(layout, bias):
            shape = p.shape(input_size, hidden_size, self.gates, proj_size)
            out[prefix + p.name + suffix] = _draw(p.init, shape, hidden_size, dtype, rng)
        return out


def _draw(init, shape, hidden_size, dtype, rng):
    if init == "uniform":
        bound = 1.0 / math.sqrt(hidden_size)
        return rng.uniform(-bound, bound, shape).astype(dtype)
    if init == "fan_in_normal":
        return (rng.standard_normal(shape) / np.sqrt(shape[0])).astype(dtype)
    if init == "zeros":
        return np.zeros(shape, dtype)
    if init == "ones":
        return np.ones(shape, dtype)
    raise ValueError(f"init: unknown initialisation {init!r}")


# --- the standard parameter lists -------------------------------------------------------------

def torch_params():
    """torch.nn's ``weight_ih, weight_hh, bias_ih, bias_hh`` for a gated cell."""
    return (Param("weight_ih", ("G*H", "I"), "w_ih"), Param("weight_hh", ("G*H", "H"), "w_hh"),
            Param("bias_ih", ("G*H",), "b_ih", bias=True), Param("bias_hh", ("G*H",), "b_hh", bias=True))


def book_params():
    """The book's ``Wx, Wh, b`` (initialised as its models do: randn / √fan-in, b = 0)."""
    return (Param("Wx", ("I", "G*H"), "Wx", init="fan_in_normal"),
            Param("Wh", ("H", "G*H"), "Wh", init="fan_in_normal"),
            Param("b", ("G*H",), "b", bias=True, init="zeros"))


# --- what a kernel forward saves for its backward ---------------------------------------------

class SequenceCache:
    """What a forward saved for its backward; consumed by the first backward."""

    __slots__ = ("cell", "layout", "arrays", "options", "consumed")

    def __init__(self, cell, layout, arrays, options=None):
        self.cell = cell
        self.layout = layout
        self.arrays = arrays
        self.options = options or {}
        self.consumed = False

    def take(self, cell):
        """Return the saved arrays once; a second call raises RuntimeError."""
        if self.cell != cell:
            raise TypeError(f"cache: expected the cache of a {cell} forward, got one of a {self.cell} forward")
        if self.consumed:
            raise RuntimeError("backward called twice on the same forward: run forward again first "
                               "(the forward's saved buffers are overwritten by the first backward)")
        self.consumed = True
        return self.arrays

    def __repr__(self):
        state = "consumed" if self.consumed else "ready"
        return f"<SequenceCache {self.cell} layout={self.layout!r} {state}>"


# --- packed and padded rows (see fastrnn/_kernels/packed.py) ---------------------------------------

def as_rows(x, batch_sizes):
    """A sequence call's input as the kernels' rows -> (rows (R, F), batch_sizes (T,) int64, padded_shape).

    ``x`` is padded (T, N, F) when ``batch_sizes`` is None (``padded_shape`` is then (T, N), and
    every step has N rows), else already packed (R, F) with its batch sizes (``padded_shape``
    None).
    """
    if batch_sizes is None:
        T, N = x.shape[0], x.shape[1]
        return x.reshape(T * N, x.shape[2]), uniform_batch_sizes(T, N), (T, N)
    return x, batch_sizes, None


@functools.lru_cache(maxsize=64)
def uniform_batch_sizes(T, N):
    """(T,) int64 all N: a padded batch's batch sizes (shared, never written)."""
    return np.full(T, N, np.int64)


def to_call_shape(rows, padded_shape):
    """Kernel rows (R, F) back in the call's shape: (T, N, F) for a padded call."""
    return rows if padded_shape is None else rows.reshape(padded_shape + rows.shape[1:])


def as_kernel_rows(array, rows_count, padded_shape):
    """A caller's (T, N, F) gradient as rows (R, F) for a padded call, else as given (None stays None)."""
    if array is None or padded_shape is None:
        return array
    return array.reshape(rows_count, array.shape[-1])


# --- helpers shared by the entries' sequence calls ---------------------------------------------

def layout_flag(layout):
    """True for the torch layout (the kernels' ``torch_layout`` argument)."""
    if layout not in LAYOUTS:
        raise ValueError(f"layout: expected one of {LAYOUTS}, got {layout!r}")
    return layout == "torch"


def recurrent_weight(w_h, torch_layout):
    """The recurrent weight as the kernels take it: (G*H, H) C-contiguous.

    torch's weight_hh already is; the book's w_h (H, G*H) is copied transposed, once per
    forward (the backward reuses the copy from the cache).
    """
    return w_h if torch_layout else np.ascontiguousarray(w_h.T)


def zeros_if_none(array, shape, dtype):
    return np.zeros(shape, dtype) if array is None else array


_EMPTY = {np.dtype(np.float32): np.zeros(0, np.float32), np.dtype(np.float64): np.zeros(0, np.float64)}


def bias_or_empty(bias, dtype):
    """A bias gradient buffer, or the empty array that tells a kernel there is none."""
    return _EMPTY[np.dtype(dtype)] if bias is None else bias


def split_biases(params, layout, size, dtype):
    """(b_x, b_h) as a kernel adds them: torch's b_ih, b_hh; the book's b and zeros; zeros for none."""
    if params[2] is None:
        zeros = np.zeros(size, dtype)
        return zeros, zeros
    return params[2], params[3] if layout == "torch" else np.zeros(size, dtype)


def zoneout_keep(options, rows_count, padded_shape, width, dtype):
    """The kernels' zoneout ``keep`` (K, width) from ``options.get("zoneout")``: K = 0 (no
    zoneout: the kernels skip it), 1 (one weight vector for every row) or ``rows_count``
    (one per row, in the kernels' row order). See :class:`Cell` ``zoneout``."""
    keep = options.get("zoneout")
    if keep is None:
        return _no_zoneout(width, np.dtype(dtype))
    keep = np.ascontiguousarray(keep, dtype)
    if keep.ndim == 1:
        return keep.reshape(1, width)
    return keep.reshape(rows_count, width) if padded_shape is not None else keep


def zoneout_work(keep, N, width, dtype):
    """The backward kernels' zoneout workspace: (2N, width) with zoneout (each row's share
    of dh and the part carried to h_{t−1}, kernels/zoneout.py zone_out_grads), else (0, width)."""
    return np.empty((2 * N if keep.shape[0] else 0, width), dtype)


@functools.lru_cache(maxsize=64)
def _no_zoneout(width, dtype):
    """The (0, width) ``keep`` of a call without zoneout (shared, never written)."""
    return np.zeros((0, width), dtype)


# Forward only, the input projection runs over chunks of about this many rows (steps x
# sequences): a GEMM of a few hundred rows is at OpenBLAS's speed, and the workspace
# (chunk rows x G*H) stays small whatever T is.
INFER_CHUNK_ROWS = 512


def chunk_steps(T, N):
    """The steps of one forward-only chunk: at least one, about INFER_CHUNK_ROWS rows."""
    return max(1, min(T, -(-INFER_CHUNK_ROWS // max(N, 1))))


def combined_bias_grad(grads, layout, accumulate):
    """The single-bias kernel's gradient buffer for ``grads`` (see :func:`split_bias_grad`)."""
    db = grads[2]
    if layout == "book" or db is None or not accumulate:
        return db
    return np.zeros(db.shape, db.dtype)


def split_bias_grad(db, grads, layout, accumulate):
    """torch layout: ``b_ih`` and ``b_hh`` both get the combined bias's gradient."""
    if layout == "book" or db is None:
        return
    db_ih, db_hh = grads[2], grads[3]
    if accumulate:
        db_ih += db
        db_hh += db
    else:
        db_hh[...] = db
