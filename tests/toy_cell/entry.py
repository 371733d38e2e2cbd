"""The minimal gated unit's registry entry: gates f, n (the book layout stores them n, f)."""
import numpy as np

from fastrnn._cells import Cell, Layout, SequenceCache
from fastrnn._cells.spec import (as_rows, bias_or_empty, book_params, to_call_shape, layout_flag,
                                 recurrent_weight, as_kernel_rows, torch_params, zeros_if_none)
from fastrnn._kernels import blas

from . import kernel, oracle


def _biases(params, layout):
    return (params[2], params[3]) if layout == "torch" else (params[2], None)


def forward(x, states, params, layout, options, batch_sizes=None):
    torch_layout = layout_flag(layout)
    (h0,) = states
    rows, sizes, padded_shape = as_rows(x, batch_sizes)
    R = rows.shape[0]
    N, H = h0.shape
    dtype = rows.dtype
    gates = np.empty((R, 2 * H), dtype)
    saved = np.empty((R, H), dtype)
    out = np.empty((R, H), dtype)
    h_n = np.empty((N, H), dtype)
    b_x, b_h = _biases(params, layout)
    w_x, w_rec = params[0], recurrent_weight(params[1], torch_layout)
    kernel.mgu_forward(rows, sizes, h0, w_x, w_rec, zeros_if_none(b_x, 2 * H, dtype),
                       zeros_if_none(b_h, 2 * H, dtype), torch_layout, MGU.layouts[layout].blocks, gates,
                       np.empty((N, 2 * H), dtype), np.empty(3 * H * N, dtype), saved, out, h_n, blas.SMALL_KERNELS)
    cache = SequenceCache("mgu", layout, (rows, sizes, h0, w_x, w_rec, gates, saved, out), {"padded_shape": padded_shape})
    return to_call_shape(out, padded_shape), (h_n,), cache


def backward(cache, dout, dstates, grads, accumulate):
    rows, sizes, h0, w_x, w_rec, gates, saved, out = cache.take("mgu")
    layout, dtype, padded_shape = cache.layout, rows.dtype, cache.options["padded_shape"]
    dx = np.empty(rows.shape, dtype)
    dh0 = np.empty(h0.shape, dtype)
    db_x, db_h = _biases(grads, layout)
    kernel.mgu_backward(rows, sizes, h0, w_x, w_rec, layout == "torch", MGU.layouts[layout].blocks, gates,
                        np.empty(gates.shape, dtype), saved, out,
                        zeros_if_none(as_kernel_rows(dout, out.shape[0], padded_shape), out.shape, dtype),
                        zeros_if_none(dstates[0], h0.shape, dtype), dx, dh0, grads[0], grads[1],
                        bias_or_empty(db_x, dtype), bias_or_empty(db_h, dtype), bool(accumulate),
                        blas.SMALL_KERNELS)
    return to_call_shape(dx, padded_shape), (dh0,)


def oracle_forward(x, states, params, options, lengths=None):
    out, h_n, cache = oracle.mgu_forward(x, *states, *params, lengths=lengths)
    return out, (h_n,), cache


def oracle_backward(cache, dout, dstates):
    dx, dh0, grads = oracle.mgu_backward(dout, *dstates, cache)
    return dx, (dh0,), grads


MGU = Cell(
    name="mgu", title="MGU", gates=2, gate_names=("f", "n"), state_names=("h",), options=(),
    layouts={"torch": Layout(torch_params(), (0, 1)), "book": Layout(book_params(), (1, 0))},
    forward=forward, backward=backward, oracle_forward=oracle_forward, oracle_backward=oracle_backward,
    doc="h' = (1 − f) h + f n")
