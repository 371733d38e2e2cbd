"""LSTM, PyTorch gate order (i, f, g, o).

    a  = x w_ihᵀ + b_ih + h w_hhᵀ + b_hh          (N, 4H)
    i, f, g, o = σ(a_i), σ(a_f), tanh(a_g), σ(a_o)
    c' = f⊙c + i⊙g
    h' = o⊙tanh(c')
"""
import numpy as np

from .activations import sigmoid
from ._common import bias_or_zero, weight_grads, unroll_forward, unroll_backward


def lstm_cell_forward(x, h, c, w_ih, w_hh, b_ih=None, b_hh=None):
    """x (N, I), h (N, H), c (N, H) -> h1 (N, H), c1 (N, H), cache."""
    H = w_hh.shape[1]
    a = (x @ w_ih.T + bias_or_zero(b_ih, 4 * H, x.dtype)
         + h @ w_hh.T + bias_or_zero(b_hh, 4 * H, x.dtype))
    i = sigmoid(a[:, :H])
    f = sigmoid(a[:, H:2 * H])
    g = np.tanh(a[:, 2 * H:3 * H])
    o = sigmoid(a[:, 3 * H:])
    c1 = f * c + i * g
    h1 = o * np.tanh(c1)
    cache = dict(x=x, h=h, c=c, i=i, f=f, g=g, o=o, c1=c1, w_ih=w_ih, w_hh=w_hh,
                 has_bias=b_ih is not None)
    return h1, c1, cache


def lstm_cell_backward(dh1, dc1, cache):
    """dh1, dc1 (N, H) -> dx (N, I), dh (N, H), dc (N, H), (dw_ih, dw_hh, db_ih, db_hh)."""
    i, f, g, o, c, c1 = (cache[k] for k in ("i", "f", "g", "o", "c", "c1"))
    tc = np.tanh(c1)
    do = dh1 * tc
    dc_total = dc1 + dh1 * o * (1 - tc ** 2)
    di = dc_total * g
    df = dc_total * c
    dg = dc_total * i
    da = np.concatenate([di * i * (1 - i), df * f * (1 - f), dg * (1 - g ** 2), do * o * (1 - o)], axis=1)
    dx = da @ cache["w_ih"]
    dh = da @ cache["w_hh"]
    dc = dc_total * f
    grads = weight_grads(cache["x"], cache["h"], da, da, cache["has_bias"])
    return dx, dh, dc, grads


def lstm_forward(x, h0, c0, w_ih, w_hh, b_ih=None, b_hh=None, lengths=None):
    """x (T, N, I), h0, c0 (N, H) -> out (T, N, H), h_n (N, H), c_n (N, H), cache; ``lengths`` (N,) or None: see
    ``_common.unroll_forward`` (sequence n runs its first lengths[n] steps)."""
    def step(x_t, h, c):
        h1, c1, step_cache = lstm_cell_forward(x_t, h, c, w_ih, w_hh, b_ih, b_hh)
        return (h1, c1), step_cache
    out, (h_n, c_n), cache = unroll_forward(step, x, (h0, c0), lengths)
    return out, h_n, c_n, cache


def lstm_backward(dout, dh_n, dc_n, cache):
    """dout (T, N, H), dh_n, dc_n (N, H) or None -> dx, dh0, dc0, (dw_ih, dw_hh, db_ih, db_hh)."""
    def step(dstates, step_cache):
        dx_t, dh, dc, grads = lstm_cell_backward(*dstates, step_cache)
        return dx_t, (dh, dc), grads
    dx, (dh0, dc0), grads = unroll_backward(step, dout, (dh_n, dc_n), cache)
    return dx, dh0, dc0, grads
