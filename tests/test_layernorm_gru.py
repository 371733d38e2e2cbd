"""The layer-normalised GRU: its oracle against finite differences, its fused kernels against
the oracle (padded and packed rows, zoneout with no keep weights, one row of them for every
row and one per row, forward only in small chunks), float32 layer-norm statistics against
float64 under a large common offset, and the limits of zoneout.

The registry-wide suites (test_kernels, test_lengths, test_inference, test_oracle, ...) run
the entry too; here the gains are drawn around 1 (1 ± 0.5), where the layer norm matters.
"""
import tracemalloc

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from fastrnn import _cells, oracle
from fastrnn._cells import spec
from fastrnn._packing import Packing
from helpers import assert_close, kernel_options, numeric_grad, random_params

CELL = _cells.get("layernorm_gru")
NAMES = [p.name for p in CELL.params("torch")]


def problem(T, N, I, H, dtype, rng, bias=True):
    """torch-layout params (gains 1 ± 0.5), x (T, N, I), h0, dout, dh_n."""
    w_ih, w_hh, b_ih, b_hh = random_params(rng, "gru", I, H, dtype, bias)
    gains = tuple((1 + rng.uniform(-0.5, 0.5, 3 * H)).astype(dtype) for _ in range(2))
    x = rng.standard_normal((T, N, I)).astype(dtype)
    h0 = rng.standard_normal((N, H)).astype(dtype)
    dout = rng.standard_normal((T, N, H)).astype(dtype)
    dh_n = rng.standard_normal((N, H)).astype(dtype)
    return (w_ih, w_hh, b_ih, b_hh) + gains, x, h0, dout, dh_n


def lengths_or_none(packed, T, N, rng):
    return rng.integers(1, T + 1, N) if packed else None


def test_forward_only_memory_is_about_the_output(monkeypatch):
    monkeypatch.setattr(spec, "INFER_CHUNK_ROWS", 24)
    T, N, I, H = 400, 8, 16, 64
    rng = np.random.default_rng(4)
    params, x, h0, _, _ = problem(T, N, I, H, np.float32, rng)
    CELL.forward_only(x[:2], (h0,), params, "torch", {})                 # compile outside the measurement
    tracemalloc.start()
    try:
        out, _ = CELL.forward_only(x, (h0,), params, "torch", {})
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak <= 1.2 * out.nbytes, (peak, out.nbytes)


@pytest.mark.parametrize("H", [7, 64])
def test_float32_statistics_match_float64_under_a_large_offset(H):
    """Every product row x w_ihᵀ carries a common offset of 2048 against a spread of a few
    units (exact in float32: small integers times multiples of 1/64), so only the layer
    norm's statistics can differ from the float64 oracle's (a float32 E[v²] − E[v]² would be
    off by ~1e-2 of the variance)."""
    rng = np.random.default_rng(5)
    T, N, I = 4, 3, 6
    params, _, h0, dout, dh_n = problem(T, N, I, H, np.float64, rng)
    x = rng.integers(-4, 5, (T, N, I)).astype(np.float64)
    x[..., 0] = 2048.0
    w_ih = rng.integers(-64, 65, (3 * H, I)) / 64.0
    w_ih[:, 0] = 1.0
    params = (w_ih,) + params[1:]
    keep = (rng.uniform(0, 1, (T, N, H)) < 0.3).astype(np.float64)
    out, (h_n,), cache = CELL.oracle_forward(x, (h0,), params, {"zoneout": keep})
    dx, (dh0,), grads = CELL.oracle_backward(cache, dout, (dh_n,))
    def f32(a):                 # every value above is exact in float32
        return a.astype(np.float32)

    k_out, (k_hn,), k_cache = CELL.forward(f32(x), (f32(h0),), tuple(map(f32, params)), "torch",
                                           {"zoneout": f32(keep)})
    buffers = tuple(np.empty(p.shape, np.float32) for p in params)
    k_dx, (k_dh0,) = CELL.backward(k_cache, f32(dout), (f32(dh_n),), buffers, False)
    for name, got, want in zip(["out", "h_n", "dx", "dh0"] + NAMES, (k_out, k_hn, k_dx, k_dh0, *buffers),
                               (out, h_n, dx, dh0, *grads)):
        assert_close(got, want, np.float32, name)


# --- zoneout's limits -----------------------------------------------------------------------------
@pytest.mark.parametrize("packed", [False, True])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_zoneout_keep_zero_is_no_zoneout_and_keep_one_keeps_h0(dtype, packed):
    rng = np.random.default_rng(6)
    T, N, I, H = 5, 4, 3, 6
    params, x, h0, dout, dh_n = problem(T, N, I, H, dtype, rng)
    lengths = lengths_or_none(packed, T, N, rng)
    packing = Packing(lengths, T) if packed else None
    args = (packing.pack(x), (packing.sort(h0),)) if packed else (x, (h0,))
    sizes = packing.batch_sizes if packed else None
    d_out = packing.pack(dout) if packed else dout
    d_hn = packing.sort(dh_n) if packed else dh_n

    def run(keep):
        out, (h_n,), cache = CELL.forward(*args, params, "torch", kernel_options(keep, packing), sizes)
        grads = tuple(np.empty(p.shape, dtype) for p in params)
        dx, (dh0,) = CELL.backward(cache, d_out, (d_hn,), grads, False)
        return (out, h_n, dx, dh0) + grads

    plain = run(None)
    for keep in (np.zeros(H, dtype), np.zeros((T, N, H), dtype)):
        for got, want in zip(run(keep), plain):
            np.testing.assert_array_equal(got, want)
    for keep in (np.ones(H, dtype), np.ones((T, N, H), dtype)):
        out, h_n, dx, dh0, *grads = run(keep)
        h_start = args[1][0]
        if packed:
            np.testing.assert_array_equal(packing.unpack(out), np.where(
                np.arange(T)[:, None, None] < lengths[None, :, None], h0[None], 0))
        else:
            np.testing.assert_array_equal(out, np.broadcast_to(h0, out.shape))
        np.testing.assert_array_equal(h_n, h_start)
        assert not dx.any() and all(not g.any() for g in grads)
        # every dout reaches h0 unchanged: dh0 = dh_n + Σ_t dout_t (over each sequence's steps)
        want = dh_n + (dout if not packed else np.where(np.arange(T)[:, None, None] < lengths[None, :, None],
                                                        dout, 0)).sum(axis=0)
        assert_close(packing.unsort(dh0) if packed else dh0, want, dtype, "dh0")


def test_oracle_zoneout_limits():
    rng = np.random.default_rng(7)
    T, N, I, H = 4, 3, 2, 5
    params, x, h0, _, _ = problem(T, N, I, H, np.float64, rng)
    out, h_n, _ = oracle.layernorm_gru_forward(x, h0, *params)
    out0, h_n0, _ = oracle.layernorm_gru_forward(x, h0, *params, zoneout=np.zeros(H))
    np.testing.assert_array_equal(out0, out)
    np.testing.assert_array_equal(h_n0, h_n)
    out1, h_n1, _ = oracle.layernorm_gru_forward(x, h0, *params, zoneout=1.0)
    np.testing.assert_array_equal(out1, np.broadcast_to(h0, out1.shape))
    np.testing.assert_array_equal(h_n1, h0)


# --- the oracle against finite differences --------------------------------------------------------
@settings(max_examples=10)
@given(N=st.integers(1, 3), I=st.integers(1, 4), H=st.integers(1, 4), bias=st.booleans(),
       seed=st.integers(0, 2**32 - 1))
def test_oracle_cell_gradients_equal_finite_differences(N, I, H, bias, seed):
    rng = np.random.default_rng(seed)
    params, x, h0, dout, _ = problem(1, N, I, H, np.float64, rng, bias)
    x, dh1 = x[0], dout[0]

    def loss():
        h1, _ = oracle.layernorm_gru_cell_forward(x, h0, *params)
        return np.sum(h1 * dh1)

    _, cache = oracle.layernorm_gru_cell_forward(x, h0, *params)
    dx, dh, grads = oracle.layernorm_gru_cell_backward(dh1, cache)
    for name, got, array in zip(["x", "h"] + NAMES, (dx, dh, *grads), (x, h0, *params)):
        if array is None:
            assert got is None, name
            continue
        np.testing.assert_allclose(got, numeric_grad(loss, array), rtol=1e-5, atol=1e-6, err_msg=name)


def test_oracle_one_step_is_the_cell_and_unit_gains_normalise():
    rng = np.random.default_rng(8)
    params, x, h0, _, _ = problem(1, 2, 3, 5, np.float64, rng)
    h1, _ = oracle.layernorm_gru_cell_forward(x[0], h0, *params)
    out, h_n, _ = oracle.layernorm_gru_forward(x, h0, *params)
    np.testing.assert_array_equal(h1, h_n)
    np.testing.assert_array_equal(out[0], h_n)
    # the scale of a weight matrix does not matter once its products' variance dwarfs eps
    def scaled(k):
        return oracle.layernorm_gru_cell_forward(x[0], h0, params[0] * k, params[1] * k, *params[2:])[0]
    np.testing.assert_allclose(scaled(1e4), scaled(7e4), rtol=1e-7, atol=1e-8)
