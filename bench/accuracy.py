"""Worst relative error of every fused kernel against the NumPy oracle over random shapes.

    python bench/accuracy.py [trials]

For each cell and dtype: max over trials and over every output and gradient of
``max|kernel - oracle| / (1 + max|oracle|)``, shapes (T, N, I, H) drawn from 1..33, random
states, weights and output gradients. The test suite asserts bounds on the same quantity
(tests/test_kernels.py); this prints the values actually reached.
"""
import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), os.pardir, "tests"))
from layouts import random_params  # noqa: E402

from fastrnn import _sequence as seq  # noqa: E402
from fastrnn import oracle  # noqa: E402


def _pairs(cell, rng, T, N, I, H, dtype):
    """(kernel result, oracle result) for every output and gradient of one random problem."""
    w_ih, w_hh, b_ih, b_hh = random_params(rng, cell, I, H, dtype)
    x, h0, c0 = (rng.standard_normal(s).astype(dtype) for s in ((T, N, I), (N, H), (N, H)))
    dout, dh, dc = (rng.standard_normal(s).astype(dtype) for s in ((T, N, H), (N, H), (N, H)))
    if cell == "lstm":
        out, h_n, c_n, cache = oracle.lstm_forward(x, h0, c0, w_ih, w_hh, b_ih, b_hh)
        dx, dh0, dc0, grads = oracle.lstm_backward(dout, dh, dc, cache)
        k_out, k_h, k_c, k_cache = seq.lstm_seq_forward(x, h0, c0, w_ih, w_hh, b_ih + b_hh, "torch")
        k_grads = [np.empty_like(w_ih), np.empty_like(w_hh), np.empty_like(b_ih)]
        k_back = seq.lstm_seq_backward(k_cache, dout, dh, dc, *k_grads, False)
        return list(zip([k_out, k_h, k_c, *k_back, *k_grads], [out, h_n, c_n, dx, dh0, dc0, *grads[:3]]))
    if cell == "gru":
        out, h_n, cache = oracle.gru_forward(x, h0, w_ih, w_hh, b_ih, b_hh, True)
        dx, dh0, grads = oracle.gru_backward(dout, dh, cache)
        k_out, k_h, k_cache = seq.gru_seq_forward(x, h0, w_ih, w_hh, b_ih, b_hh, "torch", True)
        k_grads = [np.empty_like(w_ih), np.empty_like(w_hh), np.empty_like(b_ih), np.empty_like(b_hh)]
        k_back = seq.gru_seq_backward(k_cache, dout, dh, *k_grads, False)
        return list(zip([k_out, k_h, *k_back, *k_grads], [out, h_n, dx, dh0, *grads]))
    out, h_n, cache = oracle.rnn_forward(x, h0, w_ih, w_hh, b_ih, b_hh, "tanh")
    dx, dh0, grads = oracle.rnn_backward(dout, dh, cache)
    k_out, k_h, k_cache = seq.rnn_seq_forward(x, h0, w_ih, w_hh, b_ih + b_hh, "torch", "tanh")
    k_grads = [np.empty_like(w_ih), np.empty_like(w_hh), np.empty_like(b_ih)]
    k_back = seq.rnn_seq_backward(k_cache, dout, dh, *k_grads, False)
    return list(zip([k_out, k_h, *k_back, *k_grads], [out, h_n, dx, dh0, *grads[:3]]))


def main(trials=40, seed=42):
    rng = np.random.default_rng(seed)
    worst = {}
    for _ in range(trials):
        T, N, I, H = (int(v) for v in rng.integers(1, 34, 4))
        for dtype in (np.float32, np.float64):
            for cell in ("lstm", "gru", "rnn"):
                rel = max(np.abs(k.astype(np.float64) - o).max() / (1 + np.abs(o).max())
                          for k, o in _pairs(cell, rng, T, N, I, H, dtype))
                key = (cell, np.dtype(dtype).name)
                worst[key] = max(worst.get(key, 0.0), rel)
    for (cell, dtype), value in sorted(worst.items()):
        print(f"{cell:5s} {dtype:8s} max |kernel - oracle| / (1 + max|oracle|) = {value:.1e}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 40)
