"""Threads: a training step out of the box, pinned to 1 thread, and with 2, the other core idle or busy.

    python bench/threads.py [--repeats 7] [--min-time 0.3] [--cells lstm gru rnn] [--busy]

One fastrnn.LSTM/GRU/RNN training step (forward + backward, float32) per size, timed as
interleaved medians in one process:

- ``default``: nothing set anywhere (OpenBLAS at its default count, fastrnn's default budget);
- ``1 thread``: every pool pinned to 1 (threadpoolctl, numba, fastrnn.set_num_threads(1));
- ``2 threads``: OpenBLAS at 2 and ``fastrnn.set_num_threads(2)``;
- ``torch 2``: torch.nn's same step at ``torch.set_num_threads(2)`` (if torch is installed).

With ``--busy`` a second process spins on one core for the whole run (started and stopped
here), the case of a shared machine, a data loader or a second training job.
"""
import argparse
import multiprocessing
import os
import statistics
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir))

import numpy as np  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402

import fastrnn  # noqa: E402
from fastrnn._bench.timing import interleaved  # noqa: E402

SIZES = {"small": (100, 8, 64, 64), "medium": (50, 32, 256, 256), "large": (35, 20, 650, 650),
         "wide batch": (64, 128, 128, 256)}
_MODULES = {"lstm": "LSTM", "gru": "GRU", "rnn": "RNN"}


def _spin():
    while True:
        pass


def fastrnn_step(cell, size):
    T, N, I, H = size
    m = getattr(fastrnn, _MODULES[cell])(I, H, seed=0)
    x = np.random.default_rng(0).standard_normal((T, N, I)).astype(np.float32)
    dout = np.ones((T, N, H), np.float32)

    def step():
        m.zero_grad()
        m(x)
        m.backward(dout)
    return step


def torch_step(cell, size):
    import torch
    T, N, I, H = size
    m = getattr(torch.nn, _MODULES[cell])(I, H)
    x = torch.randn(T, N, I)

    def step():
        m.zero_grad()
        out, _ = m(x)
        out.sum().backward()
    return step


def with_threads(fn, blas, budget):
    """fn run with OpenBLAS at ``blas`` threads (None: as it is) and fastrnn's budget."""
    def run():
        old = fastrnn.get_num_threads()
        fastrnn.set_num_threads(budget)
        try:
            if blas is None:
                fn()
            else:
                with threadpool_limits(limits=blas, user_api="blas"):
                    fn()
        finally:
            fastrnn.set_num_threads(old)
    return run


def with_torch_threads(fn, n):
    import torch

    def run():
        old = torch.get_num_threads()
        torch.set_num_threads(n)
        try:
            fn()
        finally:
            torch.set_num_threads(old)
    return run


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=7)
    p.add_argument("--min-time", type=float, default=0.3)
    p.add_argument("--cells", nargs="+", default=["lstm", "gru", "rnn"])
    p.add_argument("--sizes", nargs="+", default=list(SIZES))
    p.add_argument("--busy", action="store_true", help="keep one core busy with a spinning process")
    args = p.parse_args(argv)
    try:
        import torch  # noqa: F401
        have_torch = True
    except ImportError:
        have_torch = False
    spinner = None
    if args.busy:
        spinner = multiprocessing.get_context("spawn").Process(target=_spin, daemon=True)
        spinner.start()
    try:
        print(f"other core {'busy (a spinning process)' if args.busy else 'idle'}; "
              f"ms per training step, interleaved medians; ratios are 1 thread's time / theirs")
        print(f"{'cell':5s} {'(T, N, I, H)':20s} {'1 thread':>9s} {'default':>9s} {'2 threads':>9s} "
              f"{'torch 2':>9s} {'default/1':>9s} {'2/1':>6s} {'2 vs torch 2':>12s}")
        for cell in args.cells:
            for name in args.sizes:
                size = SIZES[name]
                step = fastrnn_step(cell, size)
                fns = {"1": with_threads(step, 1, 1), "default": step, "2": with_threads(step, 2, 2)}
                if have_torch:
                    fns["torch"] = with_torch_threads(torch_step(cell, size), 2)
                times = {k: statistics.median(v) for k, v in interleaved(fns, args.repeats, args.min_time).items()}
                torch_ratio = f"{times['torch'] / times['2']:.2f}x" if "torch" in times else "-"
                print(f"{cell:5s} {str(size):20s} {times['1'] * 1e3:9.2f} {times['default'] * 1e3:9.2f} "
                      f"{times['2'] * 1e3:9.2f} {times.get('torch', float('nan')) * 1e3:9.2f} "
                      f"{times['1'] / times['default']:8.2f}x {times['1'] / times['2']:5.2f}x {torch_ratio:>12s}",
                      flush=True)
    finally:
        if spinner is not None:
            spinner.terminate()
            spinner.join()


if __name__ == "__main__":
    main()
