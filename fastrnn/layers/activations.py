"""Softmax and Sigmoid layers of the book (``common/layers.py``), and the row softmax they share."""
import numpy as np

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
        self.out = softmax(x)
        return self.out

    def backward(self, dout):
        if self.out is None:
            raise RuntimeError("Softmax.backward called before forward")
        dout = _checks.float_array("Softmax.backward", "dout", dout)
        _checks.shape("Softmax.backward", "dout", dout, self.out.shape, _letters(self.out.ndim))
        dx = self.out * dout
        sumdx = np.sum(dx, axis=-1, keepdims=True)
        dx -= self.out * sumdx
        return dx


class Sigmoid:
    """``forward(x) = 1 / (1 + exp(-x))``; ``backward(dout) = dout·(1 − y)·y``."""

    def __init__(self):
        self.params, self.grads = [], []
        self.out = None

    def forward(self, x):
        x = _checks.float_array("Sigmoid.forward", "x", x)
        self.out = sigmoid(x)
        return self.out

    def backward(self, dout):
        if self.out is None:
            raise RuntimeError("Sigmoid.backward called before forward")
        dout = _checks.float_array("Sigmoid.backward", "dout", dout)
        _checks.shape("Sigmoid.backward", "dout", dout, self.out.shape, _letters(self.out.ndim))
        return dout * (1.0 - self.out) * self.out


def _letters(ndim):
    return ("N", "V")[:ndim] if ndim <= 2 else tuple(f"d{i}" for i in range(ndim))
