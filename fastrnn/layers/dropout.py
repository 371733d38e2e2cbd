"""Dropout layers of the book.

Both draw their mask with exactly one call to the global ``np.random.rand`` per training
forward, as the book does, so a seeded global RNG reproduces the book's masks. Under
``fastrnn.no_grad()`` a training forward still drops (as torch's does) but keeps no mask.
"""
import numpy as np

from .._grad_mode import NOT_SAVED, is_grad_enabled, saved
from . import _checks


def _ratio(where, dropout_ratio):
    r = float(dropout_ratio)
    if not 0.0 <= r < 1.0:
        raise ValueError(f"{where}: dropout_ratio must be in [0, 1), got {dropout_ratio!r}")
    return r


class Dropout:
    """Non-inverted dropout: training multiplies by ``rand > ratio``, inference by ``1 − ratio``.

    ``forward(x, train_flg=True)``; ``backward(dout) = dout·mask``.
    """

    def __init__(self, dropout_ratio=0.5):
        self.params, self.grads = [], []
        self.dropout_ratio = _ratio("Dropout", dropout_ratio)
        self.mask = None

    def forward(self, x, train_flg=True):
        x = _checks.float_array("Dropout.forward", "x", x)
        if train_flg:
            mask = np.random.rand(*x.shape) > self.dropout_ratio
            self.mask = mask if is_grad_enabled() else NOT_SAVED
            return x * mask
        if not is_grad_enabled():       # outside no_grad an inference forward keeps the last mask (the book's)
            self.mask = NOT_SAVED
        return x * (1.0 - self.dropout_ratio)

    def backward(self, dout):
        if self.mask is None:
            raise RuntimeError("Dropout.backward called before a training forward")
        mask = saved("Dropout", self.mask)
        dout = _checks.float_array("Dropout.backward", "dout", dout)
        _checks.shape("Dropout.backward", "dout", dout, mask.shape, _dims(mask.ndim))
        return dout * mask


class TimeDropout:
    """Inverted dropout (attribute ``train_flg = True``).

    Training: ``mask = (rand(*xs.shape) > ratio).astype(float32) / (1 − ratio)``, returns ``xs·mask``;
    otherwise returns ``xs`` itself. ``backward(dout) = dout·mask``.
    """

    def __init__(self, dropout_ratio=0.5):
        self.params, self.grads = [], []
        self.dropout_ratio = _ratio("TimeDropout", dropout_ratio)
        self.mask = None
        self.train_flg = True

    def forward(self, xs):
        if not self.train_flg:
            if not is_grad_enabled():   # outside no_grad an inference forward keeps the last mask (the book's)
                self.mask = NOT_SAVED
            return xs
        xs = _checks.float_array("TimeDropout.forward", "xs", xs)
        flg = np.random.rand(*xs.shape) > self.dropout_ratio
        scale = 1 / (1.0 - self.dropout_ratio)
        mask = flg.astype(np.float32)
        mask *= scale
        self.mask = mask if is_grad_enabled() else NOT_SAVED
        return xs * mask

    def backward(self, dout):
        if self.mask is None:
            raise RuntimeError("TimeDropout.backward called before a training forward")
        mask = saved("TimeDropout", self.mask)
        dout = _checks.float_array("TimeDropout.backward", "dout", dout)
        _checks.shape("TimeDropout.backward", "dout", dout, mask.shape, _dims(mask.ndim))
        return dout * mask


def _dims(ndim):
    return ("N", "T", "D")[:ndim] if ndim <= 3 else tuple(f"d{i}" for i in range(ndim))
