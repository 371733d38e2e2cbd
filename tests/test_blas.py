"""The per-step recurrent products of the kernels against NumPy.

blas.recurrent_add (forward, c += h w_recᵀ) and blas.recurrent_grad (backward,
dh = d w_rec + beta dh) each have compiled loops for small products and chunked GEMM calls
for large ones (rows of w_rec, resp. the inner dimension, split at CHUNK_MACS when OpenBLAS
runs one thread and has its small-matrix kernels, one call otherwise: all are tested,
whatever OpenBLAS this machine has); the forward
then adds the transposed product in 16-column blocks. Both also work on column blocks of
wider rows (the GRU's gate blocks).
"""
import os

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from fastrnn._kernels import blas

# (N, H, G): loops (also with G not a multiple of 4); loops for 1-2 rows; one GEMM call; several chunks (with a short last one);
# a batch too large to chunk; widths that are not a multiple of the 16-column add blocks
SHAPES = [(3, 5, 20), (2, 7, 23), (1, 64, 256), (2, 100, 400), (8, 40, 160), (16, 33, 99), (20, 130, 777),
          (200, 130, 260), (32, 20, 81)]
TOLERANCE = {np.float32: 1e-4, np.float64: 1e-11}


def _inputs(N, H, G, dtype):
    rng = np.random.default_rng(N * 1000 + H + G)
    return rng, rng.standard_normal((N, H)).astype(dtype), rng.standard_normal((G, H)).astype(dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("N,H,G", SHAPES)
@pytest.mark.parametrize("add", [True, False])
@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("small_kernels", [True, False])
def test_recurrent_add_matches_numpy(N, H, G, dtype, add, threads, small_kernels):
    rng, h, w_rec = _inputs(N, H, G, dtype)
    wide = rng.standard_normal((N, G + 7)).astype(dtype)    # c is columns 3 .. 3+G of each row
    before = wide.copy()
    scratch = np.full((G + H) * N, np.nan, dtype)            # never read before it is written
    with threadpool_limits(limits=threads, user_api="blas"):
        blas.recurrent_add(h, w_rec, scratch, wide[:, 3:3 + G], add, small_kernels)

    product = h.astype(np.float64) @ w_rec.astype(np.float64).T
    expected = before.copy()
    expected[:, 3:3 + G] = (before[:, 3:3 + G] if add else 0) + product
    tol = TOLERANCE[dtype]
    np.testing.assert_allclose(wide, expected, rtol=tol, atol=tol * np.sqrt(H))
    assert np.array_equal(wide[:, :3], before[:, :3]) and np.array_equal(wide[:, 3 + G:], before[:, 3 + G:])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("N,H,G", SHAPES)
@pytest.mark.parametrize("beta", [0.0, 1.0])
@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("small_kernels", [True, False])
def test_recurrent_grad_matches_numpy(N, H, G, dtype, beta, threads, small_kernels):
    rng, _, w_rec = _inputs(N, H, G, dtype)
    wide = rng.standard_normal((N, G + 5)).astype(dtype)    # d is columns 2 .. 2+G of each row
    wide_before = wide.copy()
    dh = rng.standard_normal((N, H)).astype(dtype)
    dh_before = dh.copy()
    with threadpool_limits(limits=threads, user_api="blas"):
        blas.recurrent_grad(wide[:, 2:2 + G], w_rec, beta, dh, small_kernels)

    expected = wide[:, 2:2 + G].astype(np.float64) @ w_rec.astype(np.float64) + beta * dh_before
    tol = TOLERANCE[dtype]
    np.testing.assert_allclose(dh, expected, rtol=tol, atol=tol * np.sqrt(G))
    assert np.array_equal(wide, wide_before)                 # the operand is read only


def _has_thread_pool():
    from threadpoolctl import threadpool_info
    return any(p.get("filepath") == blas.BLAS_LIBRARY for p in threadpool_info())


@pytest.mark.skipif(not _has_thread_pool(), reason="this BLAS has no thread pool (e.g. reference BLAS): one thread")
@pytest.mark.parametrize("threads", [1, 2])
def test_blas_thread_count_is_read_live(threads):
    """Compiled code sees OpenBLAS's thread count as threadpoolctl sets it, call by call."""
    with threadpool_limits(limits=threads, user_api="blas"):
        assert blas.blas_thread_count() == min(threads, os.cpu_count())


def test_core_name_decides_the_strategy():
    """SMALL_KERNELS follows the OpenBLAS core name (AVX-512 cores with small-matrix kernels)."""
    assert isinstance(blas.BLAS_CORE, str) and blas.BLAS_CORE
    assert blas.SMALL_KERNELS == (blas.BLAS_CORE.lower() in ("skylakex", "cooperlake", "sapphirerapids"))
