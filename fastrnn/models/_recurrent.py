"""The recurrent layer of a model: a book time layer (TimeLSTM / TimeGRU / TimeRNN, or the
bidirectional pair) with the book's initialisation, chosen by cell name."""
import numpy as np

from .. import _cells
from ..layers.time_recurrent import TimeBiRecurrent, time_layer


def _draw(entry, D, H, init):
    params = []
    for p in entry.params("book"):
        shape = p.shape(D, H, entry.gates)
        if p.init == "fan_in_normal":
            params.append(init.randn(*shape, div=np.sqrt(shape[0])))
        else:                                  # "zeros" / "ones"
            params.append(init.zeros(*shape) + (p.init == "ones"))
    return params


def make_recurrent(cell, D, H, init, stateful=False, bidirectional=False):
    """The time layer of ``cell`` (a registered cell name: 'lstm', 'gru', 'rnn') with each book
    parameter drawn by its registry init: ``Wx = randn(D, G·H)/√D``, ``Wh = randn(H, G·H)/√H``,
    ``b = 0``; with ``bidirectional`` a TimeBiRecurrent of two such layers."""
    if cell not in _cells.CELLS or "book" not in _cells.get(cell).layouts:
        names = sorted(n for n, c in _cells.CELLS.items() if "book" in c.layouts)
        raise ValueError(f"cell: expected one of {names}, got {cell!r}")
    entry = _cells.get(cell)
    if bidirectional:
        return TimeBiRecurrent(cell, *_draw(entry, D, H, init), *_draw(entry, D, H, init), stateful=stateful)
    return time_layer(cell, *_draw(entry, D, H, init), stateful=stateful)


def last_hidden(hs, last, bidirectional):
    """Each sequence's representation from the layer's hs (N, T, H or 2H): h after its last real
    step ``last[n]``, and with ``bidirectional`` the backward layer's h after step 0 beside it."""
    rows = np.arange(hs.shape[0])
    if not bidirectional:
        return hs[rows, last]
    H = hs.shape[2] // 2
    return np.concatenate((hs[rows, last, :H], hs[:, 0, H:]), axis=1)


def last_hidden_grad(dh, hs_shape, last, bidirectional):
    """The gradient of hs (zeros but where :func:`last_hidden` read) from that of its result."""
    dhs = np.zeros(hs_shape, np.float32)
    rows = np.arange(hs_shape[0])
    if bidirectional:
        H = hs_shape[2] // 2
        dhs[rows, last, :H] = dh[:, :H]
        dhs[:, 0, H:] = dh[:, H:]
    else:
        dhs[rows, last] = dh
    return dhs
