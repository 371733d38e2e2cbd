"""The oracle's gradients equal central finite differences (float64), and its GRU/LSTM
single steps agree with the sequence functions. This is what makes the oracle a ground truth.
"""
import itertools

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from fastrnn import _cells, oracle
from helpers import layer_problem, numeric_grad, random_params

EPS = 1e-6


def _problem(cell, T, N, I, H, bias, seed, options):
    """The loss Σ out·dout + Σ final·dfinal of one oracle sequence call, its arrays and the
    oracle's analytic gradients of it, keyed alike."""
    rng = np.random.default_rng(seed)
    params, _, x, states, dout, dstates = layer_problem(cell, (T, N, I, H), np.float64, rng, bias=bias)

    def loss():
        out, finals, _ = cell.oracle_forward(x, states, params, options)
        return np.sum(out * dout) + sum(np.sum(f * d) for f, d in zip(finals, dstates))

    _, _, cache = cell.oracle_forward(x, states, params, options)
    dx, d0, grads = cell.oracle_backward(cache, dout, dstates)
    names = ["x"] + [s + "0" for s in cell.state_names] + [p.name for p in cell.params("torch")]
    arrays = dict(zip(names, (x, *states, *params)))
    analytic = dict(zip(names, (dx, *d0, *grads)))
    return loss, arrays, analytic


def option_cases():
    """(cell name, options) for every registered cell and every combination of its option values."""
    cases = []
    for name, cell in _cells.CELLS.items():
        for values in itertools.product(*(o.choices for o in cell.options)):
            cases.append((name, dict(zip((o.name for o in cell.options), values))))
    return cases


@pytest.mark.parametrize("name,options", option_cases(), ids=lambda v: str(v))
@settings(max_examples=8)
@given(T=st.integers(1, 4), N=st.integers(1, 3), I=st.integers(1, 4), H=st.integers(1, 4),
       bias=st.booleans(), seed=st.integers(0, 2**32 - 1))
def test_oracle_gradients_equal_finite_differences(name, options, T, N, I, H, bias, seed):
    cell = _cells.get(name)
    loss, arrays, analytic = _problem(cell, T, N, I, H, bias, seed, cell.check_options(options))
    for key, grad in analytic.items():
        if grad is None:
            assert arrays[key] is None
            continue
        numeric = numeric_grad(loss, arrays[key], EPS)
        np.testing.assert_allclose(grad, numeric, rtol=1e-5, atol=1e-6, err_msg=key)


CASES = [("lstm", {}), ("gru", {"reset_after": True}), ("gru", {"reset_after": False}),
         ("gru", {"reset_after": True, "blend": "book"}), ("gru", {"reset_after": False, "blend": "book"}),
         ("rnn", {"nonlinearity": "tanh"}), ("rnn", {"nonlinearity": "relu"})]


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


def test_oracle_rejects_unknown_gru_blend():
    rng = np.random.default_rng(0)
    w_ih, w_hh, b_ih, b_hh = random_params(rng, "gru", 2, 2, np.float64)
    with pytest.raises(ValueError, match="blend"):
        oracle.gru_cell_forward(np.ones((1, 2)), np.ones((1, 2)), w_ih, w_hh, b_ih, b_hh, blend="cho")
    with pytest.raises(ValueError, match="blend"):
        oracle.gru_forward(np.ones((3, 1, 2)), np.ones((1, 2)), w_ih, w_hh, b_ih, b_hh, False, "Book")


@pytest.mark.parametrize("reset_after", [True, False])
def test_gru_blends_are_mirror_images(reset_after):
    """The blends differ only in which of h and n z weighs: h' = (1-z) n + z h vs (1-z) h + z n,
    so the book blend is the torch blend with z replaced by 1 - z (a sigmoid of the negated
    pre-activation). Checked through the cached gates, one step, both outputs."""
    rng = np.random.default_rng(5)
    w_ih, w_hh, b_ih, b_hh = random_params(rng, "gru", 3, 4, np.float64)
    x, h = rng.standard_normal((2, 3)), rng.standard_normal((2, 4))
    h_torch, c_torch = oracle.gru_cell_forward(x, h, w_ih, w_hh, b_ih, b_hh, reset_after)
    h_book, c_book = oracle.gru_cell_forward(x, h, w_ih, w_hh, b_ih, b_hh, reset_after, "book")
    for k in ("r", "z", "n"):
        np.testing.assert_array_equal(c_torch[k], c_book[k])
    z, n = c_book["z"], c_book["n"]
    np.testing.assert_allclose(h_torch, (1 - z) * n + z * h, rtol=1e-15, atol=1e-15)
    np.testing.assert_allclose(h_book, (1 - z) * h + z * n, rtol=1e-15, atol=1e-15)
    np.testing.assert_allclose(h_torch + h_book, n + h, rtol=1e-14, atol=1e-14)
