"""torch.nn.LSTM / GRU / RNN and their cells, forward and backward on fastrnn's kernels.

Subclasses of the torch.nn classes: same constructor, parameters, initialisation,
state_dict, repr and call signature. CPU float32/float64 calls run the fused kernels
through ``torch.autograd.Function``; everything else runs torch's implementation
(see ``fastrnn.torch._fallback``), as do malformed calls, so torch raises its own errors.
"""
import torch
from torch.nn.utils.rnn import PackedSequence

from fastrnn import _cells
from fastrnn.torch._fallback import fallback_reason, warn_once
from fastrnn.torch._shapes import cell_call_ok, sequence_call_ok
from fastrnn.torch._stack import run_cell, run_packed, run_sequence


def _states(hx, count):
    """hx as given to forward -> tuple of `count` tensors or Nones (None if malformed)."""
    if hx is None:
        return (None,) * count
    if count == 1:
        return (hx,) if isinstance(hx, torch.Tensor) else None
    if isinstance(hx, (tuple, list)) and len(hx) == count and all(isinstance(h, torch.Tensor) for h in hx):
        return tuple(hx)
    return None


def _options(module, cell):
    """The cell's options as the torch module holds them (torch's attribute of the same name,
    e.g. RNN's ``nonlinearity``), the rest at their defaults."""
    return cell.check_options({o.name: getattr(module, o.name) for o in cell.options if hasattr(module, o.name)})


class _Sequence:
    """Mixin over torch.nn.RNNBase subclasses: forward on the kernels when possible."""
    _cell = ""       # the registry name

    def forward(self, input, hx=None):
        """input (T, N, I) / (N, T, I) batch_first / (T, I) -> output (T, N, D*H), h_n (L*D, N, H)
        (LSTM: (h_n, c_n)); hx: initial state(s) of h_n's shape, or None for zeros. A
        PackedSequence input (sorted, or not with its sorted_indices) gives a PackedSequence
        output and each sequence's final states, in the caller's order, as torch does."""
        cell = _cells.get(self._cell)
        count = len(cell.state_names)
        states = _states(hx, count)
        self._update_flat_weights()
        reason = fallback_reason(self, input, states or (), self._flat_weights)
        if reason is not None:
            warn_once(reason)
            return super().forward(input, hx)
        if states is None or not sequence_call_ok(self, cell, input, states):
            return super().forward(input, hx)
        run = run_packed if isinstance(input, PackedSequence) else run_sequence
        output, finals = run(self, cell, _options(self, cell), input, states)
        return output, (finals if count > 1 else finals[0])


class LSTM(_Sequence, torch.nn.LSTM):
    """Drop-in torch.nn.LSTM: ``out, (h_n, c_n) = lstm(x, (h0, c0))``."""
    _cell = "lstm"


class GRU(_Sequence, torch.nn.GRU):
    """Drop-in torch.nn.GRU: ``out, h_n = gru(x, h0)``."""
    _cell = "gru"


class RNN(_Sequence, torch.nn.RNN):
    """Drop-in torch.nn.RNN (nonlinearity 'tanh' or 'relu'): ``out, h_n = rnn(x, h0)``."""
    _cell = "rnn"


class _Cell:
    """Mixin over torch.nn.RNNCellBase subclasses: one step on the kernels (T = 1)."""
    _cell = ""       # the registry name

    def forward(self, input, hx=None):
        """input (N, I) or (I,) -> h' (N, H) (LSTMCell: (h', c')); hx: state(s) of that shape or None."""
        cell = _cells.get(self._cell)
        count = len(cell.state_names)
        states = _states(hx, count)
        weights = tuple(getattr(self, p.name) for p in cell.params("torch"))
        reason = fallback_reason(self, input, states or (), weights)
        if reason is not None:
            warn_once(reason)
            return super().forward(input, hx)
        if states is None or not cell_call_ok(self, cell, input, states):
            return super().forward(input, hx)
        new = run_cell(self, cell, _options(self, cell), input, states)
        return new if count > 1 else new[0]


class LSTMCell(_Cell, torch.nn.LSTMCell):
    """Drop-in torch.nn.LSTMCell: ``h1, c1 = cell(x, (h0, c0))``."""
    _cell = "lstm"


class GRUCell(_Cell, torch.nn.GRUCell):
    """Drop-in torch.nn.GRUCell: ``h1 = cell(x, h0)``."""
    _cell = "gru"


class RNNCell(_Cell, torch.nn.RNNCell):
    """Drop-in torch.nn.RNNCell (nonlinearity 'tanh' or 'relu'): ``h1 = cell(x, h0)``."""
    _cell = "rnn"
