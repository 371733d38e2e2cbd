"""Small argument checks shared by the book layers (private).

Every check raises before any kernel runs, with a message naming the argument,
what was expected and what was received.
"""
import numpy as np

from .._validation import check_lengths

_F32 = np.dtype(np.float32)
_F64 = np.dtype(np.float64)


def param_array(where, name, a, ndim):
    """A constructor parameter: must be a float ndarray of ``ndim`` dims (kept as is)."""
    if not isinstance(a, np.ndarray):
        raise TypeError(f"{where}: {name} must be a numpy.ndarray (it is kept and updated in place), "
                        f"got {type(a).__name__}")
    if a.dtype.kind != "f":
        raise TypeError(f"{where}: {name} must have a floating dtype, got {a.dtype}")
    if a.ndim != ndim:
        raise ValueError(f"{where}: {name} must be {ndim}-D, got shape {a.shape}")
    return a


def float_array(where, name, a):
    """Array-like -> ndarray with a float dtype (ints and bools converted to float32)."""
    a = np.asarray(a)
    if a.dtype.kind != "f":
        if a.dtype.kind not in "biu":
            raise TypeError(f"{where}: {name} must hold numbers, got dtype {a.dtype}")
        a = a.astype(np.float32)
    return a


def int_array(where, name, a):
    """Array-like -> integer ndarray (indices or labels)."""
    a = np.asarray(a)
    if a.dtype.kind not in "iu":
        raise TypeError(f"{where}: {name} must hold integers, got dtype {a.dtype}")
    return a


def shape(where, name, a, expected, letters, note="", then=""):
    """Check ``a.shape`` against ``expected`` (ints or None = any); ``letters`` names the dims;
    ``note`` says where a size comes from (before what came), ``then`` after it."""
    got = a.shape
    ok = len(got) == len(expected) and all(e is None or e == g for e, g in zip(expected, got))
    if not ok:
        want = ", ".join(l if e is None else f"{l}={e}" for l, e in zip(letters, expected))
        if len(expected) == 1:
            want += ","
        raise ValueError(f"{where}: {name} must have shape ({want}){note}, got {got}{then}")


def nonempty(where, name, a, letters):
    if a.size == 0:
        raise ValueError(f"{where}: {name} must not be empty, got shape {a.shape} ({', '.join(letters)})")


def compute_dtype(*arrays):
    """float64 when the arrays promote to float64, else float32 (the book's dtype)."""
    return _F64 if np.result_type(*arrays) == _F64 else _F32


def ready(a, dtype):
    """C-contiguous array of ``dtype`` (no copy when ``a`` already is one); never written to."""
    return np.ascontiguousarray(a, dtype=dtype)


def lengths(where, value, T, N):
    """Sequence lengths (N,) integers in [0, T] as int64, or None; errors name ``lengths``."""
    try:
        return check_lengths(value, T, N)
    except (TypeError, ValueError) as exc:
        raise type(exc)(f"{where}: {exc}") from None


def params_for(where, params, ndims):
    """A layer's ``params`` list, checked at every call: float ndarrays of the given ranks."""
    if len(params) != len(ndims):
        raise ValueError(f"{where}: params must hold {len(ndims)} arrays, got {len(params)}")
    for i, (p, nd) in enumerate(zip(params, ndims)):
        if not isinstance(p, np.ndarray) or p.dtype.kind != "f" or p.ndim != nd:
            got = f"{p.dtype} array of shape {p.shape}" if isinstance(p, np.ndarray) else type(p).__name__
            raise TypeError(f"{where}: params[{i}] must be a {nd}-D float numpy.ndarray, got {got}")
    return params


def grads_for(where, grads, shapes):
    """A layer's ``grads`` list before a backward writes it: writeable float ndarrays of the
    parameters' shapes at the forward (``shapes``); a TypeError/ValueError naming the entry else."""
    if len(grads) != len(shapes):
        raise ValueError(f"{where}: grads must hold {len(shapes)} arrays (one per parameter), got {len(grads)}")
    for i, (g, s) in enumerate(zip(grads, shapes)):
        if not isinstance(g, np.ndarray) or g.dtype.kind != "f":
            got = g.dtype if isinstance(g, np.ndarray) else type(g).__name__
            raise TypeError(f"{where}: grads[{i}] must be a float numpy.ndarray of shape {s}, got {got}")
        if g.shape != s:
            raise ValueError(f"{where}: grads[{i}] must have the shape of params[{i}] at the forward, {s}, "
                             f"got {g.shape}")
        if not g.flags.writeable:
            raise ValueError(f"{where}: grads[{i}] must be writeable (backward writes into it), got a read-only array")
