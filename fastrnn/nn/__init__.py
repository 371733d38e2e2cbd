"""PyTorch-compatible recurrent modules with an explicit ``backward``.

``LSTM``, ``GRU``, ``RNN`` (multi-layer, bidirectional, batch_first, dropout between
layers) and the single-step ``LSTMCell``, ``GRUCell``, ``RNNCell``: torch's constructor
arguments, parameter names and shapes, plus ``dtype`` and ``seed``. ``params`` and
``grads`` are dicts of arrays keyed by torch's names; ``backward`` accumulates into
``grads``.
"""
from ._module import Module
from .rnn import LSTM, GRU, RNN
from .cell import LSTMCell, GRUCell, RNNCell

__all__ = ["Module", "LSTM", "GRU", "RNN", "LSTMCell", "GRUCell", "RNNCell"]
