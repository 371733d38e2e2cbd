"""The layer-normalised LSTM: its entry's parameters, and its oracle (the cell against finite
differences, the layer norm's gradients, one step against the cell).

The registry-wide suites run the kernels: test_kernels, test_lengths, test_inference and
test_oracle against the oracle, test_zoneout its zoneout and its limits,
test_layernorm_statistics the float32 statistics. Here the gains are drawn around 1
(1 ± 0.5), where the layer norm matters, the recurrent one around 0.5.
"""

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from fastrnn import _cells, oracle
from helpers import generic_params, numeric_grad

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
