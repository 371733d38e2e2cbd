"""Layer-normalised LSTM (Ba, Kiros and Hinton, 2016), PyTorch gate order (i, f, g, o).

    a  = LN(x w_ihᵀ; γ_ih) + LN(h w_hhᵀ; γ_hh) + b          (N, 4H)
    i  = σ(a_i),  f = σ(a_f),  g = tanh(a_g),  o = σ(a_o)
    c' = f ⊙ c + i ⊙ g
    h' = o ⊙ tanh(LN(c'; γ_c, β_c))

LN (fastrnn/oracle/layer_norm.py) normalises each row over all its features (the 4H of a
product, the H of c'; biased variance, eps 1e-5) and scales it by its gain γ; only the
cell state's has a shift β_c (the gates' shift is the bias b, None for none). c' itself is
carried to the next step un-normalised. Zoneout (``_common.zoneout_blend``) acts on h only.
"""
import numpy as np

from ._common import unroll_backward, unroll_forward
from .activations import sigmoid
from .layer_norm import layer_norm_backward, layer_norm_forward


def layernorm_lstm_cell_forward(x, h, c, w_ih, w_hh, b, ln_ih, ln_hh, ln_c, ln_c_bias):
    """x (N, I), h, c (N, H) -> h1, c1 (N, H), cache. b (4H,) or None; ln_ih, ln_hh (4H,) and
    ln_c (H,) the gains, ln_c_bias (H,) the cell state's shift."""
    H = c.shape[1]
    ax, ln_x = layer_norm_forward(x @ w_ih.T, ln_ih)
    ah, ln_h = layer_norm_forward(h @ w_hh.T, ln_hh)
    a = ax + ah + (0 if b is None else b)
    i = sigmoid(a[:, :H])
    f = sigmoid(a[:, H:2 * H])
    g = np.tanh(a[:, 2 * H:3 * H])
    o = sigmoid(a[:, 3 * H:])
    c1 = f * c + i * g
    y, ln_cell = layer_norm_forward(c1, ln_c, ln_c_bias)
    ty = np.tanh(y)
    h1 = o * ty
    cache = dict(x=x, h=h, c=c, i=i, f=f, g=g, o=o, ty=ty, w_ih=w_ih, w_hh=w_hh, ln_x=ln_x, ln_h=ln_h,
                 ln_cell=ln_cell, has_bias=b is not None)
    return h1, c1, cache


def layernorm_lstm_cell_backward(dh1, dc1, cache):
    """dh1, dc1 (N, H) -> dx (N, I), dh (N, H), dc (N, H),
    (dw_ih, dw_hh, db (None without bias), dln_ih, dln_hh, dln_c, dln_c_bias)."""
    i, f, g, o, c, ty = (cache[k] for k in ("i", "f", "g", "o", "c", "ty"))
    da_o = dh1 * ty * o * (1 - o)
    dy = dh1 * o * (1 - ty ** 2)                               # gradient of LN(c')
    dc_ln, dln_c, dln_c_bias = layer_norm_backward(dy, cache["ln_cell"])
    dc_total = dc1 + dc_ln
    da_i = dc_total * g * i * (1 - i)
    da_f = dc_total * c * f * (1 - f)
    da_g = dc_total * i * (1 - g ** 2)
    da = np.concatenate([da_i, da_f, da_g, da_o], axis=1)
    dvx, dln_ih, _ = layer_norm_backward(da, cache["ln_x"])     # gradient of x w_ihᵀ
    dvh, dln_hh, _ = layer_norm_backward(da, cache["ln_h"])     # gradient of h w_hhᵀ
    dx = dvx @ cache["w_ih"]
    dh = dvh @ cache["w_hh"]
    dc = dc_total * f
    db = da.sum(axis=0) if cache["has_bias"] else None
    return dx, dh, dc, (dvx.T @ cache["x"], dvh.T @ cache["h"], db, dln_ih, dln_hh, dln_c, dln_c_bias)


def layernorm_lstm_forward(x, h0, c0, w_ih, w_hh, b, ln_ih, ln_hh, ln_c, ln_c_bias, lengths=None, zoneout=None):
    """x (T, N, I), h0, c0 (N, H) -> out (T, N, H), h_n, c_n (N, H), cache; ``lengths`` (N,) or
    None: see ``_common.unroll_forward`` (sequence n runs its first lengths[n] steps);
    ``zoneout`` (keep weights broadcastable to (T, N, H), or None): ``_common.zoneout_blend`` on h."""
    def step(x_t, h, c):
        h1, c1, step_cache = layernorm_lstm_cell_forward(x_t, h, c, w_ih, w_hh, b, ln_ih, ln_hh, ln_c, ln_c_bias)
        return (h1, c1), step_cache
    out, (h_n, c_n), cache = unroll_forward(step, x, (h0, c0), lengths, zoneout)
    return out, h_n, c_n, cache


def layernorm_lstm_backward(dout, dh_n, dc_n, cache):
    """dout (T, N, H), dh_n, dc_n (N, H) or None -> dx, dh0, dc0,
    (dw_ih, dw_hh, db, dln_ih, dln_hh, dln_c, dln_c_bias) summed over time."""
    def step(dstates, step_cache):
        dx_t, dh, dc, grads = layernorm_lstm_cell_backward(*dstates, step_cache)
        return dx_t, (dh, dc), grads
    dx, (dh0, dc0), grads = unroll_backward(step, dout, (dh_n, dc_n), cache)
    return dx, dh0, dc0, grads
