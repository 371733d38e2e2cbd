"""Pure NumPy reference implementation of every fastrnn kernel.

Slow and readable: this is the one plain statement of each equation, and the
ground truth the Numba kernels are tested against. Layout is PyTorch's: weights
``w_ih (G*H, I)``, ``w_hh (G*H, H)``, biases ``(G*H,)``, sequences time-major
``(T, N, I)``. Gate orders: LSTM ``i, f, g, o``; GRU ``r, z, n``.

Each cell has a single-step pair (``*_cell_forward`` / ``*_cell_backward``) and a
whole-sequence pair (``*_forward`` / ``*_backward``) built by looping the step.
Backward functions return gradients of the inputs, the initial state(s) and a
tuple ``(dw_ih, dw_hh, db_ih, db_hh)`` (bias entries are ``None`` without bias).

Variable-length batches (torch's packed semantics, stated once in ``_common``): the
sequence functions take ``lengths`` (N,); sequence n runs steps 0..lengths[n]−1, its
outputs after them are 0, its final states are its states after its last step (the
initial ones for length 0), ``dout`` after its last step is ignored and the gradients reach
its initial states through exactly lengths[n] steps. A reverse direction runs each
sequence from its own last step down to 0: :func:`reverse_sequences`.
"""
from .activations import sigmoid, relu
from .lstm import lstm_cell_forward, lstm_cell_backward, lstm_forward, lstm_backward
from .gru import gru_cell_forward, gru_cell_backward, gru_forward, gru_backward
from .rnn import rnn_cell_forward, rnn_cell_backward, rnn_forward, rnn_backward
from .clip import clip_grad_norm_, clip_grad_value_
from ._common import reverse_sequences, zoneout_blend
from .layer_norm import layer_norm_forward, layer_norm_backward
from .layernorm_gru import (layernorm_gru_cell_forward, layernorm_gru_cell_backward, layernorm_gru_forward,
                            layernorm_gru_backward)
from .layernorm_lstm import (layernorm_lstm_cell_forward, layernorm_lstm_cell_backward, layernorm_lstm_forward,
                             layernorm_lstm_backward)

__all__ = [
    "sigmoid", "relu",
    "lstm_cell_forward", "lstm_cell_backward", "lstm_forward", "lstm_backward",
    "gru_cell_forward", "gru_cell_backward", "gru_forward", "gru_backward",
    "rnn_cell_forward", "rnn_cell_backward", "rnn_forward", "rnn_backward",
    "clip_grad_norm_", "clip_grad_value_", "reverse_sequences", "zoneout_blend",
    "layer_norm_forward", "layer_norm_backward",
    "layernorm_gru_cell_forward", "layernorm_gru_cell_backward", "layernorm_gru_forward", "layernorm_gru_backward",
    "layernorm_lstm_cell_forward", "layernorm_lstm_cell_backward", "layernorm_lstm_forward",
    "layernorm_lstm_backward",
]
