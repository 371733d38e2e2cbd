"""Argument checks and conversions for the public entry points (private).

Every error names the argument, what was expected and what was received, e.g.
``x: expected a 3-D array (T, N, input_size=8), got shape (5, 2, 7)``. Checks run in
Python before any kernel; conversions copy, so the caller's arrays are never written.

Shapes are described by ``dims``: a sequence of ``(label, size)`` pairs where ``size`` is
the required length or ``None`` (any length, shown by its label only).
"""
import numbers

import numpy as np

FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))
_REAL_KINDS = "fiu"     # floating, signed and unsigned integers; not bool, complex, object, str


def shape_text(dims):
    """``(("T", None), ("input_size", 8))`` -> ``"(T, input_size=8)"``."""
    parts = [label if size is None else (str(size) if label is None else f"{label}={size}")
             for label, size in dims]
    return "(" + ", ".join(parts) + (",)" if len(parts) == 1 else ")")


def _type_name(value):
    cls = type(value)
    return cls.__qualname__ if cls.__module__ == "builtins" else f"{cls.__module__}.{cls.__qualname__}"


def as_real_array(name, value):
    """``value`` as an ndarray of a real number dtype (no copy when it already is one)."""
    if type(value) is not np.ndarray:
        if value is None:
            raise TypeError(f"{name}: expected an array, got None")
        try:
            value = np.asarray(value)
        except Exception as exc:         # e.g. ragged lists, tensors that require grad
            raise TypeError(f"{name}: expected an array, got {_type_name(value)} ({exc})") from None
    if value.dtype.kind not in _REAL_KINDS:
        raise TypeError(f"{name}: expected a real floating-point or integer array, got dtype {value.dtype}")
    return value


def shape_error(name, arr, dims, alternative=None):
    """The ValueError for ``arr`` not matching ``dims`` (``alternative``: another accepted form)."""
    expected = f"a {len(dims)}-D array {shape_text(dims)}"
    if alternative is not None:
        expected += f" or {alternative}"
    return ValueError(f"{name}: expected {expected}, got shape {tuple(arr.shape)}")


def check_shape(name, arr, dims):
    """Raise ValueError unless ``arr.shape`` matches ``dims``."""
    shape = arr.shape
    if len(shape) != len(dims):
        raise shape_error(name, arr, dims)
    for n, (_, size) in zip(shape, dims):
        if size is not None and n != size:
            raise shape_error(name, arr, dims)


def as_compute_array(arr, dtype):
    """C-contiguous array of ``dtype``: ``arr`` itself when it already is one, else a copy."""
    if arr.dtype == dtype and arr.flags.c_contiguous:
        return arr
    return np.ascontiguousarray(arr, dtype=dtype)


def check_array(name, value, dims, dtype=None):
    """Validate ``value`` against ``dims`` and return it as a C-contiguous ``dtype`` array.

    Integer, float16, float64, non-contiguous, reversed and Fortran-ordered inputs are
    converted (copied); bool, complex, object and string arrays raise TypeError; a
    wrong rank or size raises ValueError. ``dtype=None`` keeps the array's dtype.
    """
    arr = as_real_array(name, value)
    check_shape(name, arr, dims)
    return as_compute_array(arr, arr.dtype if dtype is None else dtype)


def float_dtype(name, value):
    """The dtype of a parameter array, which must be float32 or float64 (else TypeError)."""
    dtype = getattr(value, "dtype", None)
    if dtype is None or dtype not in FLOAT_DTYPES:      # (np.dtype == None compares to float64)
        got = f"dtype {dtype}" if dtype is not None else _type_name(value)
        raise TypeError(f"{name}: expected a float32 or float64 array, got {got}")
    return np.dtype(dtype)


def check_float_dtype_arg(name, dtype):
    """A module's ``dtype=`` argument as np.dtype; float32 or float64 only (else TypeError).

    ``None`` means float32 (torch's default dtype), not NumPy's float64; ``torch.float32``
    and ``torch.float64`` are accepted too.
    """
    if dtype is None:
        return np.dtype(np.float32)
    spelled = str(dtype).rpartition(".")[2] if type(dtype).__module__ == "torch" else dtype
    try:
        dt = np.dtype(spelled)
    except TypeError:
        dt = None
    if dt is None or dt not in FLOAT_DTYPES:
        raise TypeError(f"{name}: expected float32 or float64, got {dtype!r}")
    return dt


def check_int(name, value, minimum):
    """An integer argument ``>= minimum`` (bools rejected)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name}: expected an int, got {_type_name(value)} {value!r}")
    if value < minimum:
        raise ValueError(f"{name}: expected an int >= {minimum}, got {value}")
    return int(value)


def check_probability(name, value):
    """A probability in [0, 1] (dropout), returned as float."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name}: expected a number in [0, 1], got {_type_name(value)} {value!r}")
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{name}: expected a probability in [0, 1], got {value}")
    return float(value)


def check_choice(name, value, choices):
    """``value`` must be one of ``choices`` (ValueError naming them)."""
    if not isinstance(value, str) or value not in choices:
        raise ValueError(f"{name}: expected one of {', '.join(map(repr, choices))}, got {value!r}")
    return value


def check_bool(name, value):
    """A bool argument (numpy bools accepted)."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name}: expected a bool, got {_type_name(value)} {value!r}")
    return bool(value)


def check_lengths(lengths, T, N, batched=True):
    """``lengths``: N sequence lengths, integers in [0, T] -> an int64 array (a copy), or None.

    Accepts a list, a NumPy array or a CPU tensor of integers; rejects other dtypes, a wrong
    shape, values outside [0, T] and unbatched input, with a ValueError/TypeError naming
    ``lengths``, what was expected and what came.
    """
    if lengths is None:
        return None
    if not batched:
        raise ValueError("lengths: expected None for unbatched input (a single sequence has all its T steps), "
                         f"got {type(lengths).__name__}")
    if hasattr(lengths, "detach") and hasattr(lengths, "cpu"):          # a torch tensor
        lengths = lengths.detach().cpu().numpy()
    try:
        arr = np.asarray(lengths)
    except Exception as exc:
        raise TypeError(f"lengths: expected {N} integers, got {_type_name(lengths)} ({exc})") from None
    if arr.dtype.kind not in "iu":
        raise TypeError(f"lengths: expected integers, got dtype {arr.dtype}")
    if arr.shape != (N,):
        raise ValueError(f"lengths: expected a 1-D array of N={N} lengths, got shape {arr.shape}")
    if N and (arr.min() < 0 or arr.max() > T):
        bad = arr[(arr < 0) | (arr > T)][0]
        raise ValueError(f"lengths: expected every length in [0, T={T}], got {bad}")
    return arr.astype(np.int64)


def check_device(device):
    """torch's ``device=`` argument: fastrnn computes on the CPU, so None, 'cpu' or a CPU
    torch.device (anything whose str is 'cpu' or 'cpu:N'); else ValueError."""
    if device is None or str(device).split(":")[0] == "cpu":
        return "cpu"
    raise ValueError(f"device: expected None or 'cpu' (fastrnn runs on the CPU), got {device!r}")
