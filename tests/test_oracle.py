"""The oracle's gradients equal central finite differences (float64), and its GRU/LSTM
single steps agree with the sequence functions. This is what makes the oracle a ground truth.
"""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from fastrnn import oracle
from layouts import random_params

EPS = 1e-6


def numeric_grad(loss, array):
    """Central differences of the scalar loss() w.r.t. every entry of array (in place, restored)."""
    grad = np.zeros_like(array)
    flat, gflat = array.reshape(-1), grad.reshape(-1)
    for k in range(flat.size):
        saved = flat[k]
        flat[k] = saved + EPS
        up = loss()
        flat[k] = saved - EPS
        down = loss()
        flat[k] = saved
        gflat[k] = (up - down) / (2 * EPS)
    return grad


def _problem(cell, T, N, I, H, bias, seed, **options):
    rng = np.random.default_rng(seed)
    w_ih, w_hh, b_ih, b_hh = random_params(rng, cell, I, H, np.float64, bias)
    x = rng.standard_normal((T, N, I))
    h0 = rng.standard_normal((N, H))
    c0 = rng.standard_normal((N, H))
    dout = rng.standard_normal((T, N, H))
    dh_n = rng.standard_normal((N, H))
    dc_n = rng.standard_normal((N, H))

    def forward():
        if cell == "lstm":
            out, h, c, cache = oracle.lstm_forward(x, h0, c0, w_ih, w_hh, b_ih, b_hh)
        elif cell == "gru":
            out, h, cache = oracle.gru_forward(x, h0, w_ih, w_hh, b_ih, b_hh, **options)
            c = None
        else:
            out, h, cache = oracle.rnn_forward(x, h0, w_ih, w_hh, b_ih, b_hh, **options)
            c = None
        return out, h, c, cache

    def loss():
        out, h, c, _ = forward()
        total = np.sum(out * dout) + np.sum(h * dh_n)
        return total + (np.sum(c * dc_n) if c is not None else 0.0)

    out, h, c, cache = forward()
    if cell == "lstm":
        dx, dh0, dc0, grads = oracle.lstm_backward(dout, dh_n, dc_n, cache)
        analytic = {"x": dx, "h0": dh0, "c0": dc0}
    elif cell == "gru":
        dx, dh0, grads = oracle.gru_backward(dout, dh_n, cache)
        analytic = {"x": dx, "h0": dh0}
    else:
        dx, dh0, grads = oracle.rnn_backward(dout, dh_n, cache)
        analytic = {"x": dx, "h0": dh0}
    arrays = {"x": x, "h0": h0, "c0": c0, "w_ih": w_ih, "w_hh": w_hh, "b_ih": b_ih, "b_hh": b_hh}
    analytic.update(zip(["w_ih", "w_hh", "b_ih", "b_hh"], grads))
    return loss, arrays, analytic


CASES = [("lstm", {}), ("gru", {"reset_after": True}), ("gru", {"reset_after": False}),
         ("rnn", {"nonlinearity": "tanh"}), ("rnn", {"nonlinearity": "relu"})]


@pytest.mark.parametrize("cell,options", CASES, ids=lambda v: str(v))
@settings(max_examples=8)
@given(T=st.integers(1, 4), N=st.integers(1, 3), I=st.integers(1, 4), H=st.integers(1, 4),
       bias=st.booleans(), seed=st.integers(0, 2**32 - 1))
def test_oracle_gradients_equal_finite_differences(cell, options, T, N, I, H, bias, seed):
    loss, arrays, analytic = _problem(cell, T, N, I, H, bias, seed, **options)
    for name, grad in analytic.items():
        if grad is None:
            assert arrays[name] is None
            continue
        numeric = numeric_grad(loss, arrays[name])
        np.testing.assert_allclose(grad, numeric, rtol=1e-5, atol=1e-6, err_msg=name)


@pytest.mark.parametrize("cell,options", CASES, ids=lambda v: str(v))
def test_sequence_of_one_step_is_the_cell(cell, options):
    rng = np.random.default_rng(3)
    w_ih, w_hh, b_ih, b_hh = random_params(rng, cell, 3, 5, np.float64)
    x = rng.standard_normal((2, 3))
    h = rng.standard_normal((2, 5))
    c = rng.standard_normal((2, 5))
    if cell == "lstm":
        h1, c1, _ = oracle.lstm_cell_forward(x, h, c, w_ih, w_hh, b_ih, b_hh)
        out, h_n, c_n, _ = oracle.lstm_forward(x[None], h, c, w_ih, w_hh, b_ih, b_hh)
        np.testing.assert_array_equal(c1, c_n)
    elif cell == "gru":
        h1, _ = oracle.gru_cell_forward(x, h, w_ih, w_hh, b_ih, b_hh, **options)
        out, h_n, _ = oracle.gru_forward(x[None], h, w_ih, w_hh, b_ih, b_hh, **options)
    else:
        h1, _ = oracle.rnn_cell_forward(x, h, w_ih, w_hh, b_ih, b_hh, **options)
        out, h_n, _ = oracle.rnn_forward(x[None], h, w_ih, w_hh, b_ih, b_hh, **options)
    np.testing.assert_array_equal(h1, h_n)
    np.testing.assert_array_equal(out[0], h_n)


def test_oracle_rejects_unknown_nonlinearity():
    rng = np.random.default_rng(0)
    w_ih, w_hh, b_ih, b_hh = random_params(rng, "rnn", 2, 2, np.float64)
    with pytest.raises(ValueError, match="nonlinearity"):
        oracle.rnn_cell_forward(np.ones((1, 2)), np.ones((1, 2)), w_ih, w_hh, b_ih, b_hh, "sigmoid")
