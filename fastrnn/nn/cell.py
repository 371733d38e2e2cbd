"""Single-step LSTMCell / GRUCell / RNNCell modules (torch.nn's interface).

``x (N, I)`` or unbatched ``(I,)``; states ``(N, H)`` or ``(H,)``. Parameters
``weight_ih (G*H, I)``, ``weight_hh (G*H, H)``, ``bias_ih``, ``bias_hh (G*H,)``.
"""
import numpy as np

from .. import functional as F
from .._validation import (as_compute_array, as_real_array, check_array, check_bool, check_choice,
                           check_float_dtype_arg, check_int, check_shape, shape_error)
from ._module import Module, _CONSUMED, unpack_pair


class _CellBase(Module):
    _kind = None

    def __init__(self, input_size, hidden_size, bias, dtype, seed, option):
        self.input_size = check_int("input_size", input_size, 1)
        self.hidden_size = check_int("hidden_size", hidden_size, 1)
        self.bias = check_bool("bias", bias)
        self.dtype = check_float_dtype_arg("dtype", dtype)
        self._option = option
        G, H = self._kind.gates, self.hidden_size
        shapes = [("weight_ih", (G * H, self.input_size)), ("weight_hh", (G * H, H))]
        if self.bias:
            shapes += [("bias_ih", (G * H,)), ("bias_hh", (G * H,))]
        self._names = ("weight_ih", "weight_hh") + (("bias_ih", "bias_hh") if self.bias else (None, None))
        self._init_params(shapes, H, self.dtype, seed)

    def __repr__(self):
        extra = "" if self.bias else ", bias=False"
        return f"{type(self).__name__}({self.input_size}, {self.hidden_size}{extra})"

    def _check_state(self, name, value, N, batched):
        if value is None:
            return None
        H = ("hidden_size", self.hidden_size)
        arr = check_array(name, value, (("N", N), H) if batched else (H,), self.dtype)
        return arr if batched else arr[None]

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
        kind = self._kind
        states = tuple(self._check_state(name + "0", s, N, batched) for name, s in zip(kind.state_names, hx))
        x = as_compute_array(x, self.dtype)[None]
        states = tuple(np.zeros((N, self.hidden_size), self.dtype) if s is None else s for s in states)
        p = [None if n is None else self.params[n] for n in self._names]
        _, final, cache = kind.forward(x, states, *p, self._option)
        self._ctx = (cache, N, batched)
        return final if batched else tuple(f[0] for f in final)

    def _backward(self, dstates):
        cache, N, batched = self._saved()
        kind = self._kind
        dstates = tuple(self._check_state("d" + name + "1", d, N, batched)
                        for name, d in zip(kind.state_names, dstates))
        self._ctx = _CONSUMED
        g = [None if n is None else self.grads[n] for n in self._names]
        dx, ds0 = kind.backward(cache, None, dstates, *g, True)
        if batched:
            return dx[0], ds0
        return dx[0, 0], tuple(s[0] for s in ds0)


class LSTMCell(_CellBase):
    """One LSTM step: ``h1, c1 = cell(x, (h0, c0))``; ``dx, (dh0, dc0) = cell.backward(dh1, dc1)``."""
    _kind = F._LSTM

    def __init__(self, input_size, hidden_size, bias=True, dtype=np.float32, seed=None):
        super().__init__(input_size, hidden_size, bias, dtype, seed, None)

    def forward(self, x, hx=None):
        """x (N, I), hx (h0, c0) each (N, H) or None -> (h1, c1)."""
        h1, c1 = self._forward(x, unpack_pair("hx", hx, "(h0, c0)"))
        return h1, c1

    def backward(self, dh1=None, dc1=None):
        """dh1, dc1 (N, H) or None -> dx (N, I), (dh0, dc0); adds into grads."""
        dx, (dh0, dc0) = self._backward((dh1, dc1))
        return dx, (dh0, dc0)


class GRUCell(_CellBase):
    """One GRU step: ``h1 = cell(x, h0)``; ``dx, dh0 = cell.backward(dh1)``."""
    _kind = F._GRU

    def __init__(self, input_size, hidden_size, bias=True, dtype=np.float32, seed=None, reset_after=True):
        self.reset_after = check_bool("reset_after", reset_after)
        super().__init__(input_size, hidden_size, bias, dtype, seed, self.reset_after)

    def forward(self, x, hx=None):
        """x (N, I), hx (N, H) or None -> h1 (N, H)."""
        (h1,) = self._forward(x, (hx,))
        return h1

    def backward(self, dh1=None):
        """dh1 (N, H) or None -> dx (N, I), dh0 (N, H); adds into grads."""
        dx, (dh0,) = self._backward((dh1,))
        return dx, dh0


class RNNCell(_CellBase):
    """One Elman step (nonlinearity 'tanh' or 'relu'): ``h1 = cell(x, h0)``; ``dx, dh0 = cell.backward(dh1)``."""
    _kind = F._RNN

    def __init__(self, input_size, hidden_size, bias=True, nonlinearity="tanh", dtype=np.float32, seed=None):
        self.nonlinearity = check_choice("nonlinearity", nonlinearity, F.NONLINEARITIES)
        super().__init__(input_size, hidden_size, bias, dtype, seed, self.nonlinearity)

    forward = GRUCell.forward
    backward = GRUCell.backward
