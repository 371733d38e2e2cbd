"""The layer-normalised LSTM entry (Ba et al., 2016): gates i, f, g, o; states h, c.

PyTorch's layout only: ``weight_ih (4H, I)``, ``weight_hh (4H, H)``, one ``bias (4H,)``
(the shift of both normalised products; left out by ``bias=False``), the gains
``ln_weight_ih``, ``ln_weight_hh (4H,)`` and ``ln_weight_c (H,)`` (initialised to 1) and
the cell state's shift ``ln_bias_c (H,)`` (initialised to 0). Takes zoneout on h.

Equations: fastrnn/oracle/layernorm_lstm.py. Kernels: fastrnn/_kernels/layernorm_lstm.py.
"""
import numpy as np

from .. import oracle
from .._kernels import blas as _blas
from .._kernels import layernorm_lstm as _kernels
from .._threads import kernel_threads
from .spec import (Cell, Layout, Param, SequenceCache, as_rows, bias_or_empty, chunk_steps, to_call_shape,
                   as_kernel_rows, zeros_if_none, zoneout_keep, zoneout_work)

NAME = "layernorm_lstm"


def forward(x, states, params, layout, options, batch_sizes=None):
    """x (T, N, I) or packed (R, I), (h0, c0) (N, H) -> out like x with H features, (h_n, c_n), cache.
    ``options["zoneout"]``: zoneout's keep weights (spec.Cell), or absent."""
    return _run(x, states, params, layout, options, batch_sizes, True)


def infer(x, states, params, layout, options, batch_sizes=None):
    """Forward only -> out, (h_n, c_n). Extra memory: one chunk of steps' input projection,
    one step's recurrent product and the running c, whatever T."""
    return _run(x, states, params, layout, options, batch_sizes, False)[:2]


def _run(x, states, params, layout, options, batch_sizes, training):
    if layout != "torch":
        raise ValueError(f"layout: the {LAYERNORM_LSTM.title} cell has the 'torch' layout only, got {layout!r}")
    h0, c0 = states
    rows, sizes, padded_shape = as_rows(x, batch_sizes)
    R = rows.shape[0]
    N, H = h0.shape
    dtype = rows.dtype
    w_ih, w_hh, b, ln_ih, ln_hh, ln_c, ln_c_bias = params
    chunk = sizes.shape[0] if training else chunk_steps(sizes.shape[0], N)
    kept = R if training else 1
    xs = np.empty((R if training else min(R, chunk * N), 4 * H), dtype)
    hs = np.empty((R if training else N, 4 * H), dtype)
    gates = np.empty((R if training else N, 4 * H), dtype)
    cs = np.empty((R if training else 2 * N, H), dtype)
    chat = np.empty((kept, H), dtype)
    stats = np.empty((kept, 3), np.float64)
    out = np.empty((R, H), dtype)
    h_n = np.empty((N, H), dtype)
    c_n = np.empty((N, H), dtype)
    keep = zoneout_keep(options, R, padded_shape, H, dtype)
    with kernel_threads():
        _kernels.layernorm_lstm_forward(rows, sizes, h0, c0, w_ih, w_hh, zeros_if_none(b, 4 * H, dtype), ln_ih,
                                        ln_hh, ln_c, ln_c_bias, chunk, training, xs, hs, gates, cs, chat, stats,
                                        np.empty(5 * H * N, dtype), out, h_n, c_n, keep, _blas.SMALL_KERNELS)
    cache = SequenceCache(NAME, layout, (rows, sizes, h0, c0, params, xs, hs, gates, cs, chat, stats, out, keep),
                          {"padded_shape": padded_shape}) if training else None
    return to_call_shape(out, padded_shape), (h_n, c_n), cache


def backward(cache, dout, dstates, grads, accumulate):
    """-> dx like the forward's x, (dh0, dc0); parameter gradients written into ``grads``."""
    rows, sizes, h0, c0, params, xs, hs, gates, cs, chat, stats, out, keep = cache.take(NAME)
    dtype, padded_shape = rows.dtype, cache.options["padded_shape"]
    w_ih, w_hh, _, ln_ih, ln_hh, ln_c, ln_c_bias = params
    dh_n, dc_n = (zeros_if_none(d, h0.shape, dtype) for d in dstates)
    dout = zeros_if_none(as_kernel_rows(dout, out.shape[0], padded_shape), out.shape, dtype)
    dx = np.empty(rows.shape, dtype)
    dh0 = np.empty(h0.shape, dtype)
    dc0 = np.empty(h0.shape, dtype)
    dw_ih, dw_hh, db, dln_ih, dln_hh, dln_c, dln_c_bias = grads
    with kernel_threads():
        _kernels.layernorm_lstm_backward(rows, sizes, h0, c0, w_ih, w_hh, ln_ih, ln_hh, ln_c, ln_c_bias, xs, hs,
                                         gates, cs, chat, stats, out, dout, dh_n, dc_n, dx, dh0, dc0, dw_ih, dw_hh,
                                         bias_or_empty(db, dtype), dln_ih, dln_hh, dln_c, dln_c_bias,
                                         bool(accumulate), keep, zoneout_work(keep, h0.shape[0], h0.shape[1], dtype),
                                         _blas.SMALL_KERNELS)
    return to_call_shape(dx, padded_shape), (dh0, dc0)


def oracle_forward(x, states, params, options, lengths=None):
    out, h_n, c_n, cache = oracle.layernorm_lstm_forward(x, *states, *params, lengths=lengths,
                                                         zoneout=options.get("zoneout"))
    return out, (h_n, c_n), cache


def oracle_backward(cache, dout, dstates):
    dx, dh0, dc0, grads = oracle.layernorm_lstm_backward(dout, *dstates, cache)
    return dx, (dh0, dc0), grads


PARAMS = (Param("weight_ih", ("G*H", "I"), "w_ih"), Param("weight_hh", ("G*H", "H"), "w_hh"),
          Param("bias", ("G*H",), "b", bias=True),
          Param("ln_weight_ih", ("G*H",), "ln_ih", init="ones"), Param("ln_weight_hh", ("G*H",), "ln_hh", init="ones"),
          Param("ln_weight_c", ("H",), "ln_c", init="ones"), Param("ln_bias_c", ("H",), "ln_c_bias", init="zeros"))

LAYERNORM_LSTM = Cell(
    name=NAME, title="LayerNormLSTM", gates=4, gate_names=("i", "f", "g", "o"), state_names=("h", "c"),
    options=(), layouts={"torch": Layout(PARAMS, (0, 1, 2, 3))},
    forward=forward, backward=backward, infer=infer, oracle_forward=oracle_forward, oracle_backward=oracle_backward,
    doc="a = LN(x W_ihᵀ) + LN(h W_hhᵀ) + b, c' = f c + i g, h' = o tanh(LN(c'))", variant_of="lstm", zoneout=True)
