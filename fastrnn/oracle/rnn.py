"""Elman RNN: h' = act(x w_ihᵀ + b_ih + h w_hhᵀ + b_hh), act ∈ {tanh, relu}."""
import numpy as np

from ._common import bias_or_zero, weight_grads, add_grads

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


def rnn_forward(x, h0, w_ih, w_hh, b_ih=None, b_hh=None, nonlinearity="tanh"):
    """x (T, N, I), h0 (N, H) -> out (T, N, H), h_n (N, H), cache."""
    h = h0
    outs, caches = [], []
    for t in range(x.shape[0]):
        h, step = rnn_cell_forward(x[t], h, w_ih, w_hh, b_ih, b_hh, nonlinearity)
        outs.append(h)
        caches.append(step)
    out = np.stack(outs) if outs else np.zeros((0,) + h0.shape, h0.dtype)
    return out, h, dict(steps=caches, x_shape=x.shape, dtype=h0.dtype)


def rnn_backward(dout, dh_n, cache):
    """dout (T, N, H), dh_n (N, H) or None -> dx, dh0, (dw_ih, dw_hh, db_ih, db_hh)."""
    steps = cache["steps"]
    dh = np.zeros_like(steps[-1]["h"]) if dh_n is None else dh_n
    dx = np.zeros(cache["x_shape"], cache["dtype"])
    total = None
    for t in reversed(range(len(steps))):
        d_out = 0 if dout is None else dout[t]
        dx[t], dh, step_grads = rnn_cell_backward(dh + d_out, steps[t])
        total = add_grads(total, step_grads)
    return dx, dh, tuple(total)
