"""Embedding and TimeEmbedding layers of the book.

``forward(idx) = W[idx]``; ``backward(dout)`` zeroes ``dW`` and scatter-adds every ``dout`` row
into the row of its index (duplicates accumulate), in place, through a compiled kernel.
Indices may be any integer dtype and any strides; negative ones count from the end, as in NumPy.
"""
import numpy as np

from .._kernels.embedding import scatter_add_rows
from . import _checks


def _indices(where, idx, V, ndim=None):
    """Validated integer index array (kept as given) and its flat intp copy in [0, V)."""
    idx = _checks.int_array(where, "idx", idx)
    if ndim is not None and idx.ndim != ndim:
        raise ValueError(f"{where}: idx must have shape (N, T), got {idx.shape}")
    flat = np.array(idx, dtype=np.intp, order="C").reshape(-1)
    if flat.size:
        lo, hi = flat.min(), flat.max()
        if lo < -V or hi >= V:
            bad = lo if lo < -V else hi
            raise ValueError(f"{where}: idx must hold indices in [-{V}, {V}) (vocabulary of W (V={V}, D)), "
                             f"got {bad}")
        if lo < 0:
            flat[flat < 0] += V
    return idx, flat


def _scatter_grad(dW, flat, dout):
    """dW[...] = 0, then dW[flat[k]] += dout[k] (dout (K, D))."""
    dt = dW.dtype if dW.dtype.kind == "f" and dW.dtype.itemsize >= 4 else np.dtype(np.float32)
    dout = np.ascontiguousarray(dout, dtype=dt)
    if dW.dtype == dt and dW.flags.c_contiguous:
        dW.fill(0)
        scatter_add_rows(dW, flat, dout)
    else:
        tmp = np.zeros(dW.shape, dt)
        scatter_add_rows(tmp, flat, dout)
        dW[...] = tmp


class Embedding:
    """``forward(idx (any shape)) -> W[idx]`` (W's dtype); ``backward(dout (idx.shape + (D,)))`` -> None."""

    def __init__(self, W):
        _checks.param_array("Embedding", "W", W, 2)
        self.params = [W]
        self.grads = [np.zeros_like(W)]
        self.idx = None
        self._flat = None

    def forward(self, idx):
        W, = self.params
        self.idx, self._flat = _indices("Embedding.forward", idx, W.shape[0])
        return W[self._flat].reshape(self.idx.shape + (W.shape[1],))

    def backward(self, dout):
        if self.idx is None:
            raise RuntimeError("Embedding.backward called before forward")
        dW, = self.grads
        dout = _checks.float_array("Embedding.backward", "dout", dout)
        D = dW.shape[1]
        expected = self.idx.shape + (D,)
        _checks.shape("Embedding.backward", "dout", dout, expected, ("N",) * self.idx.ndim + ("D",))
        _scatter_grad(dW, self._flat, dout.reshape(-1, D))
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
        W, = self.params
        V, D = W.shape
        xs, self._flat = _indices("TimeEmbedding.forward", xs, V, ndim=2)
        N, T = xs.shape
        self._shape = (N, T, D)
        out = W.take(self._flat, axis=0)
        if out.dtype != np.float32:
            out = out.astype(np.float32)
        return out.reshape(N, T, D)

    def backward(self, dout):
        if self._shape is None:
            raise RuntimeError("TimeEmbedding.backward called before forward")
        N, T, D = self._shape
        dout = _checks.float_array("TimeEmbedding.backward", "dout", dout)
        _checks.shape("TimeEmbedding.backward", "dout", dout, (N, T, D), ("N", "T", "D"))
        _scatter_grad(self.grads[0], self._flat, dout.reshape(N * T, D))
        return None
