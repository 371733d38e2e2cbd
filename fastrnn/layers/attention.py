"""Attention layers of the book's chapter 8: WeightSum, AttentionWeight, Attention, TimeAttention.

``Attention`` and ``TimeAttention`` run every decoder step in one compiled kernel
(fastrnn/_kernels/attention.py states the equations); ``WeightSum`` and
``AttentionWeight`` are the book's two halves on their own, in NumPy.
"""
import numpy as np

from .._grad_mode import NOT_SAVED, is_grad_enabled, saved
from .._kernels.attention import attention_forward, attention_backward
from . import _checks
from .activations import Softmax


def _hs(where, name, hs):
    hs = _checks.float_array(where, name, hs)
    if hs.ndim != 3:
        raise ValueError(f"{where}: {name} must have shape (N, T, H), got {hs.shape}")
    return hs


class WeightSum:
    """``forward(hs (N, T, H), a (N, T)) = Σ_T hs·a`` -> (N, H); ``backward(dc) -> (dhs, da)``."""

    def __init__(self):
        self.params, self.grads = [], []
        self.cache = None

    def forward(self, hs, a):
        where = "WeightSum.forward"
        hs = _hs(where, "hs", hs)
        N, T, H = hs.shape
        a = _checks.float_array(where, "a", a)
        _checks.shape(where, "a", a, (N, T), ("N", "T"))
        ar = a.reshape(N, T, 1)
        self.cache = (hs, ar) if is_grad_enabled() else NOT_SAVED
        return np.sum(hs * ar, axis=1)

    def backward(self, dc):
        if self.cache is None:
            raise RuntimeError("WeightSum.backward called before forward")
        hs, ar = saved("WeightSum", self.cache)
        N, T, H = hs.shape
        dc = _checks.float_array("WeightSum.backward", "dc", dc)
        _checks.shape("WeightSum.backward", "dc", dc, (N, H), ("N", "H"))
        dt = dc.reshape(N, 1, H)
        dhs = dt * ar
        da = np.sum(dt * hs, axis=2)
        return dhs, da


class AttentionWeight:
    """``forward(hs (N, T, H), h (N, H)) = softmax_T(Σ_H hs·h)`` -> (N, T); ``backward(da) -> (dhs, dh)``."""

    def __init__(self):
        self.params, self.grads = [], []
        self.softmax = Softmax()
        self.cache = None

    def forward(self, hs, h):
        where = "AttentionWeight.forward"
        hs = _hs(where, "hs", hs)
        N, T, H = hs.shape
        h = _checks.float_array(where, "h", h)
        _checks.shape(where, "h", h, (N, H), ("N", "H"))
        hr = h.reshape(N, 1, H)
        self.cache = (hs, hr) if is_grad_enabled() else NOT_SAVED
        return self.softmax.forward(np.sum(hs * hr, axis=2))

    def backward(self, da):
        if self.cache is None:
            raise RuntimeError("AttentionWeight.backward called before forward")
        hs, hr = saved("AttentionWeight", self.cache)
        N, T, H = hs.shape
        da = _checks.float_array("AttentionWeight.backward", "da", da)
        _checks.shape("AttentionWeight.backward", "da", da, (N, T), ("N", "T"))
        dt = self.softmax.backward(da).reshape(N, T, 1)
        dhs = dt * hr
        dh = np.sum(dt * hs, axis=1)
        return dhs, dh


class _FusedAttention:
    """Shared by Attention (one decoder step) and TimeAttention (all steps)."""

    def _forward(self, where, hs_enc, hs_dec):
        hs_enc = _hs(where, "hs_enc" if self._time else "hs", hs_enc)
        _checks.nonempty(where, "hs_enc" if self._time else "hs", hs_enc, ("N", "T_enc", "H"))
        N, Te, H = hs_enc.shape
        dt = _checks.compute_dtype(hs_enc, hs_dec)
        enc = _checks.ready(hs_enc, dt)
        dec = _checks.ready(hs_dec, dt)
        Td = dec.shape[1]
        a = np.empty((Td, N, Te), dt)
        out = np.empty((N, Td, H), dt)
        attention_forward(enc, dec, a, out)
        self._cache = (enc, dec, a) if is_grad_enabled() else NOT_SAVED
        return a, out

    def _backward(self, where, dout):
        if self._cache is None:
            raise RuntimeError(f"{where} called before forward")
        enc, dec, a = saved(type(self).__name__, self._cache)
        N, Te, H = enc.shape
        Td = dec.shape[1]
        dout = _checks.float_array(where, "dout", dout)
        if self._time:
            _checks.shape(where, "dout", dout, (N, Td, H), ("N", "T_dec", "H"))
            g = _checks.ready(dout, enc.dtype)
        else:
            _checks.shape(where, "dout", dout, (N, H), ("N", "H"))
            g = _checks.ready(dout, enc.dtype)[:, np.newaxis]
        dhs_enc = np.empty((N, Te, H), enc.dtype)
        dhs_dec = np.empty((N, Td, H), enc.dtype)
        attention_backward(enc, dec, a, g, dhs_enc, dhs_dec, np.empty(Te, enc.dtype))
        return dhs_enc, dhs_dec


class Attention(_FusedAttention):
    """``forward(hs (N, T, H), h (N, H)) -> (N, H)`` context; ``.attention_weight`` (N, T);
    ``backward(dout (N, H)) -> (dhs, dh)``."""
    _time = False

    def __init__(self):
        self.params, self.grads = [], []
        self.attention_weight = None
        self._cache = None

    def forward(self, hs, h):
        where = "Attention.forward"
        hs = _hs(where, "hs", hs)
        h = _checks.float_array(where, "h", h)
        _checks.shape(where, "h", h, (hs.shape[0], hs.shape[2]), ("N", "H"))
        a, out = self._forward(where, hs, h[:, np.newaxis])
        self.attention_weight = a[0]
        return out[:, 0]

    def backward(self, dout):
        dhs, dh = self._backward("Attention.backward", dout)
        return dhs, dh[:, 0]


class TimeAttention(_FusedAttention):
    """``forward(hs_enc (N, T_enc, H), hs_dec (N, T_dec, H)) -> (N, T_dec, H)`` contexts;
    ``.attention_weights``: list of T_dec arrays (N, T_enc); ``backward(dout) -> (dhs_enc, dhs_dec)``."""
    _time = True

    def __init__(self):
        self.params, self.grads = [], []
        self.attention_weights = None
        self._cache = None

    def forward(self, hs_enc, hs_dec):
        where = "TimeAttention.forward"
        hs_enc = _hs(where, "hs_enc", hs_enc)
        hs_dec = _hs(where, "hs_dec", hs_dec)
        N, _, H = hs_enc.shape
        _checks.shape(where, "hs_dec", hs_dec, (N, None, H), ("N", "T_dec", "H"))
        a, out = self._forward(where, hs_enc, hs_dec)
        self.attention_weights = list(a)
        return out

    def backward(self, dout):
        return self._backward("TimeAttention.backward", dout)
