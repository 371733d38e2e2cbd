"""A book time layer (TimeLSTM / TimeGRU / TimeRNN) with the book's initialisation, chosen by cell name."""
import numpy as np

from .. import _cells
from ..layers.time_recurrent import TIME_LAYERS


def make_recurrent(cell, D, H, init, stateful=False):
    """The time layer of ``cell`` ('lstm', 'gru', 'rnn') with each book parameter drawn by its
    registry init: ``Wx = randn(D, G·H)/√D``, ``Wh = randn(H, G·H)/√H``, ``b = 0``."""
    if cell not in TIME_LAYERS:
        raise ValueError(f"cell: expected one of {sorted(TIME_LAYERS)}, got {cell!r}")
    entry = _cells.get(cell)
    params = []
    for p in entry.params("book"):
        shape = p.shape(D, H, entry.gates)
        if p.init == "fan_in_normal":
            params.append(init.randn(*shape, div=np.sqrt(shape[0])))
        else:                                  # "zeros" / "ones"
            params.append(init.zeros(*shape) + (p.init == "ones"))
    return TIME_LAYERS[cell](*params, stateful=stateful)
