"""Gradient clipping: ``clip_grad_norm_`` and ``clip_grad_value_`` (PyTorch semantics).

>>> import numpy as np
>>> from fastrnn import clip_grad_norm_
>>> grads = [np.full(3, 3.0), np.full(4, 2.0)]     # total L2 norm = sqrt(27 + 16)
>>> round(clip_grad_norm_(grads, max_norm=1.0), 4)
6.5574
>>> round(float(np.sqrt(sum((g ** 2).sum() for g in grads))), 4)
1.0
"""
import math
import numbers

import numpy as np

from ._kernels import clip as _clip

__all__ = ["clip_grad_norm_", "clip_grad_value_"]


def _as_grad_list(grads):
    if isinstance(grads, np.ndarray):
        grads = [grads]
    elif isinstance(grads, dict):
        grads = list(grads.values())
    else:
        try:
            grads = list(grads)
        except TypeError:
            raise TypeError("grads: expected an array or an iterable of arrays, "
                            f"got {type(grads).__name__}") from None
    for k, g in enumerate(grads):
        if not isinstance(g, np.ndarray):
            raise TypeError(f"grads[{k}]: expected a numpy array, got {type(g).__name__}")
        if g.dtype.kind != "f":
            raise TypeError(f"grads[{k}]: expected a floating-point array, got dtype {g.dtype}")
        if not g.flags.writeable:
            raise ValueError(f"grads[{k}]: the array is read-only; clipping works in place")
    return grads


def _flat_view(g):
    """A 1-D view of g when one exists (C or Fortran order), else None."""
    if g.flags.c_contiguous or g.flags.f_contiguous:
        flat = g.reshape(-1, order="A")
        if g.dtype in (np.float32, np.float64):
            return flat
    return None


def _check_number(name, value, allow_inf=False):
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name}: expected a real number, got {type(value).__name__}")
    value = float(value)
    if math.isnan(value) or (math.isinf(value) and not allow_inf):
        raise ValueError(f"{name}: expected a finite number, got {value}")
    return value


def total_norm(grads, norm_type=2.0):
    """Norm of all arrays in ``grads`` taken together as one vector (float64 accumulation)."""
    grads = _as_grad_list(grads)
    norm_type = _check_number("norm_type", norm_type, allow_inf=True)
    return _total_norm(grads, norm_type)


def _extreme(grads, largest):
    """max |g| (``largest``) or min |g| over all the arrays, NaN if any is NaN."""
    best = 0.0 if largest else math.inf
    for g in grads:
        if not g.size:
            continue
        flat = _flat_view(g)
        if flat is not None:
            value = _clip.max_abs(flat) if largest else _clip.min_abs(flat)
        else:
            a = np.abs(g.astype(np.float64))
            value = float(np.max(a) if largest else np.min(a))
        if value != value:
            return value
        best = max(best, value) if largest else min(best, value)
    return best


def _total_norm(grads, norm_type):
    if norm_type == 0 or (norm_type < 0 and not math.isinf(norm_type)):
        raise ValueError(f"norm_type: expected a positive number, inf or -inf, got {norm_type}")
    if math.isinf(norm_type):
        return _extreme(grads, largest=norm_type > 0)
    scale = _extreme(grads, largest=True)
    if scale == 0.0 or not math.isfinite(scale):
        return scale                            # all zero, or an Inf/NaN that the norm inherits
    total = 0.0
    for g in grads:
        flat = _flat_view(g)
        if flat is not None:
            total += _clip.sum_of_powers(flat, norm_type, scale)
        else:
            total += float(np.sum((np.abs(g.astype(np.float64)) / scale) ** norm_type))
    return scale * total ** (1.0 / norm_type)


def clip_grad_norm_(grads, max_norm, norm_type=2.0, error_if_nonfinite=False):
    """Scale ``grads`` in place so their total norm is at most ``max_norm``.

    grads: an array or an iterable of arrays (e.g. ``module.grads.values()``), taken
    together as one vector. Each is multiplied by ``min(1, max_norm / (total + 1e-6))``.
    Returns the total norm before clipping (a float). The norm is accumulated in float64 over
    |g| / max|g|, so neither huge nor tiny entries overflow or underflow; ``norm_type`` inf is
    the largest |g|, -inf the smallest. With ``error_if_nonfinite=True`` a NaN/Inf total
    raises ``FloatingPointError`` and leaves every array untouched; a negative or NaN
    ``max_norm`` is a ValueError.
    """
    grads = _as_grad_list(grads)
    max_norm = _check_number("max_norm", max_norm, allow_inf=True)
    if max_norm < 0:
        raise ValueError(f"max_norm: expected a non-negative number, got {max_norm}")
    norm_type = _check_number("norm_type", norm_type, allow_inf=True)
    total = _total_norm(grads, norm_type)
    if error_if_nonfinite and not math.isfinite(total):
        raise FloatingPointError(
            f"the total norm of order {norm_type} of the gradients is {total}; "
            "set error_if_nonfinite=False to clip anyway")
    coef = max_norm / (total + 1e-6)
    if coef < 1.0 or math.isnan(coef):
        for g in grads:
            flat = _flat_view(g)
            if flat is not None:
                _clip.scale_in_place(flat, coef)
            else:
                g *= coef
    return total


def clip_grad_value_(grads, clip_value):
    """Clamp every array of ``grads`` in place to ``[-clip_value, clip_value]``."""
    grads = _as_grad_list(grads)
    clip_value = _check_number("clip_value", clip_value, allow_inf=True)
    if clip_value < 0:
        raise ValueError(f"clip_value: expected a non-negative number, got {clip_value}")
    for g in grads:
        flat = _flat_view(g)
        if flat is not None:
            _clip.clamp_in_place(flat, -clip_value, clip_value)
        else:
            np.clip(g, -clip_value, clip_value, out=g)
