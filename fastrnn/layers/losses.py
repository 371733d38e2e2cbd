"""Loss layers of the book: SoftmaxWithLoss, SigmoidWithLoss and their time versions.

Cross-entropies follow the book: the 2-D and sigmoid losses use ``log(y + 1e-7)``,
``TimeSoftmaxWithLoss`` uses ``log(y)`` and masks labels equal to ``ignore_label``.
Backward never modifies what forward cached, so it may be called again.
"""
import numpy as np

from .._grad_mode import NOT_SAVED, is_grad_enabled, saved
from . import _checks
from .activations import softmax, sigmoid

_EPS = 1e-7


def _labels(where, t, y_shape):
    """Labels (shape y_shape[:-1]) or one-hot (shape y_shape) -> integer labels."""
    t = np.asarray(t)
    if t.shape == y_shape:
        return t.argmax(axis=-1)
    t = _checks.int_array(where, "t", t)
    if t.shape != y_shape[:-1]:
        raise ValueError(f"{where}: t must have shape {y_shape[:-1]} (labels) or {y_shape} (one-hot), "
                         f"got {t.shape}")
    return t


def _check_range(where, name, t, V, mask=None):
    sel = t if mask is None else t[mask]
    if sel.size and (sel.min() < 0 or sel.max() >= V):
        bad = sel[(sel < 0) | (sel >= V)][0]
        raise ValueError(f"{where}: {name} must hold labels in [0, {V}), got {bad}")


def _binary_cross_entropy(y, t):
    """Σ −[t·log(y + 1e-7) + (1 − t)·log(1 − y + 1e-7)] (the book's formula, summed)."""
    return -np.sum(t * np.log(y + _EPS) + (1 - t) * np.log(1 - y + _EPS))


class SoftmaxWithLoss:
    """``forward(x (N, V), t (N,) labels or (N, V) one-hot) -> loss`` (mean over N, ``log(y + 1e-7)``).

    ``backward(dout=1) -> (y − onehot(t))·dout / N``.
    """

    def __init__(self):
        self.params, self.grads = [], []
        self.y = None
        self.t = None

    def forward(self, x, t):
        where = "SoftmaxWithLoss.forward"
        x = _checks.float_array(where, "x", x)
        if x.ndim != 2:
            raise ValueError(f"{where}: x must have shape (N, V), got {x.shape}")
        t = _labels(where, t, x.shape)
        _check_range(where, "t", t, x.shape[1])
        y = softmax(x)
        self.y, self.t = (y, t) if is_grad_enabled() else (NOT_SAVED, NOT_SAVED)
        N = x.shape[0]
        return -np.sum(np.log(y[np.arange(N), t] + _EPS)) / N

    def backward(self, dout=1):
        if self.y is None:
            raise RuntimeError("SoftmaxWithLoss.backward called before forward")
        y = saved("SoftmaxWithLoss", self.y)
        N = self.t.shape[0]
        dx = y.copy()
        dx[np.arange(N), self.t] -= 1
        dx *= dout
        dx = dx / N
        return dx


class SigmoidWithLoss:
    """``forward(x (N,), t (N,) 0/1) -> loss`` binary cross-entropy, mean over N.

    ``backward(dout=1) -> (y − t)·dout / N``.
    """

    def __init__(self):
        self.params, self.grads = [], []
        self.loss = None
        self.y = None
        self.t = None

    def forward(self, x, t):
        where = "SigmoidWithLoss.forward"
        x = _checks.float_array(where, "x", x)
        t = np.asarray(t)
        if x.ndim == 0:
            raise ValueError(f"{where}: x must have shape (N,), got {x.shape}")
        if t.shape != x.shape:
            raise ValueError(f"{where}: t must have the shape of x {x.shape}, got {t.shape}")
        y = sigmoid(x)
        self.y, self.t = (y, t) if is_grad_enabled() else (NOT_SAVED, NOT_SAVED)
        self.loss = _binary_cross_entropy(y, t) / t.shape[0]
        return self.loss

    def backward(self, dout=1):
        if self.y is None:
            raise RuntimeError("SigmoidWithLoss.backward called before forward")
        y = saved("SigmoidWithLoss", self.y)
        return (y - self.t) * dout / self.t.shape[0]


class TimeSoftmaxWithLoss:
    """``forward(xs (N, T, V), ts (N, T) labels or (N, T, V) one-hot) -> loss``.

    ``loss = −Σ mask·log(softmax(xs)[ts]) / Σ mask`` with ``mask = ts != ignore_label``;
    ``backward(dout=1) -> (ys − onehot(ts))·dout / Σ mask`` (N, T, V), masked rows zero. When
    every label is ignored the loss is 0 and the gradient 0.
    """

    def __init__(self):
        self.params, self.grads = [], []
        self.cache = None
        self.ignore_label = -1

    def check_targets(self, ts, shape):
        """The checks of :meth:`forward` on ``ts`` for scores of ``shape`` (N, T, V), nothing
        kept (a model runs them before its layers) -> (labels (N*T,), the mask of the kept ones,
        True when every one is kept)."""
        where = "TimeSoftmaxWithLoss.forward"
        N, T, V = shape
        ts = np.asarray(ts)
        if ts.ndim == 3:
            if ts.shape != tuple(shape):
                raise ValueError(f"{where}: one-hot ts must have the shape of xs {tuple(shape)}, got {ts.shape}")
            ts = ts.argmax(axis=2)
        else:
            ts = _checks.int_array(where, "ts", ts)
            _checks.shape(where, "ts", ts, (N, T), ("N", "T"))
        ts = ts.reshape(N * T)
        mask = ts != self.ignore_label
        all_kept = bool(mask.all())
        _check_range(where, "ts", ts, V, None if all_kept else mask)
        return ts, mask, all_kept

    def forward(self, xs, ts):
        where = "TimeSoftmaxWithLoss.forward"
        xs = _checks.float_array(where, "xs", xs)
        if xs.ndim != 3:
            raise ValueError(f"{where}: xs must have shape (N, T, V), got {xs.shape}")
        N, T, V = xs.shape
        ts, mask, all_kept = self.check_targets(ts, xs.shape)
        if not all_kept:
            ts = np.where(mask, ts, 0)
        rows = np.arange(N * T)

        ys = softmax(xs.reshape(N * T, V))
        ls = np.log(ys[rows, ts])
        if not all_kept:
            ls[~mask] = 0
        n_kept = np.maximum(mask.sum(), 1)          # every label ignored: loss 0, gradient 0 (not 0/0)
        with np.errstate(invalid="ignore", divide="ignore"):
            loss = -np.sum(ls) / n_kept
        self.cache = (ts, ys, mask, all_kept, n_kept, (N, T, V)) if is_grad_enabled() else NOT_SAVED
        return loss

    def backward(self, dout=1):
        if self.cache is None:
            raise RuntimeError("TimeSoftmaxWithLoss.backward called before forward")
        ts, ys, mask, all_kept, n_kept, (N, T, V) = saved("TimeSoftmaxWithLoss", self.cache)
        # The book's ((ys − onehot)·dout / n)·mask, in one pass over ys (which stays intact):
        # the one-hot entries are redone from ys with the same operations.
        rows = np.arange(N * T)
        n = ys.dtype.type(n_kept)
        unit = np.isscalar(dout) and dout == 1
        with np.errstate(invalid="ignore", divide="ignore"):
            if unit:
                dx = ys / n
                dx[rows, ts] = (ys[rows, ts] - 1) / n
            else:
                dx = ys * dout
                dx /= n
                dx[rows, ts] = (ys[rows, ts] - 1) * dout / n
        if not all_kept:
            dx[~mask] *= 0
        return dx.reshape(N, T, V)


class TimeSigmoidWithLoss:
    """``forward(xs (N, T), ts (N, T) 0/1) -> loss``: the per-step binary cross-entropy
    (mean over N, ``log(y + 1e-7)``) averaged over T. ``backward(dout=1) -> (y − t)·dout / (T·N)`` float32.
    """

    def __init__(self):
        self.params, self.grads = [], []
        self.xs_shape = None
        self.cache = None

    def forward(self, xs, ts):
        where = "TimeSigmoidWithLoss.forward"
        xs = _checks.float_array(where, "xs", xs)
        if xs.ndim != 2:
            raise ValueError(f"{where}: xs must have shape (N, T), got {xs.shape}")
        ts = np.asarray(ts)
        _checks.shape(where, "ts", ts, xs.shape, ("N", "T"))
        N, T = xs.shape
        self.xs_shape = xs.shape
        y = sigmoid(xs)
        self.cache = (y, ts) if is_grad_enabled() else NOT_SAVED
        return _binary_cross_entropy(y, ts) / N / T

    def backward(self, dout=1):
        if self.cache is None:
            raise RuntimeError("TimeSigmoidWithLoss.backward called before forward")
        y, ts = saved("TimeSigmoidWithLoss", self.cache)
        N, T = self.xs_shape
        dxs = np.empty(self.xs_shape, dtype=np.float32)
        dxs[...] = (y - ts) * (dout * (1 / T)) / N
        return dxs
