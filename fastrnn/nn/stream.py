"""A recurrent module run one time step per call, its state kept between calls.

    stream = lstm.stream()              # N = 1, zero initial state; or lstm.stream(hx) / batch_size=N
    y_t = stream.step(x_t)              # x_t (N, I) -> y_t (N, H) (N, P with a projection)
    stream.state                        # the state(s) after the last step, like forward's finals
    stream.reset(hx=None)               # start again

A step is the forward of one time step, ``module(x_t[None], state)``, with the same results,
always forward only (nothing saved, whatever the grad mode) and with less work per call:
the layers' plan (fastrnn/nn/_plans.py) is made once, the state lives in two sets of
buffers the layers' kernels write into in turn, and a step checks only its input and the
module's parameters. Parameters changed in place are read as they are at each step; a
parameter array replaced by another one is checked and gets a new plan.

One stream belongs to one caller: two threads stepping the same stream would interleave its
state (make a stream per thread; the module may be shared).
"""
import numpy as np

from .._validation import _type_name, as_compute_array, as_real_array, check_int, check_shape
from ._module import pack_states, unpack_states
from ._plans import LayerPlans


class Stream:
    """``module`` (a one-direction fastrnn.nn recurrent module) one step at a time on a batch
    of ``batch_size`` sequences; ``hx`` the initial state(s) like forward's (None: zeros)."""

    def __init__(self, module, hx=None, batch_size=None):
        from .rnn import Recurrent
        if not isinstance(module, Recurrent):
            raise TypeError("module: expected a fastrnn.nn recurrent module (LSTM, GRU, RNN, LayerNormLSTM, "
                            f"LayerNormGRU or Recurrent), got {_type_name(module)}")
        if module.bidirectional:
            raise ValueError(f"{type(module).__name__}.stream(): a bidirectional module reads each sequence "
                             "backwards from its end, so it cannot run one step at a time; expected "
                             "bidirectional=False")
        self.module = module
        given = [s for s in unpack_states(module.cell, "hx", hx, "{}0") if s is not None]
        if batch_size is not None:
            self.batch_size = check_int("batch_size", batch_size, 1)
        else:           # N from hx when it has one (reset checks hx whole and names what is wrong), else 1
            self.batch_size = _batch_of(given[0]) if given else 1
        L, dt, sizes = module.num_layers, module.dtype, module._sizes
        # two sets of state buffers (L, N, size), read and written in turn
        self._buffers = [tuple(np.zeros((L, self.batch_size, size), dt) for size in sizes) for _ in range(2)]
        self._layer_views = [list(zip(*b)) for b in self._buffers]
        self._current = 0
        self._new_plan()
        self.reset(hx)

    def __repr__(self):
        return f"Stream({self.module!r}, batch_size={self.batch_size})"

    @property
    def state(self):
        """The state(s) after the last step (before the first: the initial ones), as forward
        returns its finals: one (L, N, H) array, or the LSTM's (h, c); copies."""
        return pack_states(self.module.cell, tuple(b.copy() for b in self._buffers[self._current]))

    def reset(self, hx=None):
        """Start again from ``hx`` (like forward's; None: zeros). Returns the stream."""
        m = self.module
        states = unpack_states(m.cell, "hx", hx, "{}0")
        checked = [m._check_state(k, m.cell.state_names[k] + "0", s, self.batch_size, True)
                   for k, s in enumerate(states)]
        for into, value in zip(self._buffers[self._current], checked):
            if value is None:
                into[...] = 0
            else:
                into[...] = value
        return self

    def step(self, x):
        """x (N, I): one time step of every sequence -> the top layer's output (N, H), a new
        array; the state moves on by one step."""
        m = self.module
        dt, N = m.dtype, self.batch_size
        if (type(x) is not np.ndarray or x.dtype != dt or x.shape != (N, m.input_size)
                or not x.flags.c_contiguous):
            x = self._check_x(x)
        if m._draws_masks():
            raise RuntimeError(f"Stream.step(): the {type(m).__name__} is in training mode with "
                               f"{'zoneout' if m.zoneout > 0 else 'dropout'}, which a stream does not draw; "
                               "call eval() on the module first")
        if m.zoneout != self._zoneout or m._options is not self._module_options:
            self._new_plan()                   # the runs bind the options and zoneout weights
        plans, options = self._plans, self._options
        plans.update(m._guard.params(m.params, m._all_names), m._widths, m.cell, 1, N, options)
        current = self._current
        out = plans.forward(m.cell, x, self._layer_views[current], self._layer_views[1 - current], options)
        self._current = 1 - current
        return out

    def _new_plan(self):
        """A plan for the module's options and zoneout as they are now (the runs bind them)."""
        m = self.module
        self._zoneout, self._module_options = m.zoneout, m._options
        self._options = m._evaluation_options()
        self._plans = LayerPlans(m.num_layers, 1, self.batch_size, m._sizes, m.dtype)

    def _check_x(self, x):
        x = as_real_array("x", x)
        check_shape("x", x, (("N", self.batch_size), ("input_size", self.module.input_size)))
        return as_compute_array(x, self.module.dtype)


def _batch_of(state):
    """N of a (L, N, size) state given as an array or nested lists; 1 for anything else."""
    try:
        shape = np.shape(state)
    except ValueError:          # ragged lists
        return 1
    return shape[1] if len(shape) == 3 else 1
