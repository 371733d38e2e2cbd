"""The panel kernels of the per-step products (fastrnn/_kernels/panels.py) against NumPy.

Random shapes around the kernel's blocks (rows in blocks of ROWS, columns in panels of W),
both dtypes, operands that are column blocks of wider rows (as the kernels pass the gate
blocks), adding into c or overwriting it; the packing of both orientations; and when the
time loops use panels at all.
"""
import numpy as np
import pytest
from hypothesis import given, strategies as st

from fastrnn._kernels import panels

dtypes = st.sampled_from([np.float32, np.float64])
TOL = {np.float32: 2e-5, np.float64: 1e-12}


def strided(rng, rows, cols, extra, dtype):
    """A (rows, cols) view into wider rows (row stride cols + extra), random values."""
    return rng.standard_normal((rows, cols + extra)).astype(dtype)[:, extra // 2:extra // 2 + cols]


@given(N=st.integers(1, 30), K=st.integers(1, 70), M=st.integers(1, 70), extra=st.integers(0, 5), dtype=dtypes,
       add=st.booleans(), transposed=st.booleans(), seed=st.integers(0, 2**32 - 1))
def test_panel_product_equals_numpy(N, K, M, extra, dtype, add, transposed, seed):
    rng = np.random.default_rng(seed)
    w = rng.standard_normal((M, K) if transposed else (K, M)).astype(dtype)
    matrix = w.T if transposed else w                       # the (K, M) matrix the product applies
    W = panels.panel_width(w.itemsize)
    packed = np.full(((M + W - 1) // W, K, W), np.nan, dtype)
    (panels.rows_as_panels if transposed else panels.cols_as_panels)(w, packed)
    a = strided(rng, N, K, extra, dtype)
    c = strided(rng, N, M, extra, dtype)
    c_before, whole_before = c.copy(), c.base.copy()
    panels.panel_product(a, packed, c, add)
    want = a.astype(np.float64) @ matrix.astype(np.float64) + (c_before if add else 0)
    np.testing.assert_allclose(c, want, rtol=TOL[dtype], atol=TOL[dtype] * np.sqrt(K))
    outside = np.ones(whole_before.shape, bool)
    outside[:, extra // 2:extra // 2 + M] = False
    assert np.array_equal(c.base[outside], whole_before[outside]), "nothing outside c is written"


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("K, M", [(3, 21), (600, 45)])     # 600: rows_as_panels packs in tiles (PACK_TILE_BYTES)
def test_packing_pads_the_last_panel_with_zeros(dtype, K, M):
    w = np.arange(1, K * M + 1, dtype=dtype).reshape(K, M)
    W = panels.panel_width(w.itemsize)
    assert (K * W * w.itemsize > panels.PACK_TILE_BYTES) == (K == 600)
    packed = np.full((-(-M // W), K, W), np.nan, dtype)
    panels.cols_as_panels(w, packed)
    assert np.array_equal(packed.transpose(1, 0, 2).reshape(K, -1)[:, :M], w)
    assert not packed.transpose(1, 0, 2).reshape(K, -1)[:, M:].any()
    rows = np.full_like(packed, np.nan)
    panels.rows_as_panels(np.ascontiguousarray(w.T), rows)
    assert np.array_equal(rows, packed)


def test_each_row_is_the_same_sum_whatever_the_batch():
    """A row's product does not depend on the rows beside it (the batch split relies on it)."""
    rng = np.random.default_rng(0)
    w = rng.standard_normal((40, 37)).astype(np.float32)
    W = panels.panel_width(4)
    packed = np.empty((-(-40 // W), 37, W), np.float32)
    panels.rows_as_panels(w, packed)
    a = rng.standard_normal((29, 37)).astype(np.float32)
    whole = np.zeros((29, 40), np.float32)
    panels.panel_product(a, packed, whole, False)
    for start, stop in ((0, 1), (3, 7), (5, 13), (2, 29)):
        part = np.zeros((stop - start, 40), np.float32)
        panels.panel_product(a[start:stop], packed, part, False)
        assert np.array_equal(part, whole[start:stop])


def test_when_the_time_loops_pack():
    w = np.ones((64, 16), np.float32)
    W, W64 = panels.panel_width(4), panels.panel_width(8)
    packed = panels.pack_for_steps(w, panels.MIN_ROWS, panels.MIN_STEPS, True, False)
    assert packed.shape == ((-(-64 // W), 16, W) if panels.PANELS else (0, 0, W))
    with_small_kernels = panels.pack_for_steps(w, 8, 100, True, True).shape[0]
    if panels.WIDE:
        assert with_small_kernels == (64 // W if panels.PANELS else 0), "AVX-512 panels beat OpenBLAS's AVX-512 kernels"
    else:
        assert with_small_kernels == 0, "OpenBLAS's AVX-512 kernels keep the products from AVX2 panels"
    for rows, steps in ((panels.MIN_ROWS - 1, 100), (panels.MAX_ROWS_FORWARD + 1, 100), (8, panels.MIN_STEPS - 1)):
        assert panels.pack_for_steps(w, rows, steps, True, False).shape[0] == 0
    assert panels.pack_for_steps(w.astype(np.float64), panels.MAX_ROWS, 100, False, False).shape[1:] == (
        (64, W64) if panels.PANELS else (0, W64))
    assert panels.pack_for_steps(w, panels.MAX_ROWS + 1, 100, False, False).shape[0] == 0
    assert panels.pack_for_steps(w, panels.MIN_ROWS_BACKWARD - 1, 100, False, False).shape[0] == 0
