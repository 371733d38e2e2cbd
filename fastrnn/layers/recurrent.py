"""RNN, LSTM and GRU single-step layers of the book (the fused kernels with T = 1).

Outputs are in the compute dtype (the weights': float32 for book code); the weight
gradients of the step overwrite ``grads`` in place. Under ``fastrnn.no_grad()`` a step runs
the forward-only kernel and keeps nothing for a backward.
"""
import numpy as np

from .._grad_mode import NOT_SAVED, is_grad_enabled, saved
from . import _checks
from .. import _cells
from ._cells import BookCell, Weights, layer_params, peephole_params


class _Step:
    """One step of a registered cell in the book's layout (the kernels with T = 1)."""
    cell, _bias_optional = None, False

    def __init__(self, Wx, Wh, b, extra=(), cell=None):
        self._cell = BookCell(cell or self.cell, self._bias_optional)
        self._where = type(self).__name__
        params = layer_params(self._where, Wx, Wh, b, extra)
        self._cell.check_params(self._where, params)
        self._w = Weights(params, len(self._cell.specs))
        self.params = self._w.params
        self.grads = self._w.grads
        self.cache = None
        self._fresh = False

    def _array(self, where, name, a, N, width, dt, letters):
        a = _checks.float_array(where, name, a)
        _checks.shape(where, name, a, (N, width), letters)
        return _checks.ready(a, dt)

    def _forward(self, x, *prev):
        """x (N, D), the previous states (N, H), one per state of the cell -> the new states."""
        where = f"{self._where}.forward"
        self._cell.check_params(self._where, self.params)
        D, H = self._w.shapes()
        dt = self._w.dtype
        x = _checks.float_array(where, "x", x)
        _checks.shape(where, "x", x, (None, D), ("N", "D"), " (D: the rows of Wx, params[0])")
        _checks.nonempty(where, "x", x, ("N", "D"))
        N = x.shape[0]
        states = tuple(self._array(where, f"{name}_prev", s, N, H, dt, ("N", "H"))
                       for name, s in zip(self._cell.state_names, prev))
        x = _checks.ready(x, dt)[np.newaxis]
        if not is_grad_enabled():
            self.cache, self._fresh = NOT_SAVED, False
            return self._cell.forward_only(x, states, self._w.for_kernel())[1]
        _, finals, cache = self._cell.forward(x, states, self._w.for_kernel())
        self.cache = (cache, (x, states), N, H, tuple(p.shape for p in self.params))
        self._fresh = True
        return finals

    def _backward(self, *dnext):
        """The new states' gradients (N, H), None or a scalar -> dx (N, D), the previous states' gradients."""
        where = f"{self._where}.backward"
        if self.cache is None:
            raise RuntimeError(f"{where} called before forward")
        cache, (x, states), N, H, shapes = saved(self._where, self.cache)
        dt = self._w.dtype
        dstates = tuple(self._grad(where, f"d{name}_next", d, N, H, dt)
                        for name, d in zip(self._cell.state_names, dnext))
        targets = self._w.grad_targets(where, shapes)
        if not self._fresh:     # a second backward: the first consumed the forward's buffers
            cache = self._cell.forward(x, states, self._w.for_kernel())[2]
        self._fresh = False
        dx, d0 = self._cell.backward(cache, None, dstates, targets)
        self._w.commit(targets)
        return (dx[0],) + tuple(d0)

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
    cell = "rnn"

    def __init__(self, Wx, Wh, b):
        super().__init__(Wx, Wh, b)

    def forward(self, x, h_prev):
        return self._forward(x, h_prev)[0]

    def backward(self, dh_next):
        return self._backward(dh_next)


class LSTM(_Step):
    """Book LSTM step, column blocks f, g, i, o.

    ``forward(x (N, D), h_prev, c_prev (N, H)) -> (h_next, c_next)``;
    ``backward(dh_next, dc_next) -> (dx, dh_prev, dc_prev)``. ``peephole=True`` (or an array
    p (3H,)) adds peephole connections: params ``[Wx, Wh, b, p]``, p = (p_i, p_f, p_o), zeros
    by default (equations: :class:`fastrnn.nn.LSTM`).
    """
    cell = "lstm"

    def __init__(self, Wx, Wh, b, peephole=False):
        extra = peephole_params(type(self).__name__, peephole, Wx, Wh)
        super().__init__(Wx, Wh, b, extra, _cells.lstm_variant_name(False, bool(extra)))

    def forward(self, x, h_prev, c_prev):
        return self._forward(x, h_prev, c_prev)

    def backward(self, dh_next, dc_next):
        return self._backward(dh_next, dc_next)


class GRU(_Step):
    """Book GRU step, blocks z, r, h̃, reset before the recurrent matmul, ``h' = (1 − z)⊙h + z⊙h̃``.

    ``GRU(Wx (D, 3H), Wh (H, 3H), b (3H,) or None)``; ``forward(x, h_prev) -> h_next``;
    ``backward(dh_next) -> (dx, dh_prev)``.
    """
    cell, _bias_optional = "gru", True

    def __init__(self, Wx, Wh, b=None):
        super().__init__(Wx, Wh, b)

    Wx = property(lambda self: self.params[0])
    Wh = property(lambda self: self.params[1])
    dWx = property(lambda self: self.grads[0])
    dWh = property(lambda self: self.grads[1])

    def forward(self, x, h_prev):
        return self._forward(x, h_prev)[0]

    def backward(self, dh_next):
        return self._backward(dh_next)
