"""Compiled templates: one njit function, instantiated with a cell's parts bound by name.

The time loop is written once (loop.py) and refers to the parts that vary by cell (its row
step, its row-gradient step, how it keeps its other states) by global names that hold a
:class:`Part` (a placeholder saying what the part takes and does).
``instantiate(template, name, step=lstm_step, ...)`` makes a copy of the template's
Python function whose globals bind those names, and compiles it with the template's options
(``cache=True`` included): Numba resolves the parts as compile-time constants, so a part
declared ``inline="always"`` is inlined as if written in the loop, and each instance is
cached under its own name (``loop.lstm_forward_loop-*.nbi`` in the cache directory).

Why not pass the parts as arguments (pynndescent's way)? Measured with Numba 0.68.1: a
function that takes an njit function as an argument compiles again in every new process
(the cache key holds the argument's dispatcher type, whose identity changes per process),
and the call is not inlined (a loop over 64-wide rows ran 79 us, 69 us hand-written or
instantiated). A closure made by a factory caches no better (the key pickles its cells, and
a dispatcher pickles with a per-process id). An instance compiles once, loads from the
cache after, and runs as fast as the loop written out.

As with any cached Numba function, a cached instance is not recompiled when only a part's
source file changes (Numba checks the template's own file): removing the cache directory
does it (docs/compile-cache.md says where it is).
"""
import types as _types

from numba import njit
from numba.core.caching import NullCache

class Part:
    """A placeholder for a part a template calls by this global name: ``signature`` says
    what it takes and does. Calling an uninstantiated template fails at typing."""

    __slots__ = ("signature",)

    def __init__(self, signature):
        self.signature = signature

    def __repr__(self):
        return f"Part({self.signature!r})"


_NAMES = set()          # instance names made so far: two instances of one name would share cache files


def instantiate(template, name, inline=None, **parts):
    """A compiled copy of njit function ``template`` named ``name`` whose global names
    ``parts`` (name=compiled function or constant) are bound as given; ``inline``
    ("always" | "never") overrides the template's."""
    if name in _NAMES:
        raise ValueError(f"instantiate: an instance named {name!r} exists; expected a new name")
    py = template.py_func
    glb = dict(py.__globals__)
    taken = [k for k in parts if k in glb and not isinstance(glb[k], Part)]
    if taken:
        raise ValueError(f"instantiate: {', '.join(taken)} already defined in {py.__module__}; "
                         f"expected the template's parts")
    unbound = [k for k in py.__code__.co_names if isinstance(glb.get(k), Part) and k not in parts]
    if unbound:
        raise ValueError(f"instantiate: {template.__name__} needs the part(s) {', '.join(unbound)}; "
                         f"got {', '.join(sorted(parts)) or 'none'}")
    glb.update(parts)
    renamed = {"co_name": name}
    if hasattr(py.__code__, "co_qualname"):          # Python 3.11+
        renamed["co_qualname"] = name
    code = py.__code__.replace(**renamed)
    fn = _types.FunctionType(code, glb, name, py.__defaults__, py.__closure__)
    fn.__qualname__ = name
    fn.__module__ = py.__module__
    fn.__doc__ = py.__doc__
    options = {k: v for k, v in template.targetoptions.items() if k != "nopython"}
    if inline is not None:
        options["inline"] = inline
    compiled = njit(cache=not isinstance(template._cache, NullCache), **options)(fn)
    _NAMES.add(name)
    return compiled
