"""The cell registry (private): one :class:`~fastrnn._cells.spec.Cell` entry per recurrent cell.

Every face of fastrnn (``functional``, ``nn``, ``layers``, ``torch``, ``models``), the
benchmark engine and the tests look a cell up here by its name and read what they need
from the entry; none of them names a cell in an if/elif. A new cell is an oracle file
(``fastrnn/oracle/<cell>.py``), a kernel file (``fastrnn/_kernels/<cell>.py``), an entry
file (``fastrnn/_cells/<cell>.py``) registered below, and its tests: see docs/design.md.
The LSTM's variants (peepholes, projection: ``lstm_variants.py``) are entries of their own,
which the LSTM faces pick with :func:`lstm_variant_name`.
"""
from .spec import LAYOUTS, Cell, Layout, Option, Param, SequenceCache
from .gru import GRU
from .layernorm_gru import LAYERNORM_GRU
from .layernorm_lstm import LAYERNORM_LSTM
from .lstm import LSTM
from .lstm_variants import VARIANTS as LSTM_VARIANTS, variant_name as lstm_variant_name
from .rnn import RNN

CELLS = {}


def register(cell):
    """Add ``cell`` (a Cell) under ``cell.name``; returns it. A name is registered once."""
    if not isinstance(cell, Cell):
        raise TypeError(f"cell: expected a fastrnn._cells.Cell, got {type(cell).__name__}")
    if cell.name in CELLS and CELLS[cell.name] is not cell:
        raise ValueError(f"cell: a cell named {cell.name!r} is already registered")
    CELLS[cell.name] = cell
    return cell


def unregister(name):
    """Remove the entry ``name`` (for test-only cells)."""
    CELLS.pop(name, None)


def get(name):
    """The entry of ``name`` ('lstm', 'gru', 'rnn', ...); ValueError naming the known cells."""
    if isinstance(name, Cell):
        return name
    try:
        return CELLS[name]
    except (KeyError, TypeError):
        raise ValueError(f"cell: expected one of {', '.join(map(repr, CELLS))}, got {name!r}") from None


for _cell in (LSTM, GRU, RNN, *LSTM_VARIANTS, LAYERNORM_GRU, LAYERNORM_LSTM):
    register(_cell)

__all__ = ["CELLS", "LAYOUTS", "Cell", "Layout", "Option", "Param", "SequenceCache", "get", "lstm_variant_name",
           "register", "unregister"]
