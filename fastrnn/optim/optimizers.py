"""The book's optimizers (``common/optimizer.py``), updating ``params[i]`` in place.

Every optimizer has ``update(params, grads)``: two equally long lists of arrays, the
same shape position by position. Per-parameter state (velocities, moments) is
allocated on the first call with ``zeros_like(param)`` and kept by list position,
so the lists must keep their order and shapes across calls (a mismatch raises
``ValueError`` before anything is modified). The arithmetic is done with in-place
NumPy ufuncs into one scratch buffer per parameter, so an update allocates nothing.
"""
import numbers

import numpy as np

__all__ = ["SGD", "Momentum", "Nesterov", "AdaGrad", "RMSprop", "Adam"]


def _check_hyper(name, value, low=0.0, high=None, high_open=False):
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name}: expected a real number, got {type(value).__name__}")
    value = float(value)
    if not value >= low or (high is not None and (value >= high if high_open else value > high)):
        upper = "" if high is None else (f" and < {high}" if high_open else f" and <= {high}")
        raise ValueError(f"{name}: expected a number >= {low}{upper}, got {value!r}")
    return value


class _Optimizer:
    """Shared bookkeeping: argument checks and per-position state."""

    _state_names = ()

    def __init__(self):
        self._shapes = None
        self._scratch = None
        for name in self._state_names:
            setattr(self, name, None)

    def _prepare(self, params, grads):
        """Check the lists; allocate state on the first call."""
        params, grads = list(params), list(grads)
        if len(params) != len(grads):
            raise ValueError(f"grads: expected {len(params)} arrays (one per parameter), got {len(grads)}")
        for i, (p, g) in enumerate(zip(params, grads)):
            if not isinstance(p, np.ndarray) or not isinstance(g, np.ndarray):
                raise TypeError(f"params[{i}]/grads[{i}]: expected numpy arrays, got "
                                f"{type(p).__name__}/{type(g).__name__}")
            if p.shape != g.shape:
                raise ValueError(f"grads[{i}]: expected shape {p.shape} (that of params[{i}]), got {g.shape}")
            if p.dtype.kind != "f":
                raise TypeError(f"params[{i}]: expected a float array, got dtype {p.dtype}")
            if g.dtype.kind not in "fiu":
                raise TypeError(f"grads[{i}]: expected a float array, got dtype {g.dtype}")
            if not p.flags.writeable:
                raise ValueError(f"params[{i}]: expected a writeable array (updated in place), got a read-only one")
        shapes = [p.shape for p in params]
        if self._shapes is None:
            self._shapes = shapes
            for name in self._state_names:
                setattr(self, name, [np.zeros_like(p) for p in params])
            self._scratch = [np.empty_like(p) for p in params]
        elif shapes != self._shapes:
            raise ValueError(f"params: expected the same list as in the first update (shapes {self._shapes}), "
                             f"got shapes {shapes}")
        return params, grads

    def update(self, params, grads):
        """Update every ``params[i]`` in place from ``grads[i]`` (lists of equal length)."""
        raise NotImplementedError


class SGD(_Optimizer):
    """``param -= lr * grad``."""

    def __init__(self, lr=0.01):
        super().__init__()
        self.lr = _check_hyper("lr", lr)

    def update(self, params, grads):
        params, grads = self._prepare(params, grads)
        lr = self.lr
        for p, g, tmp in zip(params, grads, self._scratch):
            np.multiply(g, lr, out=tmp)
            p -= tmp


class Momentum(_Optimizer):
    """``v = momentum * v - lr * grad``; ``param += v``."""

    _state_names = ("v",)

    def __init__(self, lr=0.01, momentum=0.9):
        super().__init__()
        self.lr = _check_hyper("lr", lr)
        self.momentum = _check_hyper("momentum", momentum)

    def update(self, params, grads):
        params, grads = self._prepare(params, grads)
        lr, mom = self.lr, self.momentum
        for p, g, v, tmp in zip(params, grads, self.v, self._scratch):
            v *= mom
            np.multiply(g, lr, out=tmp)
            v -= tmp
            p += v


class Nesterov(_Optimizer):
    """Nesterov's accelerated gradient in the book's form (Bengio et al., 2012)::

        v = momentum * v - lr * grad
        param += momentum**2 * v - (1 + momentum) * lr * grad
    """

    _state_names = ("v",)

    def __init__(self, lr=0.01, momentum=0.9):
        super().__init__()
        self.lr = _check_hyper("lr", lr)
        self.momentum = _check_hyper("momentum", momentum)

    def update(self, params, grads):
        params, grads = self._prepare(params, grads)
        lr, mom = self.lr, self.momentum
        for p, g, v, tmp in zip(params, grads, self.v, self._scratch):
            v *= mom
            np.multiply(g, lr, out=tmp)
            v -= tmp
            np.multiply(v, mom * mom, out=tmp)
            p += tmp
            np.multiply(g, (1 + mom) * lr, out=tmp)
            p -= tmp


def _divide_by_root(g, h, lr, tmp):
    """tmp = lr * g / (sqrt(h) + 1e-7)."""
    np.sqrt(h, out=tmp)
    tmp += 1e-7
    np.divide(g, tmp, out=tmp)
    tmp *= lr
    return tmp


class AdaGrad(_Optimizer):
    """``h += grad**2``; ``param -= lr * grad / (sqrt(h) + 1e-7)``."""

    _state_names = ("h",)

    def __init__(self, lr=0.01):
        super().__init__()
        self.lr = _check_hyper("lr", lr)

    def update(self, params, grads):
        params, grads = self._prepare(params, grads)
        lr = self.lr
        for p, g, h, tmp in zip(params, grads, self.h, self._scratch):
            np.multiply(g, g, out=tmp)
            h += tmp
            p -= _divide_by_root(g, h, lr, tmp)


class RMSprop(_Optimizer):
    """``h = decay_rate * h + (1 - decay_rate) * grad**2``; ``param -= lr * grad / (sqrt(h) + 1e-7)``."""

    _state_names = ("h",)

    def __init__(self, lr=0.01, decay_rate=0.99):
        super().__init__()
        self.lr = _check_hyper("lr", lr)
        self.decay_rate = _check_hyper("decay_rate", decay_rate, 0.0, 1.0)

    def update(self, params, grads):
        params, grads = self._prepare(params, grads)
        lr, rho = self.lr, self.decay_rate
        for p, g, h, tmp in zip(params, grads, self.h, self._scratch):
            h *= rho
            np.multiply(g, g, out=tmp)
            tmp *= 1.0 - rho
            h += tmp
            p -= _divide_by_root(g, h, lr, tmp)


class Adam(_Optimizer):
    """Adam (Kingma & Ba, 2014) in the book's form, the bias correction folded into the step::

        iter += 1
        lr_t = lr * sqrt(1 - beta2**iter) / (1 - beta1**iter)
        m += (1 - beta1) * (grad - m)
        v += (1 - beta2) * (grad**2 - v)
        param -= lr_t * m / (sqrt(v) + 1e-7)
    """

    _state_names = ("m", "v")

    def __init__(self, lr=0.001, beta1=0.9, beta2=0.999):
        super().__init__()
        self.lr = _check_hyper("lr", lr)
        self.beta1 = _check_hyper("beta1", beta1, 0.0, 1.0, high_open=True)
        self.beta2 = _check_hyper("beta2", beta2, 0.0, 1.0, high_open=True)
        self.iter = 0

    def update(self, params, grads):
        params, grads = self._prepare(params, grads)
        self.iter += 1
        b1, b2 = self.beta1, self.beta2
        lr_t = self.lr * (1.0 - b2 ** self.iter) ** 0.5 / (1.0 - b1 ** self.iter)
        for p, g, m, v, tmp in zip(params, grads, self.m, self.v, self._scratch):
            np.subtract(g, m, out=tmp)
            tmp *= 1.0 - b1
            m += tmp
            np.multiply(g, g, out=tmp)
            tmp -= v
            tmp *= 1.0 - b2
            v += tmp
            p -= _divide_by_root(m, v, lr_t, tmp)
