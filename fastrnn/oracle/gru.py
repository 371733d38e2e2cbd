"""GRU, PyTorch gate order (r, z, n).

    r  = σ(x w_irᵀ + b_ir + h w_hrᵀ + b_hr)
    z  = σ(x w_izᵀ + b_iz + h w_hzᵀ + b_hz)
    n  = tanh(x w_inᵀ + b_in + r⊙(h w_hnᵀ + b_hn))        reset_after=True (PyTorch, cuDNN)
    n  = tanh(x w_inᵀ + b_in + (r⊙h) w_hnᵀ + b_hn)        reset_after=False (original GRU, the book)
    h' = (1 − z)⊙n + z⊙h                                  blend="torch" (PyTorch, cuDNN: z keeps h)
    h' = (1 − z)⊙h + z⊙n                                  blend="book" (Cho et al. 2014, the book)

The book's GRU ("Deep Learning from Scratch 2") is reset_after=False, blend="book" with a
single bias (b_hh = 0), its weights a column-block permutation (z, r, n) of these.
"""
import numpy as np

from .activations import sigmoid
from ._common import bias_or_zero, weight_grads, unroll_forward, unroll_backward

BLENDS = ("torch", "book")


def _check_blend(blend):
    if blend not in BLENDS:
        raise ValueError(f"blend must be one of {BLENDS}, got {blend!r}")


def gru_cell_forward(x, h, w_ih, w_hh, b_ih=None, b_hh=None, reset_after=True, blend="torch"):
    """x (N, I), h (N, H) -> h1 (N, H), cache."""
    _check_blend(blend)
    H = w_hh.shape[1]
    ax = x @ w_ih.T + bias_or_zero(b_ih, 3 * H, x.dtype)
    b_h = bias_or_zero(b_hh, 3 * H, x.dtype)
    ah_rz = h @ w_hh[:2 * H].T + b_h[:2 * H]
    r = sigmoid(ax[:, :H] + ah_rz[:, :H])
    z = sigmoid(ax[:, H:2 * H] + ah_rz[:, H:])
    if reset_after:
        hn = h @ w_hh[2 * H:].T + b_h[2 * H:]
        n = np.tanh(ax[:, 2 * H:] + r * hn)
    else:
        hn = None
        n = np.tanh(ax[:, 2 * H:] + (r * h) @ w_hh[2 * H:].T + b_h[2 * H:])
    if blend == "torch":
        h1 = (1 - z) * n + z * h
    else:
        h1 = (1 - z) * h + z * n
    cache = dict(x=x, h=h, r=r, z=z, n=n, hn=hn, w_ih=w_ih, w_hh=w_hh,
                 has_bias=b_ih is not None, reset_after=reset_after, blend=blend)
    return h1, cache


def gru_cell_backward(dh1, cache):
    """dh1 (N, H) -> dx (N, I), dh (N, H), (dw_ih, dw_hh, db_ih, db_hh)."""
    x, h, r, z, n = (cache[k] for k in ("x", "h", "r", "z", "n"))
    w_hh = cache["w_hh"]
    H = h.shape[1]
    if cache["blend"] == "torch":
        dn = dh1 * (1 - z)
        dz = dh1 * (h - n)
        dh = dh1 * z
    else:
        dn = dh1 * z
        dz = dh1 * (n - h)
        dh = dh1 * (1 - z)
    dan = dn * (1 - n ** 2)                     # gradient of n's pre-activation
    daz = dz * z * (1 - z)
    if cache["reset_after"]:
        dr = dan * cache["hn"]
        dar = dr * r * (1 - r)
        dhn = dan * r                            # gradient of h w_hnᵀ + b_hn
        dpre_h = np.concatenate([dar, daz, dhn], axis=1)
        dh = dh + dpre_h @ w_hh
        h_for_w = h
        dpre_x = np.concatenate([dar, daz, dan], axis=1)
        grads = weight_grads(x, h_for_w, dpre_x, dpre_h, cache["has_bias"])
    else:
        rh = r * h
        drh = dan @ w_hh[2 * H:]
        dr = drh * h
        dar = dr * r * (1 - r)
        dh = dh + drh * r
        dpre_x = np.concatenate([dar, daz, dan], axis=1)
        dh = dh + dpre_x[:, :2 * H] @ w_hh[:2 * H]
        dw_ih = dpre_x.T @ x
        dw_hh = np.concatenate([dpre_x[:, :2 * H].T @ h, dan.T @ rh], axis=0)
        if cache["has_bias"]:
            grads = (dw_ih, dw_hh, dpre_x.sum(axis=0), dpre_x.sum(axis=0))
        else:
            grads = (dw_ih, dw_hh, None, None)
    dx = dpre_x @ cache["w_ih"]
    return dx, dh, grads


def gru_forward(x, h0, w_ih, w_hh, b_ih=None, b_hh=None, reset_after=True, blend="torch", lengths=None,
                zoneout=None):
    """x (T, N, I), h0 (N, H) -> out (T, N, H), h_n (N, H), cache; ``lengths`` (N,) or None: see
    ``_common.unroll_forward`` (sequence n runs its first lengths[n] steps); ``zoneout`` (keep
    weights broadcastable to (T, N, H), or None): ``_common.zoneout_blend`` on h."""
    _check_blend(blend)

    def step(x_t, h):
        h1, step_cache = gru_cell_forward(x_t, h, w_ih, w_hh, b_ih, b_hh, reset_after, blend)
        return (h1,), step_cache
    out, (h_n,), cache = unroll_forward(step, x, (h0,), lengths, zoneout)
    return out, h_n, cache


def gru_backward(dout, dh_n, cache):
    """dout (T, N, H), dh_n (N, H) or None -> dx, dh0, (dw_ih, dw_hh, db_ih, db_hh)."""
    def step(dstates, step_cache):
        dx_t, dh, grads = gru_cell_backward(dstates[0], step_cache)
        return dx_t, (dh,), grads
    dx, (dh0,), grads = unroll_backward(step, dout, (dh_n,), cache)
    return dx, dh0, grads
