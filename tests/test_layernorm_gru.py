"""The layer-normalised GRU's oracle: the cell against finite differences, one step against
the cell, unit gains normalising away a weight's scale.

The registry-wide suites run the kernels: test_kernels, test_lengths, test_inference and
test_oracle against the oracle, test_zoneout its zoneout and its limits,
test_layernorm_statistics the float32 statistics. Here the gains are drawn around 1 (1 ± 0.5),
where the layer norm matters.
"""

import numpy as np
from hypothesis import given, settings, strategies as st

from fastrnn import _cells, oracle
from helpers import numeric_grad, random_params

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
