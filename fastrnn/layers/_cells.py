"""The three book cells as calls into the fused sequence kernels (private).

Shared by the single-step layers (recurrent.py, T = 1) and the time layers
(time_recurrent.py): parameter checks, the compute dtype, weights handed to the kernel
without copies when they already fit, and gradients written straight into ``grads``.
All sequences here are time-major ``(T, N, ·)`` arrays of the compute dtype.
"""
import numpy as np

from .. import _sequence
from . import _checks


class Cell:
    """One book cell: ``gates`` column blocks of width H, with or without a cell state c."""

    def __init__(self, name, gates, has_c, bias_optional):
        self.name = name
        self.gates = gates
        self.has_c = has_c
        self.bias_optional = bias_optional

    def check_params(self, where, Wx, Wh, b):
        """Validate the constructor's arrays; returns (D, H)."""
        _checks.param_array(where, "Wx", Wx, 2)
        _checks.param_array(where, "Wh", Wh, 2)
        G = self.gates
        H = Wh.shape[0]
        wide = f"{G}*H" if G > 1 else "H"
        _checks.shape(where, "Wh", Wh, (H, G * H), ("H", wide))
        _checks.shape(where, "Wx", Wx, (None, G * H), ("D", wide))
        if b is None:
            if not self.bias_optional:
                raise TypeError(f"{where}: b must be a numpy.ndarray of shape ({wide}={G * H},), got None")
        else:
            _checks.param_array(where, "b", b, 1)
            _checks.shape(where, "b", b, (G * H,), (wide,))
        return Wx.shape[0], H

    def forward(self, x, h0, c0, Wx, Wh, b):
        """x (T, N, D), h0, c0 (N, H) -> out (T, N, H), h_n, c_n (None without c), cache."""
        if self.name == "LSTM":
            return _sequence.lstm_seq_forward(x, h0, c0, Wx, Wh, b, "book")
        if self.name == "GRU":
            out, h_n, cache = _sequence.gru_seq_forward(x, h0, Wx, Wh, b, None, "book", False)
        else:
            out, h_n, cache = _sequence.rnn_seq_forward(x, h0, Wx, Wh, b, "book", "tanh")
        return out, h_n, None, cache

    def backward(self, cache, dout, dh_n, dc_n, dWx, dWh, db):
        """Gradients overwrite dWx, dWh, db; returns dx (T, N, D), dh0, dc0 (None without c)."""
        if self.name == "LSTM":
            return _sequence.lstm_seq_backward(cache, dout, dh_n, dc_n, dWx, dWh, db, False)
        if self.name == "GRU":
            dx, dh0 = _sequence.gru_seq_backward(cache, dout, dh_n, dWx, dWh, db, None, False)
        else:
            dx, dh0 = _sequence.rnn_seq_backward(cache, dout, dh_n, dWx, dWh, db, False)
        return dx, dh0, None


RNN_CELL = Cell("RNN", 1, False, False)
LSTM_CELL = Cell("LSTM", 4, True, False)
GRU_CELL = Cell("GRU", 3, False, True)


class Weights:
    """The params of a recurrent layer, read at every call, and its grads written in place."""

    __slots__ = ("params", "grads", "dtype")

    def __init__(self, params):
        self.params = params
        self.grads = [np.zeros_like(p) for p in params]
        self.dtype = _checks.compute_dtype(*params)

    def shapes(self):
        """(D, H) of the current params."""
        Wx, Wh = self.params[0], self.params[1]
        return Wx.shape[0], Wh.shape[0]

    def for_kernel(self):
        """(Wx, Wh, b or None) as C-contiguous arrays of the compute dtype (no copy when they are)."""
        dt = self.dtype
        p = self.params
        b = _checks.ready(p[2], dt) if len(p) == 3 else None
        return _checks.ready(p[0], dt), _checks.ready(p[1], dt), b

    def grad_targets(self):
        """Arrays the kernel writes into: the grads themselves when they fit, else temporaries."""
        dt = self.dtype
        targets = [g if (g.dtype == dt and g.flags.c_contiguous) else np.empty(g.shape, dt)
                   for g in self.grads]
        if len(targets) == 2:
            targets.append(None)
        return targets

    def commit(self, targets):
        """Copy temporaries (if any) into the grads, in place."""
        for g, t in zip(self.grads, targets):
            if t is not g:
                g[...] = t
