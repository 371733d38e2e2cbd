"""Every registered cell's fused kernels equal its NumPy oracle: outputs, final states, every gradient.

Parametrized over the cell registry (``fastrnn._cells.CELLS``, which includes the test-only
cell of tests/toy_cell): random shapes (T, N, I, H from 1 to 33), both dtypes, every layout
the cell has (PyTorch's and the book's), every option value, random initial states, with
and without bias, and gradient accumulation. The kernels are called through the entries'
sequence calls, the layer every public face uses.
"""
import numpy as np
import pytest
from hypothesis import example, given, strategies as st

from fastrnn import _cells
from fastrnn._kernels import blas
import helpers
from helpers import float32_sensitivity, oracle_results, torch_grads_to_book

CELLS = list(_cells.CELLS)
dims = st.integers(1, 33)
shapes = st.tuples(dims, dims, dims, dims)
dtypes = st.sampled_from([np.float32, np.float64])
seeds = st.integers(0, 2**32 - 1)

# Shapes that always run, whatever hypothesis draws: each per-step recurrent product path of
# blas.recurrent_add (compiled loops; GEMM with hᵀ copied, N <= 16; GEMM on h, N > 16) with
# gate widths that are not a multiple of its 16-column add blocks, and the panel kernels
# (panels.py: T >= MIN_STEPS, N >= MIN_ROWS; 13 rows end in a partial block of rows, 37-wide
# gates in a partial panel).
PATH_SHAPES = [(3, 1, 4, 5), (3, 8, 5, 40), (2, 20, 7, 37), (9, 13, 6, 37)]


def layer_problem(cell, layout, shape, dtype, bias, seed):
    """helpers.layer_problem with a seeded generator, which it also returns."""
    rng = np.random.default_rng(seed)
    return (*helpers.layer_problem(cell, shape, dtype, rng, layout, bias), rng)


def run_against_oracle(cell, layout, shape, dtype, bias, accumulate, options, seed):
    params, reference, x, states, dout, dstates, rng = layer_problem(cell, layout, shape, dtype, bias, seed)
    options = cell.check_options(options, layout)
    out, finals, dx, d0, grads = oracle_results(cell, x, states, reference, options, dout, dstates)
    slack = {} if dtype != np.float32 else float32_sensitivity(
        cell, x, states, reference, options, dout, dstates, (out, finals, dx, d0, grads), np.random.default_rng(seed))

    def assert_close(got, want, dtype, what):
        helpers.assert_close(got, want, dtype, what, slack=8 * slack.get(what, 0.0))

    k_out, k_finals, k_cache = cell.forward(x, states, params, layout, options)
    assert_close(k_out, out, dtype, "out")
    for name, got, want in zip(cell.state_names, k_finals, finals):
        assert_close(got, want, dtype, f"{name}_n")

    # grad buffers: random when accumulating (the kernel must add to them), else garbage
    buffers = tuple(None if p is None else rng.standard_normal(p.shape).astype(dtype) for p in params)
    start = tuple(None if b is None else b.copy() for b in buffers)
    k_dx, k_d0 = cell.backward(k_cache, dout, dstates, buffers, accumulate)
    assert_close(k_dx, dx, dtype, "dx")
    for name, got, want in zip(cell.state_names, k_d0, d0):
        assert_close(got, want, dtype, f"d{name}0")
    if layout == "book":        # the oracle's grads in the book's layout; the book's b is b_ih
        grads = tuple(torch_grads_to_book(cell.layouts["book"].blocks, *grads[:3])) + tuple(grads[4:])
    names = [p.name for p in cell.params(layout)]
    for name, got, first, want in zip(names, buffers, start, grads):
        if want is None:
            assert got is None, f"d{name}: a gradient without the parameter"
            continue
        assert_close(got, want + first if accumulate else want, dtype, f"d{name}")


def draw_options(cell, data):
    return {o.name: data.draw(st.sampled_from(o.choices), label=o.name) for o in cell.options}


@pytest.mark.parametrize("name", CELLS)
@given(shape=shapes, dtype=dtypes, bias=st.booleans(), layout=st.sampled_from(_cells.LAYOUTS),
       accumulate=st.booleans(), seed=seeds, data=st.data())
@example(shape=PATH_SHAPES[0], dtype=np.float32, bias=True, layout="book", accumulate=False, seed=1,
         data=None)
@example(shape=PATH_SHAPES[1], dtype=np.float32, bias=True, layout="book", accumulate=True, seed=2,
         data=None)
@example(shape=PATH_SHAPES[2], dtype=np.float64, bias=False, layout="torch", accumulate=False, seed=3,
         data=None)
@example(shape=PATH_SHAPES[3], dtype=np.float32, bias=True, layout="torch", accumulate=True, seed=4,
         data=None)
@example(shape=PATH_SHAPES[3], dtype=np.float64, bias=True, layout="book", accumulate=False, seed=5,
         data=None)
def test_kernel_matches_oracle(name, shape, dtype, bias, layout, accumulate, seed, data):
    cell = _cells.get(name)
    if layout not in cell.layouts:
        return
    options = {} if data is None else draw_options(cell, data)
    run_against_oracle(cell, layout, shape, dtype, bias, accumulate, options, seed)


@pytest.mark.parametrize("name", CELLS)
def test_every_option_value_matches_oracle(name):
    """Each value of each option, whatever hypothesis draws (torch layout, a product path each)."""
    cell = _cells.get(name)
    for k, option in enumerate(cell.options):
        for value in option.choices:
            run_against_oracle(cell, "torch", PATH_SHAPES[k % len(PATH_SHAPES)], np.float64, True, True,
                               {option.name: value}, 9)


@pytest.mark.parametrize("name", CELLS)
def test_backward_consumes_the_cache(name):
    cell = _cells.get(name)
    params, _, x, states, dout, _, _ = layer_problem(cell, "torch", (2, 1, 3, 4), np.float64, True, 0)
    _, _, cache = cell.forward(x, states, params, "torch", cell.check_options())
    grads = tuple(np.zeros_like(p) for p in params)
    cell.backward(cache, dout, (None,) * len(states), grads, False)
    with pytest.raises(RuntimeError, match="backward called twice"):
        cell.backward(cache, dout, (None,) * len(states), grads, False)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", CELLS)
def test_nan_input_propagates_without_crashing(name, dtype):
    cell = _cells.get(name)
    params, _, x, states, _, _, _ = layer_problem(cell, "torch", (4, 3, 5, 6), dtype, True, 1)
    x[1, 0, 2] = np.nan                       # batch row 0 at step 1
    out, _, _ = cell.forward(x, states, params, "torch", cell.check_options())
    assert np.isnan(out[1:, 0]).all(), "NaN must reach every later output of its batch row"
    assert np.isfinite(out[:1]).all() and np.isfinite(out[:, 1:]).all(), "other rows stay finite"


@pytest.mark.parametrize("small_kernels", [True, False])
@pytest.mark.parametrize("shape", PATH_SHAPES)
@pytest.mark.parametrize("name", CELLS)
def test_both_blas_strategies_match_oracle(monkeypatch, name, small_kernels, shape):
    """The per-step products' two OpenBLAS strategies (blas.SMALL_KERNELS), whichever this
    machine's OpenBLAS picks, through every cell, layout and option value."""
    monkeypatch.setattr(blas, "SMALL_KERNELS", small_kernels)
    cell = _cells.get(name)
    for layout in cell.layouts:
        run_against_oracle(cell, layout, shape, np.float32, True, True, {}, 11)
    for option in cell.options:
        for value in option.choices:
            run_against_oracle(cell, "torch", shape, np.float64, True, False, {option.name: value}, 12)
