"""Elman RNN: h' = act(x w_ihᵀ + b_ih + h w_hhᵀ + b_hh), act ∈ {tanh, relu}."""
import numpy as np

from ._common import bias_or_zero, weight_grads, unroll_forward, unroll_backward

NONLINEARITIES = ("tanh", "relu")


def rnn_cell_forward(x, h, w_ih, w_hh, b_ih=None, b_hh=None, nonlinearity="tanh"):
    """x (N, I), h (N, H) -> h1 (N, H), cache."""
    H = w_hh.shape[1]
    a = (x @ w_ih.T + bias_or_zero(b_ih, H, x.dtype)
         + h @ w_hh.T + bias_or_zero(b_hh, H, x.dtype))
    if nonlinearity == "tanh":
        h1 = np.tanh(a)
    elif nonlinearity == "relu":
        h1 = np.maximum(a, 0)
    else:
        raise ValueError(f"nonlinearity must be one of {NONLINEARITIES}, got {nonlinearity!r}")
    cache = dict(x=x, h=h, h1=h1, w_ih=w_ih, w_hh=w_hh, has_bias=b_ih is not None,
                 nonlinearity=nonlinearity)
    return h1, cache


def rnn_cell_backward(dh1, cache):
    """dh1 (N, H) -> dx (N, I), dh (N, H), (dw_ih, dw_hh, db_ih, db_hh)."""
    h1 = cache["h1"]
    if cache["nonlinearity"] == "tanh":
        da = dh1 * (1 - h1 ** 2)
    else:
        da = dh1 * (h1 > 0)
    dx = da @ cache["w_ih"]
    dh = da @ cache["w_hh"]
    return dx, dh, weight_grads(cache["x"], cache["h"], da, da, cache["has_bias"])


def rnn_forward(x, h0, w_ih, w_hh, b_ih=None, b_hh=None, nonlinearity="tanh", lengths=None):
    """x (T, N, I), h0 (N, H) -> out (T, N, H), h_n (N, H), cache; ``lengths`` (N,) or None: see
    ``_common.unroll_forward`` (sequence n runs its first lengths[n] steps)."""
    def step(x_t, h):
        h1, step_cache = rnn_cell_forward(x_t, h, w_ih, w_hh, b_ih, b_hh, nonlinearity)
        return (h1,), step_cache
    out, (h_n,), cache = unroll_forward(step, x, (h0,), lengths)
    return out, h_n, cache


def rnn_backward(dout, dh_n, cache):
    """dout (T, N, H), dh_n (N, H) or None -> dx, dh0, (dw_ih, dw_hh, db_ih, db_hh)."""
    def step(dstates, step_cache):
        dx_t, dh, grads = rnn_cell_backward(dstates[0], step_cache)
        return dx_t, (dh,), grads
    dx, (dh0,), grads = unroll_backward(step, dout, (dh_n,), cache)
    return dx, dh0, grads
