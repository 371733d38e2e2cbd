"""The per-step recurrent product of the kernels, blas.recurrent_add, against NumPy.

It has three paths (compiled loops for small products; one GEMM with h copied transposed
for batches up to SMALL_BATCH rows; one GEMM on h for larger ones) followed by a blocked
transposed add, and writes into a column block of a wider row in the GRU.
"""
import numpy as np
import pytest

from fastrnn._kernels import blas

# (N, H, G): loops; loops for 1-2 rows up to SMALL_ROWS_GEMM_MACS; GEMM + hᵀ copy; GEMM on h
SHAPES = [(3, 5, 20), (1, 64, 256), (2, 100, 400), (8, 40, 160), (16, 33, 99), (17, 33, 99), (32, 20, 81)]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("N,H,G", SHAPES)
@pytest.mark.parametrize("add", [True, False])
def test_recurrent_add_matches_numpy(N, H, G, dtype, add):
    rng = np.random.default_rng(N * 1000 + H + G)
    h = rng.standard_normal((N, H)).astype(dtype)
    w_rec = rng.standard_normal((G, H)).astype(dtype)
    wide = rng.standard_normal((N, G + 7)).astype(dtype)    # c is columns 3 .. 3+G of each row
    before = wide.copy()
    scratch = np.full((G + H) * N, np.nan, dtype)            # never read before it is written
    blas.recurrent_add(h, w_rec, scratch, wide[:, 3:3 + G], add)

    product = h.astype(np.float64) @ w_rec.astype(np.float64).T
    expected = before.copy()
    expected[:, 3:3 + G] = (before[:, 3:3 + G] if add else 0) + product
    tol = 1e-4 if dtype == np.float32 else 1e-11
    np.testing.assert_allclose(wide, expected, rtol=tol, atol=tol * np.sqrt(H))
    assert np.array_equal(wide[:, :3], before[:, :3]) and np.array_equal(wide[:, 3 + G:], before[:, 3 + G:])
