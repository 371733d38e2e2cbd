"""The LSTM entry: gates i, f, g, o (torch) / f, g, i, o (the book); states h, c.

Equations: fastrnn/oracle/lstm.py. Kernels: fastrnn/_kernels/lstm.py.
"""
import numpy as np

from .. import oracle
from .._kernels import blas as _blas
from .._kernels import lstm as _kernels
from .spec import (Cell, Layout, SequenceCache, bias_or_empty, book_params, combined_bias,
                   combined_bias_grad, layout_flag, recurrent_weight, split_bias_grad, torch_params,
                   zeros_if_none)


def forward(x, states, params, layout, options):
    """x (T, N, I), (h0, c0) (N, H) -> out (T, N, H), (h_n, c_n), cache."""
    torch_layout = layout_flag(layout)
    h0, c0 = states
    T, N, _ = x.shape
    H = h0.shape[1]
    dtype = x.dtype
    gates = np.empty((T, N, 4 * H), dtype)
    scratch = np.empty(5 * H * N, dtype)      # (G + H) N: see blas.recurrent_add
    cs = np.empty((T, N, H), dtype)
    out = np.empty((T, N, H), dtype)
    bias = combined_bias(params, layout)
    w_x, w_rec = params[0], recurrent_weight(params[1], torch_layout)
    _kernels.lstm_forward(x, h0, c0, w_x, w_rec, np.zeros(4 * H, dtype) if bias is None else bias,
                          torch_layout, LSTM.layouts[layout].blocks, gates, scratch, cs, out,
                          _blas.SMALL_KERNELS)
    cache = SequenceCache("lstm", layout, (x, h0, c0, w_x, w_rec, gates, cs, out))
    return out, (out[-1].copy(), cs[-1].copy()), cache


def backward(cache, dout, dstates, grads, accumulate):
    """-> dx (T, N, I), (dh0, dc0); weight gradients written into ``grads``."""
    x, h0, c0, w_x, w_rec, gates, cs, out = cache.take("lstm")
    layout, dtype = cache.layout, x.dtype
    dh_n, dc_n = (zeros_if_none(d, h0.shape, dtype) for d in dstates)
    dx = np.empty(x.shape, dtype)
    dh0 = np.empty(h0.shape, dtype)
    dc0 = np.empty(h0.shape, dtype)
    db = combined_bias_grad(grads, layout, accumulate)
    _kernels.lstm_backward(x, h0, c0, w_x, w_rec, layout == "torch", LSTM.layouts[layout].blocks,
                           gates, cs, out, zeros_if_none(dout, out.shape, dtype), dh_n, dc_n, dx, dh0,
                           dc0, grads[0], grads[1], bias_or_empty(db, dtype), bool(accumulate),
                           _blas.SMALL_KERNELS)
    split_bias_grad(db, grads, layout, accumulate)
    return dx, (dh0, dc0)


def oracle_forward(x, states, params, options):
    out, h_n, c_n, cache = oracle.lstm_forward(x, *states, *params)
    return out, (h_n, c_n), cache


def oracle_backward(cache, dout, dstates):
    dx, dh0, dc0, grads = oracle.lstm_backward(dout, *dstates, cache)
    return dx, (dh0, dc0), grads


LSTM = Cell(
    name="lstm", title="LSTM", gates=4, gate_names=("i", "f", "g", "o"), state_names=("h", "c"),
    options=(),
    layouts={"torch": Layout(torch_params(), (0, 1, 2, 3)),
             "book": Layout(book_params(), (2, 0, 1, 3))},
    forward=forward, backward=backward, oracle_forward=oracle_forward, oracle_backward=oracle_backward,
    doc="c' = f c + i g, h' = o tanh(c')")
