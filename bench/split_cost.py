"""What splitting a sequence call into k parts costs beyond its work (docs/scale.md's cost model).

    python bench/split_cost.py [--parts 2 3 4] [--repeats 9]

Two fixed costs, each an interleaved median in one process:

- ``handoff``: fastrnn's part runner (batch_split._run_parts) on a call that does nothing,
  k parts: handing k - 1 parts to the worker threads and collecting them (no array work);
- ``split call``: a forward + backward of a tiny LSTM layer (T = 2, H = 8, 4 sequences per
  part) split into k parts, minus the same call unsplit: the handoff plus cutting the
  inputs, states and options into parts and joining the results.

On a machine with fewer cores than k the parts share cores; the fixed costs are still what
each split adds to a call (the work itself then does not speed up).
"""
import argparse
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir))

import numpy as np  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402

import fastrnn  # noqa: E402
from fastrnn import _cells  # noqa: E402
from fastrnn._cells import batch_split  # noqa: E402


def median_us(fn, repeats, number=200):
    fn()
    samples = []
    for _ in range(repeats):
        t = time.perf_counter()
        for _ in range(number):
            fn()
        samples.append((time.perf_counter() - t) / number)
    return statistics.median(samples) * 1e6


def layer_call(k):
    cell = _cells.get("lstm")
    rng = np.random.default_rng(0)
    T, N, I, H = 2, 4 * k, 8, 8
    x = rng.standard_normal((T, N, I)).astype(np.float32)
    states = tuple(np.zeros((N, H), np.float32) for _ in range(2))
    params = tuple(p.astype(np.float32) for p in (rng.standard_normal((4 * H, I)), rng.standard_normal((4 * H, H)),
                                                   np.zeros(4 * H), np.zeros(4 * H)))
    grads = tuple(np.zeros_like(p) for p in params)
    dout = np.ones((T, N, H), np.float32)
    options = cell.check_options()

    def call():
        _, _, cache = cell.forward(x, states, params, "torch", options)
        cell.backward(cache, dout, (None, None), grads, True)
    return call


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--parts", type=int, nargs="+", default=[2, 3, 4])
    p.add_argument("--repeats", type=int, default=9)
    args = p.parse_args(argv)
    batch_split.MIN_MACS = 0            # split whatever the size (the point is the fixed cost)
    print(f"{'parts':>5s} {'handoff (us)':>13s} {'split call (us)':>16s} {'unsplit (us)':>13s} "
          f"{'added by split (us)':>20s} {'per part (us)':>14s}")
    for k in args.parts:
        with threadpool_limits(limits=k, user_api="blas"):
            fastrnn.set_num_threads(k)
            handoff = median_us(lambda: batch_split._run_parts(lambda: None, [()] * k), args.repeats)
            call = layer_call(k)
            split = median_us(call, args.repeats)
            fastrnn.set_num_threads(1)
            whole = median_us(call, args.repeats)
        added = split - whole
        print(f"{k:5d} {handoff:13.1f} {split:16.1f} {whole:13.1f} {added:20.1f} {added / k:14.1f}", flush=True)


if __name__ == "__main__":
    main()
