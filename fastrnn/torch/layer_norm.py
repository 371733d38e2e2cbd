"""torch modules of the layer-normalised cells (LayerNormLSTM, LayerNormGRU), with zoneout, on the kernels.

torch has no layer-normalised recurrent layer (pytorch issues 12167, 7032), so these are
``torch.nn.Module`` s of their own, shaped like torch.nn.LSTM / GRU: the constructor
arguments of ``fastrnn.nn.LayerNormLSTM`` / ``LayerNormGRU`` (plus torch's ``device`` and
``dtype``), parameters named as there (``weight_ih_l0``, ``ln_weight_ih_l0``, ...,
``_reverse`` for the second direction), ``forward(input, hx=None)`` with torch.nn.LSTM's
shapes (``batch_first``, unbatched ``(T, I)`` input, a ``PackedSequence`` in and out) and
autograd through the fused kernels. Dropout between layers is torch's own op; zoneout's
training masks are drawn from torch's generator too (``torch.manual_seed`` makes them
repeatable, as it does dropout's). They run on the kernels only: CPU float32/float64
tensors; anything else raises.
"""
import math

import numpy as np
import torch
from torch.nn.utils.rnn import PackedSequence

from fastrnn import _cells
from fastrnn._validation import check_bool, check_int, check_probability
from fastrnn.torch._fallback import MESSAGES, fallback_reason
from fastrnn.torch._shapes import sequence_call_ok
from fastrnn.torch._stack import run_packed, run_sequence
from fastrnn.torch.modules import _states


class _LayerNormRecurrent(torch.nn.Module):
    """The stack of one registry cell with its own parameters (see the module docstring)."""
    _cell = ""

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False, dropout=0.0,
                 bidirectional=False, zoneout=0.0, device=None, dtype=None):
        super().__init__()
        self.input_size = check_int("input_size", input_size, 1)
        self.hidden_size = check_int("hidden_size", hidden_size, 1)
        self.num_layers = check_int("num_layers", num_layers, 1)
        self.bias = check_bool("bias", bias)
        self.batch_first = check_bool("batch_first", batch_first)
        self.bidirectional = check_bool("bidirectional", bidirectional)
        self.dropout = check_probability("dropout", dropout)
        self.zoneout = check_probability("zoneout", zoneout)
        self.proj_size = 0
        cell = _cells.get(self._cell)
        directions = 2 if bidirectional else 1
        self._names = []
        for layer in range(num_layers):
            size = input_size if layer == 0 else directions * hidden_size
            for direction in range(directions):
                suffix = f"_l{layer}" + ("_reverse" if direction else "")
                names = []
                for p in cell.params("torch"):
                    if p.bias and not bias:
                        names.append(None)
                        continue
                    shape = p.shape(size, hidden_size, cell.gates)
                    self.register_parameter(p.name + suffix, torch.nn.Parameter(
                        torch.empty(shape, device=device, dtype=dtype)))
                    names.append(p.name + suffix)
                self._names.append(tuple(names))
        self.reset_parameters()

    def reset_parameters(self):
        """Weights and biases U(−1/√H, 1/√H) (torch's rule), LN gains 1, LN shifts 0."""
        cell, bound = _cells.get(self._cell), 1.0 / math.sqrt(self.hidden_size)
        inits = {p.name: p.init for p in cell.params("torch")}
        with torch.no_grad():
            for names in self._names:
                for name in filter(None, names):
                    param, init = getattr(self, name), inits[name.rsplit("_l", 1)[0]]
                    if init == "ones":
                        param.fill_(1.0)
                    elif init == "zeros":
                        param.zero_()
                    else:
                        param.uniform_(-bound, bound)

    def extra_repr(self):
        text = f"{self.input_size}, {self.hidden_size}"
        defaults = dict(num_layers=1, bias=True, batch_first=False, dropout=0.0, bidirectional=False, zoneout=0.0)
        return text + "".join(f", {k}={getattr(self, k)}" for k, v in defaults.items() if getattr(self, k) != v)

    def _layer_weights(self):
        return [tuple(None if name is None else getattr(self, name) for name in names) for names in self._names]

    def _options(self, k, rows_shape, dtype):
        """Zoneout's keep weights for layer/direction k (rows_shape: (T, N) or (R,)), as the
        kernels take them: a Bernoulli(p) mask in training, p in evaluation."""
        if not self.zoneout:
            return {}
        np_dtype = np.float32 if dtype == torch.float32 else np.float64
        if not self.training:
            return {"zoneout": np.full(self.hidden_size, self.zoneout, np_dtype)}
        mask = torch.rand(rows_shape + (self.hidden_size,), dtype=dtype) < self.zoneout
        return {"zoneout": mask.to(dtype).numpy()}

    def forward(self, input, hx=None):
        """input (T, N, I) / (N, T, I) batch_first / (T, I) / PackedSequence -> output (T, N, D*H)
        (a PackedSequence for one), final states (L*D, N, H) (LSTM: ``(h_n, c_n)``); hx: the
        initial state(s) of that shape, or None for zeros."""
        cell = _cells.get(self._cell)
        count = len(cell.state_names)
        states = _states(hx, count)
        weights = self._layer_weights()
        flat = [w for layer in weights for w in layer]
        reason = fallback_reason(self, input, states or (), flat)
        if reason is not None:
            raise RuntimeError(f"fastrnn.torch.{type(self).__name__} runs on the fastrnn kernels only (torch has "
                               f"no layer-normalised recurrent layer), and they do not cover {MESSAGES[reason]}")
        if states is None or not sequence_call_ok(self, cell, input, states, weights):
            raise ValueError(self._call_error(input, count))
        run = run_packed if isinstance(input, PackedSequence) else run_sequence
        output, finals = run(self, cell, self._options, input, states, weights)
        return output, (finals if count > 1 else finals[0])

    def _call_error(self, input, count):
        D = 2 if self.bidirectional else 1
        x = "(N, T, input_size)" if self.batch_first else "(T, N, input_size)"
        state = "a tuple (h0, c0)" if count > 1 else "h0"
        got = (f"a PackedSequence of data {tuple(input.data.shape)}" if isinstance(input, PackedSequence) else
               f"{type(input).__name__} of shape {tuple(input.shape)} and dtype {input.dtype}"
               if isinstance(input, torch.Tensor) else type(input).__name__)
        return (f"{type(self).__name__}: expected input {x} (or (T, input_size) unbatched, or a PackedSequence) with "
                f"input_size={self.input_size}, T >= 1 and N >= 1, of the parameters' dtype (float32 or float64), "
                f"and hx None or {state} of shape (num_layers*num_directions={self.num_layers * D}, N, "
                f"hidden_size={self.hidden_size}) of that dtype; got input {got}")


class LayerNormLSTM(_LayerNormRecurrent):
    """Layer-normalised LSTM as a torch module: ``out, (h_n, c_n) = m(x, (h0, c0))``.

    Parameters per layer and direction: ``weight_ih (4H, I)``, ``weight_hh (4H, H)``, ``bias (4H,)``
    (left out by ``bias=False``), ``ln_weight_ih``, ``ln_weight_hh (4H,)``, ``ln_weight_c (H,)``,
    ``ln_bias_c (H,)``. Equations: ``fastrnn.nn.LayerNormLSTM``.
    """
    _cell = "layernorm_lstm"


class LayerNormGRU(_LayerNormRecurrent):
    """Layer-normalised GRU as a torch module: ``out, h_n = m(x, h0)``.

    Parameters per layer and direction: ``weight_ih (3H, I)``, ``weight_hh (3H, H)``, ``bias_ih``,
    ``bias_hh (3H,)`` (left out by ``bias=False``), ``ln_weight_ih``, ``ln_weight_hh (3H,)``.
    Equations: ``fastrnn.nn.LayerNormGRU``.
    """
    _cell = "layernorm_gru"
