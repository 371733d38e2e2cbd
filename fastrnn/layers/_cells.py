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
        for i, (p, a) in enumerate(zip(specs, params)):
            if a is None:
                raise TypeError(f"{where}: {p.name} (params[{i}]) must be a numpy.ndarray, got None "
                                "(a layer without bias has no entry for it)")
        arrays = list(params) + [None] * (len(specs) - len(params))
        for p, a in zip(specs, arrays):
            if a is not None or not p.bias:
                _checks.param_array(where, p.name, a, len(p.dims))
        sizes, source = self.cell.sizes_of_arrays("book", arrays)
        for symbol in ("H", "I"):
            if sizes[symbol] is None:
                p, a = next((p, a) for p, a in zip(specs, arrays) if symbol in p.dims)
                raise ValueError(f"{where}: {p.name} must not be empty (its {_LETTERS[symbol]} is read off it), "
                                 f"got shape {a.shape}")
        index = {p.name: i for i, p in enumerate(specs)}
        read = source["H"]
        note = f" (H={sizes['H']} is read off {read.name}, params[{index[read.name]}])"
        # the array H is read off first: when it is itself inconsistent, it is the one to blame
        for p, a in sorted(zip(specs, arrays), key=lambda pa: pa[0] is not read):
            expected = p.shape(None, sizes["H"], G)          # D is whatever Wx says
            letters = [_dim_letters(d, G) for d in p.dims]
            said = "" if p is read else note
            if a is None:
                if self.bias_optional:
                    continue
                want = ", ".join(l if e is None else f"{l}={e}" for l, e in zip(letters, expected))
                raise TypeError(f"{where}: {p.name} must be a numpy.ndarray of shape "
                                f"({want}{',' if len(expected) == 1 else ''}), got None{said}")
            _checks.shape(where, p.name, a, expected, letters, then=said)
        return sizes["I"], sizes["H"]

    def forward(self, x, states, params, batch_sizes=None):
        """x (T, N, D) or packed (R, D) with ``batch_sizes``, states tuple of (N, H) -> out like x
        with H features, final states tuple, cache."""
        return self.cell.forward(x, states, params, "book", self.options, batch_sizes)

    def forward_only(self, x, states, params, batch_sizes=None):
        """As :meth:`forward`, saving nothing (fastrnn.no_grad) -> out, final states tuple."""
        return self.cell.forward_only(x, states, params, "book", self.options, batch_sizes)

    def backward(self, cache, dout, dstates, grads):
        """Gradients overwrite ``grads``; returns dx like the forward's x, initial-state grads tuple."""
        return self.cell.backward(cache, dout, dstates, grads, False)


def layer_params(where, Wx, Wh, b, extra):
    """A layer's params list: ``[Wx, Wh]``, then ``b`` if given, then the cell's others (``extra``,
    e.g. the peepholes), which need ``b`` before them."""
    if b is None and extra:
        raise TypeError(f"{where}: b must be a numpy.ndarray when the layer has parameters after it, got None")
    return [Wx, Wh] + ([] if b is None else [b]) + list(extra)


def peephole_params(where, peephole, Wx, Wh):
    """The book layers' ``peephole`` keyword -> its params entries: () for False, (p,) for True
    (p (3H,) zeros of Wx's dtype: p_i, p_f, p_o) or for a given (3H,) array."""
    if peephole is False or peephole is None:
        return ()
    if peephole is True:
        H = getattr(Wh, "shape", (0,))[0]
        return (np.zeros(3 * H, getattr(Wx, "dtype", np.float32)),)
    if not isinstance(peephole, np.ndarray):
        raise TypeError(f"{where}: peephole must be a bool or a numpy.ndarray p (3H,), got {type(peephole).__name__}")
    return (peephole,)


def _dim_letters(dim, gates):
    """A dimension spec in the book's letters: "G*H" -> "4*H", "I" -> "D"."""
    return dim_label(dim, gates, _LETTERS)


class Weights:
    """The params of a recurrent layer, read at every call, and its grads written in place.

    Both lists are the user's: before a kernel writes, every gradient is checked (an ndarray
    of a float dtype, shaped like its parameter, writeable, sharing memory with no other
    gradient or parameter); one of another dtype or memory order is written through a
    C-contiguous copy, so nothing outside it is written.
    """

    __slots__ = ("params", "grads", "dtype", "size", "_grads_ok")

    def __init__(self, params, size):
        self.params = params
        self.grads = [np.zeros_like(p) for p in params]
        self.dtype = _checks.compute_dtype(*params)
        self.size = size          # the number of parameter arrays the cell takes (bias included)
        self._grads_ok = None     # the grads (and params) that passed the full check, by identity

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

    def grad_targets(self, where, shapes):
        """Arrays the kernel writes into: the grads themselves when they fit, else temporaries.
        ``shapes``: the params' shapes at the forward, which the kernel's gradients have.
        Raises before anything is written when a parameter changed shape since the forward or
        a gradient is not a fit for its parameter."""
        dt = self.dtype
        grads, params = self.grads, self.params
        now = tuple(getattr(p, "shape", None) for p in params)
        if now != tuple(shapes):
            raise ValueError(f"{where}: params changed from shapes {tuple(shapes)} to {now} since the forward; "
                             "run the forward again")
        if len(grads) != len(params):
            raise ValueError(f"{where}: grads must hold {len(params)} arrays (one per parameter), got {len(grads)}")
        for i, (g, p) in enumerate(zip(grads, params)):
            if not isinstance(g, np.ndarray) or g.dtype.kind != "f":
                raise TypeError(f"{where}: grads[{i}] must be a float numpy.ndarray shaped like params[{i}] "
                                f"{p.shape}, got {type(g).__name__ if not isinstance(g, np.ndarray) else g.dtype}")
            if g.shape != p.shape:
                raise ValueError(f"{where}: grads[{i}] must have the shape of params[{i}], {p.shape}, "
                                 f"got {g.shape}")
            if not g.flags.writeable:
                raise ValueError(f"{where}: grads[{i}] must be writeable (backward writes into it), "
                                 "got a read-only array")
        known = self._grads_ok
        if known is None or len(known) != len(grads) + len(params) or \
                any(a is not b for a, b in zip(known, list(grads) + list(params))):
            for i, g in enumerate(grads):
                others = [(f"grads[{j}]", h) for j, h in enumerate(grads) if j != i] + \
                         [(f"params[{j}]", q) for j, q in enumerate(params)]
                for name, other in others:
                    if np.may_share_memory(g, other):
                        raise ValueError(f"{where}: grads[{i}] must be an array of its own, got one that "
                                         f"shares memory with {name}")
            self._grads_ok = tuple(grads) + tuple(params)
        targets = [g if (g.dtype == dt and g.flags.c_contiguous and g.flags.aligned) else np.empty(g.shape, dt)
                   for g in grads]
        return tuple(targets) + (None,) * (self.size - len(targets))

    def commit(self, targets):
        """Copy temporaries (if any) into the grads, in place."""
        for g, t in zip(self.grads, targets):
            if t is not g:
                g[...] = t
