"""The per-step products on panels against OpenBLAS's calls (fastrnn/_kernels/panels.py).

    python bench/panels.py [--repeats 7] [--min-time 0.2]

For each (T, N, H) of an LSTM (G = 4H), one thread, float32, interleaved rounds: a time loop
of T forward products h (N, H) · w_rec (G, H)ᵀ, each added into the next row block of a
(T·N, G) gates array as the forward does, and T backward products dA (N, G) · w_rec into
dh (N, H); through OpenBLAS (blas.recurrent_add / recurrent_grad, what the kernels called
before) and on panels packed once. Prints GFLOP/s and the ratio, and what the packing costs.
The sizes are the benchmark's small, medium and large, their halves under the two-thread
batch split, and a wide batch.
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir))

import numpy as np  # noqa: E402
from numba import njit  # noqa: E402

from fastrnn._bench.threads import pin_threads  # noqa: E402
from fastrnn._bench.timing import interleaved_medians  # noqa: E402
from fastrnn._kernels import panels  # noqa: E402
from fastrnn._kernels.blas import SMALL_KERNELS, recurrent_add, recurrent_grad  # noqa: E402

SHAPES = [(100, 8, 64), (100, 4, 64), (50, 32, 256), (50, 16, 256), (35, 20, 650), (35, 10, 650),
          (64, 128, 256), (64, 64, 256), (50, 256, 256), (50, 2, 256), (50, 1, 256)]


@njit(cache=True)
def blas_forward(h, w, scratch, gates):
    N = h.shape[0]
    for t in range(gates.shape[0] // N):
        recurrent_add(h, w, scratch, gates[t * N:(t + 1) * N], True, SMALL_KERNELS)


@njit(cache=True)
def panel_forward(h, packed, gates):
    N = h.shape[0]
    for t in range(gates.shape[0] // N):
        panels.panel_product(h, packed, gates[t * N:(t + 1) * N], True)


@njit(cache=True)
def blas_backward(d, w, dh):
    N = dh.shape[0]
    for t in range(d.shape[0] // N):
        recurrent_grad(d[t * N:(t + 1) * N], w, 0.0, dh, SMALL_KERNELS)


@njit(cache=True)
def panel_backward(d, packed, dh):
    N = dh.shape[0]
    for t in range(d.shape[0] // N):
        panels.panel_product(d[t * N:(t + 1) * N], packed, dh, False)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=7)
    p.add_argument("--min-time", type=float, default=0.2)
    args = p.parse_args(argv)
    if not panels.PANELS:
        print("this CPU has no fused multiply-add: the kernels keep OpenBLAS's calls")
        return
    rng = np.random.default_rng(0)
    print("(T, N, H)        forward GFLOP/s: OpenBLAS  panels  ratio | backward: OpenBLAS  panels  ratio"
          " | packing ms (forward, backward)")
    with pin_threads(1):
        for T, N, H in SHAPES:
            G = 4 * H
            w = rng.standard_normal((G, H)).astype(np.float32)
            h = rng.standard_normal((N, H)).astype(np.float32)
            gates = np.zeros((T * N, G), np.float32)
            d = rng.standard_normal((T * N, G)).astype(np.float32)
            dh = np.zeros((N, H), np.float32)
            scratch = np.empty((G + H) * N, np.float32)
            W = panels.panel_width(4)
            rows = np.empty((-(-G // W), H, W), np.float32)
            cols = np.empty((-(-H // W), G, W), np.float32)
            panels.rows_as_panels(w, rows)
            panels.cols_as_panels(w, cols)
            times = interleaved_medians({
                "blas forward": lambda: blas_forward(h, w, scratch, gates),
                "panel forward": lambda: panel_forward(h, rows, gates),
                "blas backward": lambda: blas_backward(d, w, dh),
                "panel backward": lambda: panel_backward(d, cols, dh),
                "pack forward": lambda: panels.rows_as_panels(w, rows),
                "pack backward": lambda: panels.cols_as_panels(w, cols)}, args.repeats, args.min_time)
            gflop = 2.0 * T * N * H * G / 1e9
            f_b, f_p = gflop / times["blas forward"], gflop / times["panel forward"]
            b_b, b_p = gflop / times["blas backward"], gflop / times["panel backward"]
            print(f"({T:3d}, {N:3d}, {H:3d})   {f_b:27.1f} {f_p:7.1f} {f_p / f_b:6.2f} | {b_b:18.1f} {b_p:7.1f}"
                  f" {b_p / b_b:6.2f} | {times['pack forward'] * 1e3:.2f}, {times['pack backward'] * 1e3:.2f}")


if __name__ == "__main__":
    main()
