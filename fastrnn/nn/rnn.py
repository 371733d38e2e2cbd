"""Multi-layer, optionally bidirectional LSTM / GRU / RNN modules (torch.nn's interface).

Shapes (D = 2 if bidirectional else 1, L = num_layers):
``x (T, N, I)`` (``(N, T, I)`` with batch_first, ``(T, I)`` unbatched),
``h0, c0 (L*D, N, H)`` (``(L*D, H)`` unbatched), ``out (T, N, D*H)``.
Layer l > 0 reads layer l-1's output (directions concatenated), with inverted dropout in
between while training. The reverse direction runs on the time-reversed sequence.
The backward reads ``x`` and the parameters as they are when it runs: change neither in
place between forward and backward (the returned arrays are the caller's to modify).
"""
import warnings

import numpy as np

from .. import functional as F
from .._validation import (as_compute_array, as_real_array, check_array, check_bool,
                           check_choice, check_float_dtype_arg, check_int, check_probability,
                           check_shape, shape_error)
from ._module import Module, _CONSUMED, unpack_pair


class _RNNBase(Module):
    _kind = None

    def __init__(self, input_size, hidden_size, num_layers, bias, batch_first, dropout,
                 bidirectional, dtype, seed, option):
        self.input_size = check_int("input_size", input_size, 1)
        self.hidden_size = check_int("hidden_size", hidden_size, 1)
        self.num_layers = check_int("num_layers", num_layers, 1)
        self.bias = check_bool("bias", bias)
        self.batch_first = check_bool("batch_first", batch_first)
        self.dropout = check_probability("dropout", dropout)
        self.bidirectional = check_bool("bidirectional", bidirectional)
        self.dtype = check_float_dtype_arg("dtype", dtype)
        self._option = option
        if self.dropout > 0 and self.num_layers == 1:
            warnings.warn("dropout option adds dropout after all but last recurrent layer, so non-zero "
                          f"dropout expects num_layers greater than 1, but got dropout={self.dropout} "
                          f"and num_layers={self.num_layers}", UserWarning, stacklevel=3)
        D = 2 if self.bidirectional else 1
        G, H = self._kind.gates, self.hidden_size
        shapes, self._names = [], []
        for layer in range(self.num_layers):
            in_size = self.input_size if layer == 0 else D * H
            for direction in range(D):
                sfx = f"_l{layer}" + ("_reverse" if direction else "")
                names = [f"weight_ih{sfx}", f"weight_hh{sfx}"]
                shapes += [(names[0], (G * H, in_size)), (names[1], (G * H, H))]
                if self.bias:
                    names += [f"bias_ih{sfx}", f"bias_hh{sfx}"]
                    shapes += [(names[2], (G * H,)), (names[3], (G * H,))]
                else:
                    names += [None, None]
                self._names.append(tuple(names))
        self._init_params(shapes, H, self.dtype, seed)

    def __repr__(self):
        args = [str(self.input_size), str(self.hidden_size)]
        defaults = dict(num_layers=1, bias=True, batch_first=False, dropout=0.0, bidirectional=False)
        args += [f"{k}={getattr(self, k)}" for k, v in defaults.items() if getattr(self, k) != v]
        return f"{type(self).__name__}({', '.join(args)})"

    # --- shapes and checks -----------------------------------------------------------------------
    def _x_dims(self):
        I = ("input_size", self.input_size)
        return (("N", None), ("T", None), I) if self.batch_first else (("T", None), ("N", None), I)

    def _check_x(self, x):
        """-> time-major C-contiguous (T, N, I) array of the module's dtype, batched flag."""
        x = as_real_array("x", x)
        dims = self._x_dims()
        if x.ndim == 3:
            check_shape("x", x, dims)
            if self.batch_first:
                x = x.transpose(1, 0, 2)
            batched = True
        elif x.ndim == 2:
            check_shape("x", x, (("T", None), ("input_size", self.input_size)))
            x = x[:, None]
            batched = False
        else:
            raise shape_error("x", x, dims, f"a 2-D unbatched array (T, input_size={self.input_size})")
        if x.shape[0] == 0:
            raise ValueError(f"x: expected a sequence of length T >= 1, got shape {x.shape}")
        return as_compute_array(x, self.dtype), batched

    def _state_dims(self, N, batched):
        LD = ("num_layers*num_directions", self.num_layers * (2 if self.bidirectional else 1))
        H = ("hidden_size", self.hidden_size)
        return (LD, ("N", N), H) if batched else (LD, H)

    def _check_state(self, name, value, N, batched):
        """A state or state gradient as a C-contiguous (L*D, N, H) array, or None."""
        if value is None:
            return None
        arr = check_array(name, value, self._state_dims(N, batched), self.dtype)
        return arr if batched else arr[:, None]

    def _check_dout(self, dout, T, N, batched):
        if dout is None:
            return None
        DH = ("num_directions*hidden_size", (2 if self.bidirectional else 1) * self.hidden_size)
        if not batched:
            return check_array("dout", dout, (("T", T), DH), self.dtype)[:, None]
        if self.batch_first:
            dout = as_real_array("dout", dout)
            check_shape("dout", dout, (("N", N), ("T", T), DH))
            return as_compute_array(dout.transpose(1, 0, 2), self.dtype)
        return check_array("dout", dout, (("T", T), ("N", N), DH), self.dtype)

    # --- forward / backward ----------------------------------------------------------------------
    def _forward(self, x, hx):
        x, batched = self._check_x(x)
        T, N = x.shape[0], x.shape[1]
        kind, dt = self._kind, self.dtype
        L, D, H = self.num_layers, 2 if self.bidirectional else 1, self.hidden_size
        states = tuple(self._check_state(name + "0", s, N, batched)
                       for name, s in zip(kind.state_names, hx))
        # validated: from here on nothing can fail on the caller's input
        states = tuple(np.zeros((L * D, N, H), dt) if s is None else s for s in states)
        params, option = self.params, self._option
        p_drop = self.dropout if self.training else 0.0
        caches, masks, finals = [], [], [[] for _ in states]
        layer_in = x
        for layer in range(L):
            outs = []
            for direction in range(D):
                k = layer * D + direction
                p = [None if n is None else params[n] for n in self._names[k]]
                xin = layer_in if direction == 0 else np.ascontiguousarray(layer_in[::-1])
                out, final, cache = kind.forward(xin, tuple(s[k] for s in states), *p, option)
                caches.append(cache)
                outs.append(out if direction == 0 else out[::-1])
                for lst, f in zip(finals, final):
                    lst.append(f)
            layer_in = outs[0] if D == 1 else np.concatenate(outs, axis=2)
            mask = None
            if p_drop > 0 and layer < L - 1:
                mask = self._dropout_mask(layer_in.shape, p_drop)
                layer_in = layer_in * mask
            masks.append(mask)
        # the last layer's kernel output is saved for backward: hand out our own array
        out = layer_in.copy() if D == 1 else layer_in
        final = tuple(f[0][None] if L * D == 1 else np.stack(f) for f in finals)
        self._ctx = (caches, masks, batched, T, N)
        if not batched:
            return out[:, 0], tuple(f[:, 0] for f in final)
        if self.batch_first:
            out = out.transpose(1, 0, 2)
        return out, final

    def _dropout_mask(self, shape, p):
        """Inverted dropout: 0 with probability p, else 1/(1-p); drawn from the module's rng."""
        if p >= 1.0:
            return np.zeros(shape, self.dtype)
        mask = (self._rng.random(shape, dtype=self.dtype) >= p).astype(self.dtype)
        mask *= self.dtype.type(1.0 / (1.0 - p))
        return mask

    def _backward(self, dout, dhx):
        caches, masks, batched, T, N = self._saved()
        kind = self._kind
        L, D, H = self.num_layers, 2 if self.bidirectional else 1, self.hidden_size
        dout = self._check_dout(dout, T, N, batched)
        dstates = tuple(self._check_state("d" + name + "_n", d, N, batched)
                        for name, d in zip(kind.state_names, dhx))
        self._ctx = _CONSUMED
        grads = self.grads
        d0 = [None] * len(dstates) if L * D == 1 else [np.empty((L * D, N, H), self.dtype) for _ in dstates]
        dlayer = dout
        for layer in reversed(range(L)):
            if masks[layer] is not None:
                dlayer = dlayer * masks[layer]
            dx = None
            for direction in range(D):
                k = layer * D + direction
                if dlayer is None or D == 1:
                    dout_k = dlayer
                else:
                    dout_k = dlayer[:, :, direction * H:(direction + 1) * H]
                    dout_k = np.ascontiguousarray(dout_k if direction == 0 else dout_k[::-1])
                g = [None if n is None else grads[n] for n in self._names[k]]
                dx_k, ds0 = kind.backward(caches[k], dout_k, tuple(None if s is None else s[k] for s in dstates),
                                          *g, True)
                if direction == 0:
                    dx = dx_k
                else:
                    dx += dx_k[::-1]
                if L * D == 1:
                    d0 = [s[None] for s in ds0]
                else:
                    for arr, s in zip(d0, ds0):
                        arr[k] = s
            dlayer = dx
        dx = dlayer
        if not batched:
            return dx[:, 0], tuple(s[:, 0] for s in d0)
        if self.batch_first:
            dx = dx.transpose(1, 0, 2)
        return dx, tuple(d0)


class LSTM(_RNNBase):
    """LSTM (gates i, f, g, o), torch.nn.LSTM's interface plus ``dtype`` and ``seed``.

    ``out, (h_n, c_n) = lstm(x, (h0, c0))``; ``dx, (dh0, dc0) = lstm.backward(dout, (dh_n, dc_n))``.
    """
    _kind = F._LSTM

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False,
                 dropout=0.0, bidirectional=False, dtype=np.float32, seed=None):
        super().__init__(input_size, hidden_size, num_layers, bias, batch_first, dropout,
                         bidirectional, dtype, seed, None)

    def forward(self, x, hx=None):
        """x (T, N, I), hx (h0, c0) each (L*D, N, H) or None -> out (T, N, D*H), (h_n, c_n)."""
        return self._forward(x, unpack_pair("hx", hx, "(h0, c0)"))

    def backward(self, dout=None, dhx=None):
        """dout (T, N, D*H), dhx (dh_n, dc_n), each or None -> dx, (dh0, dc0); adds into grads."""
        return self._backward(dout, unpack_pair("dhx", dhx, "(dh_n, dc_n)"))


class GRU(_RNNBase):
    """GRU (gates r, z, n; ``h' = (1-z) n + z h``), torch.nn.GRU's interface plus ``dtype``,
    ``seed`` and ``reset_after`` (False: reset applied before the recurrent matmul).

    ``out, h_n = gru(x, h0)``; ``dx, dh0 = gru.backward(dout, dh_n)``.
    """
    _kind = F._GRU

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False,
                 dropout=0.0, bidirectional=False, dtype=np.float32, seed=None, reset_after=True):
        self.reset_after = check_bool("reset_after", reset_after)
        super().__init__(input_size, hidden_size, num_layers, bias, batch_first, dropout,
                         bidirectional, dtype, seed, self.reset_after)

    def forward(self, x, hx=None):
        """x (T, N, I), hx (L*D, N, H) or None -> out (T, N, D*H), h_n (L*D, N, H)."""
        out, (h_n,) = self._forward(x, (hx,))
        return out, h_n

    def backward(self, dout=None, dh_n=None):
        """dout (T, N, D*H), dh_n (L*D, N, H), each or None -> dx, dh0; adds into grads."""
        dx, (dh0,) = self._backward(dout, (dh_n,))
        return dx, dh0


class RNN(_RNNBase):
    """Elman RNN ``h' = act(x W_ihᵀ + b_ih + h W_hhᵀ + b_hh)``, act 'tanh' or 'relu';
    torch.nn.RNN's interface (``nonlinearity`` is its 4th argument) plus ``dtype`` and ``seed``.

    ``out, h_n = rnn(x, h0)``; ``dx, dh0 = rnn.backward(dout, dh_n)``.
    """
    _kind = F._RNN

    def __init__(self, input_size, hidden_size, num_layers=1, nonlinearity="tanh", bias=True,
                 batch_first=False, dropout=0.0, bidirectional=False, dtype=np.float32, seed=None):
        self.nonlinearity = check_choice("nonlinearity", nonlinearity, F.NONLINEARITIES)
        super().__init__(input_size, hidden_size, num_layers, bias, batch_first, dropout,
                         bidirectional, dtype, seed, self.nonlinearity)

    forward = GRU.forward
    backward = GRU.backward
