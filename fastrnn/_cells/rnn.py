"""The Elman RNN entry: one gate block, state h, option ``nonlinearity`` ('tanh' | 'relu').

Equations: fastrnn/oracle/rnn.py. Kernels: fastrnn/_kernels/rnn.py.
"""
import numpy as np

from .. import oracle
from .._kernels import blas as _blas
from .._threads import kernel_threads
from .._kernels import rnn as _kernels
from .formats import H_STATE, RNN_INPUTS, KerasLayer, OnnxOp
from .spec import (Cell, Layout, Option, SequenceCache, as_rows, bias_or_empty, book_params,
                   combined_bias_grad, to_call_shape, layout_flag, recurrent_weight, as_kernel_rows,
                   split_bias_grad, split_biases, torch_params, uniform_batch_sizes, zeros_if_none)


def forward(x, states, params, layout, options, batch_sizes=None):
    """x (T, N, I) or packed (R, I), (h0,) (N, H) -> out like x with H features, (h_n,), cache."""
    return _run(x, states, params, layout, options, batch_sizes, True)


def infer(x, states, params, layout, options, batch_sizes=None):
    """Forward only -> out, (h_n,): the kernel keeps nothing but out, so no cache is made."""
    return _run(x, states, params, layout, options, batch_sizes, False)[:2]


def _run(x, states, params, layout, options, batch_sizes, training):
    (h0,) = states
    rows, sizes, padded_shape = as_rows(x, batch_sizes)
    N, H = h0.shape
    dtype = rows.dtype
    call, (w_x, w_rec) = _bind(sizes, N, H, dtype, params, layout, options)
    out = np.empty((rows.shape[0], H), dtype)
    h_n = np.empty((N, H), dtype)
    with kernel_threads():
        call(rows, (h0,), out, (h_n,))
    cache = SequenceCache("rnn", layout, (rows, sizes, h0, w_x, w_rec, out),
                          {"relu": options["nonlinearity"] == "relu", "padded_shape": padded_shape}) if training else None
    return to_call_shape(out, padded_shape), (h_n,), cache


def _bind(sizes, N, H, dtype, params, layout, options):
    """The kernel call with its workspace made and every argument bound but the call's own
    -> ``call(rows, (h0,), out, (h_n,))``, (w_x, w_rec)."""
    torch_layout = layout_flag(layout)
    relu = options["nonlinearity"] == "relu"
    scratch = np.empty(2 * H * N, dtype)
    b_x, b_h = split_biases(params, layout, H, dtype)
    w_x, w_rec = params[0], recurrent_weight(params[1], torch_layout)
    small = _blas.SMALL_KERNELS
    forward_kernel = _kernels.rnn_forward

    def call(rows, states, out, finals):
        forward_kernel(rows, sizes, states[0], w_x, w_rec, b_x, b_h, torch_layout, relu, scratch, out, finals[0],
                       small)
    return call, (w_x, w_rec)


def plan(T, N, params, options):
    """Forward only on a padded (T, N) batch, torch layout, made once for repeated calls
    (spec.Cell ``plan``) -> ``run(rows (T*N, I), (h0,), out (T*N, H), (h_n,))``."""
    return _bind(uniform_batch_sizes(T, N), N, params[1].shape[1], params[0].dtype, params, "torch", options)[0]


def backward(cache, dout, dstates, grads, accumulate):
    """-> dx like the forward's x, (dh0,); weight gradients written into ``grads``."""
    rows, sizes, h0, w_x, w_rec, out = cache.take("rnn")
    layout, dtype, padded_shape = cache.layout, rows.dtype, cache.options["padded_shape"]
    dx = np.empty(rows.shape, dtype)
    dh0 = np.empty(h0.shape, dtype)
    db = combined_bias_grad(grads, layout, accumulate)
    dout = zeros_if_none(as_kernel_rows(dout, out.shape[0], padded_shape), out.shape, dtype)
    with kernel_threads():
        _kernels.rnn_backward(rows, sizes, h0, w_x, w_rec, layout == "torch", cache.options["relu"], out, dout,
                              zeros_if_none(dstates[0], h0.shape, dtype), dx, dh0, np.empty(out.shape, dtype),
                              grads[0], grads[1], bias_or_empty(db, dtype), bool(accumulate), _blas.SMALL_KERNELS)
    split_bias_grad(db, grads, layout, accumulate)
    return to_call_shape(dx, padded_shape), (dh0,)


def oracle_forward(x, states, params, options, lengths=None):
    out, h_n, cache = oracle.rnn_forward(x, *states, *params, nonlinearity=options["nonlinearity"], lengths=lengths)
    return out, (h_n,), cache


def oracle_backward(cache, dout, dstates):
    dx, dh0, grads = oracle.rnn_backward(dout, *dstates, cache)
    return dx, (dh0,), grads


def _onnx_attributes(options, directions):
    return {"activations": [{"tanh": "Tanh", "relu": "Relu"}[options["nonlinearity"]]] * directions}


RNN = Cell(
    name="rnn", title="RNN", gates=1, gate_names=("a",), state_names=("h",),
    options=(Option("nonlinearity", "tanh", oracle.rnn.NONLINEARITIES),),
    layouts={"torch": Layout(torch_params(), (0,)),
             "book": Layout(book_params(), (0,), {"nonlinearity": "tanh"})},
    forward=forward, backward=backward, infer=infer, plan=plan, oracle_forward=oracle_forward,
    oracle_backward=oracle_backward,
    doc="h' = act(x W_ihᵀ + b_ih + h W_hhᵀ + b_hh)",
    onnx=OnnxOp("RNN", (0,), RNN_INPUTS, H_STATE, attributes=_onnx_attributes),
    keras=KerasLayer("SimpleRNN", "SimpleRNNCell", (0,), activation_option="nonlinearity", gated=False))
