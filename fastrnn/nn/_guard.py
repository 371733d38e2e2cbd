"""The checks between a module's ``params`` / ``grads`` dicts and the kernels (private).

The dicts are the user's: an entry may be replaced by any object at any time. Before a kernel
reads a parameter or writes a gradient, every entry it touches is checked on every call:

- a parameter must be an ndarray of the module's dtype and its registered shape; one in
  another memory order (Fortran, strided) is copied C-contiguous for the call, so it gives
  the same result;
- a gradient must also be writeable and share no memory with another gradient or any
  parameter; one in another memory order is accumulated through a C-contiguous copy and
  written back, so nothing outside it is written.

A wrong entry gives a TypeError/ValueError naming the key (``grads['weight_hh_l0']``), what
was expected and what came, before any kernel runs. The arrays that passed are remembered by
identity, so a call whose entries are the same objects costs an identity and a shape test
per entry.
"""
import numpy as np


def _describe(value):
    if isinstance(value, np.ndarray):
        return f"an array of dtype {value.dtype} and shape {value.shape}"
    return f"{type(value).__name__}"


class Guard:
    """Checks for one module: its dtype and the shape registered for each parameter name."""

    __slots__ = ("dtype", "shapes", "_params_ok", "_grads_ok")

    def __init__(self, params, dtype):
        self.dtype = np.dtype(dtype)
        self.shapes = {name: p.shape for name, p in params.items()}
        self._params_ok = {}          # tuple of names -> (the arrays that passed, usable as they are, shapes)
        self._grads_ok = {}           # tuple of names -> (the arrays that passed together, shapes)

    def _expected(self, what, name):
        return f"{what}[{name!r}]: expected a {self.dtype} array of shape {self.shapes[name]}"

    def params(self, params, names):
        """The arrays of ``names`` (a tuple; None entries stay None) as the kernels read them."""
        ok = self._params_ok.get(names)
        if ok is not None:
            arrays, entries = ok
            for name, a, shape in entries:
                if params.get(name) is not a or a.shape != shape:
                    break
            else:
                return arrays
        out = tuple(None if name is None else self._check_param(params, name) for name in names)
        if all(a is None or a is params[n] for a, n in zip(out, names)):     # no copies: remember them
            self._params_ok[names] = (out, _entries(names, out))
        return out

    def _check_param(self, params, name):
        if name not in params:
            raise ValueError(f"{self._expected('params', name)}, got no entry (the key is missing)")
        a = params[name]
        if not isinstance(a, np.ndarray) or a.dtype != self.dtype:
            raise TypeError(f"{self._expected('params', name)}, got {_describe(a)}")
        if a.shape != self.shapes[name]:
            raise ValueError(f"{self._expected('params', name)}, got shape {a.shape}")
        if a.flags.c_contiguous and a.flags.aligned:
            return a
        return np.ascontiguousarray(a)          # read only: a copy gives the same result

    def grads(self, grads, params, names):
        """The gradient buffers of ``names`` (a tuple) as the kernels write them, and a ``commit()``
        that writes back through any copies (call it after the kernel). Arrays that passed the
        full check are recognised by identity and shape (a read-only flag set later on the same
        array object is not looked at again)."""
        ok = self._grads_ok.get(names)
        if ok is not None:
            arrays, entries = ok
            for name, a, shape in entries:
                if grads.get(name) is not a or a.shape != shape:
                    break
            else:
                return arrays, _nothing
        current = tuple(None if n is None else grads.get(n) for n in names)
        for name, a in zip(names, current):
            if name is None:
                continue
            if name not in grads:
                raise ValueError(f"{self._expected('grads', name)}, got no entry (the key is missing)")
            if not isinstance(a, np.ndarray) or a.dtype != self.dtype:
                raise TypeError(f"{self._expected('grads', name)}, got {_describe(a)}")
            if a.shape != self.shapes[name]:
                raise ValueError(f"{self._expected('grads', name)}, got shape {a.shape}")
            if not a.flags.writeable:
                raise ValueError(f"{self._expected('grads', name)} that can be written (backward adds into it), "
                                 "got a read-only array")
        self._check_aliasing(grads, params, names)
        direct = all(a is None or (a.flags.c_contiguous and a.flags.aligned) for a in current)
        if direct:
            self._grads_ok[names] = (current, _entries(names, current))
            return current, _nothing
        self._grads_ok.pop(names, None)
        targets = tuple(None if a is None or (a.flags.c_contiguous and a.flags.aligned) else np.ascontiguousarray(a)
                        for a in current)

        def commit():
            for a, t in zip(current, targets):
                if t is not None:
                    a[...] = t
        return tuple(a if t is None else t for a, t in zip(current, targets)), commit

    def _check_aliasing(self, grads, params, names):
        mine = [(n, grads[n]) for n in names if n is not None]
        others = [(f"grads[{n!r}]", g) for n, g in grads.items() if isinstance(g, np.ndarray)]
        others += [(f"params[{n!r}]", p) for n, p in params.items() if isinstance(p, np.ndarray)]
        for name, a in mine:
            for other_name, b in others:
                if b is a and other_name == f"grads[{name!r}]":
                    continue
                if np.may_share_memory(a, b):
                    raise ValueError(f"grads[{name!r}]: expected an array of its own, got one that shares "
                                     f"memory with {other_name} (backward would write into both)")


def _nothing():
    return None


def _entries(names, arrays):
    """(name, array, shape) for the entries that are not None: what the fast paths compare."""
    return tuple((n, a, a.shape) for n, a in zip(names, arrays) if n is not None)
