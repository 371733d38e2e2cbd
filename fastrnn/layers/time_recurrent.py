"""TimeRNN, TimeLSTM, TimeGRU and TimeBiLSTM: the book's time layers, whole sequence in one kernel.

``forward(xs (N, T, D)) -> hs (N, T, H)`` float32; ``backward(dhs (N, T, H)) -> dxs (N, T, D)``
float32, weight gradients summed over time into ``grads`` in place, the gradient of the
initial h in ``.dh`` (that of the initial c is not kept). A repeated backward after one
forward gives the same result (the kernel's backward consumes the forward's buffers, so
they are recomputed for it). With ``stateful=True`` the last ``h`` (and ``c``) start the
next call, with no gradient across calls.
The layer copies ``xs`` to time-major ``(T, N, D)`` of the compute dtype (the weights'),
runs the fused kernel, and copies the result back to ``(N, T, H)`` float32.
"""
import numpy as np

from . import _checks
from ._cells import RNN_CELL, LSTM_CELL, GRU_CELL, Weights

_F32 = np.float32


class _TimeRecurrent:
    _cell = None

    def __init__(self, Wx, Wh, b, stateful):
        self._where = type(self).__name__
        self._cell.check_params(self._where, Wx, Wh, b)
        self._w = Weights([Wx, Wh] if b is None else [Wx, Wh, b])
        self._shapes = tuple(p.shape for p in self._w.params)
        self.params = self._w.params
        self.grads = self._w.grads
        self.stateful = stateful
        self.h, self.dh = None, None
        self._cache = None
        self._fresh = False

    def _check_weights(self):
        p = self.params
        if len(p) != len(self._shapes) or any(a.shape != s for a, s in zip(p, self._shapes)):
            self._cell.check_params(self._where, p[0], p[1], p[2] if len(p) == 3 else None)
            self._shapes = tuple(a.shape for a in p)
            self._w.dtype = _checks.compute_dtype(*p)

    def _state(self, name, value, N, H, dt):
        if value is None or not self.stateful:
            return np.zeros((N, H), dt)
        value = _checks.float_array(f"{self._where}.forward", name, value)
        if value.shape != (N, H):
            raise ValueError(f"{self._where}.forward: state {name} must have shape (N={N}, H={H}), "
                             f"got {value.shape} (call reset_state() when the batch size changes)")
        return _checks.ready(value, dt)

    def forward(self, xs):
        where = self._where + ".forward"
        self._check_weights()
        D, H = self._w.shapes()
        xs = _checks.float_array(where, "xs", xs)
        if xs.ndim != 3 or xs.shape[2] != D or xs.size == 0:
            _checks.shape(where, "xs", xs, (None, None, D), ("N", "T", "D"))
            _checks.nonempty(where, "xs", xs, ("N", "T", "D"))
        N, T, _ = xs.shape
        dt = self._w.dtype
        h0 = self._state("h", self.h, N, H, dt)
        c0 = self._state("c", self.c, N, H, dt) if self._cell.has_c else None

        x = np.ascontiguousarray(xs.transpose(1, 0, 2), dtype=dt)
        out, h_n, c_n, cache = self._cell.forward(x, h0, c0, *self._w.for_kernel())
        hs = np.empty((N, T, H), _F32)
        hs[...] = out.transpose(1, 0, 2)
        self.h = h_n
        if self._cell.has_c:
            self.c = c_n
        self._cache = (cache, (x, h0, c0), N, T, D, H)
        self._fresh = True
        return hs

    def backward(self, dhs):
        where = self._where + ".backward"
        if self._cache is None:
            raise RuntimeError(f"{where} called before forward")
        cache, inputs, N, T, D, H = self._cache
        dhs = _checks.float_array(where, "dhs", dhs)
        if dhs.shape != (N, T, H):
            _checks.shape(where, "dhs", dhs, (N, T, H), ("N", "T", "H"))
        dout = np.ascontiguousarray(dhs.transpose(1, 0, 2), dtype=self._w.dtype)
        if not self._fresh:     # the kernel's backward consumed the forward's buffers: redo them
            cache = self._cell.forward(*inputs, *self._w.for_kernel())[3]
        self._fresh = False
        targets = self._w.grad_targets()
        dx, dh0, _ = self._cell.backward(cache, dout, None, None, *targets)
        self._w.commit(targets)
        self.dh = dh0
        dxs = np.empty((N, T, D), _F32)
        dxs[...] = dx.transpose(1, 0, 2)
        return dxs

    def set_state(self, h):
        self.h = h

    def reset_state(self):
        self.h = None


class TimeRNN(_TimeRecurrent):
    """``h_t = tanh(h_{t−1}·Wh + x_t·Wx + b)``; ``Wx (D, H)``, ``Wh (H, H)``, ``b (H,)``."""
    _cell = RNN_CELL

    def __init__(self, Wx, Wh, b, stateful=False):
        super().__init__(Wx, Wh, b, stateful)


class TimeLSTM(_TimeRecurrent):
    """Book LSTM over time; ``Wx (D, 4H)``, ``Wh (H, 4H)``, ``b (4H,)``, column blocks f, g, i, o.

    ``set_state(h, c=None)``; ``reset_state()`` clears both states.
    """
    _cell = LSTM_CELL

    def __init__(self, Wx, Wh, b, stateful=False):
        self.c = None
        super().__init__(Wx, Wh, b, stateful)

    def set_state(self, h, c=None):
        self.h, self.c = h, c

    def reset_state(self):
        self.h, self.c = None, None


class TimeGRU(_TimeRecurrent):
    """Book GRU over time; ``Wx (D, 3H)``, ``Wh (H, 3H)``, ``b (3H,)`` or None, blocks z, r, h̃.

    ``h̃ = tanh(x·Wx_h + (r⊙h)·Wh_h + b_h)``, ``h' = (1 − z)⊙h + z⊙h̃``. Without ``b`` (the book's
    ``TimeGRU(Wx, Wh, stateful)``) params are ``[Wx, Wh]``; ``dWx``/``dWh`` alias ``grads``.
    """
    _cell = GRU_CELL

    def __init__(self, Wx, Wh, b=None, stateful=False):
        if isinstance(b, (bool, np.bool_)):     # the book's positional TimeGRU(Wx, Wh, stateful)
            b, stateful = None, bool(b)
        super().__init__(Wx, Wh, b, stateful)

    Wx = property(lambda self: self.params[0])
    Wh = property(lambda self: self.params[1])
    dWx = property(lambda self: self.grads[0])
    dWh = property(lambda self: self.grads[1])


class TimeBiLSTM:
    """``forward(xs) = concat(lstm1(xs), reverse_T(lstm2(reverse_T(xs))), axis=2)`` -> (N, T, 2H).

    params: the forward LSTM's ``Wx1, Wh1, b1`` then the backward LSTM's ``Wx2, Wh2, b2``.
    """

    def __init__(self, Wx1, Wh1, b1, Wx2, Wh2, b2, stateful=False):
        self.forward_lstm = TimeLSTM(Wx1, Wh1, b1, stateful)
        self.backward_lstm = TimeLSTM(Wx2, Wh2, b2, stateful)
        self.params = self.forward_lstm.params + self.backward_lstm.params
        self.grads = self.forward_lstm.grads + self.backward_lstm.grads

    def forward(self, xs):
        xs = _checks.float_array("TimeBiLSTM.forward", "xs", xs)
        if xs.ndim != 3:
            raise ValueError(f"TimeBiLSTM.forward: xs must have shape (N, T, D), got {xs.shape}")
        o1 = self.forward_lstm.forward(xs)
        o2 = self.backward_lstm.forward(xs[:, ::-1])
        return np.concatenate((o1, o2[:, ::-1]), axis=2)

    def backward(self, dhs):
        dhs = _checks.float_array("TimeBiLSTM.backward", "dhs", dhs)
        H = self.forward_lstm.params[1].shape[0]
        if dhs.ndim != 3 or dhs.shape[2] != 2 * H:
            raise ValueError(f"TimeBiLSTM.backward: dhs must have shape (N, T, 2H={2 * H}), got {dhs.shape}")
        dxs1 = self.forward_lstm.backward(dhs[:, :, :H])
        dxs2 = self.backward_lstm.backward(dhs[:, ::-1, H:])
        dxs1 += dxs2[:, ::-1]
        return dxs1
