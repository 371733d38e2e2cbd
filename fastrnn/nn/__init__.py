"""PyTorch-compatible recurrent modules with an explicit ``backward``.

``LSTM``, ``GRU``, ``RNN`` (multi-layer, bidirectional, batch_first, dropout between
layers) and the single-step ``LSTMCell``, ``GRUCell``, ``RNNCell``: torch's constructor
arguments, parameter names and shapes, plus ``dtype`` and ``seed``. ``params`` and
``grads`` are dicts of arrays keyed by torch's names; ``backward`` accumulates into
``grads``. ``LayerNormLSTM`` and ``LayerNormGRU`` are the layer-normalised cells (with ``zoneout``,
as LSTM and GRU have). ``Recurrent(cell, ...)`` and ``RecurrentCell(cell, ...)`` build the same
modules for any registered cell by name; ``module.stream()`` runs one of them a time step per
call with its state kept (``Stream``). ``Linear``, ``Embedding`` and the losses
``CrossEntropyLoss``, ``MSELoss`` and ``BCEWithLogitsLoss`` complete a model with the same
forward/backward/params/grads contract.
"""
from ._module import Module
from .rnn import LSTM, GRU, RNN, LayerNormLSTM, LayerNormGRU, Recurrent
from .stream import Stream
from .cell import LSTMCell, GRUCell, RNNCell, RecurrentCell
from .linear import Linear, Embedding
from .loss import CrossEntropyLoss, MSELoss, BCEWithLogitsLoss

__all__ = ["Module", "LSTM", "GRU", "RNN", "LayerNormLSTM", "LayerNormGRU", "LSTMCell", "GRUCell", "RNNCell",
           "Recurrent", "RecurrentCell", "Stream",
           "Linear", "Embedding", "CrossEntropyLoss", "MSELoss", "BCEWithLogitsLoss"]
