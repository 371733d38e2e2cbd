"""Helpers shared by the oracle cells: bias handling and gradient bookkeeping."""
import numpy as np


def bias_or_zero(b, size, dtype):
    return np.zeros(size, dtype) if b is None else b


def weight_grads(x, h_prev, dpre_x, dpre_h, has_bias):
    """Gradients of one step's affine maps ``x w_ihᵀ + b_ih`` and ``h w_hhᵀ + b_hh``.

    dpre_x, dpre_h: (N, G*H) gradients of the two pre-activations.
    """
    dw_ih = dpre_x.T @ x
    dw_hh = dpre_h.T @ h_prev
    if not has_bias:
        return dw_ih, dw_hh, None, None
    return dw_ih, dw_hh, dpre_x.sum(axis=0), dpre_h.sum(axis=0)


def add_grads(total, step):
    if total is None:
        return list(step)
    return [None if t is None else t + s for t, s in zip(total, step)]
