"""Pure NumPy reference implementation of every fastrnn kernel.

Slow and readable: this is the one plain statement of each equation, and the
ground truth the Numba kernels are tested against. Layout is PyTorch's: weights
``w_ih (G*H, I)``, ``w_hh (G*H, H)``, biases ``(G*H,)``, sequences time-major
``(T, N, I)``. Gate orders: LSTM ``i, f, g, o``; GRU ``r, z, n``.

Each cell has a single-step pair (``*_cell_forward`` / ``*_cell_backward``) and a
whole-sequence pair (``*_forward`` / ``*_backward``) built by looping the step.
Backward functions return gradients of the inputs, the initial state(s) and a
tuple ``(dw_ih, dw_hh, db_ih, db_hh)`` (bias entries are ``None`` without bias).
"""
from .activations import sigmoid, relu
from .lstm import lstm_cell_forward, lstm_cell_backward, lstm_forward, lstm_backward
from .gru import gru_cell_forward, gru_cell_backward, gru_forward, gru_backward
from .rnn import rnn_cell_forward, rnn_cell_backward, rnn_forward, rnn_backward
from .clip import clip_grad_norm_, clip_grad_value_

__all__ = [
    "sigmoid", "relu",
    "lstm_cell_forward", "lstm_cell_backward", "lstm_forward", "lstm_backward",
    "gru_cell_forward", "gru_cell_backward", "gru_forward", "gru_backward",
    "rnn_cell_forward", "rnn_cell_backward", "rnn_forward", "rnn_backward",
    "clip_grad_norm_", "clip_grad_value_",
]
