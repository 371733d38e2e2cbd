"""RNN, LSTM and GRU single-step layers of the book (the fused kernels with T = 1).

Outputs are in the compute dtype (the weights': float32 for book code); the weight
gradients of the step overwrite ``grads`` in place.
"""
import numpy as np

from . import _checks
from ._cells import RNN_CELL, LSTM_CELL, GRU_CELL, Weights


class _Step:
    _cell = None

    def __init__(self, Wx, Wh, b):
        self._where = type(self).__name__
        self._cell.check_params(self._where, Wx, Wh, b)
        self._w = Weights([Wx, Wh] if b is None else [Wx, Wh, b])
        self.params = self._w.params
        self.grads = self._w.grads
        self.cache = None
        self._fresh = False

    def _array(self, where, name, a, N, width, dt, letters):
        a = _checks.float_array(where, name, a)
        _checks.shape(where, name, a, (N, width), letters)
        return _checks.ready(a, dt)

    def _forward(self, x, h_prev, c_prev):
        where = f"{self._where}.forward"
        p = self.params
        self._cell.check_params(self._where, p[0], p[1], p[2] if len(p) == 3 else None)
        D, H = self._w.shapes()
        dt = self._w.dtype
        x = _checks.float_array(where, "x", x)
        _checks.shape(where, "x", x, (None, D), ("N", "D"))
        _checks.nonempty(where, "x", x, ("N", "D"))
        N = x.shape[0]
        h0 = self._array(where, "h_prev", h_prev, N, H, dt, ("N", "H"))
        c0 = self._array(where, "c_prev", c_prev, N, H, dt, ("N", "H")) if self._cell.has_c else None
        x = _checks.ready(x, dt)[np.newaxis]
        out, h_n, c_n, cache = self._cell.forward(x, h0, c0, *self._w.for_kernel())
        self.cache = (cache, (x, h0, c0), N, H)
        self._fresh = True
        return h_n, c_n

    def _backward(self, dh_next, dc_next):
        where = f"{self._where}.backward"
        if self.cache is None:
            raise RuntimeError(f"{where} called before forward")
        cache, (x, h0, c0), N, H = self.cache
        dt = self._w.dtype
        dh = self._grad(where, "dh_next", dh_next, N, H, dt)
        dc = self._grad(where, "dc_next", dc_next, N, H, dt) if self._cell.has_c else None
        if not self._fresh:     # a second backward: the first consumed the forward's buffers
            cache = self._cell.forward(x, h0, c0, *self._w.for_kernel())[3]
        self._fresh = False
        targets = self._w.grad_targets()
        dx, dh0, dc0 = self._cell.backward(cache, None, dh, dc, *targets)
        self._w.commit(targets)
        return dx[0], dh0, dc0

    def _grad(self, where, name, value, N, H, dt):
        """A state gradient (N, H); None or a scalar (the book's initial 0) broadcast."""
        if value is None:
            return None
        value = _checks.float_array(where, name, value)
        if value.ndim == 0:
            return np.full((N, H), value, dt)
        return self._array(where, name, value, N, H, dt, ("N", "H"))


class RNN(_Step):
    """``h_next = tanh(h_prev·Wh + x·Wx + b)``; ``forward(x, h_prev)``, ``backward(dh_next) -> (dx, dh_prev)``."""
    _cell = RNN_CELL

    def __init__(self, Wx, Wh, b):
        super().__init__(Wx, Wh, b)

    def forward(self, x, h_prev):
        return self._forward(x, h_prev, None)[0]

    def backward(self, dh_next):
        dx, dh_prev, _ = self._backward(dh_next, None)
        return dx, dh_prev


class LSTM(_Step):
    """Book LSTM step, column blocks f, g, i, o.

    ``forward(x (N, D), h_prev, c_prev (N, H)) -> (h_next, c_next)``;
    ``backward(dh_next, dc_next) -> (dx, dh_prev, dc_prev)``.
    """
    _cell = LSTM_CELL

    def __init__(self, Wx, Wh, b):
        super().__init__(Wx, Wh, b)

    def forward(self, x, h_prev, c_prev):
        return self._forward(x, h_prev, c_prev)

    def backward(self, dh_next, dc_next):
        return self._backward(dh_next, dc_next)


class GRU(_Step):
    """Book GRU step, blocks z, r, h̃, reset before the recurrent matmul, ``h' = (1 − z)⊙h + z⊙h̃``.

    ``GRU(Wx (D, 3H), Wh (H, 3H), b (3H,) or None)``; ``forward(x, h_prev) -> h_next``;
    ``backward(dh_next) -> (dx, dh_prev)``.
    """
    _cell = GRU_CELL

    def __init__(self, Wx, Wh, b=None):
        super().__init__(Wx, Wh, b)

    Wx = property(lambda self: self.params[0])
    Wh = property(lambda self: self.params[1])
    dWx = property(lambda self: self.grads[0])
    dWh = property(lambda self: self.grads[1])

    def forward(self, x, h_prev):
        return self._forward(x, h_prev, None)[0]

    def backward(self, dh_next):
        dx, dh_prev, _ = self._backward(dh_next, None)
        return dx, dh_prev
