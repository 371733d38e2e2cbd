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

from .._grad_mode import NOT_SAVED, is_grad_enabled, saved
from .._packing import packing_for
from . import _checks
from .. import _cells
from ._cells import BookCell, Weights, layer_params, peephole_params

_F32 = np.float32


class TimeRecurrent:
    """Any registered cell as a book time layer: ``TimeRecurrent('gru', Wx, Wh, b=None, stateful=False)``.

    ``Wx (D, G·H)``, ``Wh (H, G·H)``, ``b (G·H,)`` or None in the book's layout (the cell's
    book column blocks); the states are attributes named after the cell's states (``h``,
    ``c``), and ``.dh`` holds the gradient of the initial h after a backward. ``extra``: the
    cell's parameters after ``b`` in its book order (the peepholes ``p`` of 'lstm_peephole').
    """
    _bias_optional = True

    def __init__(self, cell, Wx, Wh, b=None, stateful=False, extra=()):
        self._cell = BookCell(cell, self._bias_optional)
        self.cell = self._cell.cell.name
        self._where = type(self).__name__
        params = layer_params(self._where, Wx, Wh, b, extra)
        self._cell.check_params(self._where, params)
        self._w = Weights(params, len(self._cell.specs))
        self._shapes = tuple(p.shape for p in self._w.params)
        self.params = self._w.params
        self.grads = self._w.grads
        self.stateful = stateful
        for name in self._cell.state_names:
            setattr(self, name, None)
        self.dh = None
        self._cache = None
        self._fresh = False

    def _check_weights(self):
        """-> the params' shapes and compute dtype, checked; nothing is changed (a forward
        commits them once every check passed)."""
        p = self.params
        if len(p) != len(self._shapes) or any(getattr(a, "shape", None) != s for a, s in zip(p, self._shapes)) \
                or any(not isinstance(a, np.ndarray) or a.dtype.kind != "f" for a in p):
            self._cell.check_params(self._where, p)
            return tuple(a.shape for a in p), _checks.compute_dtype(*p)
        return self._shapes, self._w.dtype

    def _state(self, name, value, N, H, dt):
        if value is None or not self.stateful:
            return np.zeros((N, H), dt)
        value = _checks.float_array(f"{self._where}.forward", name, value)
        if value.shape != (N, H):
            raise ValueError(f"{self._where}.forward: state {name} must have shape (N={N}, H={H}), "
                             f"got {value.shape} (call reset_state() when the batch size changes)")
        return _checks.ready(value, dt)

    def forward(self, xs, lengths=None):
        """xs (N, T, D) -> hs (N, T, H) float32. ``lengths`` (N,) integers in [0, T]: sequence n
        has its first lengths[n] steps (fastrnn.oracle's semantics): hs is 0 after them and
        the final states (``h``, ``c``) are those after its last step; the kernels skip the
        padding."""
        return self._forward_checked(self._check_forward(xs, lengths))

    def _check_forward(self, xs, lengths):
        """Every check of a forward, nothing changed -> the checked call (run it with
        :meth:`_forward_checked`); a failed check leaves the layer as it was."""
        where = self._where + ".forward"
        shapes, dt = self._check_weights()
        D, H = shapes[0][0], shapes[1][0]
        xs = _checks.float_array(where, "xs", xs)
        if xs.ndim != 3 or xs.shape[2] != D or xs.size == 0:
            _checks.shape(where, "xs", xs, (None, None, D), ("N", "T", "D"), " (D: the rows of Wx, params[0])")
            _checks.nonempty(where, "xs", xs, ("N", "T", "D"))
        N, T, _ = xs.shape
        lengths = _checks.lengths(where, lengths, T, N)
        states = tuple(self._state(name, getattr(self, name), N, H, dt) for name in self._cell.state_names)
        return xs, lengths, states, shapes, dt

    def _forward_checked(self, call):
        """Run a forward checked by :meth:`_check_forward` and keep what it leaves: the final
        states, the saved context, the params' shapes and dtype."""
        xs, lengths, states, shapes, dt = call
        self._shapes, self._w.dtype = shapes, dt
        N, T, D = xs.shape
        H = shapes[1][0]
        x = np.ascontiguousarray(xs.transpose(1, 0, 2), dtype=dt)
        packing = packing_for(lengths, T, N)
        grad = is_grad_enabled()
        if packing.rows == 0 and lengths is not None:      # every length 0: nothing runs
            out, finals, cache = np.zeros((T, N, H), dt), tuple(s.copy() for s in states), None
        else:
            out, finals, cache = self._run(packing, x, states, grad)
        hs = np.empty((N, T, H), _F32)
        hs[...] = out.transpose(1, 0, 2)
        for name, final in zip(self._cell.state_names, finals):
            setattr(self, name, final)
        self._cache = (cache, (x, states, packing), N, T, D, H, shapes) if grad else NOT_SAVED
        self._fresh = True
        return hs

    def _run(self, packing, x, states, grad=True):
        """The kernel forward in ``packing`` -> out (T, N, H), final states (caller's order), cache
        (None with ``grad`` False: the forward-only kernels)."""
        run = self._cell.forward if grad else self._cell.forward_only
        out, finals, *cache = run(packing.pack(x), tuple(packing.sort(s) for s in states),
                                  self._w.for_kernel(), packing.batch_sizes)
        return packing.unpack(out), tuple(packing.unsort(f) for f in finals), cache[0] if cache else None

    def backward(self, dhs):
        where = self._where + ".backward"
        if self._cache is None:
            raise RuntimeError(f"{where} called before forward")
        cache, (x, states, packing), N, T, D, H, shapes = saved(self._where, self._cache)
        dhs = _checks.float_array(where, "dhs", dhs)
        if dhs.shape != (N, T, H):
            _checks.shape(where, "dhs", dhs, (N, T, H), ("N", "T", "H"))
        dout = np.ascontiguousarray(dhs.transpose(1, 0, 2), dtype=self._w.dtype)
        targets = self._w.grad_targets(where, shapes)
        if cache is None:                                 # every length 0: nothing ran, no gradient
            for g in self.grads:
                g[...] = 0
            self.dh = np.zeros((N, H), self._w.dtype)
            return np.zeros((N, T, D), _F32)
        if not self._fresh:     # the kernel's backward consumed the forward's buffers: redo them
            cache = self._run(packing, x, states)[2]
        self._fresh = False
        dx, d0 = self._cell.backward(cache, packing.pack(dout), (None,) * len(states), targets)
        self._w.commit(targets)
        self.dh = packing.unsort(d0[0])
        dxs = np.empty((N, T, D), _F32)
        dxs[...] = packing.unpack(dx).transpose(1, 0, 2)
        return dxs

    def set_state(self, h):
        self.h = h

    def reset_state(self):
        self.h = None


class TimeRNN(TimeRecurrent):
    """``h_t = tanh(h_{t−1}·Wh + x_t·Wx + b)``; ``Wx (D, H)``, ``Wh (H, H)``, ``b (H,)``."""
    cell, _bias_optional = "rnn", False

    def __init__(self, Wx, Wh, b, stateful=False):
        super().__init__(self.cell, Wx, Wh, b, stateful)


class TimeLSTM(TimeRecurrent):
    """Book LSTM over time; ``Wx (D, 4H)``, ``Wh (H, 4H)``, ``b (4H,)``, column blocks f, g, i, o.

    ``set_state(h, c=None)``; ``reset_state()`` clears both states. ``peephole=True`` (or an
    array p (3H,)) adds peephole connections: params ``[Wx, Wh, b, p]``, p = (p_i, p_f, p_o),
    zeros by default; i, f add ``p ⊙ c_{t-1}``, o adds ``p_o ⊙ c_t`` (:class:`fastrnn.nn.LSTM`).
    """
    cell, _bias_optional = "lstm", False

    def __init__(self, Wx, Wh, b, stateful=False, peephole=False):
        extra = peephole_params(type(self).__name__, peephole, Wx, Wh)
        super().__init__(_cells.lstm_variant_name(False, bool(extra)), Wx, Wh, b, stateful, extra)

    def set_state(self, h, c=None):
        self.h, self.c = h, c

    def reset_state(self):
        self.h, self.c = None, None


class TimeGRU(TimeRecurrent):
    """Book GRU over time; ``Wx (D, 3H)``, ``Wh (H, 3H)``, ``b (3H,)`` or None, blocks z, r, h̃.

    ``h̃ = tanh(x·Wx_h + (r⊙h)·Wh_h + b_h)``, ``h' = (1 − z)⊙h + z⊙h̃``. Without ``b`` (the book's
    ``TimeGRU(Wx, Wh, stateful)``) params are ``[Wx, Wh]``; ``dWx``/``dWh`` alias ``grads``.
    """
    cell = "gru"

    def __init__(self, Wx, Wh, b=None, stateful=False):
        if isinstance(b, (bool, np.bool_)):     # the book's positional TimeGRU(Wx, Wh, stateful)
            b, stateful = None, bool(b)
        super().__init__(self.cell, Wx, Wh, b, stateful)

    Wx = property(lambda self: self.params[0])
    Wh = property(lambda self: self.params[1])
    dWx = property(lambda self: self.grads[0])
    dWh = property(lambda self: self.grads[1])


def reverse_steps(xs, lengths):
    """xs (N, T, ...) with each sequence's first lengths[n] steps reversed (all T without lengths)."""
    if lengths is None:
        return xs[:, ::-1]
    T = xs.shape[1]
    steps = np.arange(T)[None, :]
    index = np.where(steps < lengths[:, None], lengths[:, None] - 1 - steps, steps)
    return np.take_along_axis(xs, index.reshape(index.shape + (1,) * (xs.ndim - 2)), axis=1)


class TimeBiRecurrent:
    """Two time layers of a registered cell, one reading each sequence backwards:
    ``forward(xs, lengths=None) = concat(fwd(xs), reverse(bwd(reverse(xs))), axis=2)`` -> (N, T, 2H).

    With ``lengths`` the backward layer starts at each sequence's own last step. params: the
    forward layer's ``Wx1, Wh1, b1`` then the backward layer's ``Wx2, Wh2, b2``.
    """

    def __init__(self, cell, Wx1, Wh1, b1, Wx2, Wh2, b2, stateful=False):
        self.forward_layer = time_layer(cell, Wx1, Wh1, b1, stateful)
        self.backward_layer = time_layer(cell, Wx2, Wh2, b2, stateful)
        self.params = self.forward_layer.params + self.backward_layer.params
        self.grads = self.forward_layer.grads + self.backward_layer.grads
        self._lengths = None

    def forward(self, xs, lengths=None):
        where = f"{type(self).__name__}.forward"
        xs = _checks.float_array(where, "xs", xs)
        if xs.ndim != 3:
            raise ValueError(f"{where}: xs must have shape (N, T, D), got {xs.shape}")
        lengths = _checks.lengths(where, lengths, xs.shape[1], xs.shape[0])
        # both layers checked before either runs: a failed forward changes neither (nor lengths)
        forward_call = self.forward_layer._check_forward(xs, lengths)
        backward_call = self.backward_layer._check_forward(reverse_steps(xs, lengths), lengths)
        o1 = self.forward_layer._forward_checked(forward_call)
        o2 = self.backward_layer._forward_checked(backward_call)
        self._lengths = lengths
        return np.concatenate((o1, reverse_steps(o2, lengths)), axis=2)

    def backward(self, dhs):
        where = f"{type(self).__name__}.backward"
        dhs = _checks.float_array(where, "dhs", dhs)
        H = self.forward_layer.params[1].shape[0]
        if dhs.ndim != 3 or dhs.shape[2] != 2 * H:
            raise ValueError(f"{where}: dhs must have shape (N, T, 2H={2 * H}), got {dhs.shape}")
        lengths = self._lengths
        dxs1 = self.forward_layer.backward(dhs[:, :, :H])
        dxs2 = self.backward_layer.backward(reverse_steps(dhs[:, :, H:], lengths))
        dxs1 += reverse_steps(dxs2, lengths)
        return dxs1

    def reset_state(self):
        self.forward_layer.reset_state()
        self.backward_layer.reset_state()


class TimeBiLSTM(TimeBiRecurrent):
    """The book's ``TimeBiLSTM``: ``forward(xs) = concat(lstm1(xs), reverse_T(lstm2(reverse_T(xs))), axis=2)``
    -> (N, T, 2H); ``forward(xs, lengths)`` reverses each sequence within its length.

    params: the forward LSTM's ``Wx1, Wh1, b1`` then the backward LSTM's ``Wx2, Wh2, b2``.
    """

    def __init__(self, Wx1, Wh1, b1, Wx2, Wh2, b2, stateful=False):
        super().__init__("lstm", Wx1, Wh1, b1, Wx2, Wh2, b2, stateful)

    forward_lstm = property(lambda self: self.forward_layer)
    backward_lstm = property(lambda self: self.backward_layer)


#: The book's own time layer classes, by cell name.
TIME_LAYERS = {cls.cell: cls for cls in (TimeRNN, TimeLSTM, TimeGRU)}


def time_layer(cell, Wx, Wh, b=None, stateful=False):
    """The time layer of a registered cell: the book's class where it has one, else TimeRecurrent."""
    if cell in TIME_LAYERS:
        return TIME_LAYERS[cell](Wx, Wh, b, stateful=stateful)
    return TimeRecurrent(cell, Wx, Wh, b, stateful)
