"""Multi-layer, optionally bidirectional LSTM / GRU / RNN modules (torch.nn's interface).

Shapes (D = 2 if bidirectional else 1, L = num_layers):
``x (T, N, I)`` (``(N, T, I)`` with batch_first, ``(T, I)`` unbatched),
``h0, c0 (L*D, N, H)`` (``(L*D, H)`` unbatched), ``out (T, N, D*H)``. A cell with a
projection (``proj_size`` P > 0, the LSTM's) has ``h0 (L*D, N, P)`` and ``out (T, N, D*P)``.
Layer l > 0 reads layer l-1's output (directions concatenated), with inverted dropout in
between while training. The reverse direction runs on the time-reversed sequence.
``zoneout`` p (a cell that supports it: the LSTM, GRU and the layer-normalised cells) keeps
each unit's previous h: in training with a Bernoulli(p) mask drawn per step, sequence and
unit from the module's generator, in evaluation with weight p (the mask's expectation):
``h_t = keep ⊙ h_{t−1} + (1 − keep) ⊙ h'_t`` (fastrnn.oracle.zoneout_blend); c is not zoned out.
The backward reads ``x`` and the parameters as they are when it runs: change neither in
place between forward and backward (the returned arrays are the caller's to modify).
"""
import warnings

import numpy as np

from .. import _cells
from .._grad_mode import NOT_SAVED, is_grad_enabled
from .._packing import add_reversed, packing_for
from .._validation import (as_compute_array, as_real_array, check_array, check_bool, check_float_dtype_arg,
                           check_device, check_int, check_lengths, check_probability, check_shape,
                           shape_error)
from ._module import ConfiguredModule, Module, _CONSUMED, pack_states, unpack_states
from ._plans import LayerPlans, Plans
from .stream import Stream


class Recurrent(ConfiguredModule, Module):
    """Any registered cell as a torch.nn.RNNBase-like module: ``Recurrent('gru', 8, 16, num_layers=2)``.

    ``cell`` is a cell name ('lstm', 'gru', 'rnn', 'lstm_peephole', ...); its options
    (``reset_after``, ``nonlinearity``, ...) are keywords. ``proj_size`` is the size P of the
    h state of a cell that projects it ('lstm_proj', 'lstm_proj_peephole': 1 <= P <
    hidden_size), 0 for the others. ``forward(x, hx)`` takes and returns the states as
    torch does: one array for a one-state cell, a tuple ``(h, c)`` for the LSTM.
    ``zoneout`` in [0, 1]: zoneout on h (see the module docstring), for a cell that has it.

    After construction the cell's options, ``batch_first``, ``dropout`` and ``zoneout`` may be
    assigned: the value is checked as the constructor checks it, and forward, streams,
    ``repr`` and ``fastrnn.onnx.export`` all use the new one. The arguments that shape the
    parameters (``input_size``, ``hidden_size``, ``num_layers``, ``bias``, ``bidirectional``,
    ``proj_size``, ``peephole``, ``dtype``) are read-only: assigning one raises AttributeError.
    """

    def __init__(self, cell, input_size, hidden_size, num_layers=1, bias=True, batch_first=False,
                 dropout=0.0, bidirectional=False, dtype=np.float32, seed=None, device=None, proj_size=0,
                 zoneout=0.0, **options):
        self.cell = _cells.get(cell)
        self.device = check_device(device)
        self.input_size = check_int("input_size", input_size, 1)
        self.hidden_size = check_int("hidden_size", hidden_size, 1)
        self.num_layers = check_int("num_layers", num_layers, 1)
        self.bias = check_bool("bias", bias)
        self.batch_first = check_bool("batch_first", batch_first)
        self.dropout = check_probability("dropout", dropout)
        self.bidirectional = check_bool("bidirectional", bidirectional)
        self.dtype = check_float_dtype_arg("dtype", dtype)
        self.proj_size = check_proj_size(self.cell, proj_size, self.hidden_size)
        self.zoneout = self._check_zoneout(zoneout)
        self._options = self.cell.check_options(options)
        for name, value in self._options.items():
            setattr(self, name, value)
        self._sizes = self.cell.state_sizes(self.hidden_size, self.proj_size)
        self._labels = self.cell.state_labels()
        if self.dropout > 0 and self.num_layers == 1:
            warnings.warn("dropout option adds dropout after all but last recurrent layer, so non-zero "
                          f"dropout expects num_layers greater than 1, but got dropout={self.dropout} "
                          f"and num_layers={self.num_layers}", UserWarning, stacklevel=3)
        D, H, out = 2 if self.bidirectional else 1, self.hidden_size, self._sizes[0]
        rng = np.random.default_rng(seed)
        params, self._names = {}, []
        for layer in range(self.num_layers):
            in_size = self.input_size if layer == 0 else D * out
            for direction in range(D):
                suffix = f"_l{layer}" + ("_reverse" if direction else "")
                params.update(self.cell.init_params("torch", in_size, H, self.dtype, rng, self.bias,
                                                    suffix=suffix, proj_size=self.proj_size))
                self._names.append(tuple(p.name + suffix if self.bias or not p.bias else None
                                         for p in self.cell.params("torch")))
        self._init_params(params, rng)
        self._all_names = sum(self._names, ())          # every layer's, for one guard check
        self._widths = [len(names) for names in self._names]
        self._plans = Plans()

    # --- settings that may change after construction (ConfiguredModule) ----------------------
    def _check_zoneout(self, zoneout):
        zoneout = check_probability("zoneout", zoneout)
        if zoneout > 0 and not self.cell.zoneout:
            raise ValueError(f"zoneout: the {self.cell.title} cell ({self.cell.name!r}) has no zoneout; expected 0, "
                             f"got {zoneout} (cells with zoneout: the LSTM, the GRU and the "
                             "layer-normalised ones)")
        return zoneout

    def _check_setting(self, name, value):
        if name == "zoneout":
            return self._check_zoneout(value)
        if name == "dropout":
            return check_probability("dropout", value)
        if name == "batch_first":
            return check_bool("batch_first", value)
        return None

    def _settings_changed(self):
        self._plans = Plans()

    def __repr__(self):
        args = [str(self.input_size), str(self.hidden_size)]
        defaults = dict(num_layers=1, bias=True, batch_first=False, dropout=0.0, bidirectional=False, proj_size=0,
                        zoneout=0.0)
        defaults.update({o.name: o.default for o in self.cell.options})
        args += [f"{k}={getattr(self, k)}" for k, v in defaults.items() if getattr(self, k) != v]
        if type(self) is Recurrent:
            args.insert(0, repr(self.cell.name))
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

    def _state_dims(self, k, N, batched):
        LD = ("num_layers*num_directions", self.num_layers * (2 if self.bidirectional else 1))
        H = (self._labels[k], self._sizes[k])
        return (LD, ("N", N), H) if batched else (LD, H)

    def _check_state(self, k, name, value, N, batched):
        """State k or its gradient as a C-contiguous (L*D, N, its size) array, or None."""
        if value is None:
            return None
        arr = check_array(name, value, self._state_dims(k, N, batched), self.dtype)
        return arr if batched else arr[:, None]

    def _check_dout(self, dout, T, N, batched):
        if dout is None:
            return None
        DH = (f"num_directions*{self._labels[0]}", (2 if self.bidirectional else 1) * self._sizes[0])
        if not batched:
            return check_array("dout", dout, (("T", T), DH), self.dtype)[:, None]
        if self.batch_first:
            dout = as_real_array("dout", dout)
            check_shape("dout", dout, (("N", N), ("T", T), DH))
            return as_compute_array(dout.transpose(1, 0, 2), self.dtype)
        return check_array("dout", dout, (("T", T), ("N", N), DH), self.dtype)

    # --- forward / backward ----------------------------------------------------------------------
    def forward(self, x, hx=None, lengths=None):
        """x (T, N, I) [(N, T, I) batch_first, (T, I) unbatched], hx: the initial state(s), each
        (L*D, N, H) [(L*D, H) unbatched] or None -> out (T, N, D*H), the final state(s) like hx.

        ``lengths`` (N,) integers in [0, T]: sequence n has its first lengths[n] steps (torch's
        packed semantics, fastrnn.oracle): its outputs after them are 0, its final states are
        those after its last step, and a reverse direction starts at its own last step. The
        kernels then skip the padding (each step runs only the sequences still going).
        """
        if lengths is None and not is_grad_enabled():
            ready = self._forward_only_ready(x, hx)
            if ready is not None:
                return ready
        hx = unpack_states(self.cell, "hx", hx, "{}0")
        out, finals = self._forward(x, hx, lengths)
        return out, pack_states(self.cell, finals)

    def stream(self, hx=None, batch_size=None):
        """A ``fastrnn.nn.Stream`` running this module one time step per call,
        the state kept between calls: ``stream.step(x_t (N, I)) -> (N, H)``, forward only.
        ``hx``: the initial state(s) like forward's, batched (None: zeros); ``batch_size``:
        N when hx is None (default 1). One direction only."""
        return Stream(self, hx, batch_size)

    def _forward_only_ready(self, x, hx):
        """The repeated calls of serving and streaming, forward only, with few Python steps:
        one direction, no dropout to draw, x a C-contiguous (T, N, I) array of the module's
        dtype, hx None or the state(s) as C-contiguous (L, N, H) arrays of it (a tuple of
        arrays or None for the LSTM). -> (out, the final state(s) as forward returns them),
        or None for anything else (the general path then converts, validates and reports).
        Each layer runs through its cell's plan for this (T, N), made on the first such call,
        the layers below the top one into the plan's workspaces (fastrnn/nn/_plans.py)."""
        dt, L, sizes = self.dtype, self.num_layers, self._sizes
        if (type(x) is not np.ndarray or x.dtype != dt or x.ndim != 3 or not x.flags.c_contiguous
                or self.bidirectional or self.batch_first or self._draws_masks()):
            return None
        T, N, I = x.shape
        if I != self.input_size or T == 0 or N == 0:
            return None
        one_state = len(sizes) == 1
        if hx is None:
            states = (None,) * len(sizes)
        elif one_state:
            states = (hx,)
        elif type(hx) is tuple and len(hx) == len(sizes):
            states = hx
        else:
            return None
        for s, size in zip(states, sizes):
            if s is not None and (type(s) is not np.ndarray or s.dtype != dt or s.shape != (L, N, size)
                                  or not s.flags.c_contiguous):
                return None
        cell, options = self.cell, self._evaluation_options()
        arrays = self._guard.params(self.params, self._all_names)
        key = (T, N, self.zoneout)
        plans = self._plans.take(key) or LayerPlans(L, T, N, sizes, dt)
        try:
            plans.update(arrays, self._widths, cell, T, N, options)
            finals = tuple(np.empty((L, N, size), dt) for size in sizes)
            final_rows = list(zip(*finals))                 # layer k's final state(s), views of finals
            if hx is None:
                inits = [plans.zeros] * L
            else:
                inits = list(zip(*(z[None].repeat(L, 0) if s is None else s for s, z in zip(states, plans.zeros))))
            out = plans.forward(cell, x.reshape(T * N, I), inits, final_rows, options)
        finally:
            self._plans.give(key, plans)
        self._ctx = NOT_SAVED
        return out.reshape(T, N, sizes[0]), finals[0] if one_state else finals

    def backward(self, dout=None, dhx=None, **named):
        """dout like out, dhx like hx (each or None = zeros) -> dx like x, the initial states'
        gradients like hx; adds the weight gradients into ``grads``. A one-state cell also
        takes its gradient by name (``gru.backward(dout, dh_n=...)``). After a forward with
        ``lengths``, dout in the padding is ignored and dx there is 0."""
        if named:
            dhx = self._named_state_grad(dhx, named)
        dx, d0 = self._backward(dout, unpack_states(self.cell, "dhx", dhx, "d{}_n"))
        return dx, pack_states(self.cell, d0)

    def _named_state_grad(self, dhx, named):
        names = self.cell.state_names
        key = f"d{names[0]}_n"
        if len(names) != 1 or set(named) != {key} or dhx is not None:
            raise TypeError(f"backward: unexpected keyword argument(s) {', '.join(map(repr, named))} "
                            f"(expected dout and dhx{'' if len(names) != 1 else ' or ' + key})")
        return named[key]

    def _forward(self, x, hx, lengths):
        x, batched = self._check_x(x)
        T, N = x.shape[0], x.shape[1]
        lengths = check_lengths(lengths, T, N, batched)
        cell, dt = self.cell, self.dtype
        L, D, sizes = self.num_layers, 2 if self.bidirectional else 1, self._sizes
        states = tuple(self._check_state(k, name + "0", s, N, batched)
                       for k, (name, s) in enumerate(zip(cell.state_names, hx)))
        layer_params = self._layer_params()
        # validated: from here on nothing can fail on the caller's input
        states = tuple(np.zeros((L * D, N, size), dt) if s is None else s for s, size in zip(states, sizes))
        packing = packing_for(lengths, T, N)
        options = self._options
        p_drop = self.dropout if self.training else 0.0
        grad = is_grad_enabled()
        caches, masks, finals = [], [], [[] for _ in states]
        layer_in = packing.pack(x)
        empty = lengths is not None and packing.rows == 0      # every length 0: no step runs
        for layer in range(0 if empty else L):
            outs = []
            for direction in range(D):
                k = layer * D + direction
                p = layer_params[k]
                xin = layer_in if direction == 0 else packing.reverse(layer_in)
                init = tuple(packing.sort(s[k]) for s in states)
                opts = options if not self.zoneout else self._zoneout_options(options, xin.shape[:-1])
                if grad:
                    out, final, cache = cell.forward(xin, init, p, "torch", opts, packing.batch_sizes)
                    caches.append(cache)
                else:
                    out, final = cell.forward_only(xin, init, p, "torch", opts, packing.batch_sizes)
                outs.append(out if direction == 0 else packing.reverse(out))
                for lst, f in zip(finals, final):
                    lst.append(packing.unsort(f))
            layer_in = outs[0] if D == 1 else np.concatenate(outs, axis=-1)
            mask = None
            if p_drop > 0 and layer < L - 1:
                mask = self._dropout_mask(layer_in.shape, p_drop)
                layer_in = layer_in * mask
            masks.append(mask)
        if empty:
            out, final = np.zeros((T, N, D * sizes[0]), dt), tuple(s.copy() for s in states)
        else:
            # the last layer's kernel output is saved for backward: hand out our own array
            out = packing.unpack(layer_in)
            if out is layer_in and D == 1 and grad:        # a kernel's own output array
                out = out.copy()
            final = tuple(f[0][None] if L * D == 1 else np.stack(f) for f in finals)
        self._ctx = (caches, masks, batched, T, N, packing, empty) if grad else NOT_SAVED
        if not batched:
            return out[:, 0], tuple(f[:, 0] for f in final)
        if self.batch_first:
            out = out.transpose(1, 0, 2)
        return out, final

    def _layer_params(self):
        """Every layer's and direction's parameter arrays, all checked (the guard's messages)
        before any kernel runs: a list, entry k = layer * D + direction."""
        arrays = self._guard.params(self.params, self._all_names)
        out, start = [], 0
        for width in self._widths:
            out.append(arrays[start:start + width])
            start += width
        return out

    def _zoneout_options(self, options, rows_shape):
        """The cell's options with zoneout's keep weights for one layer and direction whose
        kernel rows have shape ``rows_shape`` ((T, N) padded, (R,) packed): in training a
        Bernoulli(p) mask per row and unit from the module's generator, in evaluation p."""
        dt, size, p = self.dtype, self._sizes[0], self.zoneout
        if not self.training:
            return self._evaluation_options(options)
        return dict(options, zoneout=(self._rng.random(rows_shape + (size,), dtype=dt) < p).astype(dt))

    def _draws_masks(self):
        """True when a forward draws random masks: training with dropout between layers or
        with zoneout (the short path and streams run only forwards that draw none)."""
        return self.training and ((self.dropout > 0 and self.num_layers > 1) or self.zoneout > 0)

    def _evaluation_options(self, options=None):
        """The cell's options (``options``, default the module's) as a forward that draws no
        masks runs them: with zoneout's keep weights p per unit (its expectation), if any."""
        options = self._options if options is None else options
        if self.zoneout == 0:
            return options
        return dict(options, zoneout=np.full(self._sizes[0], self.zoneout, self.dtype))

    def _dropout_mask(self, shape, p):
        """Inverted dropout: 0 with probability p, else 1/(1-p); drawn from the module's rng."""
        if p >= 1.0:
            return np.zeros(shape, self.dtype)
        mask = (self._rng.random(shape, dtype=self.dtype) >= p).astype(self.dtype)
        mask *= self.dtype.type(1.0 / (1.0 - p))
        return mask

    def _backward(self, dout, dhx):
        caches, masks, batched, T, N, packing, empty = self._saved()
        cell = self.cell
        L, D = self.num_layers, 2 if self.bidirectional else 1
        dout = self._check_dout(dout, T, N, batched)
        dstates = tuple(self._check_state(k, "d" + name + "_n", d, N, batched)
                        for k, (name, d) in enumerate(zip(cell.state_names, dhx)))
        targets = [self._guard.grads(self.grads, self.params, names) for names in self._names]
        self._ctx = _CONSUMED
        if empty:
            dx = np.zeros((T, N, self.input_size), self.dtype)
            d0 = tuple(np.zeros((L * D, N, size), self.dtype) if s is None else s.copy()
                       for s, size in zip(dstates, self._sizes))
        else:
            dx, d0 = self._backward_layers(caches, masks, packing, dout, dstates, targets)
        if not batched:
            return dx[:, 0], tuple(s[:, 0] for s in d0)
        if self.batch_first:
            dx = dx.transpose(1, 0, 2)
        return dx, tuple(d0)

    def _backward_layers(self, caches, masks, packing, dout, dstates, targets):
        """The layers' kernel backwards; ``targets[k]``: layer/direction k's checked gradient
        buffers and their commit."""
        cell = self.cell
        L, D, H = self.num_layers, 2 if self.bidirectional else 1, self._sizes[0]
        N = packing.N
        d0 = [None] * len(dstates) if L * D == 1 else [np.empty((L * D, N, size), self.dtype) for size in self._sizes]
        dlayer = None if dout is None else packing.pack(dout)
        for layer in reversed(range(L)):
            if masks[layer] is not None:
                dlayer = dlayer * masks[layer]
            dx = None
            for direction in range(D):
                k = layer * D + direction
                if dlayer is None or D == 1:
                    dout_k = dlayer
                else:
                    dout_k = dlayer[..., direction * H:(direction + 1) * H]
                    dout_k = np.ascontiguousarray(dout_k) if direction == 0 else packing.reverse(dout_k)
                g, commit = targets[k]
                dfinal = tuple(None if s is None else packing.sort(s[k]) for s in dstates)
                dx_k, ds0 = cell.backward(caches[k], dout_k, dfinal, g, True)
                commit()
                dx = dx_k if direction == 0 else add_reversed(packing, dx, dx_k)
                ds0 = tuple(packing.unsort(s) for s in ds0)
                if L * D == 1:
                    d0 = [s[None] for s in ds0]
                else:
                    for arr, s in zip(d0, ds0):
                        arr[k] = s
            dlayer = dx
        return packing.unpack(dlayer), d0


class LSTM(Recurrent):
    """LSTM (gates i, f, g, o), torch.nn.LSTM's interface plus ``dtype``, ``seed`` and ``peephole``.

    ``out, (h_n, c_n) = lstm(x, (h0, c0))``; ``dx, (dh0, dc0) = lstm.backward(dout, (dh_n, dc_n))``.

    ``proj_size`` P > 0 projects h as torch does: ``h_t = W_hr (o_t ⊙ tanh c_t)`` with
    ``weight_hr_l{k} (P, H)``; h0/h_n are then ``(L*D, N, P)``, c0/c_n ``(L*D, N, H)``,
    ``weight_hh_l{k}`` ``(4H, P)`` and out ``(T, N, D*P)``. ``peephole=True`` adds
    ``weight_ph_l{k} (3H,)`` (p_i, p_f, p_o, initialised to 0): the input and forget gates
    add ``p ⊙ c_{t-1}``, the output gate ``p_o ⊙ c_t`` (ONNX's LSTM ``P``). Both combine.
    ``zoneout`` p keeps each unit's previous h (module docstring; not with proj_size or
    peephole).
    """

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False,
                 dropout=0.0, bidirectional=False, proj_size=0, device=None, dtype=np.float32, seed=None,
                 peephole=False, zoneout=0.0):
        proj_size = check_int("proj_size", proj_size, 0)
        self.peephole = check_bool("peephole", peephole)
        super().__init__(_cells.lstm_variant_name(proj_size > 0, self.peephole), input_size, hidden_size,
                         num_layers, bias, batch_first, dropout, bidirectional, dtype, seed, device,
                         proj_size=proj_size, zoneout=zoneout)

    def __repr__(self):
        text = super().__repr__()
        return text[:-1] + ", peephole=True)" if self.peephole else text


def check_proj_size(cell, proj_size, hidden_size):
    """``proj_size``: 1 <= P < hidden_size for a cell that projects h (torch's rule), else 0."""
    proj_size = check_int("proj_size", proj_size, 0)
    if cell.projects and not 0 < proj_size < hidden_size:
        raise ValueError(f"proj_size: the {cell.name} cell projects h: expected 1 <= proj_size < hidden_size "
                         f"({hidden_size}), got {proj_size}")
    if not cell.projects and proj_size != 0:
        raise ValueError(f"proj_size: the {cell.name} cell has no projection: expected 0, got {proj_size}")
    return proj_size


class GRU(Recurrent):
    """GRU (gates r, z, n; ``h' = (1-z) n + z h``), torch.nn.GRU's interface plus ``dtype``,
    ``seed``, ``reset_after`` (False: reset applied before the recurrent matmul) and ``blend``
    ('book': ``h' = (1-z) h + z n``, the original GRU's and the book's).

    ``out, h_n = gru(x, h0)``; ``dx, dh0 = gru.backward(dout, dh_n)``. ``zoneout`` p keeps
    each unit's previous h (module docstring).
    """

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False,
                 dropout=0.0, bidirectional=False, device=None, dtype=np.float32, seed=None, reset_after=True,
                 blend="torch", zoneout=0.0):
        super().__init__("gru", input_size, hidden_size, num_layers, bias, batch_first, dropout,
                         bidirectional, dtype, seed, device, zoneout=zoneout, reset_after=reset_after, blend=blend)


class RNN(Recurrent):
    """Elman RNN ``h' = act(x W_ihᵀ + b_ih + h W_hhᵀ + b_hh)``, act 'tanh' or 'relu';
    torch.nn.RNN's interface (``nonlinearity`` is its 4th argument) plus ``dtype`` and ``seed``.

    ``out, h_n = rnn(x, h0)``; ``dx, dh0 = rnn.backward(dout, dh_n)``.
    """

    def __init__(self, input_size, hidden_size, num_layers=1, nonlinearity="tanh", bias=True,
                 batch_first=False, dropout=0.0, bidirectional=False, device=None, dtype=np.float32, seed=None):
        super().__init__("rnn", input_size, hidden_size, num_layers, bias, batch_first, dropout,
                         bidirectional, dtype, seed, device, nonlinearity=nonlinearity)


class LayerNormLSTM(Recurrent):
    """Layer-normalised LSTM (Ba et al., 2016; gates i, f, g, o) with optional zoneout.

    ``a = LN(x W_ihᵀ; γ_ih) + LN(h W_hhᵀ; γ_hh) + b``, ``c' = σ(a_f) c + σ(a_i) tanh(a_g)``,
    ``h' = σ(a_o) tanh(LN(c'; γ_c, β_c))``; each LN normalises a row over all its features
    (eps 1e-5). Parameters per layer and direction (suffix ``_l{k}[_reverse]``):
    ``weight_ih (4H, I)``, ``weight_hh (4H, H)``, ``bias (4H,)`` (left out by ``bias=False``),
    ``ln_weight_ih``, ``ln_weight_hh (4H,)``, ``ln_weight_c (H,)`` (gains, initialised to 1)
    and ``ln_bias_c (H,)`` (0). Arguments, shapes and calls as :class:`LSTM`:
    ``out, (h_n, c_n) = m(x, (h0, c0))``, ``dx, (dh0, dc0) = m.backward(dout, (dh_n, dc_n))``.
    Equations: fastrnn/oracle/layernorm_lstm.py.
    """

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False,
                 dropout=0.0, bidirectional=False, zoneout=0.0, device=None, dtype=np.float32, seed=None):
        super().__init__("layernorm_lstm", input_size, hidden_size, num_layers, bias, batch_first, dropout,
                         bidirectional, dtype, seed, device, zoneout=zoneout)


class LayerNormGRU(Recurrent):
    """Layer-normalised GRU (reset after the recurrent product; gates r, z, n) with optional zoneout.

    ``gx = LN(x W_ihᵀ; γ_ih) + b_ih``, ``gh = LN(h W_hhᵀ; γ_hh) + b_hh``, ``r, z = σ(gx + gh)``,
    ``n = tanh(gx_n + r gh_n)``, ``h' = (1 − z) n + z h``. Parameters per layer and direction:
    ``weight_ih (3H, I)``, ``weight_hh (3H, H)``, ``bias_ih``, ``bias_hh (3H,)`` (left out by
    ``bias=False``), ``ln_weight_ih``, ``ln_weight_hh (3H,)`` (gains, initialised to 1).
    Arguments, shapes and calls as :class:`GRU`. Equations: fastrnn/oracle/layernorm_gru.py.
    """

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False,
                 dropout=0.0, bidirectional=False, zoneout=0.0, device=None, dtype=np.float32, seed=None):
        super().__init__("layernorm_gru", input_size, hidden_size, num_layers, bias, batch_first, dropout,
                         bidirectional, dtype, seed, device, zoneout=zoneout)
