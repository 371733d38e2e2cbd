"""The layer-normalised LSTM: its oracle against finite differences, its fused kernels against
the float64 oracle (padded and packed rows, zoneout with no keep weights, one row of them for
every row and one per row, forward only in small chunks), float32 layer-norm statistics
against float64 under a large common offset, and the limits of zoneout.

The registry-wide suites (test_kernels, test_lengths, test_inference, test_oracle, ...) run
the entry too. Here the gains are drawn around 1 (1 ± 0.5), where the layer norm matters,
the recurrent one around 0.5: with gains around 1 the cell's steps can amplify a float32
rounding of the inputs beyond the float32 tolerance (the float64 oracle moves as much when
its inputs are perturbed by one float32 rounding), which no float32 kernel can match.
"""
import tracemalloc

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from fastrnn import _cells, oracle
from fastrnn._cells import spec
from fastrnn._packing import Packing
from helpers import assert_close, generic_params, kernel_options, numeric_grad

CELL = _cells.get("layernorm_lstm")
NAMES = [p.name for p in CELL.params("torch")]


def problem(T, N, I, H, dtype, rng, bias=True):
    """torch-layout params (gains 1 ± 0.5, the recurrent gain half that), x (T, N, I),
    (h0, c0), dout, (dh_n, dc_n)."""
    params = list(generic_params(rng, CELL, I, H, dtype, bias))
    params[NAMES.index("ln_weight_hh")] *= dtype(0.5)
    params[NAMES.index("ln_bias_c")] = rng.uniform(-0.5, 0.5, H).astype(dtype)
    x = rng.standard_normal((T, N, I)).astype(dtype)
    states = tuple(rng.standard_normal((N, H)).astype(dtype) for _ in range(2))
    dout = rng.standard_normal((T, N, H)).astype(dtype)
    dstates = tuple(rng.standard_normal((N, H)).astype(dtype) for _ in range(2))
    return tuple(params), x, states, dout, dstates


def float64(arrays):
    """The oracle's copies: float64, so that it computes in float64 whatever the kernels' dtype."""
    return tuple(None if a is None else np.asarray(a, np.float64) for a in arrays)


def run_forward(x, states, params, options, packing, infer=False):
    """The kernels' forward on padded or packed rows -> out (T, N, H), finals, cache (None
    for infer), in the caller's layout and order."""
    call = CELL.forward_only if infer else CELL.forward
    if packing is None:
        result = call(x, states, params, "torch", options)
        return result if not infer else result + (None,)
    result = call(packing.pack(x), tuple(packing.sort(s) for s in states), params, "torch", options,
                  packing.batch_sizes)
    cache = None if infer else result[2]
    return packing.unpack(result[0]), tuple(packing.unsort(f) for f in result[1]), cache


def run_backward(cache, dout, dstates, buffers, accumulate, packing):
    if packing is None:
        return CELL.backward(cache, dout, dstates, buffers, accumulate)
    dstates = tuple(None if d is None else packing.sort(d) for d in dstates)
    dx, d0 = CELL.backward(cache, packing.pack(dout), dstates, buffers, accumulate)
    return packing.unpack(dx), tuple(packing.unsort(d) for d in d0)


# --- the entry ---------------------------------------------------------------------------------------
def test_entry_parameters_and_layout():
    assert CELL.title == "LayerNormLSTM" and CELL.variant_of == "lstm" and CELL.zoneout
    assert CELL.state_names == ("h", "c") and CELL.gate_names == ("i", "f", "g", "o") and CELL.options == ()
    assert list(CELL.layouts) == ["torch"]
    assert CELL.param_shapes("torch", 5, 6) == [
        ("weight_ih", (24, 5)), ("weight_hh", (24, 6)), ("bias", (24,)), ("ln_weight_ih", (24,)),
        ("ln_weight_hh", (24,)), ("ln_weight_c", (6,)), ("ln_bias_c", (6,))]
    assert [p.name for p in CELL.params("torch", bias=False)] == [n for n in NAMES if n != "bias"]
    drawn = CELL.init_params("torch", 5, 6, np.float32, np.random.default_rng(0))
    for name in ("ln_weight_ih", "ln_weight_hh", "ln_weight_c"):
        np.testing.assert_array_equal(drawn[name], 1)
    np.testing.assert_array_equal(drawn["ln_bias_c"], 0)
    with pytest.raises(ValueError, match="torch"):
        CELL.forward(np.zeros((2, 1, 5)), (np.zeros((1, 6)),) * 2, tuple(drawn.values()), "book", {})


def test_forward_only_memory_is_about_the_output(monkeypatch):
    monkeypatch.setattr(spec, "INFER_CHUNK_ROWS", 24)
    T, N, I, H = 400, 8, 16, 64
    rng = np.random.default_rng(4)
    params, x, states, _, _ = problem(T, N, I, H, np.float32, rng)
    CELL.forward_only(x[:2], states, params, "torch", {})                 # compile outside the measurement
    tracemalloc.start()
    try:
        out, _ = CELL.forward_only(x, states, params, "torch", {})
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak <= 1.2 * out.nbytes, (peak, out.nbytes)


@pytest.mark.parametrize("H", [7, 64])
def test_float32_statistics_match_float64_under_a_large_offset(H):
    """Every product row x w_ihᵀ carries a common offset of 2048 against a spread of a few
    units (exact in float32: small integers times multiples of 1/64), so only the layer
    norm's statistics can differ from the float64 oracle's (a float32 E[v²] − E[v]² would
    be off by ~1e-2 of the variance, a float32 mean by ~1e-4 of the spread)."""
    rng = np.random.default_rng(5)
    T, N, I = 4, 3, 6
    params, _, states, dout, dstates = problem(T, N, I, H, np.float64, rng)
    x = rng.integers(-4, 5, (T, N, I)).astype(np.float64)
    x[..., 0] = 2048.0
    w_ih = rng.integers(-64, 65, (4 * H, I)) / 64.0
    w_ih[:, 0] = 1.0
    params = (w_ih,) + params[1:]
    keep = (rng.uniform(0, 1, (T, N, H)) < 0.3).astype(np.float64)
    out, finals, cache = CELL.oracle_forward(x, states, params, {"zoneout": keep})
    dx, d0, grads = CELL.oracle_backward(cache, dout, dstates)
    assert (out.std(axis=2) > 0.05).all()                        # the normalised rows are not flat

    def f32(arrays):            # every value of x and w_ih above is exact in float32
        return tuple(a.astype(np.float32) for a in arrays)

    k_out, k_finals, k_cache = CELL.forward(np.float32(x), f32(states), f32(params), "torch",
                                            {"zoneout": np.float32(keep)})
    buffers = tuple(np.empty(p.shape, np.float32) for p in params)
    k_dx, k_d0 = CELL.backward(k_cache, np.float32(dout), f32(dstates), buffers, False)
    for name, got, want in zip(["out", "h_n", "c_n", "dx", "dh0", "dc0"] + NAMES,
                               (k_out, *k_finals, k_dx, *k_d0, *buffers), (out, *finals, dx, *d0, *grads)):
        assert_close(got, want, np.float32, name)


# --- zoneout's limits -----------------------------------------------------------------------------
@pytest.mark.parametrize("packed", [False, True])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_zoneout_keep_zero_is_no_zoneout_and_keep_one_keeps_h0(dtype, packed):
    rng = np.random.default_rng(6)
    T, N, I, H = 5, 4, 3, 6
    params, x, states, dout, (dh_n, _) = problem(T, N, I, H, dtype, rng)
    lengths = np.array([5, 2, 4, 1]) if packed else None
    packing = Packing(lengths, T) if packed else None
    h0 = states[0]

    def run(keep):
        out, finals, cache = run_forward(x, states, params, kernel_options(keep, packing), packing)
        grads = tuple(np.empty_like(p) for p in params)
        dx, d0 = run_backward(cache, dout, (dh_n, None), grads, False, packing)
        return out, finals, dx, d0, grads

    plain = run(None)
    for keep in (np.zeros(H, dtype), np.zeros((T, N, H), dtype)):
        for got, want in zip(run(keep), plain):
            for g, w in zip(got if isinstance(got, tuple) else (got,), want if isinstance(want, tuple) else (want,)):
                np.testing.assert_array_equal(g, w)

    running = np.ones((T, N), bool) if lengths is None else np.arange(T)[:, None] < lengths[None]
    for keep in (np.ones(H, dtype), np.ones((T, N, H), dtype)):
        out, (h_n, _), dx, (dh0, _), grads = run(keep)
        # h never moves: out is h0 at every step of a sequence, h_n is h0; the steps see no
        # gradient, so dh0 is dh_n plus every dout of the sequence's steps, dx and the grads 0
        assert_close(out[running], np.broadcast_to(h0, (T, N, H))[running], dtype, "out")
        assert_close(h_n, h0, dtype, "h_n")
        assert_close(dh0, dh_n + np.where(running[..., None], dout, 0).sum(axis=0), dtype, "dh0")
        assert not dx.any() and not any(g.any() for g in grads)


def test_oracle_zoneout_limits():
    rng = np.random.default_rng(7)
    T, N, I, H = 4, 3, 2, 5
    params, x, states, _, _ = problem(T, N, I, H, np.float64, rng)
    plain = oracle.layernorm_lstm_forward(x, *states, *params)
    zero = oracle.layernorm_lstm_forward(x, *states, *params, zoneout=np.zeros(H))
    for a, b in zip(plain[:3], zero[:3]):
        np.testing.assert_array_equal(a, b)
    out, h_n, c_n, _ = oracle.layernorm_lstm_forward(x, *states, *params, zoneout=np.ones((T, N, H)))
    np.testing.assert_array_equal(out, np.broadcast_to(states[0], out.shape))
    np.testing.assert_array_equal(h_n, states[0])
    assert not np.allclose(c_n, states[1])                  # c is not zoned out: it still moves


# --- the oracle against finite differences --------------------------------------------------------
@settings(max_examples=10)
@given(N=st.integers(1, 3), I=st.integers(1, 4), H=st.integers(1, 4), bias=st.booleans(),
       seed=st.integers(0, 2**32 - 1))
def test_oracle_cell_gradients_equal_finite_differences(N, I, H, bias, seed):
    rng = np.random.default_rng(seed)
    params, x, states, dout, dstates = problem(1, N, I, H, np.float64, rng, bias)
    x, h, c = x[0], *states
    dh1, dc1 = dout[0], dstates[1]

    def loss():
        h1, c1, _ = oracle.layernorm_lstm_cell_forward(x, h, c, *params)
        return np.sum(h1 * dh1) + np.sum(c1 * dc1)

    _, _, cache = oracle.layernorm_lstm_cell_forward(x, h, c, *params)
    dx, dh, dc, grads = oracle.layernorm_lstm_cell_backward(dh1, dc1, cache)
    for name, got, array in zip(["x", "h", "c"] + NAMES, (dx, dh, dc, *grads), (x, h, c, *params)):
        if array is None:
            assert got is None, name
            continue
        np.testing.assert_allclose(got, numeric_grad(loss, array), rtol=1e-5, atol=1e-6, err_msg=name)


@pytest.mark.parametrize("shift", [False, True])
def test_layer_norm_oracle_gradients_equal_finite_differences(shift):
    rng = np.random.default_rng(8)
    v = rng.standard_normal((3, 5)) + 10.0                # an offset: the mean matters
    gamma = 1 + rng.uniform(-0.5, 0.5, 5)
    beta = rng.standard_normal(5) if shift else None
    dy = rng.standard_normal((3, 5))

    def loss():
        return np.sum(oracle.layer_norm_forward(v, gamma, beta)[0] * dy)

    y, cache = oracle.layer_norm_forward(v, gamma, beta)
    xhat = (y - (beta if shift else 0)) / gamma            # each row normalised: mean 0, variance ~1
    np.testing.assert_allclose(xhat.mean(axis=1), 0, atol=1e-12)
    np.testing.assert_allclose(xhat.var(axis=1), 1, rtol=1e-4)
    dv, dgamma, dbeta = oracle.layer_norm_backward(dy, cache)
    np.testing.assert_allclose(dv, numeric_grad(loss, v), rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(dgamma, numeric_grad(loss, gamma), rtol=1e-6, atol=1e-7)
    if shift:
        np.testing.assert_allclose(dbeta, numeric_grad(loss, beta), rtol=1e-6, atol=1e-7)
    else:
        assert dbeta is None


def test_oracle_one_step_is_the_cell_and_the_products_scale_drops_out():
    rng = np.random.default_rng(9)
    params, x, states, _, _ = problem(1, 3, 4, 5, np.float64, rng)
    h1, c1, _ = oracle.layernorm_lstm_cell_forward(x[0], *states, *params)
    out, h_n, c_n, _ = oracle.layernorm_lstm_forward(x, *states, *params)
    np.testing.assert_array_equal(out[0], h1)
    np.testing.assert_array_equal(h_n, h1)
    np.testing.assert_array_equal(c_n, c1)

    def scaled(k):              # LN(k v) = LN(v) up to eps: the weights' scale does not matter
        w = (params[0] * k, params[1] * k) + params[2:]
        return oracle.layernorm_lstm_cell_forward(x[0], *states, *w)[:2]

    for a, b in zip(scaled(1e3), scaled(7e3)):
        np.testing.assert_allclose(a, b, rtol=1e-7, atol=1e-8)
