"""Layer-normalised GRU (Ba, Kiros and Hinton, 2016), PyTorch gate order (r, z, n), reset after.

    gx = LN(x w_ihᵀ; γ_ih) + b_ih        gh = LN(h w_hhᵀ; γ_hh) + b_hh        each (N, 3H)
    r  = σ(gx_r + gh_r)
    z  = σ(gx_z + gh_z)
    n  = tanh(gx_n + r ⊙ gh_n)
    h' = (1 − z) ⊙ n + z ⊙ h

LN (fastrnn/oracle/layer_norm.py) normalises each row over all its 3H features (biased
variance, eps 1e-5) and scales by its gain γ (3H,), with no shift of its own: the biases
b_ih, b_hh are the shifts. Without bias, b_ih = b_hh = 0.
"""
import numpy as np

from ._common import bias_or_zero, unroll_backward, unroll_forward
from .activations import sigmoid
from .layer_norm import layer_norm_backward, layer_norm_forward


def layernorm_gru_cell_forward(x, h, w_ih, w_hh, b_ih, b_hh, ln_ih, ln_hh):
    """x (N, I), h (N, H) -> h1 (N, H), cache. b_ih, b_hh (3H,) or None; ln_ih, ln_hh (3H,) the gains."""
    H = w_hh.shape[1]
    gx_ln, ln_x = layer_norm_forward(x @ w_ih.T, ln_ih)
    gh_ln, ln_h = layer_norm_forward(h @ w_hh.T, ln_hh)
    gx = gx_ln + bias_or_zero(b_ih, 3 * H, x.dtype)
    gh = gh_ln + bias_or_zero(b_hh, 3 * H, x.dtype)
    r = sigmoid(gx[:, :H] + gh[:, :H])
    z = sigmoid(gx[:, H:2 * H] + gh[:, H:2 * H])
    hn = gh[:, 2 * H:]
    n = np.tanh(gx[:, 2 * H:] + r * hn)
    h1 = (1 - z) * n + z * h
    cache = {"x": x, "h": h, "r": r, "z": z, "n": n, "hn": hn, "w_ih": w_ih, "w_hh": w_hh, "ln_x": ln_x,
             "ln_h": ln_h, "has_bias": b_ih is not None}
    return h1, cache


def layernorm_gru_cell_backward(dh1, cache):
    """dh1 (N, H) -> dx (N, I), dh (N, H), (dw_ih, dw_hh, db_ih, db_hh, dln_ih, dln_hh)."""
    x, h, r, z, n, hn = (cache[k] for k in ("x", "h", "r", "z", "n", "hn"))
    dn = dh1 * (1 - z)
    dz = dh1 * (h - n)
    dh = dh1 * z
    dan = dn * (1 - n ** 2)                     # gradient of n's pre-activation
    daz = dz * z * (1 - z)
    dar = dan * hn * r * (1 - r)
    dgx = np.concatenate([dar, daz, dan], axis=1)           # gradient of gx
    dgh = np.concatenate([dar, daz, dan * r], axis=1)       # gradient of gh
    dvx, dln_ih, _ = layer_norm_backward(dgx, cache["ln_x"])   # gradient of x w_ihᵀ
    dvh, dln_hh, _ = layer_norm_backward(dgh, cache["ln_h"])   # gradient of h w_hhᵀ
    dx = dvx @ cache["w_ih"]
    dh = dh + dvh @ cache["w_hh"]
    dw_ih = dvx.T @ x
    dw_hh = dvh.T @ h
    if cache["has_bias"]:
        db_ih, db_hh = dgx.sum(axis=0), dgh.sum(axis=0)
    else:
        db_ih = db_hh = None
    return dx, dh, (dw_ih, dw_hh, db_ih, db_hh, dln_ih, dln_hh)


def layernorm_gru_forward(x, h0, w_ih, w_hh, b_ih, b_hh, ln_ih, ln_hh, lengths=None, zoneout=None):
    """x (T, N, I), h0 (N, H) -> out (T, N, H), h_n (N, H), cache; ``lengths`` (N,) or None: see
    ``_common.unroll_forward`` (sequence n runs its first lengths[n] steps); ``zoneout`` (keep
    weights broadcastable to (T, N, H), or None): ``_common.zoneout_blend`` on h."""
    def step(x_t, h):
        h1, step_cache = layernorm_gru_cell_forward(x_t, h, w_ih, w_hh, b_ih, b_hh, ln_ih, ln_hh)
        return (h1,), step_cache
    out, (h_n,), cache = unroll_forward(step, x, (h0,), lengths, zoneout)
    return out, h_n, cache


def layernorm_gru_backward(dout, dh_n, cache):
    """dout (T, N, H) or None, dh_n (N, H) or None -> dx, dh0,
    (dw_ih, dw_hh, db_ih, db_hh, dln_ih, dln_hh) summed over time."""
    def step(dstates, step_cache):
        dx_t, dh, grads = layernorm_gru_cell_backward(dstates[0], step_cache)
        return dx_t, (dh,), grads
    dx, (dh0,), grads = unroll_backward(step, dout, (dh_n,), cache)
    return dx, dh0, grads
