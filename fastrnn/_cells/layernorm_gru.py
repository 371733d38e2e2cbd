"""The layer-normalised GRU entry (Ba et al. 2016): gates r, z, n (reset after); state h; zoneout.

    gx = LN(x w_ihᵀ; γ_ih) + b_ih,  gh = LN(h w_hhᵀ; γ_hh) + b_hh
    r = σ(gx_r + gh_r),  z = σ(gx_z + gh_z),  n = tanh(gx_n + r gh_n),  h' = (1 − z) n + z h

LN normalises each row over its 3H features (eps 1e-5) and scales by its gain. Parameters
(torch layout only): torch's weight_ih, weight_hh, bias_ih, bias_hh, and the gains
ln_weight_ih, ln_weight_hh (3H,), initialised to ones. Zoneout on h: ``options["zoneout"]``
(spec.Cell). Equations: fastrnn/oracle/layernorm_gru.py. Kernels:
fastrnn/_kernels/layernorm_gru.py.
"""
import numpy as np

from .. import oracle
from .._kernels import blas as _blas
from .._kernels import layernorm_gru as _kernels
from .._threads import kernel_threads
from .spec import (Cell, Layout, Param, SequenceCache, as_rows, bias_or_empty, chunk_steps, to_call_shape, layout_flag,
                   as_kernel_rows, torch_params, zeros_if_none, zoneout_keep, zoneout_work)

NAME = "layernorm_gru"


def forward(x, states, params, layout, options, batch_sizes=None):
    """x (T, N, I) or packed (R, I), (h0,) (N, H) -> out like x with H features, (h_n,), cache."""
    return _run(x, states, params, layout, options, batch_sizes, True)


def infer(x, states, params, layout, options, batch_sizes=None):
    """Forward only: like forward, without a cache -> out, (h_n,). Extra memory: the input
    projection of one chunk of steps and one step's workspaces, whatever T."""
    return _run(x, states, params, layout, options, batch_sizes, False)[:2]


def _run(x, states, params, layout, options, batch_sizes, training):
    layout_flag(layout)
    (h0,) = states
    w_ih, w_hh, b_ih, b_hh, ln_ih, ln_hh = params
    rows, sizes, padded_shape = as_rows(x, batch_sizes)
    R = rows.shape[0]
    N, H = h0.shape
    G = 3 * H
    dtype = rows.dtype
    keep = zoneout_keep(options, R, padded_shape, H, dtype)
    chunk = sizes.shape[0] if training else chunk_steps(sizes.shape[0], N)
    xn_x = np.empty((R if training else min(R, chunk * N), G), dtype)
    xn_h = np.empty((R if training else N, G), dtype)
    act = np.empty((R if training else N, G), dtype)
    rstd = np.empty((2, R if training else 0), np.float64)
    out = np.empty((R, H), dtype)
    h_n = np.empty((N, H), dtype)
    b_ih, b_hh = zeros_if_none(b_ih, G, dtype), zeros_if_none(b_hh, G, dtype)
    with kernel_threads():
        _kernels.layernorm_gru_forward(rows, sizes, h0, w_ih, w_hh, b_ih, b_hh, ln_ih, ln_hh, keep, chunk, training,
                                       xn_x, xn_h, act, rstd, np.empty(4 * H * N, dtype), out, h_n,
                                       _blas.SMALL_KERNELS)
    cache = SequenceCache(NAME, layout, (rows, sizes, h0, w_ih, w_hh, b_hh, ln_ih, ln_hh, keep, xn_x, xn_h, act,
                                         rstd, out), {"padded_shape": padded_shape}) if training else None
    return to_call_shape(out, padded_shape), (h_n,), cache


def backward(cache, dout, dstates, grads, accumulate):
    """-> dx like the forward's x, (dh0,); weight gradients written into ``grads``."""
    rows, sizes, h0, w_ih, w_hh, b_hh, ln_ih, ln_hh, keep, xn_x, xn_h, act, rstd, out = cache.take(NAME)
    padded_shape, dtype = cache.options["padded_shape"], rows.dtype
    R = rows.shape[0]
    H = h0.shape[1]
    dx = np.empty(rows.shape, dtype)
    dh0 = np.empty(h0.shape, dtype)
    dout = zeros_if_none(as_kernel_rows(dout, R, padded_shape), out.shape, dtype)
    dw_ih, dw_hh, db_ih, db_hh, dln_ih, dln_hh = grads
    with kernel_threads():
        _kernels.layernorm_gru_backward(rows, sizes, h0, w_ih, w_hh, b_hh, ln_ih, ln_hh, keep, xn_x, xn_h, act, rstd,
                                        out, dout, zeros_if_none(dstates[0], h0.shape, dtype), dx, dh0,
                                        np.empty(3 * H, dtype), dw_ih, dw_hh, bias_or_empty(db_ih, dtype),
                                        bias_or_empty(db_hh, dtype), dln_ih, dln_hh, bool(accumulate),
                                        zoneout_work(keep, h0.shape[0], H, dtype), _blas.SMALL_KERNELS)
    return to_call_shape(dx, padded_shape), (dh0,)


def oracle_forward(x, states, params, options, lengths=None):
    out, h_n, cache = oracle.layernorm_gru_forward(x, *states, *params, lengths=lengths,
                                                   zoneout=options.get("zoneout"))
    return out, (h_n,), cache


def oracle_backward(cache, dout, dstates):
    dx, dh0, grads = oracle.layernorm_gru_backward(dout, *dstates, cache)
    return dx, (dh0,), grads


LN_WEIGHT_IH = Param("ln_weight_ih", ("G*H",), "ln_ih", init="ones")
LN_WEIGHT_HH = Param("ln_weight_hh", ("G*H",), "ln_hh", init="ones")

LAYERNORM_GRU = Cell(
    name=NAME, title="LayerNormGRU", gates=3, gate_names=("r", "z", "n"), state_names=("h",), options=(),
    layouts={"torch": Layout(torch_params() + (LN_WEIGHT_IH, LN_WEIGHT_HH), (0, 1, 2))},
    forward=forward, backward=backward, infer=infer, oracle_forward=oracle_forward, oracle_backward=oracle_backward,
    doc="gx = LN(x w_ih) + b_ih, gh = LN(h w_hh) + b_hh, GRU gates on gx + gh, h' = (1 − z) n + z h",
    variant_of="gru", zoneout=True)
