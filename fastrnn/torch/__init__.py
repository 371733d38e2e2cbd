"""PyTorch drop-ins running fastrnn's fused kernels (optional extra: ``pip install fastrnn[torch]``).

``fastrnn.torch.LSTM``, ``GRU``, ``RNN``, ``LSTMCell``, ``GRUCell``, ``RNNCell`` are
subclasses of the torch.nn classes of the same name: same constructor arguments,
parameter names, initialisation and state_dict (``load_state_dict`` works both ways),
forward and backward through ``torch.autograd.Function`` over the Numba kernels for CPU
float32/float64 tensors, padded or packed (``PackedSequence`` in, ``PackedSequence`` out,
the padding skipped), ``LSTM(proj_size=P)`` included. Other inputs (CUDA, half/bfloat16,
autocast, ...) run torch's implementation after a one-time :class:`FallbackWarning`.
``LSTM``/``LSTMCell`` also take ``peephole=True`` (peephole connections, which torch does
not have: those modules run on the kernels only). ``LayerNormLSTM`` and ``LayerNormGRU``
(layer-normalised cells with zoneout, which torch does not have) are torch modules of their
own on the kernels (fastrnn/torch/layer_norm.py).

    >>> import torch, fastrnn.torch as ft
    >>> gru = ft.GRU(8, 16, batch_first=True)
    >>> gru.load_state_dict(torch.nn.GRU(8, 16, batch_first=True).state_dict())
    <All keys matched successfully>
    >>> out, h_n = gru(torch.zeros(2, 5, 8))
    >>> tuple(out.shape), tuple(h_n.shape)
    ((2, 5, 16), (1, 2, 16))
"""
from fastrnn.torch.modules import LSTM, GRU, RNN, LSTMCell, GRUCell, RNNCell
from fastrnn.torch.layer_norm import LayerNormLSTM, LayerNormGRU
from fastrnn.torch._fallback import FallbackWarning

__all__ = ["LSTM", "GRU", "RNN", "LSTMCell", "GRUCell", "RNNCell", "LayerNormLSTM", "LayerNormGRU",
           "FallbackWarning"]
