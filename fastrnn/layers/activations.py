"""Softmax and Sigmoid layers of the book (``common/layers.py``), and the row softmax they share."""
import numpy as np

from .._grad_mode import NOT_SAVED, is_grad_enabled, saved
from . import _checks


def softmax(x):
    """Softmax over the last axis, the row maximum subtracted first (new array, x untouched)."""
    y = x - x.max(axis=-1, keepdims=True)
    np.exp(y, out=y)
    y /= y.sum(axis=-1, keepdims=True)
    return y


def sigmoid(x):
    """``1 / (1 + exp(-x))`` as the book writes it (new array)."""
    with np.errstate(over="ignore"):
        return 1 / (1 + np.exp(-x))


class Softmax:
    """``forward(x (N, V)) -> y`` row softmax; ``backward(dout) = y·dout − y·Σ(y·dout)`` per row."""

    def __init__(self):
        self.params, self.grads = [], []
        self.out = None

    def forward(self, x):
        x = _checks.float_array("Softmax.forward", "x", x)
        if x.ndim == 0:
            raise ValueError(f"Softmax.forward: x must have at least 1 dimension, got shape {x.shape}")
        out = softmax(x)
        self.out = out if is_grad_enabled() else NOT_SAVED
        return out

    def backward(self, dout):
        if self.out is None:
            raise RuntimeError("Softmax.backward called before forward")
        out = saved("Softmax", self.out)
        dout = _checks.float_array("Softmax.backward", "dout", dout)
        _checks.shape("Softmax.backward", "dout", dout, out.shape, _letters(out.ndim))
        dx = out * dout
        sumdx = np.sum(dx, axis=-1, keepdims=True)
        dx -= out * sumdx
        return dx


class Sigmoid:
    """``forward(x) = 1 / (1 + exp(-x))``; ``backward(dout) = dout·(1 − y)·y``."""

    def __init__(self):
        self.params, self.grads = [], []
        self.out = None

    def forward(self, x):
        x = _checks.float_array("Sigmoid.forward", "x", x)
        out = sigmoid(x)
        self.out = out if is_grad_enabled() else NOT_SAVED
        return out

    def backward(self, dout):
        if self.out is None:
            raise RuntimeError("Sigmoid.backward called before forward")
        out = saved("Sigmoid", self.out)
        dout = _checks.float_array("Sigmoid.backward", "dout", dout)
        _checks.shape("Sigmoid.backward", "dout", dout, out.shape, _letters(out.ndim))
        return dout * (1.0 - out) * out


def _letters(ndim):
    return ("N", "V")[:ndim] if ndim <= 2 else tuple(f"d{i}" for i in range(ndim))
