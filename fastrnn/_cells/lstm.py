"""The LSTM entry: gates i, f, g, o (torch) / f, g, i, o (the book); states h, c.

Equations: fastrnn/oracle/lstm.py. Kernels: fastrnn/_kernels/lstm.py.
"""
import numpy as np

from .. import oracle
from .._kernels import blas as _blas
from .._threads import kernel_threads
from .._kernels import lstm as _kernels
from .formats import LSTM_STATES, RNN_INPUTS, KerasLayer, OnnxOp
from .spec import (Cell, Layout, SequenceCache, as_rows, bias_or_empty, book_params, chunk_steps,
                   combined_bias_grad, to_call_shape, layout_flag, recurrent_weight, as_kernel_rows,
                   split_bias_grad, split_biases, torch_params, uniform_batch_sizes, zeros_if_none, zoneout_keep,
                   zoneout_work)


def forward(x, states, params, layout, options, batch_sizes=None):
    """x (T, N, I) or packed (R, I), (h0, c0) (N, H) -> out like x with H features, (h_n, c_n), cache.
    ``options["zoneout"]``: zoneout's keep weights (spec.Cell), or absent."""
    return _run(x, states, params, layout, options, batch_sizes, True)


def infer(x, states, params, layout, options, batch_sizes=None):
    """Forward only: like forward, without a cache -> out, (h_n, c_n). Extra memory: the
    input projection of one chunk of steps and the running c, whatever T."""
    return _run(x, states, params, layout, options, batch_sizes, False)[:2]


def _run(x, states, params, layout, options, batch_sizes, training):
    h0, c0 = states
    rows, sizes, padded_shape = as_rows(x, batch_sizes)
    N, H = h0.shape
    dtype = rows.dtype
    call, (w_x, w_rec, gates, cs, keep) = _bind(rows.shape[0], sizes, N, H, dtype, params, layout, options, padded_shape,
                                                training)
    out = np.empty((rows.shape[0], H), dtype)
    h_n = np.empty((N, H), dtype)
    c_n = np.empty((N, H), dtype)
    with kernel_threads():
        call(rows, (h0, c0), out, (h_n, c_n))
    cache = SequenceCache("lstm", layout, (rows, sizes, h0, c0, w_x, w_rec, gates, cs, out, keep),
                          {"padded_shape": padded_shape}) if training else None
    return to_call_shape(out, padded_shape), (h_n, c_n), cache


def _bind(R, sizes, N, H, dtype, params, layout, options, padded_shape, training):
    """The kernel call of R rows with its workspaces made and every argument bound but the
    call's own -> ``call(rows, (h0, c0), out, (h_n, c_n))``, (w_x, w_rec, gates, cs, keep)."""
    torch_layout = layout_flag(layout)
    T = sizes.shape[0]
    chunk = T if training else chunk_steps(T, N)
    gates = np.empty((R if training else min(R, chunk * N), 4 * H), dtype)
    cs = np.empty((R if training else 2 * N, H), dtype)
    scratch = np.empty(5 * H * N, dtype)
    b_x, b_h = split_biases(params, layout, 4 * H, dtype)
    w_x, w_rec = params[0], recurrent_weight(params[1], torch_layout)
    keep = zoneout_keep(options, R, padded_shape, H, dtype)
    blocks, small = LSTM.layouts[layout].blocks, _blas.SMALL_KERNELS
    forward_kernel = _kernels.lstm_forward

    def call(rows, states, out, finals):
        forward_kernel(rows, sizes, states[0], states[1], w_x, w_rec, b_x, b_h, torch_layout, blocks, chunk,
                       training, gates, scratch, cs, out, finals[0], finals[1], keep, small)
    return call, (w_x, w_rec, gates, cs, keep)


def plan(T, N, params, options):
    """Forward only on a padded (T, N) batch, torch layout, made once for repeated calls
    (spec.Cell ``plan``) -> ``run(rows (T*N, I), (h0, c0), out (T*N, H), (h_n, c_n))``."""
    return _bind(T * N, uniform_batch_sizes(T, N), N, params[1].shape[1], params[0].dtype, params, "torch", options,
                 (T, N), False)[0]


def backward(cache, dout, dstates, grads, accumulate):
    """-> dx like the forward's x, (dh0, dc0); weight gradients written into ``grads``."""
    rows, sizes, h0, c0, w_x, w_rec, gates, cs, out, keep = cache.take("lstm")
    layout, dtype, padded_shape = cache.layout, rows.dtype, cache.options["padded_shape"]
    dh_n, dc_n = (zeros_if_none(d, h0.shape, dtype) for d in dstates)
    dout = zeros_if_none(as_kernel_rows(dout, out.shape[0], padded_shape), out.shape, dtype)
    dx = np.empty(rows.shape, dtype)
    dh0 = np.empty(h0.shape, dtype)
    dc0 = np.empty(h0.shape, dtype)
    db = combined_bias_grad(grads, layout, accumulate)
    with kernel_threads():
        _kernels.lstm_backward(rows, sizes, h0, c0, w_x, w_rec, layout == "torch", LSTM.layouts[layout].blocks,
                               gates, cs, out, dout, dh_n, dc_n, dx, dh0, dc0, grads[0], grads[1],
                               bias_or_empty(db, dtype), bool(accumulate), keep,
                               zoneout_work(keep, h0.shape[0], h0.shape[1], dtype),
                               _blas.SMALL_KERNELS)
    split_bias_grad(db, grads, layout, accumulate)
    return to_call_shape(dx, padded_shape), (dh0, dc0)


def oracle_forward(x, states, params, options, lengths=None):
    out, h_n, c_n, cache = oracle.lstm_forward(x, *states, *params, lengths=lengths, zoneout=options.get("zoneout"))
    return out, (h_n, c_n), cache


def oracle_backward(cache, dout, dstates):
    dx, dh0, dc0, grads = oracle.lstm_backward(dout, *dstates, cache)
    return dx, (dh0, dc0), grads


LSTM = Cell(
    name="lstm", title="LSTM", gates=4, gate_names=("i", "f", "g", "o"), state_names=("h", "c"),
    options=(),
    layouts={"torch": Layout(torch_params(), (0, 1, 2, 3)),
             "book": Layout(book_params(), (2, 0, 1, 3))},
    forward=forward, backward=backward, infer=infer, plan=plan, oracle_forward=oracle_forward,
    oracle_backward=oracle_backward,
    doc="c' = f c + i g, h' = o tanh(c')", zoneout=True,
    onnx=OnnxOp("LSTM", (0, 3, 1, 2), RNN_INPUTS + ("initial_c", "P"), LSTM_STATES),
    keras=KerasLayer("LSTM", "LSTMCell", (0, 1, 2, 3)))
