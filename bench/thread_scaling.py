"""What a second thread can gain on this machine, work kind by work kind (issue 14's profile).

    python bench/thread_scaling.py [--repeats 5]

Each line times the same work on one thread and split over two, the other core idle, in
alternation, ``repeats`` rounds, and prints the median of the rounds' speedups and their
range (a shared machine moves single timings by tens of percent):

- ``SGEMM n³``: numpy's OpenBLAS on 1 and 2 threads (compute-bound; the big GEMMs before
  and after a time loop are like this);
- ``compute, L1``: compiled loops over 16 KiB each, one per thread (numba prange);
- ``stream, L3``: the same loops over 8 MiB each (both threads read through the shared
  L3 and memory path);
- ``per-step product (N, H, G)``: one time step's recurrent product h (N, H) · w (G, H)ᵀ,
  as one OpenBLAS call against two calls on the two halves of w's rows, one per thread:
  each thread packs and streams half of the weight, which does not fit in L2.
"""
import argparse
import contextlib
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir))

import numba  # noqa: E402
import numpy as np  # noqa: E402
from numba import njit, prange  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402

from fastrnn._kernels.activations import FASTMATH  # noqa: E402
from fastrnn._kernels.blas import gemm  # noqa: E402


@njit(cache=True, fastmath=FASTMATH, error_model="numpy")
def sum_passes(a, passes):
    """``passes`` vectorised passes summing ``a`` (float32)."""
    total = np.float32(0)
    for _ in range(passes):
        for i in range(a.shape[0]):
            total += a[i]
    return total


@njit(cache=True, parallel=True)
def sum_passes_both(a, b, passes):
    out = np.zeros(2, np.float32)
    for k in prange(2):
        out[k] = sum_passes(a if k == 0 else b, passes)
    return out


@njit(cache=True, fastmath=FASTMATH, error_model="numpy", nogil=True)
def product_whole(h, w, c, reps):
    N, H = h.shape
    G = w.shape[0]
    for _ in range(reps):
        gemm(False, True, N, G, H, 1.0, h, H, w, H, 0.0, c, G)


@njit(cache=True, parallel=True, fastmath=FASTMATH, error_model="numpy", nogil=True)
def _product_halves(h, w, c):
    N, H = h.shape
    G = w.shape[0]
    half = (G + 1) // 2
    for k in prange(2):
        g0 = k * half
        gemm(False, True, N, min(G, g0 + half) - g0, H, 1.0, h, H, w[g0:], H, 0.0, c[0][g0:], G)


@njit(cache=True, fastmath=FASTMATH, error_model="numpy", nogil=True)
def product_halves(h, w, c, reps):
    for _ in range(reps):
        _product_halves(h, w, c)


def _seconds(fn):
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def speedup(one, two, repeats, one_setting=contextlib.nullcontext, two_setting=contextlib.nullcontext):
    """Median and range of one's time / two's time, timed in alternation -> text."""
    for fn, setting in ((one, one_setting), (two, two_setting)):
        with setting():
            fn()
    ratios = []
    for _ in range(repeats):
        with one_setting():
            t_one = _seconds(one)
        with two_setting():
            t_two = _seconds(two)
        ratios.append(t_one / t_two)
    return f"{statistics.median(ratios):.2f}x ({min(ratios):.2f}-{max(ratios):.2f})"


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=9)
    args = p.parse_args(argv)
    rng = np.random.default_rng(0)
    print("speedup of 2 threads over 1: median of the rounds (their range), the other core idle")
    for n in (1024, 2048):
        a = rng.standard_normal((n, n)).astype(np.float32)
        out = np.empty_like(a)
        text = speedup(lambda: np.matmul(a, a, out=out), lambda: np.matmul(a, a, out=out), args.repeats,
                       lambda: threadpool_limits(1, user_api="blas"), lambda: threadpool_limits(2, user_api="blas"))
        print(f"  SGEMM {n}³ (OpenBLAS threads)                 {text}")
    numba.set_num_threads(2)
    for label, size, passes in (("compute, L1 (16 KiB each)", 4096, 100000), ("stream, L3 (8 MiB each)", 1 << 21, 100)):
        a = rng.standard_normal(size).astype(np.float32)
        b = a.copy()
        text = speedup(lambda: (sum_passes(a, passes), sum_passes(b, passes)),
                       lambda: sum_passes_both(a, b, passes), args.repeats)
        print(f"  {label:45s} {text}")
    with threadpool_limits(1, user_api="blas"):
        for N, H, G in ((20, 650, 2600), (10, 650, 2600), (32, 256, 1024), (20, 650, 650)):
            h = rng.standard_normal((N, H)).astype(np.float32)
            w = rng.standard_normal((G, H)).astype(np.float32)
            c = np.empty((N, G), np.float32)
            reps = max(2, 20_000_000 // (N * H * G))
            text = speedup(lambda: product_whole(h, w, c, reps), lambda: product_halves(h, w, c, reps), args.repeats)
            print(f"  per-step product (N, H, G) = {str((N, H, G)):16s} {text}")
    print(f"numba threading layer: {numba.threading_layer()}")


if __name__ == "__main__":
    main()
