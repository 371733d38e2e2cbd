"""What a registry entry says about a cell's counterparts in other formats (private).

A :class:`~fastrnn._cells.spec.Cell` may name the standard ONNX operator that computes it
(:class:`OnnxOp`, read by ``fastrnn.onnx``) and the Keras 3 layer that does
(:class:`KerasLayer`, read by ``fastrnn.convert``); those faces read these fields and never
name a cell. Gate orders are written as in ``Layout.blocks``: ``order[j]`` is the torch
gate index (the cell's ``gate_names``) of the format's gate block ``j``. Where a format
computes ``σ(a)`` for a gate of which fastrnn uses ``1 − σ(a)`` (the GRU's ``blend='book'``),
the conversion negates that gate's weight rows and biases (``1 − σ(a) = σ(−a)``):
``negated(options)`` lists those torch gate indices.
"""
import dataclasses
from typing import Callable


def _none(options):
    return ()


def _no_attributes(options, directions):
    return {}


def _one_bias(options):
    return False


@dataclasses.dataclass(frozen=True)
class OnnxOp:
    """The standard ONNX operator of a cell.

    ``op_type`` (``"LSTM"``); ``order`` its gate blocks in torch gate indices; ``inputs``
    its input slots in order; ``states`` each fastrnn state's name and the slot of its
    initial value (its final value is the output after Y, in this order); ``extra`` maps a
    parameter beyond the weights and biases to ``(slot, order)``: the operator input it
    fills and the fastrnn block of each of the slot's H-row blocks; ``attributes(options,
    directions) -> dict`` the operator's attributes besides ``hidden_size`` and
    ``direction``; ``negated(options)`` the torch gates whose pre-activations are negated.
    """
    op_type: str
    order: tuple
    inputs: tuple
    states: tuple
    extra: dict = dataclasses.field(default_factory=dict)
    attributes: Callable = _no_attributes
    negated: Callable = _none


RNN_INPUTS = ("X", "W", "R", "B", "sequence_lens", "initial_h")
H_STATE = (("h", "initial_h"),)
LSTM_STATES = (("h", "initial_h"), ("c", "initial_c"))


@dataclasses.dataclass(frozen=True)
class KerasLayer:
    """The Keras 3 layer of a cell (weights: ``kernel`` (I, G*H), ``recurrent_kernel``
    (H, G*H), ``bias`` (G*H,) or, where ``two_biases(options)``, (2, G*H) = [input side,
    recurrent side]; a one-bias layer's bias is fastrnn's ``bias_ih + bias_hh``).

    ``layer`` / ``cell`` the Keras class names (``"GRU"``, ``"GRUCell"``); ``order`` its gate
    blocks in torch gate indices; ``activation_option`` the fastrnn option that holds the
    Keras ``activation`` (RNN ``nonlinearity``), or ``""`` when it is always ``'tanh'``;
    ``gated``: the layer has a ``recurrent_activation`` (it must be ``'sigmoid'``);
    ``shared_options`` the options that are Keras layer arguments of the same name
    (``reset_after``); ``two_biases(options)``; ``negated(options)``.
    """
    layer: str
    cell: str
    order: tuple
    activation_option: str = ""
    gated: bool = True
    shared_options: tuple = ()
    two_biases: Callable = _one_bias
    negated: Callable = _none

