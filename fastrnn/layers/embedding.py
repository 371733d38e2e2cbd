"""Embedding and TimeEmbedding layers of the book.

``forward(idx) = W[idx]``; ``backward(dout)`` zeroes ``dW`` and scatter-adds every ``dout`` row
into the row of its index (duplicates accumulate), in place, through a compiled kernel.
Indices may be any integer dtype and any strides; negative ones count from the end, as in NumPy.
"""
import numpy as np

from .._grad_mode import NOT_SAVED, is_grad_enabled, saved
from .._kernels.embedding import scatter_add_rows
from . import _checks


def _indices(where, idx, V, ndim=None):
    """Validated integer index array (kept as given) and its flat intp copy in [0, V)."""
    idx = _checks.int_array(where, "idx", idx)
    if ndim is not None and idx.ndim != ndim:
        raise ValueError(f"{where}: idx must have shape (N, T), got {idx.shape}")
    if idx.size:
        lo, hi = idx.min(), idx.max()          # on the given dtype: uint64 beyond intp is caught here
        if int(lo) < -V or int(hi) >= V:
            bad = lo if int(lo) < -V else hi
            raise ValueError(f"{where}: idx must hold indices in [-{V}, {V}) (vocabulary of W (V={V}, D)), "
                             f"got {bad}")
    flat = np.array(idx, dtype=np.intp, order="C").reshape(-1)
    if flat.size and flat.min() < 0:
        flat[flat < 0] += V
    return idx, flat


def _scatter_grad(where, grads, shape, flat, dout):
    """grads[0][...] = 0, then grads[0][flat[k]] += dout[k] (dout (K, D)); ``shape`` is W's at the
    forward, which the indices were checked against. Raises before writing when grads[0] is not
    a writeable float array of that shape."""
    dW = grads[0] if len(grads) == 1 else None
    if not isinstance(dW, np.ndarray) or dW.dtype.kind != "f":
        raise TypeError(f"{where}: grads must be [dW], dW a float numpy.ndarray of shape {shape}, got "
                        f"{type(dW).__name__ if not isinstance(dW, np.ndarray) else dW.dtype}")
    if dW.shape != shape:
        raise ValueError(f"{where}: grads[0] must have the shape of W at the forward, {shape}, got {dW.shape}")
    if not dW.flags.writeable:
        raise ValueError(f"{where}: grads[0] must be writeable (backward writes into it), got a read-only array")
    dt = dW.dtype if dW.dtype.itemsize >= 4 else np.dtype(np.float32)
    dout = np.ascontiguousarray(dout, dtype=dt)
    if dW.dtype == dt and dW.flags.c_contiguous and dW.flags.aligned:
        dW.fill(0)
        scatter_add_rows(dW, flat, dout)
    else:
        tmp = np.zeros(dW.shape, dt)
        scatter_add_rows(tmp, flat, dout)
        dW[...] = tmp


def _weight(where, params):
    """params[0], checked: a 2-D float ndarray (it may have been replaced since the constructor)."""
    W = params[0] if len(params) == 1 else None
    if not isinstance(W, np.ndarray) or W.dtype.kind != "f" or W.ndim != 2:
        raise TypeError(f"{where}: params must be [W], W a 2-D float numpy.ndarray (V, D), got "
                        f"{type(W).__name__ if not isinstance(W, np.ndarray) else f'{W.dtype} {W.shape}'}")
    return W


class Embedding:
    """``forward(idx (any shape)) -> W[idx]`` (W's dtype); ``backward(dout (idx.shape + (D,)))`` -> None."""

    def __init__(self, W):
        _checks.param_array("Embedding", "W", W, 2)
        self.params = [W]
        self.grads = [np.zeros_like(W)]
        self.idx = None
        self._flat = None

    def forward(self, idx):
        W = _weight("Embedding.forward", self.params)
        idx, flat = _indices("Embedding.forward", idx, W.shape[0])
        self.idx, self._flat = (idx, flat) if is_grad_enabled() else (NOT_SAVED, NOT_SAVED)
        self._W_shape = W.shape
        return W[flat].reshape(idx.shape + (W.shape[1],))

    def backward(self, dout):
        if self.idx is None:
            raise RuntimeError("Embedding.backward called before forward")
        idx = saved("Embedding", self.idx)
        dout = _checks.float_array("Embedding.backward", "dout", dout)
        D = self._W_shape[1]
        expected = idx.shape + (D,)
        _checks.shape("Embedding.backward", "dout", dout, expected, ("N",) * idx.ndim + ("D",))
        _scatter_grad("Embedding.backward", self.grads, self._W_shape, self._flat, dout.reshape(-1, D))
        return None


class TimeEmbedding:
    """``forward(xs (N, T) ints) -> W[xs]`` float32 (N, T, D); ``backward(dout (N, T, D))`` -> None."""

    def __init__(self, W):
        _checks.param_array("TimeEmbedding", "W", W, 2)
        self.params = [W]
        self.grads = [np.zeros_like(W)]
        self.W = W
        self._flat = None
        self._shape = None

    def forward(self, xs):
        W = _weight("TimeEmbedding.forward", self.params)
        V, D = W.shape
        xs, flat = _indices("TimeEmbedding.forward", xs, V, ndim=2)
        N, T = xs.shape
        self._flat, self._shape = (flat, (N, T, D)) if is_grad_enabled() else (NOT_SAVED, NOT_SAVED)
        self._W_shape = W.shape
        out = W.take(flat, axis=0)
        if out.dtype != np.float32:
            out = out.astype(np.float32)
        return out.reshape(N, T, D)

    def backward(self, dout):
        if self._shape is None:
            raise RuntimeError("TimeEmbedding.backward called before forward")
        N, T, D = saved("TimeEmbedding", self._shape)
        dout = _checks.float_array("TimeEmbedding.backward", "dout", dout)
        _checks.shape("TimeEmbedding.backward", "dout", dout, (N, T, D), ("N", "T", "D"))
        _scatter_grad("TimeEmbedding.backward", self.grads, self._W_shape, self._flat, dout.reshape(N * T, D))
        return None
