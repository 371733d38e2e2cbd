"""Row-wise layer normalisation for the layer-normalised cells' kernels (njit helpers).

One row v of F features: mean μ, biased variance σ², rstd = 1/sqrt(σ² + EPS) and
x̂ = (v − μ)·rstd; the cell then scales x̂ by its gain γ (and shifts by β). The statistics
are accumulated in float64 whatever the row's dtype, so float32 rows get the statistics
of the float64 oracle (fastrnn/oracle/layer_norm.py) to float32 rounding.
Backward: dv = rstd·(dx̂ − mean(dx̂) − x̂·mean(dx̂ ⊙ x̂)) with dx̂ = dy ⊙ γ.
"""
import numpy as np
from numba import njit

from .activations import FASTMATH

EPS = 1e-5


@njit(cache=True, error_model="numpy", fastmath=FASTMATH)
def normalize_row(v, xhat):
    """xhat (F,) = (v − mean(v))·rstd for one row v (F,) (xhat may be v itself) -> rstd (float64)."""
    F = v.shape[0]
    total = 0.0
    for j in range(F):
        total += v[j]
    mean = total / F
    squares = 0.0
    for j in range(F):
        d = v[j] - mean
        squares += d * d
    rstd = 1.0 / np.sqrt(squares / F + EPS)
    for j in range(F):
        xhat[j] = (v[j] - mean) * rstd
    return rstd


@njit(cache=True, error_model="numpy", fastmath=FASTMATH)
def normalize_row_backward(dxhat, xhat, rstd, dv):
    """dv (F,) = rstd·(dxhat − mean(dxhat) − xhat·mean(dxhat ⊙ xhat)) for one row (dv may be dxhat or xhat)."""
    F = dxhat.shape[0]
    total = 0.0
    dot = 0.0
    for j in range(F):
        total += dxhat[j]
        dot += dxhat[j] * xhat[j]
    mean = total / F
    mean_dot = dot / F
    for j in range(F):
        dv[j] = rstd * (dxhat[j] - mean - xhat[j] * mean_dot)
