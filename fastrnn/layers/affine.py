"""MatMul, Affine and TimeAffine layers of the book (weights read from ``params`` at every call)."""
import numpy as np

from .._grad_mode import NOT_SAVED, is_grad_enabled, saved
from . import _checks


def _dot_into(grad, a, b):
    """``grad[...] = a·b``, computed straight into ``grad`` when BLAS can write there."""
    dtype = np.result_type(a, b)
    if grad.dtype == dtype:
        if grad.flags.c_contiguous:
            np.dot(a, b, out=grad)
            return
        if grad.flags.f_contiguous:                 # e.g. the grad of a tied weight embed_W.T
            np.dot(b.T, a.T, out=grad.T)
            return
    grad[...] = np.dot(a, b)


def _sum_into(grad, dout):
    """``grad[...] = Σ_rows dout``."""
    if grad.dtype == dout.dtype:
        np.sum(dout, axis=0, out=grad)
    else:
        grad[...] = np.sum(dout, axis=0)


def _input(where, x, W, ndim, letters):
    x = _checks.float_array(where, "x", x)
    expected = (None,) * (ndim - 1) + (W.shape[0],)
    _checks.shape(where, "x", x, expected, letters)
    return x


def _dout(where, dout, shape, letters):
    dout = _checks.float_array(where, "dout", dout)
    _checks.shape(where, "dout", dout, shape, letters)
    return dout


class MatMul:
    """``forward(x (N, D)) = x·W`` with ``W (D, M)``; ``backward(dout) -> dx``, ``dW = xᵀ·dout``."""

    def __init__(self, W):
        _checks.param_array("MatMul", "W", W, 2)
        self.params = [W]
        self.grads = [np.zeros_like(W)]
        self.x = None

    def forward(self, x):
        W, = _checks.params_for("MatMul.forward", self.params, (2,))
        x = _input("MatMul.forward", x, W, 2, ("N", "D"))
        self.x, self._shapes = x if is_grad_enabled() else NOT_SAVED, (W.shape,)
        return np.dot(x, W)

    def backward(self, dout):
        if self.x is None:
            raise RuntimeError("MatMul.backward called before forward")
        x = saved("MatMul", self.x)
        W, = _unchanged("MatMul.backward", self.params, self._shapes, (2,))
        _checks.grads_for("MatMul.backward", self.grads, self._shapes)
        dout = _dout("MatMul.backward", dout, (x.shape[0], W.shape[1]), ("N", "M"))
        dx = np.dot(dout, W.T)
        _dot_into(self.grads[0], x.T, dout)
        return dx


class Affine:
    """``forward(x (N, D)) = x·W + b`` with ``W (D, M)``, ``b (M,)``; ``backward(dout) -> dx``."""

    def __init__(self, W, b):
        _checks.param_array("Affine", "W", W, 2)
        _checks.param_array("Affine", "b", b, 1)
        _checks.shape("Affine", "b", b, (W.shape[1],), ("M",))
        self.params = [W, b]
        self.grads = [np.zeros_like(W), np.zeros_like(b)]
        self.x = None

    def forward(self, x):
        W, b = _weights("Affine.forward", self.params)
        x = _input("Affine.forward", x, W, 2, ("N", "D"))
        self.x, self._shapes = x if is_grad_enabled() else NOT_SAVED, (W.shape, b.shape)
        return _add_bias(np.dot(x, W), b)

    def backward(self, dout):
        if self.x is None:
            raise RuntimeError("Affine.backward called before forward")
        x = saved("Affine", self.x)
        W, b = _unchanged("Affine.backward", self.params, self._shapes, (2, 1))
        _checks.grads_for("Affine.backward", self.grads, self._shapes)
        dout = _dout("Affine.backward", dout, (x.shape[0], W.shape[1]), ("N", "M"))
        dx = np.dot(dout, W.T)
        _dot_into(self.grads[0], x.T, dout)
        _sum_into(self.grads[1], dout)
        return dx


class TimeAffine:
    """``forward(x (N, T, D)) = (x.reshape(N·T, D)·W + b).reshape(N, T, M)``; ``backward(dout) -> dx``.

    ``W (D, M)`` may be a Fortran-ordered view such as a tied ``embed_W.T``.
    """

    def __init__(self, W, b):
        _checks.param_array("TimeAffine", "W", W, 2)
        _checks.param_array("TimeAffine", "b", b, 1)
        _checks.shape("TimeAffine", "b", b, (W.shape[1],), ("M",))
        self.params = [W, b]
        self.grads = [np.zeros_like(W), np.zeros_like(b)]
        self.x = None
        self._rx = None

    def forward(self, x):
        W, b = _weights("TimeAffine.forward", self.params)
        x = _input("TimeAffine.forward", x, W, 3, ("N", "T", "D"))
        N, T, D = x.shape
        rx = x.reshape(N * T, D)
        out = _add_bias(np.dot(rx, W), b).reshape(N, T, -1)
        if not is_grad_enabled():
            x = rx = NOT_SAVED
        self.x, self._rx, self._shapes = x, rx, (W.shape, b.shape)
        return out

    def backward(self, dout):
        if self.x is None:
            raise RuntimeError("TimeAffine.backward called before forward")
        x = saved("TimeAffine", self.x)
        W, b = _unchanged("TimeAffine.backward", self.params, self._shapes, (2, 1))
        _checks.grads_for("TimeAffine.backward", self.grads, self._shapes)
        N, T, D = x.shape
        dout = _dout("TimeAffine.backward", dout, (N, T, W.shape[1]), ("N", "T", "M"))
        dout = dout.reshape(N * T, -1)
        _sum_into(self.grads[1], dout)
        _dot_into(self.grads[0], self._rx.T, dout)
        return np.dot(dout, W.T).reshape(N, T, D)


def _weights(where, params):
    """params [W (D, M), b (M,)], checked at every call (the lists are the user's)."""
    W, b = _checks.params_for(where, params, (2, 1))
    if b.shape != (W.shape[1],):
        raise ValueError(f"{where}: params[1] (b) must have shape (M={W.shape[1]},), got {b.shape}")
    return W, b


def _unchanged(where, params, shapes, ndims):
    """The params at a backward: as checked at the forward, with the same shapes."""
    params = _checks.params_for(where, params, ndims)
    now = tuple(p.shape for p in params)
    if now != shapes:
        raise ValueError(f"{where}: params changed from shapes {shapes} to {now} since the forward; "
                         "run the forward again")
    return params


def _add_bias(out, b):
    """``out + b``, in place when the dtype allows (out is a fresh product)."""
    if np.result_type(out, b) == out.dtype:
        out += b
        return out
    return out + b
