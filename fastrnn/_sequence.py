"""Layout-generic whole-sequence calls into the fused kernels (private).

Both public faces of fastrnn run through here: ``fastrnn.functional`` / ``fastrnn.nn``
with PyTorch's layout, and ``fastrnn.layers`` with the book's layout. This module does
not validate (its callers do); it arranges memory, calls a kernel, and returns.

Layouts (G = 4 for LSTM, 3 for GRU, 1 for RNN):

=========  ===================  ===================  =======================
layout     w_x                  w_h                  gate blocks
=========  ===================  ===================  =======================
``torch``  (G*H, I)             (G*H, H)             LSTM i,f,g,o; GRU r,z,n
``book``   (I, G*H)             (H, G*H)             LSTM f,g,i,o; GRU z,r,n
=========  ===================  ===================  =======================

The book GRU is the original form (reset applied before the recurrent matmul) with
``h' = (1-z) h + z n``; PyTorch's GRU has ``h' = (1-z) n + z h`` and, by default,
the reset applied after it (``reset_after=True``).

Sequences are time-major: ``x (T, N, I)``; all arrays handed in must share one float
dtype (float32 or float64). Outputs are new arrays of that dtype.

Forward functions return ``out (T, N, H)``, the final state(s) and a
``SequenceCache``; backward functions consume the cache (a second backward on it
raises ``RuntimeError``) and write the weight gradients into caller-given arrays.
"""

# ---------------------------------------------------------------------------
# Signatures (the contract used by functional.py, nn/, layers/ and torch/):
#
# lstm_seq_forward(x, h0, c0, w_x, w_h, bias, layout) -> (out, h_n, c_n, cache)
#     bias: (4H,) combined bias (b_ih + b_hh for torch) or None.
# lstm_seq_backward(cache, dout, dh_n, dc_n, dw_x, dw_h, db, accumulate) -> (dx, dh0, dc0)
#     dout (T,N,H) / dh_n / dc_n may be None (zeros). dw_x, dw_h: C-contiguous arrays
#     shaped like w_x, w_h, same dtype; db (4H,) or None. accumulate=True adds into
#     them, False overwrites them.
# gru_seq_forward(x, h0, w_x, w_h, b_x, b_h, layout, reset_after) -> (out, h_n, cache)
#     book layout requires reset_after=False; b_x, b_h (3H,) or None.
# gru_seq_backward(cache, dout, dh_n, dw_x, dw_h, db_x, db_h, accumulate) -> (dx, dh0)
# rnn_seq_forward(x, h0, w_x, w_h, bias, layout, nonlinearity) -> (out, h_n, cache)
# rnn_seq_backward(cache, dout, dh_n, dw_x, dw_h, db, accumulate) -> (dx, dh0)
#
# A single step is the same call with T = 1. Every call needs T >= 1 (callers validate).
# ---------------------------------------------------------------------------

import numpy as np

from ._kernels import blas as _blas
from ._kernels import gru as _gru
from ._kernels import lstm as _lstm
from ._kernels import rnn as _rnn

LAYOUTS = ("torch", "book")
_LSTM_BLOCKS = {"torch": (0, 1, 2, 3), "book": (2, 0, 1, 3)}    # column block of i, f, g, o


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


def _layout_flag(layout):
    if layout not in LAYOUTS:
        raise ValueError(f"layout: expected one of {LAYOUTS}, got {layout!r}")
    return layout == "torch"


def _recurrent_weight(w_h, torch_layout):
    """The recurrent weight as the kernels take it: (G*H, H) C-contiguous.

    torch's weight_hh already is; the book's w_h (H, G*H) is copied transposed, once per
    forward (the backward reuses the copy from the cache).
    """
    return w_h if torch_layout else np.ascontiguousarray(w_h.T)


def _zeros_if_none(array, shape, dtype):
    return np.zeros(shape, dtype) if array is None else array


_EMPTY = {np.dtype(np.float32): np.zeros(0, np.float32), np.dtype(np.float64): np.zeros(0, np.float64)}


def _bias_or_empty(bias, dtype):
    return _EMPTY[np.dtype(dtype)] if bias is None else bias


def lstm_seq_forward(x, h0, c0, w_x, w_h, bias, layout):
    """x (T, N, I), h0, c0 (N, H) -> out (T, N, H), h_n (N, H), c_n (N, H), cache."""
    torch_layout = _layout_flag(layout)
    T, N, _ = x.shape
    H = h0.shape[1]
    dtype = x.dtype
    gates = np.empty((T, N, 4 * H), dtype)
    scratch = np.empty(5 * H * N, dtype)      # (G + H) N: see blas.recurrent_add
    cs = np.empty((T, N, H), dtype)
    out = np.empty((T, N, H), dtype)
    b = np.zeros(4 * H, dtype) if bias is None else bias
    w_rec = _recurrent_weight(w_h, torch_layout)
    _lstm.lstm_forward(x, h0, c0, w_x, w_rec, b, torch_layout, _LSTM_BLOCKS[layout], gates, scratch,
                       cs, out, _blas.SMALL_KERNELS)
    cache = SequenceCache("lstm", layout, (x, h0, c0, w_x, w_rec, gates, cs, out),
                          {"has_bias": bias is not None})
    return out, out[-1].copy(), cs[-1].copy(), cache


def lstm_seq_backward(cache, dout, dh_n, dc_n, dw_x, dw_h, db, accumulate):
    """-> dx (T, N, I), dh0 (N, H), dc0 (N, H); weight grads written into dw_x, dw_h, db."""
    x, h0, c0, w_x, w_rec, gates, cs, out = cache.take("lstm")
    dtype = x.dtype
    dout = _zeros_if_none(dout, out.shape, dtype)
    dh_n = _zeros_if_none(dh_n, h0.shape, dtype)
    dc_n = _zeros_if_none(dc_n, h0.shape, dtype)
    dx = np.empty(x.shape, dtype)
    dh0 = np.empty(h0.shape, dtype)
    dc0 = np.empty(h0.shape, dtype)
    _lstm.lstm_backward(x, h0, c0, w_x, w_rec, cache.layout == "torch", _LSTM_BLOCKS[cache.layout],
                        gates, cs, out, dout, dh_n, dc_n, dx, dh0, dc0, dw_x, dw_h,
                        _bias_or_empty(db, dtype), bool(accumulate), _blas.SMALL_KERNELS)
    return dx, dh0, dc0

_GRU_BLOCKS = {"torch": (0, 1, 2), "book": (1, 0, 2)}    # column block of r, z, n
NONLINEARITIES = ("tanh", "relu")


def gru_seq_forward(x, h0, w_x, w_h, b_x, b_h, layout, reset_after):
    """x (T, N, I), h0 (N, H) -> out (T, N, H), h_n (N, H), cache."""
    torch_layout = _layout_flag(layout)
    if not torch_layout and reset_after:
        raise ValueError("reset_after: the book's GRU applies the reset before the matmul "
                         "(reset_after=False)")
    T, N, _ = x.shape
    H = h0.shape[1]
    dtype = x.dtype
    gates = np.empty((T, N, 3 * H), dtype)
    saved = np.empty((T, N, H), dtype)
    out = np.empty((T, N, H), dtype)
    hproj = np.empty((N, 3 * H), dtype)
    bx = np.zeros(3 * H, dtype) if b_x is None else b_x
    bh = np.zeros(3 * H, dtype) if b_h is None else b_h
    w_rec = _recurrent_weight(w_h, torch_layout)
    _gru.gru_forward(x, h0, w_x, w_rec, bx, bh, torch_layout, _GRU_BLOCKS[layout], bool(reset_after),
                     torch_layout, gates, hproj, np.empty(4 * H * N, dtype), saved, out,
                     _blas.SMALL_KERNELS)
    cache = SequenceCache("gru", layout, (x, h0, w_x, w_rec, gates, saved, out),
                          {"reset_after": bool(reset_after)})
    return out, out[-1].copy(), cache


def gru_seq_backward(cache, dout, dh_n, dw_x, dw_h, db_x, db_h, accumulate):
    """-> dx (T, N, I), dh0 (N, H); weight grads written into dw_x, dw_h, db_x, db_h."""
    x, h0, w_x, w_rec, gates, saved, out = cache.take("gru")
    reset_after = cache.options["reset_after"]
    torch_layout = cache.layout == "torch"
    dtype = x.dtype
    T, N, _ = x.shape
    H = h0.shape[1]
    dout = _zeros_if_none(dout, out.shape, dtype)
    dh_n = _zeros_if_none(dh_n, h0.shape, dtype)
    dx = np.empty(x.shape, dtype)
    dh0 = np.empty(h0.shape, dtype)
    dgates_h = np.empty((T, N, 3 * H) if reset_after else (1, 1, 3 * H), dtype)
    d_rh = np.empty((N, H), dtype)
    _gru.gru_backward(x, h0, w_x, w_rec, torch_layout, _GRU_BLOCKS[cache.layout], reset_after,
                      torch_layout, gates, saved, out, dout, dh_n, dx, dh0, dgates_h, d_rh,
                      dw_x, dw_h, _bias_or_empty(db_x, dtype), _bias_or_empty(db_h, dtype),
                      bool(accumulate), _blas.SMALL_KERNELS)
    return dx, dh0


def _relu_flag(nonlinearity):
    if nonlinearity not in NONLINEARITIES:
        raise ValueError(f"nonlinearity: expected one of {NONLINEARITIES}, got {nonlinearity!r}")
    return nonlinearity == "relu"


def rnn_seq_forward(x, h0, w_x, w_h, bias, layout, nonlinearity):
    """x (T, N, I), h0 (N, H) -> out (T, N, H), h_n (N, H), cache."""
    torch_layout = _layout_flag(layout)
    relu = _relu_flag(nonlinearity)
    T, N, _ = x.shape
    H = h0.shape[1]
    dtype = x.dtype
    out = np.empty((T, N, H), dtype)
    b = np.zeros(H, dtype) if bias is None else bias
    w_rec = _recurrent_weight(w_h, torch_layout)
    _rnn.rnn_forward(x, h0, w_x, w_rec, b, torch_layout, relu, np.empty(2 * H * N, dtype), out,
                     _blas.SMALL_KERNELS)
    cache = SequenceCache("rnn", layout, (x, h0, w_x, w_rec, out), {"relu": relu})
    return out, out[-1].copy(), cache


def rnn_seq_backward(cache, dout, dh_n, dw_x, dw_h, db, accumulate):
    """-> dx (T, N, I), dh0 (N, H); weight grads written into dw_x, dw_h, db."""
    x, h0, w_x, w_rec, out = cache.take("rnn")
    dtype = x.dtype
    dout = _zeros_if_none(dout, out.shape, dtype)
    dh_n = _zeros_if_none(dh_n, h0.shape, dtype)
    dx = np.empty(x.shape, dtype)
    dh0 = np.empty(h0.shape, dtype)
    dpre = np.empty(out.shape, dtype)
    _rnn.rnn_backward(x, h0, w_x, w_rec, cache.layout == "torch", cache.options["relu"], out, dout,
                      dh_n, dx, dh0, dpre, dw_x, dw_h, _bias_or_empty(db, dtype), bool(accumulate),
                      _blas.SMALL_KERNELS)
    return dx, dh0
