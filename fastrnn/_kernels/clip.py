"""Gradient clipping passes: one fused norm over many arrays, then an in-place scale.

No fastmath here: the total must see NaN/Inf exactly as IEEE says (fastmath's
``nnan``/``ninf`` would let the compiler assume they never occur). Sums are
accumulated in float64 whatever the arrays' dtype.
"""
import numpy as np
from numba import njit


@njit(cache=True, error_model="numpy")
def sum_of_powers(flat, norm_type, scale):
    """Σ |g / scale|^p over a 1-D array, in float64 (p = 2 and 1 take fast paths).

    Dividing by ``scale`` (the largest |g| of all the arrays) keeps every term in [0, 1], so
    neither huge nor tiny gradients overflow or underflow.
    """
    total = 0.0
    inv = 1.0 / scale
    if norm_type == 2.0:
        for k in range(flat.shape[0]):
            v = np.float64(flat[k]) * inv
            total += v * v
    elif norm_type == 1.0:
        for k in range(flat.shape[0]):
            total += abs(np.float64(flat[k])) * inv
    else:
        for k in range(flat.shape[0]):
            total += (abs(np.float64(flat[k])) * inv) ** norm_type
    return total


@njit(cache=True, error_model="numpy")
def max_abs(flat):
    """max |g| over a 1-D array (NaN if any element is NaN); 0 for an empty array."""
    best = 0.0
    for k in range(flat.shape[0]):
        v = abs(np.float64(flat[k]))
        if v != v:
            return v
        if v > best:
            best = v
    return best


@njit(cache=True, error_model="numpy")
def min_abs(flat):
    """min |g| over a 1-D array (NaN if any element is NaN); inf for an empty array."""
    best = np.inf
    for k in range(flat.shape[0]):
        v = abs(np.float64(flat[k]))
        if v != v:
            return v
        if v < best:
            best = v
    return best


@njit(cache=True, error_model="numpy")
def scale_in_place(flat, factor):
    """flat *= factor (1-D array)."""
    for k in range(flat.shape[0]):
        flat[k] = np.float64(flat[k]) * factor


@njit(cache=True, error_model="numpy")
def clamp_in_place(flat, low, high):
    """Clamp a 1-D array to [low, high] in place; NaN stays NaN."""
    for k in range(flat.shape[0]):
        v = flat[k]
        if v < low:
            flat[k] = low
        elif v > high:
            flat[k] = high

