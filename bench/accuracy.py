"""Worst relative error of every registered cell's fused kernels against its NumPy oracle.

    python bench/accuracy.py [trials]

For each cell of the registry (torch layout, default options) and dtype: max over trials and
over every output and gradient of ``max|kernel - oracle| / (1 + max|oracle|)``, shapes
(T, N, I, H) drawn from 1..33, random states, weights and output gradients. The test suite
asserts bounds on the same quantity (tests/test_kernels.py); this prints the values reached.
"""
import sys

import numpy as np

from fastrnn import _cells


def _pairs(cell, rng, T, N, I, H, dtype):
    """(kernel result, oracle result) for every output and gradient of one random problem."""
    k = 1.5 / np.sqrt(H)
    params = tuple(rng.uniform(-k, k, shape).astype(dtype) for _, shape in cell.param_shapes("torch", I, H))
    x = rng.standard_normal((T, N, I)).astype(dtype)
    states = tuple(rng.standard_normal((N, H)).astype(dtype) for _ in cell.state_names)
    dout = rng.standard_normal((T, N, H)).astype(dtype)
    dstates = tuple(rng.standard_normal((N, H)).astype(dtype) for _ in cell.state_names)
    options = cell.check_options()
    out, finals, cache = cell.oracle_forward(x, states, params, options)
    dx, d0, grads = cell.oracle_backward(cache, dout, dstates)
    k_out, k_finals, k_cache = cell.forward(x, states, params, "torch", options)
    k_grads = tuple(np.empty_like(p) for p in params)
    k_dx, k_d0 = cell.backward(k_cache, dout, dstates, k_grads, False)
    return list(zip([k_out, *k_finals, k_dx, *k_d0, *k_grads], [out, *finals, dx, *d0, *grads]))


def main(trials=40, seed=42):
    rng = np.random.default_rng(seed)
    worst = {}
    for _ in range(trials):
        T, N, I, H = (int(v) for v in rng.integers(1, 34, 4))
        for dtype in (np.float32, np.float64):
            for name, cell in _cells.CELLS.items():
                rel = max(np.abs(k.astype(np.float64) - o).max() / (1 + np.abs(o).max())
                          for k, o in _pairs(cell, rng, T, N, I, H, dtype))
                key = (name, np.dtype(dtype).name)
                worst[key] = max(worst.get(key, 0.0), rel)
    for (cell, dtype), value in sorted(worst.items()):
        print(f"{cell:5s} {dtype:8s} max |kernel - oracle| / (1 + max|oracle|) = {value:.1e}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 40)
