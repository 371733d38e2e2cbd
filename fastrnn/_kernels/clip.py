"""Gradient clipping passes: one fused norm over many arrays, then an in-place scale.

No fastmath here: the total must see NaN/Inf exactly as IEEE says (fastmath's
``nnan``/``ninf`` would let the compiler assume they never occur). Sums are
accumulated in float64 whatever the arrays' dtype.
"""
from numba import njit


@njit(cache=True, error_model="numpy")
def sum_of_powers(flat, norm_type):
    """Σ |g|^p over a 1-D array, in float64 (p = 2 takes the fast path)."""
    total = 0.0
    if norm_type == 2.0:
        for k in range(flat.shape[0]):
            v = float(flat[k])
            total += v * v
    elif norm_type == 1.0:
        for k in range(flat.shape[0]):
            total += abs(float(flat[k]))
    else:
        for k in range(flat.shape[0]):
            total += abs(float(flat[k])) ** norm_type
    return total


@njit(cache=True, error_model="numpy")
def max_abs(flat):
    """max |g| over a 1-D array (NaN if any element is NaN); 0 for an empty array."""
    best = 0.0
    for k in range(flat.shape[0]):
        v = abs(float(flat[k]))
        if v != v:
            return v
        if v > best:
            best = v
    return best


@njit(cache=True, error_model="numpy")
def scale_in_place(flat, factor):
    """flat *= factor (1-D array)."""
    for k in range(flat.shape[0]):
        flat[k] = flat[k] * factor


@njit(cache=True, error_model="numpy")
def clamp_in_place(flat, low, high):
    """Clamp a 1-D array to [low, high] in place; NaN stays NaN."""
    for k in range(flat.shape[0]):
        v = flat[k]
        if v < low:
            flat[k] = low
        elif v > high:
            flat[k] = high

