"""Linear and Embedding modules (torch.nn's names, shapes and initialisation), explicit backward.

``Linear(in_features, out_features)``: ``y = x Wᵀ + b``, ``weight (out, in)``, ``bias (out,)``,
``x (..., in) -> y (..., out)``; ``backward(dy) -> dx`` and adds into ``grads``.
``Embedding(num_embeddings, embedding_dim)``: ``weight (V, D)``, ``ids (...) -> (..., D)``;
``backward(dout)`` adds into ``grads['weight']`` and returns None (ids have no gradient).
"""
import math

import numpy as np

from .._grad_mode import NOT_SAVED, is_grad_enabled
from .._kernels.embedding import scatter_add_rows
from .._validation import (as_compute_array, as_real_array, check_bool, check_device, check_float_dtype_arg,
                           check_int, shape_error)
from ._module import Module, _CONSUMED


class Linear(Module):
    """``y = x @ weight.T + bias``: torch.nn.Linear's interface plus ``dtype`` and ``seed``."""

    def __init__(self, in_features, out_features, bias=True, device=None, dtype=np.float32, seed=None):
        self.in_features = check_int("in_features", in_features, 1)
        self.out_features = check_int("out_features", out_features, 1)
        self.bias = check_bool("bias", bias)
        self.device = check_device(device)
        self.dtype = check_float_dtype_arg("dtype", dtype)
        rng = np.random.default_rng(seed)
        bound = 1.0 / math.sqrt(self.in_features)          # torch's init for both
        params = {"weight": rng.uniform(-bound, bound, (self.out_features, self.in_features)).astype(self.dtype)}
        if self.bias:
            params["bias"] = rng.uniform(-bound, bound, self.out_features).astype(self.dtype)
        self._names = tuple(params)
        self._init_params(params, rng)

    def __repr__(self):
        return f"Linear(in_features={self.in_features}, out_features={self.out_features}, bias={self.bias})"

    def forward(self, x):
        """x (..., in_features) -> y (..., out_features)."""
        x = as_real_array("x", x)
        if x.ndim == 0 or x.shape[-1] != self.in_features:
            raise shape_error("x", x, (("...", None), ("in_features", self.in_features)))
        x = as_compute_array(x, self.dtype)
        p = self._guard.params(self.params, self._names)
        y = x @ p[0].T
        if self.bias:
            y += p[1]
        self._ctx = (x, p[0]) if is_grad_enabled() else NOT_SAVED
        return y

    def backward(self, dy):
        """dy (..., out_features) -> dx (..., in_features); adds dW = dyᵀ x and db = Σ dy into grads."""
        x, w = self._saved()
        want = x.shape[:-1] + (self.out_features,)
        dy = as_real_array("dy", dy)
        if dy.shape != want:
            raise ValueError(f"dy: expected shape {want} (that of the forward's output), got {dy.shape}")
        dy = as_compute_array(dy, self.dtype)
        g, commit = self._guard.grads(self.grads, self.params, self._names)
        self._ctx = _CONSUMED
        rows_y, rows_x = dy.reshape(-1, self.out_features), x.reshape(-1, self.in_features)
        dw = g[0]
        dw += rows_y.T @ rows_x
        if self.bias:
            db = g[1]
            db += rows_y.sum(axis=0, dtype=np.float64).astype(self.dtype)
        commit()
        return dy @ w


class Embedding(Module):
    """``out = weight[ids]``: torch.nn.Embedding's interface (``padding_idx``: that row gets no
    gradient) plus ``dtype`` and ``seed``; the weight is drawn from N(0, 1) as torch does."""

    def __init__(self, num_embeddings, embedding_dim, padding_idx=None, device=None, dtype=np.float32, seed=None):
        self.num_embeddings = check_int("num_embeddings", num_embeddings, 1)
        self.embedding_dim = check_int("embedding_dim", embedding_dim, 1)
        V = self.num_embeddings
        if padding_idx is not None:
            padding_idx = check_int("padding_idx", padding_idx, -V)
            if padding_idx >= V:
                raise ValueError(f"padding_idx: expected an int in [-{V}, {V}), got {padding_idx}")
            padding_idx %= V
        self.padding_idx = padding_idx
        self.device = check_device(device)
        self.dtype = check_float_dtype_arg("dtype", dtype)
        rng = np.random.default_rng(seed)
        weight = rng.standard_normal((V, self.embedding_dim)).astype(self.dtype)
        if padding_idx is not None:
            weight[padding_idx] = 0
        self._names = ("weight",)
        self._init_params({"weight": weight}, rng)

    def __repr__(self):
        extra = "" if self.padding_idx is None else f", padding_idx={self.padding_idx}"
        return f"Embedding({self.num_embeddings}, {self.embedding_dim}{extra})"

    def forward(self, ids):
        """ids (...) integers in [-V, V) -> (..., embedding_dim)."""
        ids = np.asarray(ids)
        V = self.num_embeddings
        if ids.dtype.kind not in "iu":
            raise TypeError(f"ids: expected integers, got dtype {ids.dtype}")
        if ids.size and (int(ids.min()) < -V or int(ids.max()) >= V):
            bad = ids.min() if int(ids.min()) < -V else ids.max()
            raise ValueError(f"ids: expected indices in [-{V}, {V}) (num_embeddings={V}), got {bad}")
        flat = np.array(ids, dtype=np.intp).reshape(-1) % V
        (w,) = self._guard.params(self.params, self._names)
        self._ctx = (ids.shape, flat) if is_grad_enabled() else NOT_SAVED
        return w[flat].reshape(ids.shape + (self.embedding_dim,))

    def backward(self, dout):
        """dout (..., embedding_dim) like the output -> None; adds into grads['weight']."""
        shape, flat = self._saved()
        want = shape + (self.embedding_dim,)
        dout = as_real_array("dout", dout)
        if dout.shape != want:
            raise ValueError(f"dout: expected shape {want} (that of the forward's output), got {dout.shape}")
        rows = as_compute_array(dout.reshape(-1, self.embedding_dim), self.dtype)
        if self.padding_idx is not None:
            rows = np.where((flat == self.padding_idx)[:, None], 0, rows).astype(self.dtype)
        (g,), commit = self._guard.grads(self.grads, self.params, self._names)
        self._ctx = _CONSUMED
        scatter_add_rows(g, flat, np.ascontiguousarray(rows))
        commit()
        return None
