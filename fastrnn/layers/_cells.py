"""Registry cells in the book's layout, as the book layers call them (private).

Shared by the single-step layers (recurrent.py, T = 1) and the time layers
(time_recurrent.py): parameter checks, the compute dtype, weights handed to the kernel
without copies when they already fit, and gradients written straight into ``grads``.
All sequences here are time-major ``(T, N, ·)`` arrays of the compute dtype.
"""
import numpy as np

from .. import _cells
from .._cells.spec import dim_label
from . import _checks

_LETTERS = {"I": "D", "H": "H"}       # the book calls the input size D


class BookCell:
    """A registry cell in the book's layout: ``Wx (D, G*H)``, ``Wh (H, G*H)``, ``b (G*H,)``."""

    def __init__(self, name, bias_optional=False):
        self.cell = _cells.get(name)
        self.state_names = self.cell.state_names
        self.options = self.cell.check_options(layout="book")
        self.specs = self.cell.params("book")
        self.bias_optional = bias_optional

    def check_params(self, where, params):
        """Validate a layer's ``params`` list (the book's order; the bias may be left out when
        optional); returns (D, H)."""
        specs, G = self.specs, self.cell.gates
        required = [p for p in specs if not p.bias]
        if not len(required) <= len(params) <= len(specs):
            raise ValueError(f"{where}: params must hold {', '.join(p.name for p in specs)}, "
                             f"got {len(params)} arrays")
        arrays = list(params) + [None] * (len(specs) - len(params))
        for p, a in zip(specs, arrays):
            if a is not None or not p.bias:
                _checks.param_array(where, p.name, a, len(p.dims))
        sizes, _ = self.cell.infer_sizes("book", arrays)
        for symbol in ("H", "I"):
            if sizes[symbol] is None:
                p, a = next((p, a) for p, a in zip(specs, arrays) if symbol in p.dims)
                raise ValueError(f"{where}: {p.name} must not be empty (its {_LETTERS[symbol]} is read off it), "
                                 f"got shape {a.shape}")
        for p, a in zip(specs, arrays):
            expected = p.shape(None, sizes["H"], G)          # D is whatever Wx says
            letters = [_dim_letters(d, G) for d in p.dims]
            if a is None:
                if self.bias_optional:
                    continue
                want = ", ".join(l if e is None else f"{l}={e}" for l, e in zip(letters, expected))
                raise TypeError(f"{where}: {p.name} must be a numpy.ndarray of shape "
                                f"({want}{',' if len(expected) == 1 else ''}), got None")
            _checks.shape(where, p.name, a, expected, letters)
        return sizes["I"], sizes["H"]

    def forward(self, x, states, params, batch_sizes=None):
        """x (T, N, D) or packed (R, D) with ``batch_sizes``, states tuple of (N, H) -> out like x
        with H features, final states tuple, cache."""
        return self.cell.forward(x, states, params, "book", self.options, batch_sizes)

    def backward(self, cache, dout, dstates, grads):
        """Gradients overwrite ``grads``; returns dx like the forward's x, initial-state grads tuple."""
        return self.cell.backward(cache, dout, dstates, grads, False)


def _dim_letters(dim, gates):
    """A dimension spec in the book's letters: "G*H" -> "4*H", "I" -> "D"."""
    return dim_label(dim, gates, _LETTERS)


class Weights:
    """The params of a recurrent layer, read at every call, and its grads written in place."""

    __slots__ = ("params", "grads", "dtype", "size")

    def __init__(self, params, size):
        self.params = params
        self.grads = [np.zeros_like(p) for p in params]
        self.dtype = _checks.compute_dtype(*params)
        self.size = size          # the number of parameter arrays the cell takes (bias included)

    def shapes(self):
        """(D, H) of the current params."""
        Wx, Wh = self.params[0], self.params[1]
        return Wx.shape[0], Wh.shape[0]

    def for_kernel(self):
        """The params as C-contiguous arrays of the compute dtype (no copy when they are), a
        left-out bias as None."""
        dt = self.dtype
        ready = [_checks.ready(p, dt) for p in self.params]
        return tuple(ready) + (None,) * (self.size - len(ready))

    def grad_targets(self):
        """Arrays the kernel writes into: the grads themselves when they fit, else temporaries."""
        dt = self.dtype
        targets = [g if (g.dtype == dt and g.flags.c_contiguous) else np.empty(g.shape, dt)
                   for g in self.grads]
        return tuple(targets) + (None,) * (self.size - len(targets))

    def commit(self, targets):
        """Copy temporaries (if any) into the grads, in place."""
        for g, t in zip(self.grads, targets):
            if t is not g:
                g[...] = t
