"""Minimal gated unit (Zhou et al., 2016) with the forget gate applied after the recurrent
product, gate order f, n:

    f  = σ(x w_ifᵀ + b_if + h w_hfᵀ + b_hf)
    n  = tanh(x w_inᵀ + b_in + f⊙(h w_hnᵀ + b_hn))
    h' = (1 − f)⊙h + f⊙n
"""
import numpy as np

from fastrnn.oracle._common import bias_or_zero, unroll_backward, unroll_forward, weight_grads
from fastrnn.oracle.activations import sigmoid


def mgu_cell_forward(x, h, w_ih, w_hh, b_ih=None, b_hh=None):
    """x (N, I), h (N, H) -> h1 (N, H), cache."""
    H = w_hh.shape[1]
    ax = x @ w_ih.T + bias_or_zero(b_ih, 2 * H, x.dtype)
    ah = h @ w_hh.T + bias_or_zero(b_hh, 2 * H, x.dtype)
    f = sigmoid(ax[:, :H] + ah[:, :H])
    n = np.tanh(ax[:, H:] + f * ah[:, H:])
    h1 = (1 - f) * h + f * n
    return h1, dict(x=x, h=h, f=f, n=n, ah_n=ah[:, H:], w_ih=w_ih, w_hh=w_hh, has_bias=b_ih is not None)


def mgu_cell_backward(dh1, cache):
    """dh1 (N, H) -> dx (N, I), dh (N, H), (dw_ih, dw_hh, db_ih, db_hh)."""
    h, f, n = cache["h"], cache["f"], cache["n"]
    dan = dh1 * f * (1 - n ** 2)                       # n's pre-activation
    daf = (dh1 * (n - h) + dan * cache["ah_n"]) * f * (1 - f)
    dpre_x = np.concatenate([daf, dan], axis=1)
    dpre_h = np.concatenate([daf, dan * f], axis=1)
    dh = dh1 * (1 - f) + dpre_h @ cache["w_hh"]
    dx = dpre_x @ cache["w_ih"]
    return dx, dh, weight_grads(cache["x"], h, dpre_x, dpre_h, cache["has_bias"])


def mgu_forward(x, h0, w_ih, w_hh, b_ih=None, b_hh=None, lengths=None):
    """x (T, N, I), h0 (N, H) -> out (T, N, H), h_n (N, H), cache; ``lengths`` (N,) or None: see
    ``_common.unroll_forward`` (sequence n runs its first lengths[n] steps)."""
    def step(x_t, h):
        h1, step_cache = mgu_cell_forward(x_t, h, w_ih, w_hh, b_ih, b_hh)
        return (h1,), step_cache
    out, (h_n,), cache = unroll_forward(step, x, (h0,), lengths)
    return out, h_n, cache


def mgu_backward(dout, dh_n, cache):
    """dout (T, N, H), dh_n (N, H) or None -> dx, dh0, (dw_ih, dw_hh, db_ih, db_hh)."""
    def step(dstates, step_cache):
        dx_t, dh, grads = mgu_cell_backward(dstates[0], step_cache)
        return dx_t, (dh,), grads
    dx, (dh0,), grads = unroll_backward(step, dout, (dh_n,), cache)
    return dx, dh0, grads
