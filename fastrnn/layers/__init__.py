"""Drop-in replacements for the NumPy layers of "Deep Learning from Scratch 2".

Change ``from common.time_layers import *`` (or ``common.layers``, ``ch08.attention_layer``)
to ``from fastrnn.layers import *``: same classes, constructor signatures, ``params``/``grads``
lists (grads written in place), gate orders, shapes and float32 outputs; the recurrent
layers run the whole time loop in fused Numba kernels and the attention layers run all
decoder steps in one kernel. ``TimeRecurrent(cell, Wx, Wh, b)`` is the time layer of any
registered cell by name.
"""
from .activations import Softmax, Sigmoid
from .affine import MatMul, Affine, TimeAffine
from .attention import WeightSum, AttentionWeight, Attention, TimeAttention
from .dropout import Dropout, TimeDropout
from .embedding import Embedding, TimeEmbedding
from .losses import SoftmaxWithLoss, SigmoidWithLoss, TimeSoftmaxWithLoss, TimeSigmoidWithLoss
from .recurrent import RNN, LSTM, GRU
from .time_recurrent import TimeRNN, TimeLSTM, TimeGRU, TimeBiLSTM, TimeRecurrent, TimeBiRecurrent

__all__ = [
    "RNN", "LSTM", "GRU", "TimeRNN", "TimeLSTM", "TimeGRU", "TimeBiLSTM", "TimeRecurrent", "TimeBiRecurrent",
    "Embedding", "TimeEmbedding", "MatMul", "Affine", "TimeAffine",
    "Softmax", "Sigmoid", "SoftmaxWithLoss", "SigmoidWithLoss",
    "TimeSoftmaxWithLoss", "TimeSigmoidWithLoss", "Dropout", "TimeDropout",
    "WeightSum", "AttentionWeight", "Attention", "TimeAttention",
]
