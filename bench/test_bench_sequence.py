"""Whole-sequence LSTM / GRU / RNN: fastrnn.nn vs fastrnn.oracle vs the book-structured NumPy baseline
(bench/reference/baseline.py) vs torch.nn.

One benchmark group per (cell, size, dtype, step); inside it one entry per implementation.
The training step is forward + backward producing every gradient (input, initial
states, all weights and biases); the forward step is inference.
"""
import numpy as np
import pytest

from fastrnn._bench.impls import IMPLS, available, make_impls
from fastrnn._bench.sizes import CELLS, DEFAULT_CELLS, SIZES, step_flops

AVAILABLE = available(IMPLS)


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("mode", ["train", "forward"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("cell", DEFAULT_CELLS)
def test_sequence(benchmark, cell, size, dtype, mode, impl):
    if impl not in available([impl], cell):
        pytest.skip(f"{impl} is not available here for {cell}")
    adapter = make_impls(cell, size, np.dtype(dtype).type, [impl])[impl]
    fn = adapter.train_step if mode == "train" else adapter.forward
    fn()                                                # compile / warm up outside the timing
    benchmark.group = f"{cell} {size} {SIZES[size]} {dtype} {mode}"
    benchmark.extra_info["flops"] = step_flops(cell, size, mode)
    benchmark(fn)


def _agree(cell, dtype, rtol, atol):
    assert {"fastrnn", "oracle", "numpy"} <= set(AVAILABLE)       # bench.reference imports under pytest
    adapters = make_impls(cell, (7, 3, 5, 6), dtype, AVAILABLE, seed=3)
    assert {"fastrnn", "oracle"} <= set(adapters)
    results = {}
    for name, a in adapters.items():
        a.train_step()
        results[name] = a.results()
    ref = results["oracle"]
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


@pytest.mark.parametrize("cell", [c for c in CELLS if "numpy" in available(["numpy"], c)])
def test_numpy_baseline_matches_oracle(cell):
    """The NumPy baseline is checked independently against fastrnn.oracle (called directly)."""
    from fastrnn import _cells
    from fastrnn._bench.impls import make_problem

    entry = _cells.get(cell)
    p, d = make_problem(cell, (6, 2, 4, 5), np.float64, seed=1)
    a = make_impls(cell, (6, 2, 4, 5), np.float64, ["numpy"], seed=1)["numpy"]
    a.train_step()
    r = a.results()
    names = [q.name + "_l0" for q in entry.params("torch")]
    states = tuple(d[s + "0"] for s in entry.state_names)
    out, _, cache = entry.oracle_forward(d["x"], states, tuple(p[n] for n in names), entry.check_options())
    dx, d0, grads = entry.oracle_backward(cache, d["dout"], (None,) * len(states))
    np.testing.assert_allclose(r["out"], out, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(r["dx"], dx, rtol=1e-10, atol=1e-12)
    for s, g in zip(entry.state_names, d0):
        np.testing.assert_allclose(r[f"d{s}0"], g, rtol=1e-10, atol=1e-12)
    for name, g in zip(names, grads):
        np.testing.assert_allclose(r["d" + name], g, rtol=1e-10, atol=1e-12, err_msg=name)
