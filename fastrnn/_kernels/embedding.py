"""Scatter-add kernel of the embedding backward.

``scatter_add_rows(dW, idx, dout)`` adds ``dout[k]`` into row ``idx[k]`` of ``dW`` for every
k in order, so duplicate indices accumulate (what ``np.add.at(dW, idx, dout)`` does), in
place and without allocating.
"""
from numba import njit

from .activations import FASTMATH


@njit(cache=True, error_model="numpy", fastmath=FASTMATH)
def scatter_add_rows(dW, idx, dout):
    """dW (V, D) C-contiguous, idx (K,) intp in [0, V), dout (K, D) C-contiguous: dW[idx[k]] += dout[k]."""
    D = dW.shape[1]
    for k in range(idx.shape[0]):
        row = dW[idx[k]]
        src = dout[k]
        for j in range(D):
            row[j] += src[j]
