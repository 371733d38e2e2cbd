"""Layer normalisation of each row (Ba, Kiros and Hinton, 2016), as the layer-normalised cells use it.

    LN(v; γ, β) = γ ⊙ (v − mean(v)) / sqrt(var(v) + eps) + β        over the F features of each row

``var`` is the biased variance (mean of squared deviations), eps = 1e-5 (torch's
``layer_norm`` default); ``β`` None means no shift.
"""
import numpy as np

EPS = 1e-5


def layer_norm_forward(v, gamma, beta=None, eps=EPS):
    """v (N, F), gamma (F,), beta (F,) or None -> y (N, F), cache."""
    mean = v.mean(axis=1, keepdims=True)
    rstd = 1.0 / np.sqrt(((v - mean) ** 2).mean(axis=1, keepdims=True) + eps)
    xhat = (v - mean) * rstd
    y = gamma * xhat + (0 if beta is None else beta)
    return y, dict(xhat=xhat, rstd=rstd, gamma=gamma, has_beta=beta is not None)


def layer_norm_backward(dy, cache):
    """dy (N, F) -> dv (N, F), dgamma (F,), dbeta (F,) (None without beta)."""
    xhat, rstd = cache["xhat"], cache["rstd"]
    dxhat = dy * cache["gamma"]
    dv = rstd * (dxhat - dxhat.mean(axis=1, keepdims=True) - xhat * (dxhat * xhat).mean(axis=1, keepdims=True))
    return dv, (dy * xhat).sum(axis=0), (dy.sum(axis=0) if cache["has_beta"] else None)
