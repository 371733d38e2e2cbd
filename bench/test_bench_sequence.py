"""Whole-sequence LSTM / GRU / RNN: fastrnn.nn vs the book-structured NumPy baseline vs torch.nn.

One benchmark group per (cell, size, dtype, step); inside it one entry per implementation.
The training step is forward + backward producing every gradient (input, initial
states, all weights and biases); the forward step is inference.
"""
import numpy as np
import pytest

from fastrnn._bench.impls import IMPLS, make_impls, torch_available
from fastrnn._bench.sizes import CELLS, SIZES, step_flops

HAVE_TORCH = torch_available()


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("mode", ["train", "forward"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("cell", CELLS)
def test_sequence(benchmark, cell, size, dtype, mode, impl):
    if impl == "torch" and not HAVE_TORCH:
        pytest.skip("torch is not installed")
    adapter = make_impls(cell, size, np.dtype(dtype).type, [impl])[impl]
    fn = adapter.train_step if mode == "train" else adapter.forward
    fn()                                                # compile / warm up outside the timing
    benchmark.group = f"{cell} {size} {SIZES[size]} {dtype} {mode}"
    benchmark.extra_info["flops"] = step_flops(cell, size, mode)
    benchmark(fn)


def _agree(cell, dtype, rtol, atol):
    names = [n for n in IMPLS if n != "torch" or HAVE_TORCH]
    adapters = make_impls(cell, (7, 3, 5, 6), dtype, names, seed=3)
    results = {}
    for name, a in adapters.items():
        a.train_step()
        results[name] = a.results()
    ref = results["numpy"]
    for name, r in results.items():
        assert set(r) == set(ref), name
        for key in ref:
            np.testing.assert_allclose(r[key], ref[key], rtol=rtol, atol=atol, err_msg=f"{name} {key}")


@pytest.mark.parametrize("cell", CELLS)
def test_implementations_agree_float64(cell):
    """The timed implementations compute the same forward and gradients (so the race is fair)."""
    _agree(cell, np.float64, 1e-9, 1e-11)


@pytest.mark.parametrize("cell", CELLS)
def test_implementations_agree_float32(cell):
    _agree(cell, np.float32, 1e-4, 1e-5)


@pytest.mark.parametrize("cell", CELLS)
def test_numpy_baseline_matches_oracle(cell):
    """The NumPy baseline is checked independently against fastrnn.oracle."""
    from fastrnn import oracle
    from fastrnn._bench.impls import make_problem

    p, d = make_problem(cell, (6, 2, 4, 5), np.float64, seed=1)
    a = make_impls(cell, (6, 2, 4, 5), np.float64, ["numpy"], seed=1)["numpy"]
    a.train_step()
    r = a.results()
    w = (p["weight_ih_l0"], p["weight_hh_l0"], p["bias_ih_l0"], p["bias_hh_l0"])
    if cell == "lstm":
        out, _, _, cache = oracle.lstm_forward(d["x"], d["h0"], d["c0"], *w)
        dx, dh0, dc0, grads = oracle.lstm_backward(d["dout"], None, None, cache)
        np.testing.assert_allclose(r["dc0"], dc0, rtol=1e-10, atol=1e-12)
    elif cell == "gru":
        out, _, cache = oracle.gru_forward(d["x"], d["h0"], *w, reset_after=True)
        dx, dh0, grads = oracle.gru_backward(d["dout"], None, cache)
    else:
        out, _, cache = oracle.rnn_forward(d["x"], d["h0"], *w, nonlinearity="tanh")
        dx, dh0, grads = oracle.rnn_backward(d["dout"], None, cache)
    np.testing.assert_allclose(r["out"], out, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(r["dx"], dx, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(r["dh0"], dh0, rtol=1e-10, atol=1e-12)
    names = ("weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0")
    for name, g in zip(names, grads):
        np.testing.assert_allclose(r["d" + name], g, rtol=1e-10, atol=1e-12, err_msg=name)
