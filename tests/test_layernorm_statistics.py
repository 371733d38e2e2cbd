"""The layer-normalised cells' float32 kernels keep their row statistics in float64: under a
large common offset they still match the float64 oracle (fastrnn/_kernels/layer_norm.py)."""
import numpy as np
import pytest

from fastrnn import _cells
from helpers import assert_close, layer_problem, result_labels

LAYER_NORMED = [name for name, cell in _cells.CELLS.items()
                if any(p.name == "ln_weight_ih" for p in cell.params("torch"))]


def test_the_layer_normalised_cells():
    assert {"layernorm_lstm", "layernorm_gru"} <= set(LAYER_NORMED)


@pytest.mark.parametrize("H", [7, 64])
@pytest.mark.parametrize("name", LAYER_NORMED)
def test_float32_statistics_match_float64_under_a_large_offset(name, H):
    """Every product row x w_ihᵀ carries a common offset of 2048 against a spread of a few
    units (exact in float32: small integers times multiples of 1/64), so only the layer
    norm's statistics can differ from the float64 oracle's (a float32 E[v²] − E[v]² would
    be off by ~1e-2 of the variance, a float32 mean by ~1e-4 of the spread). Every input is
    rounded to float32 first, so the oracle and the kernels see the same values."""
    cell = _cells.get(name)
    rng = np.random.default_rng(5)
    T, N, I = 4, 3, 6
    params, _, _, states, dout, dstates = layer_problem(cell, (T, N, I, H), np.float64, rng)
    x = rng.integers(-4, 5, (T, N, I)).astype(np.float64)
    x[..., 0] = 2048.0
    w_ih = rng.integers(-64, 65, (cell.gates * H, I)) / 64.0
    w_ih[:, 0] = 1.0

    def exact(a):               # a float64 array holding float32 values
        return a.astype(np.float32).astype(np.float64)

    params = (w_ih,) + tuple(exact(p) for p in params[1:])
    states, dout, dstates = tuple(map(exact, states)), exact(dout), tuple(map(exact, dstates))
    keep = (rng.uniform(0, 1, (T, N, H)) < 0.3).astype(np.float64)
    options = dict(cell.check_options(), zoneout=keep)
    out, finals, cache = cell.oracle_forward(x, states, params, options)
    dx, d0, grads = cell.oracle_backward(cache, dout, dstates)
    assert (out.std(axis=2) > 0.05).all()                        # the normalised rows are not flat

    def f32(arrays):
        return tuple(a.astype(np.float32) for a in arrays)

    k_out, k_finals, k_cache = cell.forward(np.float32(x), f32(states), f32(params), "torch",
                                            dict(options, zoneout=np.float32(keep)))
    buffers = tuple(np.empty(p.shape, np.float32) for p in params)
    k_dx, k_d0 = cell.backward(k_cache, np.float32(dout), f32(dstates), buffers, False)
    for label, got, want in zip(result_labels(cell), (k_out, *k_finals, k_dx, *k_d0, *buffers),
                                (out, *finals, dx, *d0, *grads)):
        assert_close(got, want, np.float32, label)
