"""LSTM, PyTorch gate order (i, f, g, o), with optional peephole connections and projection.

    a  = x w_ihᵀ + b_ih + h w_hhᵀ + b_hh                  (N, 4H); h is (N, P) with a projection
    i  = σ(a_i + p_i⊙c),  f = σ(a_f + p_f⊙c),  g = tanh(a_g)      (peepholes read the previous c)
    c' = f⊙c + i⊙g
    o  = σ(a_o + p_o⊙c')                                  (the output gate reads the new c)
    m  = o⊙tanh(c')
    h' = m w_hrᵀ                                          (projection, w_hr (P, H)); else h' = m

The plain LSTM has neither: ``w_ph`` None means p = 0, ``w_hr`` None means h' = m (P = H).
``w_ph (3H,)`` holds p_i, p_f, p_o in that order (ONNX's LSTM ``P`` input holds them as
i, o, f); ``w_hr`` is torch.nn.LSTM(proj_size=P)'s ``weight_hr``. The backward's grads are
(dw_ih, dw_hh, db_ih, db_hh), then dw_hr and dw_ph for the parameters given.
"""
import numpy as np

from .activations import sigmoid
from ._common import bias_or_zero, weight_grads, unroll_forward, unroll_backward


def _peep(p, v):
    """A peephole term p ⊙ v, or 0 for a cell without peepholes (adding it changes nothing)."""
    return 0 if p is None else p * v


def lstm_cell_forward(x, h, c, w_ih, w_hh, b_ih=None, b_hh=None, w_hr=None, w_ph=None):
    """x (N, I), h (N, P), c (N, H) -> h1 (N, P), c1 (N, H), cache."""
    H = c.shape[1]
    a = (x @ w_ih.T + bias_or_zero(b_ih, 4 * H, x.dtype)
         + h @ w_hh.T + bias_or_zero(b_hh, 4 * H, x.dtype))
    p_i, p_f, p_o = (None,) * 3 if w_ph is None else (w_ph[:H], w_ph[H:2 * H], w_ph[2 * H:])
    i = sigmoid(a[:, :H] + _peep(p_i, c))
    f = sigmoid(a[:, H:2 * H] + _peep(p_f, c))
    g = np.tanh(a[:, 2 * H:3 * H])
    c1 = f * c + i * g
    o = sigmoid(a[:, 3 * H:] + _peep(p_o, c1))
    m = o * np.tanh(c1)
    h1 = m if w_hr is None else m @ w_hr.T
    cache = dict(x=x, h=h, c=c, i=i, f=f, g=g, o=o, c1=c1, m=m, w_ih=w_ih, w_hh=w_hh, w_hr=w_hr, w_ph=w_ph,
                 p=(p_i, p_f, p_o), has_bias=b_ih is not None)
    return h1, c1, cache


def lstm_cell_backward(dh1, dc1, cache):
    """dh1 (N, P), dc1 (N, H) -> dx (N, I), dh (N, P), dc (N, H),
    (dw_ih, dw_hh, db_ih, db_hh[, dw_hr][, dw_ph]) (the entries of the parameters given)."""
    i, f, g, o, c, c1, m = (cache[k] for k in ("i", "f", "g", "o", "c", "c1", "m"))
    p_i, p_f, p_o = cache["p"]
    w_hr = cache["w_hr"]
    dm = dh1 if w_hr is None else dh1 @ w_hr
    tc = np.tanh(c1)
    da_o = dm * tc * o * (1 - o)
    dc_total = dc1 + dm * o * (1 - tc ** 2) + _peep(p_o, da_o)
    da_i = dc_total * g * i * (1 - i)
    da_f = dc_total * c * f * (1 - f)
    da_g = dc_total * i * (1 - g ** 2)
    da = np.concatenate([da_i, da_f, da_g, da_o], axis=1)
    dx = da @ cache["w_ih"]
    dh = da @ cache["w_hh"]
    dc = dc_total * f + _peep(p_i, da_i) + _peep(p_f, da_f)
    grads = weight_grads(cache["x"], cache["h"], da, da, cache["has_bias"])
    if w_hr is not None:
        grads += (dh1.T @ m,)
    if cache["w_ph"] is not None:
        grads += (np.concatenate([(da_i * c).sum(0), (da_f * c).sum(0), (da_o * c1).sum(0)]),)
    return dx, dh, dc, grads


def lstm_forward(x, h0, c0, w_ih, w_hh, b_ih=None, b_hh=None, lengths=None, *, w_hr=None, w_ph=None,
                 zoneout=None):
    """x (T, N, I), h0 (N, P), c0 (N, H) -> out (T, N, P), h_n (N, P), c_n (N, H), cache; ``lengths``
    (N,) or None: see ``_common.unroll_forward`` (sequence n runs its first lengths[n] steps);
    ``zoneout`` (keep weights broadcastable to (T, N, P), or None): ``_common.zoneout_blend`` on h."""
    def step(x_t, h, c):
        h1, c1, step_cache = lstm_cell_forward(x_t, h, c, w_ih, w_hh, b_ih, b_hh, w_hr, w_ph)
        return (h1, c1), step_cache
    out, (h_n, c_n), cache = unroll_forward(step, x, (h0, c0), lengths, zoneout)
    return out, h_n, c_n, cache


def lstm_backward(dout, dh_n, dc_n, cache):
    """dout (T, N, P), dh_n (N, P), dc_n (N, H) or None -> dx, dh0, dc0, grads as
    :func:`lstm_cell_backward`."""
    def step(dstates, step_cache):
        dx_t, dh, dc, grads = lstm_cell_backward(*dstates, step_cache)
        return dx_t, (dh, dc), grads
    dx, (dh0, dc0), grads = unroll_backward(step, dout, (dh_n, dc_n), cache)
    return dx, dh0, dc0, grads
