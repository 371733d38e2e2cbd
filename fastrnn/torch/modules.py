"""torch.nn.LSTM / GRU / RNN and their cells, forward and backward on fastrnn's kernels.

Subclasses of the torch.nn classes: same constructor, parameters, initialisation,
state_dict, repr and call signature. CPU float32/float64 calls run the fused kernels
through ``torch.autograd.Function``; everything else runs torch's implementation
(see ``fastrnn.torch._fallback``), as do malformed calls, so torch raises its own errors.
``LSTM(proj_size=P)`` runs on the kernels too. ``LSTM(peephole=True)`` and
``LSTMCell(peephole=True)`` add what torch does not have, peephole connections, and so run
on the kernels only: a call torch would have to run raises instead.
"""
import torch
from torch.nn.utils.rnn import PackedSequence

from fastrnn import _cells
from fastrnn.torch._fallback import MESSAGES, fallback_reason, warn_once
from fastrnn.torch._shapes import cell_call_ok, sequence_call_ok
from fastrnn.torch._stack import layer_weights, run_cell, run_packed, run_sequence


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


def _kernels_only(module, reason):
    """RuntimeError for a peephole module asked to run what only torch could (``reason``)."""
    return RuntimeError(f"fastrnn.torch: {type(module).__name__}(peephole=True) runs on the fastrnn kernels "
                        f"only (torch has no peephole connections), and they do not cover {reason}")


def _peephole_params(module, names, hidden_size):
    """Register ``weight_ph`` + suffix (3H,) zeros for each suffix in ``names`` (torch's dtype and device)."""
    like = module.weight_ih_l0 if hasattr(module, "weight_ih_l0") else module.weight_ih
    for name in names:
        module.register_parameter(name, torch.nn.Parameter(torch.zeros(3 * hidden_size, dtype=like.dtype,
                                                                       device=like.device)))


class _Sequence:
    """Mixin over torch.nn.RNNBase subclasses: forward on the kernels when possible."""
    _cell = ""       # the registry name
    peephole = False

    def forward(self, input, hx=None):
        """input (T, N, I) / (N, T, I) batch_first / (T, I) -> output (T, N, D*H), h_n (L*D, N, H)
        (LSTM: (h_n, c_n)); hx: initial state(s) of h_n's shape, or None for zeros. A
        PackedSequence input (sorted, or not with its sorted_indices) gives a PackedSequence
        output and each sequence's final states, in the caller's order, as torch does."""
        cell = _cells.get(self._cell)
        count = len(cell.state_names)
        states = _states(hx, count)
        self._update_flat_weights()
        by_layer = layer_weights(self, cell)
        reason = fallback_reason(self, input, states or (), [w for layer in by_layer for w in layer])
        if reason is not None:
            if self.peephole:
                raise _kernels_only(self, MESSAGES[reason])
            warn_once(reason)
            return super().forward(input, hx)
        if states is None or not sequence_call_ok(self, cell, input, states, by_layer):
            result = super().forward(input, hx)     # torch raises its own error for a malformed call
            if self.peephole:                       # ... and would drop the peepholes otherwise
                raise _kernels_only(self, "this call (check the shapes and dtypes of the input and states)")
            return result
        run = run_packed if isinstance(input, PackedSequence) else run_sequence
        output, finals = run(self, cell, _options(self, cell), input, states, by_layer)
        return output, (finals if count > 1 else finals[0])


class _Peepholes:
    """Mixin of LSTM and LSTMCell: ``peephole=True`` registers the (3H,) peephole parameters
    (zeros, also after ``reset_parameters``) and picks the registry entry with them."""
    peephole = False

    def __init__(self, *args, peephole=False, **kwargs):
        if not isinstance(peephole, bool):
            raise TypeError(f"peephole: expected a bool, got {type(peephole).__name__} {peephole!r}")
        super().__init__(*args, **kwargs)
        self.peephole = peephole
        self._cell = _cells.lstm_variant_name(getattr(self, "proj_size", 0) > 0, peephole)
        if peephole:
            _peephole_params(self, self._peephole_names(), self.hidden_size)

    def reset_parameters(self):
        super().reset_parameters()
        if self.peephole:
            with torch.no_grad():
                for name in self._peephole_names():
                    getattr(self, name).zero_()

    def extra_repr(self):
        return super().extra_repr() + (", peephole=True" if self.peephole else "")


class LSTM(_Peepholes, _Sequence, torch.nn.LSTM):
    """Drop-in torch.nn.LSTM: ``out, (h_n, c_n) = lstm(x, (h0, c0))``; ``proj_size`` on the kernels.

    ``peephole=True`` adds ``weight_ph_l{k}[_reverse]`` (3H,) (p_i, p_f, p_o, initialised to
    0; also by ``reset_parameters``): the input and forget gates add ``p ⊙ c_{t-1}`` to their
    pre-activations, the output gate ``p_o ⊙ c_t`` (ONNX's LSTM ``P``). It combines with
    ``proj_size``.
    """
    _cell = "lstm"

    def _peephole_names(self):
        return [f"weight_ph_l{layer}" + ("_reverse" if direction else "") for layer in range(self.num_layers)
                for direction in range(2 if self.bidirectional else 1)]


class GRU(_Sequence, torch.nn.GRU):
    """Drop-in torch.nn.GRU: ``out, h_n = gru(x, h0)``."""
    _cell = "gru"


class RNN(_Sequence, torch.nn.RNN):
    """Drop-in torch.nn.RNN (nonlinearity 'tanh' or 'relu'): ``out, h_n = rnn(x, h0)``."""
    _cell = "rnn"


class _Cell:
    """Mixin over torch.nn.RNNCellBase subclasses: one step on the kernels (T = 1)."""
    _cell = ""       # the registry name
    peephole = False

    def forward(self, input, hx=None):
        """input (N, I) or (I,) -> h' (N, H) (LSTMCell: (h', c')); hx: state(s) of that shape or None."""
        cell = _cells.get(self._cell)
        count = len(cell.state_names)
        states = _states(hx, count)
        weights = tuple(getattr(self, p.name) for p in cell.params("torch"))
        reason = fallback_reason(self, input, states or (), weights)
        if reason is not None:
            if self.peephole:
                raise _kernels_only(self, MESSAGES[reason])
            warn_once(reason)
            return super().forward(input, hx)
        if states is None or not cell_call_ok(self, cell, input, states):
            result = super().forward(input, hx)     # torch raises its own error for a malformed call
            if self.peephole:                       # ... and would drop the peepholes otherwise
                raise _kernels_only(self, "this call (check the shapes and dtypes of the input and states)")
            return result
        new = run_cell(self, cell, _options(self, cell), input, states)
        return new if count > 1 else new[0]


class LSTMCell(_Peepholes, _Cell, torch.nn.LSTMCell):
    """Drop-in torch.nn.LSTMCell: ``h1, c1 = cell(x, (h0, c0))``; ``peephole=True`` adds
    ``weight_ph`` (3H,) as :class:`LSTM` does."""
    _cell = "lstm"

    def _peephole_names(self):
        return ["weight_ph"]


class GRUCell(_Cell, torch.nn.GRUCell):
    """Drop-in torch.nn.GRUCell: ``h1 = cell(x, h0)``."""
    _cell = "gru"


class RNNCell(_Cell, torch.nn.RNNCell):
    """Drop-in torch.nn.RNNCell (nonlinearity 'tanh' or 'relu'): ``h1 = cell(x, h0)``."""
    _cell = "rnn"
