"""The GRU entry: gates r, z, n (torch) / z, r, h̃ (the book); state h.

Options: ``reset_after`` (True: torch's ``n = tanh(a_xn + r (h w_hnᵀ + b_hn))``; False: the
original ``n = tanh(a_xn + (r h) w_hnᵀ + b_hn)``) and ``blend`` ('torch':
``h' = (1 − z) n + z h``; 'book': ``h' = (1 − z) h + z n``). The book's layout runs
reset_after=False, blend='book', with its one bias on the input side.
Equations: fastrnn/oracle/gru.py. Kernels: fastrnn/_kernels/gru.py.
"""
import numpy as np

from .. import oracle
from .._kernels import blas as _blas
from .._threads import kernel_threads
from .._kernels import gru as _kernels
from .formats import H_STATE, RNN_INPUTS, KerasLayer, OnnxOp
from .spec import (Cell, Layout, Option, SequenceCache, as_rows, bias_or_empty, book_params, chunk_steps,
                   to_call_shape, layout_flag, recurrent_weight, as_kernel_rows, torch_params, uniform_batch_sizes,
                   zeros_if_none, zoneout_keep, zoneout_work)

BLENDS = ("torch", "book")


def _biases(params, layout):
    """(b_x, b_h): torch's b_ih, b_hh; the book's b on the input side, none on the other."""
    return (params[2], params[3]) if layout == "torch" else (params[2], None)


def forward(x, states, params, layout, options, batch_sizes=None):
    """x (T, N, I) or packed (R, I), (h0,) (N, H) -> out like x with H features, (h_n,), cache.
    ``options["zoneout"]``: zoneout's keep weights (spec.Cell), or absent."""
    return _run(x, states, params, layout, options, batch_sizes, True)


def infer(x, states, params, layout, options, batch_sizes=None):
    """Forward only: like forward, without a cache -> out, (h_n,). Extra memory: the input
    projection of one chunk of steps and one step's workspace, whatever T."""
    return _run(x, states, params, layout, options, batch_sizes, False)[:2]


def _run(x, states, params, layout, options, batch_sizes, training):
    (h0,) = states
    rows, sizes, padded_shape = as_rows(x, batch_sizes)
    N, H = h0.shape
    dtype = rows.dtype
    call, (w_x, w_rec, gates, saved, keep) = _bind(rows.shape[0], sizes, N, H, dtype, params, layout, options,
                                                   padded_shape, training)
    out = np.empty((rows.shape[0], H), dtype)
    h_n = np.empty((N, H), dtype)
    with kernel_threads():
        call(rows, (h0,), out, (h_n,))
    cache = SequenceCache("gru", layout, (rows, sizes, h0, w_x, w_rec, gates, saved, out, keep),
                          {"reset_after": bool(options["reset_after"]), "z_keeps_h": options["blend"] == "torch",
                           "padded_shape": padded_shape}) if training else None
    return to_call_shape(out, padded_shape), (h_n,), cache


def _bind(R, sizes, N, H, dtype, params, layout, options, padded_shape, training):
    """The kernel call of R rows with its workspaces made and every argument bound but the
    call's own -> ``call(rows, (h0,), out, (h_n,))``, (w_x, w_rec, gates, saved, keep)."""
    torch_layout = layout_flag(layout)
    reset_after = bool(options["reset_after"])
    z_keeps_h = options["blend"] == "torch"
    T = sizes.shape[0]
    chunk = T if training else chunk_steps(T, N)
    gates = np.empty((R if training else min(R, chunk * N), 3 * H), dtype)
    saved = np.empty((R if training else N, H), dtype)
    hproj = np.empty((N, 3 * H), dtype)
    scratch = np.empty(4 * H * N, dtype)
    b_x, b_h = (zeros_if_none(b, 3 * H, dtype) for b in _biases(params, layout))
    w_x, w_rec = params[0], recurrent_weight(params[1], torch_layout)
    keep = zoneout_keep(options, R, padded_shape, H, dtype)
    blocks, small = GRU.layouts[layout].blocks, _blas.SMALL_KERNELS
    forward_kernel = _kernels.gru_forward

    def call(rows, states, out, finals):
        forward_kernel(rows, sizes, states[0], w_x, w_rec, b_x, b_h, torch_layout, blocks, reset_after, z_keeps_h,
                       chunk, training, gates, hproj, scratch, saved, out, finals[0], keep, small)
    return call, (w_x, w_rec, gates, saved, keep)


def plan(T, N, params, options):
    """Forward only on a padded (T, N) batch, torch layout, made once for repeated calls
    (spec.Cell ``plan``) -> ``run(rows (T*N, I), (h0,), out (T*N, H), (h_n,))``."""
    return _bind(T * N, uniform_batch_sizes(T, N), N, params[1].shape[1], params[0].dtype, params, "torch", options,
                 (T, N), False)[0]


def backward(cache, dout, dstates, grads, accumulate):
    """-> dx like the forward's x, (dh0,); weight gradients written into ``grads``."""
    rows, sizes, h0, w_x, w_rec, gates, saved, out, keep = cache.take("gru")
    reset_after, padded_shape = cache.options["reset_after"], cache.options["padded_shape"]
    layout, dtype = cache.layout, rows.dtype
    R = rows.shape[0]
    N, H = h0.shape
    dx = np.empty(rows.shape, dtype)
    dh0 = np.empty(h0.shape, dtype)
    dgates_h = np.empty((R, 3 * H) if reset_after else (1, 3 * H), dtype)
    db_x, db_h = _biases(grads, layout)
    dout = zeros_if_none(as_kernel_rows(dout, R, padded_shape), out.shape, dtype)
    with kernel_threads():
        _kernels.gru_backward(rows, sizes, h0, w_x, w_rec, layout == "torch", GRU.layouts[layout].blocks, reset_after,
                              cache.options["z_keeps_h"], gates, saved, out, dout,
                              zeros_if_none(dstates[0], h0.shape, dtype), dx, dh0, dgates_h, np.empty((N, H), dtype),
                              grads[0], grads[1], bias_or_empty(db_x, dtype), bias_or_empty(db_h, dtype),
                              bool(accumulate), keep, zoneout_work(keep, N, H, dtype),
                              _blas.SMALL_KERNELS)
    return to_call_shape(dx, padded_shape), (dh0,)


def oracle_forward(x, states, params, options, lengths=None):
    out, h_n, cache = oracle.gru_forward(x, *states, *params, reset_after=options["reset_after"],
                                         blend=options["blend"], lengths=lengths, zoneout=options.get("zoneout"))
    return out, (h_n,), cache


def oracle_backward(cache, dout, dstates):
    dx, dh0, grads = oracle.gru_backward(dout, *dstates, cache)
    return dx, (dh0,), grads


def _z_if_book(options):
    """The gate the formats negate: z (torch gate 1) for blend='book'."""
    return (1,) if options["blend"] == "book" else ()


GRU = Cell(
    name="gru", title="GRU", gates=3, gate_names=("r", "z", "n"), state_names=("h",),
    options=(Option("reset_after", True, (True, False)), Option("blend", "torch", BLENDS)),
    layouts={"torch": Layout(torch_params(), (0, 1, 2)),
             "book": Layout(book_params(), (1, 0, 2), {"reset_after": False, "blend": "book"})},
    forward=forward, backward=backward, infer=infer, plan=plan, oracle_forward=oracle_forward,
    oracle_backward=oracle_backward,
    doc="h' = (1 − z) n + z h", zoneout=True,
    # ONNX and Keras compute h' = (1 − z) n + z h: blend='book' negates z (1 − σ(a) = σ(−a))
    onnx=OnnxOp("GRU", (1, 0, 2), RNN_INPUTS, H_STATE, negated=_z_if_book,
                attributes=lambda options, directions: {"linear_before_reset": int(options["reset_after"])}),
    keras=KerasLayer("GRU", "GRUCell", (1, 0, 2), shared_options=("reset_after",),
                     two_biases=lambda options: bool(options["reset_after"]), negated=_z_if_book))
