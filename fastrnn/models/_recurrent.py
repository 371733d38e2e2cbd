"""A book time layer (TimeLSTM / TimeGRU / TimeRNN) with the book's initialisation, chosen by name."""
import numpy as np

from ..layers import TimeLSTM, TimeGRU, TimeRNN

CELLS = {"lstm": (TimeLSTM, 4), "gru": (TimeGRU, 3), "rnn": (TimeRNN, 1)}


def make_recurrent(cell, D, H, init, stateful=False):
    """``Wx = randn(D, G·H)/√D``, ``Wh = randn(H, G·H)/√H``, ``b = 0`` for cell 'lstm', 'gru' or 'rnn'."""
    if cell not in CELLS:
        raise ValueError(f"cell: expected one of {sorted(CELLS)}, got {cell!r}")
    layer_cls, G = CELLS[cell]
    Wx = init.randn(D, G * H, div=np.sqrt(D))
    Wh = init.randn(H, G * H, div=np.sqrt(H))
    b = init.zeros(G * H)
    return layer_cls(Wx, Wh, b, stateful=stateful)
