"""One layer, one direction of LSTM/GRU/RNN as a torch.autograd.Function over the kernels.

``apply_layer(spec, x, h0, c0, w_ih, w_hh, b_ih, b_hh) -> (out, h_n[, c_n])`` with
time-major ``x (T, N, I)``, states ``(N, H)`` or None (zeros), torch-layout weights
``w_ih (G*H, I)``, ``w_hh (G*H, H)``, biases ``(G*H,)`` or None; ``out (T, N, H)``.
``spec.reverse`` runs the sequence backwards (torch's ``_reverse`` direction): ``out[t]``
is the state after reading ``x[T-1], ..., x[t]``.

Tensors reach the kernels as NumPy views of their memory (no copy when already
C-contiguous); kernel results come back through ``torch.from_numpy`` (no copy).
"""
from typing import NamedTuple

import numpy as np
import torch
from torch.autograd.function import once_differentiable

from fastrnn import _sequence as _seq


class LayerSpec(NamedTuple):
    """cell: 'lstm', 'gru' or 'rnn'; nonlinearity: 'tanh'/'relu' (rnn only); reverse: direction."""
    cell: str
    nonlinearity: str = "tanh"
    reverse: bool = False


def _np(t):
    """Tensor or None -> C-contiguous ndarray (a view of the tensor's memory when possible)."""
    if t is None:
        return None
    return np.ascontiguousarray(t.detach().numpy())


def _seq_np(t, reverse):
    """(T, N, F) tensor or None -> C-contiguous ndarray, time-reversed if ``reverse``."""
    if t is None:
        return None
    a = t.detach().numpy()
    if reverse and a.shape[0] > 1:
        a = a[::-1]
    return np.ascontiguousarray(a)


def _seq_tensor(a, reverse):
    """Kernel (T, N, F) result -> tensor, time-reversed if ``reverse``."""
    if reverse and a.shape[0] > 1:
        a = a[::-1].copy()
    return torch.from_numpy(a)


_NP_DTYPE = {torch.float32: np.float32, torch.float64: np.float64}


def _state_np(t, n, h, dtype):
    return np.zeros((n, h), dtype) if t is None else _np(t)


def _bias_sum(b_ih, b_hh):
    return None if b_ih is None else _np(b_ih) + _np(b_hh)


def _forward(spec, x, h0, c0, w_ih, w_hh, b_ih, b_hh):
    """Kernel forward -> (out tensor, tuple of final-state tensors, cache)."""
    xa = _seq_np(x, spec.reverse)
    n, h, dtype = xa.shape[1], w_hh.shape[1], xa.dtype
    h0a = _state_np(h0, n, h, dtype)
    wx, wh = _np(w_ih), _np(w_hh)
    if spec.cell == "lstm":
        out, h_n, c_n, cache = _seq.lstm_seq_forward(
            xa, h0a, _state_np(c0, n, h, dtype), wx, wh, _bias_sum(b_ih, b_hh), "torch")
        states = (h_n, c_n)
    elif spec.cell == "gru":
        out, h_n, cache = _seq.gru_seq_forward(xa, h0a, wx, wh, _np(b_ih), _np(b_hh), "torch", True)
        states = (h_n,)
    else:
        out, h_n, cache = _seq.rnn_seq_forward(
            xa, h0a, wx, wh, _bias_sum(b_ih, b_hh), "torch", spec.nonlinearity)
        states = (h_n,)
    return _seq_tensor(out, spec.reverse), tuple(torch.from_numpy(s) for s in states), cache


def _backward(spec, cache, w_ih, w_hh, has_bias, dout, dstates):
    """Kernel backward -> (dx, tuple of initial-state grads, dw_ih, dw_hh, db_ih, db_hh) tensors."""
    dw_ih = np.empty(tuple(w_ih.shape), _NP_DTYPE[w_ih.dtype])
    dw_hh = np.empty(tuple(w_hh.shape), dw_ih.dtype)
    gh = w_hh.shape[0]
    db = np.empty(gh, dw_ih.dtype) if has_bias else None
    dout_a = _seq_np(dout, spec.reverse)
    dst = [_np(d) for d in dstates]
    if spec.cell == "lstm":
        dx, dh0, dc0 = _seq.lstm_seq_backward(cache, dout_a, dst[0], dst[1], dw_ih, dw_hh, db, False)
        dinit = (dh0, dc0)
    elif spec.cell == "gru":
        db_h = np.empty(gh, dw_ih.dtype) if has_bias else None
        dx, dh0 = _seq.gru_seq_backward(cache, dout_a, dst[0], dw_ih, dw_hh, db, db_h, False)
        dinit = (dh0,)
    else:
        dx, dh0 = _seq.rnn_seq_backward(cache, dout_a, dst[0], dw_ih, dw_hh, db, False)
        dinit = (dh0,)
    if has_bias and spec.cell != "gru":
        db_h = db.copy()                 # d(b_ih + b_hh)/db_ih = d/db_hh
    t = torch.from_numpy
    return (_seq_tensor(dx, spec.reverse), tuple(t(d) for d in dinit), t(dw_ih), t(dw_hh),
            t(db) if has_bias else None, t(db_h) if has_bias else None)


class LayerFunction(torch.autograd.Function):
    """Autograd node for one layer and direction; gradients for x, h0, (c0), w_ih, w_hh, b_ih, b_hh."""

    @staticmethod
    def forward(ctx, spec, x, h0, c0, w_ih, w_hh, b_ih, b_hh):
        out, states, cache = _forward(spec, x, h0, c0, w_ih, w_hh, b_ih, b_hh)
        ctx.spec, ctx.cache = spec, cache
        # Saved so torch's version counters catch in-place changes before backward (the
        # cache holds views of x, h0, c0, the weights and, unreversed, of out), and so a
        # second backward (retain_graph=True) can rebuild the consumed cache.
        ctx.save_for_backward(x, h0, c0, w_ih, w_hh, b_ih, b_hh, None if spec.reverse else out)
        ctx.set_materialize_grads(False)
        return (out, *states)

    @staticmethod
    @once_differentiable
    def backward(ctx, dout, *dstates):
        spec = ctx.spec
        x, h0, c0, w_ih, w_hh, b_ih, b_hh, _ = ctx.saved_tensors
        cache, ctx.cache = ctx.cache, None
        if cache is None:                # the kernel backward consumed it: recompute
            cache = _forward(spec, x, h0, c0, w_ih, w_hh, b_ih, b_hh)[2]
        dx, dinit, dw_ih, dw_hh, db_ih, db_hh = _backward(
            spec, cache, w_ih, w_hh, b_ih is not None, dout, dstates)
        need = ctx.needs_input_grad
        dh0 = dinit[0] if need[2] else None
        dc0 = dinit[1] if spec.cell == "lstm" and need[3] else None
        return (None, dx if need[1] else None, dh0, dc0,
                dw_ih if need[4] else None, dw_hh if need[5] else None,
                db_ih if need[6] else None, db_hh if need[7] else None)


def apply_layer(spec, x, h0, c0, w_ih, w_hh, b_ih, b_hh):
    """Run one layer/direction -> (out, h_n) or (out, h_n, c_n); recorded for autograd if needed."""
    if torch.is_grad_enabled() and any(
            t is not None and t.requires_grad for t in (x, h0, c0, w_ih, w_hh, b_ih, b_hh)):
        return LayerFunction.apply(spec, x, h0, c0, w_ih, w_hh, b_ih, b_hh)
    out, states, _ = _forward(spec, x, h0, c0, w_ih, w_hh, b_ih, b_hh)
    return (out, *states)
