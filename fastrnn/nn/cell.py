"""Single-step LSTMCell / GRUCell / RNNCell modules (torch.nn's interface).

``x (N, I)`` or unbatched ``(I,)``; states ``(N, H)`` or ``(H,)``. Parameters
``weight_ih (G*H, I)``, ``weight_hh (G*H, H)``, ``bias_ih``, ``bias_hh (G*H,)``. Under
``fastrnn.no_grad()`` a step runs the cell's forward-only kernel and keeps nothing.
"""
import numpy as np

from .. import _cells
from .._grad_mode import NOT_SAVED, is_grad_enabled
from .._validation import (as_compute_array, as_real_array, check_array, check_bool, check_device,
                           check_float_dtype_arg, check_int, check_shape, shape_error)
from ._module import ConfiguredModule, Module, _CONSUMED, pack_states, unpack_states
from .rnn import check_proj_size


class RecurrentCell(ConfiguredModule, Module):
    """One step of any registered cell, torch.nn.RNNCellBase-like: ``RecurrentCell('gru', 8, 16)``.

    Options of the cell (``reset_after``, ``nonlinearity``, ...) are keywords; ``proj_size``
    as in :class:`~fastrnn.nn.Recurrent` (the h state of a projecting cell has P features).
    ``forward(x, hx)`` takes and returns the state(s) as torch does (the LSTM's as a pair).
    """

    def __init__(self, cell, input_size, hidden_size, bias=True, dtype=np.float32, seed=None, device=None,
                 proj_size=0, **options):
        self.cell = _cells.get(cell)
        self.device = check_device(device)
        self.input_size = check_int("input_size", input_size, 1)
        self.hidden_size = check_int("hidden_size", hidden_size, 1)
        self.bias = check_bool("bias", bias)
        self.dtype = check_float_dtype_arg("dtype", dtype)
        self.proj_size = check_proj_size(self.cell, proj_size, self.hidden_size)
        self._sizes = self.cell.state_sizes(self.hidden_size, self.proj_size)
        self._labels = self.cell.state_labels()
        self._options = self.cell.check_options(options)
        for name, value in self._options.items():
            setattr(self, name, value)
        rng = np.random.default_rng(seed)
        self._names = tuple(p.name if self.bias or not p.bias else None for p in self.cell.params("torch"))
        self._init_params(self.cell.init_params("torch", self.input_size, self.hidden_size, self.dtype, rng,
                                                self.bias, proj_size=self.proj_size), rng)

    def __repr__(self):
        extra = "" if self.bias else ", bias=False"
        extra += "".join(f", {o.name}={getattr(self, o.name)}" for o in self.cell.options
                         if getattr(self, o.name) != o.default)
        name = type(self).__name__
        lead = f"{self.cell.name!r}, " if type(self) is RecurrentCell else ""
        return f"{name}({lead}{self.input_size}, {self.hidden_size}{extra})"

    def _check_state(self, k, name, value, N, batched):
        if value is None:
            return None
        H = (self._labels[k], self._sizes[k])
        arr = check_array(name, value, (("N", N), H) if batched else (H,), self.dtype)
        return arr if batched else arr[None]

    def forward(self, x, hx=None):
        """x (N, I) or (I,), hx: the state(s), each (N, H) / (H,) or None -> the new state(s) like hx."""
        return pack_states(self.cell, self._forward(x, unpack_states(self.cell, "hx", hx, "{}0")))

    def backward(self, *dstates, **named):
        """The new states' gradients (each (N, H) or None), one argument per state, positional or
        by name (``dh1``, ``dc1``) -> dx (N, I), the previous states' gradients like hx; adds
        the weight gradients into ``grads``."""
        names = tuple(f"d{s}1" for s in self.cell.state_names)
        unknown = sorted(set(named) - set(names[len(dstates):]))
        if len(dstates) > len(names) or unknown:
            raise TypeError(f"backward: expected the state gradients {', '.join(names)} (each or None), got "
                            + (f"{len(dstates)} positional arguments" if len(dstates) > len(names)
                               else f"keyword {unknown[0]!r}"))
        dstates = dstates + tuple(named.get(n) for n in names[len(dstates):])
        dx, d0 = self._backward(dstates)
        return dx, pack_states(self.cell, d0)

    def _forward(self, x, hx):
        x = as_real_array("x", x)
        I = ("input_size", self.input_size)
        if x.ndim == 2:
            check_shape("x", x, (("N", None), I))
            batched = True
        elif x.ndim == 1:
            check_shape("x", x, (I,))
            x = x[None]
            batched = False
        else:
            raise shape_error("x", x, (("N", None), I), f"a 1-D unbatched array (input_size={self.input_size},)")
        N = x.shape[0]
        cell = self.cell
        states = tuple(self._check_state(k, name + "0", s, N, batched)
                       for k, (name, s) in enumerate(zip(cell.state_names, hx)))
        x = as_compute_array(x, self.dtype)[None]
        states = tuple(np.zeros((N, size), self.dtype) if s is None else s for s, size in zip(states, self._sizes))
        p = self._guard.params(self.params, self._names)
        if is_grad_enabled():
            _, final, cache = cell.forward(x, states, p, "torch", self._options)
            self._ctx = (cache, N, batched)
        else:
            _, final = cell.forward_only(x, states, p, "torch", self._options)
            self._ctx = NOT_SAVED
        return final if batched else tuple(f[0] for f in final)

    def _backward(self, dstates):
        cache, N, batched = self._saved()
        cell = self.cell
        dstates = tuple(self._check_state(k, "d" + name + "1", d, N, batched)
                        for k, (name, d) in enumerate(zip(cell.state_names, dstates)))
        g, commit = self._guard.grads(self.grads, self.params, self._names)
        self._ctx = _CONSUMED
        dx, ds0 = cell.backward(cache, None, dstates, g, True)
        commit()
        if batched:
            return dx[0], ds0
        return dx[0, 0], tuple(s[0] for s in ds0)


class LSTMCell(RecurrentCell):
    """One LSTM step: ``h1, c1 = cell(x, (h0, c0))``; ``dx, (dh0, dc0) = cell.backward(dh1, dc1)``.

    ``peephole=True`` adds ``weight_ph (3H,)`` (p_i, p_f, p_o, initialised to 0), as
    :class:`~fastrnn.nn.LSTM`.
    """

    def __init__(self, input_size, hidden_size, bias=True, device=None, dtype=np.float32, seed=None,
                 peephole=False):
        self.peephole = check_bool("peephole", peephole)
        super().__init__(_cells.lstm_variant_name(False, self.peephole), input_size, hidden_size, bias, dtype,
                         seed, device)

    def __repr__(self):
        text = super().__repr__()
        return text[:-1] + ", peephole=True)" if self.peephole else text


class GRUCell(RecurrentCell):
    """One GRU step: ``h1 = cell(x, h0)``; ``dx, dh0 = cell.backward(dh1)``; options as ``GRU``."""

    def __init__(self, input_size, hidden_size, bias=True, device=None, dtype=np.float32, seed=None,
                 reset_after=True, blend="torch"):
        super().__init__("gru", input_size, hidden_size, bias, dtype, seed, device, reset_after=reset_after,
                         blend=blend)


class RNNCell(RecurrentCell):
    """One Elman step (nonlinearity 'tanh' or 'relu'): ``h1 = cell(x, h0)``; ``dx, dh0 = cell.backward(dh1)``."""

    def __init__(self, input_size, hidden_size, bias=True, nonlinearity="tanh", device=None, dtype=np.float32,
                 seed=None):
        super().__init__("rnn", input_size, hidden_size, bias, dtype, seed, device, nonlinearity=nonlinearity)
