"""Gradient clipping, as torch.nn.utils.clip_grad_norm_ / clip_grad_value_ define it."""
import numpy as np


def clip_grad_norm_(grads, max_norm, norm_type=2.0, error_if_nonfinite=False):
    """Scale every array in ``grads`` in place by min(1, max_norm / (total + 1e-6)); return total norm."""
    grads = list(grads)
    norm_type = float(norm_type)
    if not grads:
        return 0.0
    if norm_type == np.inf:
        total = max(float(np.max(np.abs(g))) if g.size else 0.0 for g in grads)
    elif norm_type == -np.inf:
        total = min(float(np.min(np.abs(g))) if g.size else np.inf for g in grads)
    else:
        total = float(sum(np.sum(np.abs(g.astype(np.float64)) ** norm_type) for g in grads) ** (1.0 / norm_type))
    if error_if_nonfinite and not np.isfinite(total):
        raise FloatingPointError(f"the total norm of order {norm_type} of the gradients is non-finite")
    coef = max_norm / (total + 1e-6)
    if coef < 1:
        for g in grads:
            g *= coef
    return total


def clip_grad_value_(grads, clip_value):
    """Clamp every array in ``grads`` in place to [-clip_value, clip_value]."""
    for g in grads:
        np.clip(g, -clip_value, clip_value, out=g)
