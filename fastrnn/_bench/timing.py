"""Timing primitives: calibrated loops, interleaved medians, and the GEMM roof."""
import gc
import math
import statistics
import time

import numpy as np


def time_loop(fn, number):
    """Seconds per call of ``fn()`` over ``number`` back-to-back calls (garbage collector paused)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        t0 = time.perf_counter()
        for _ in range(number):
            fn()
        return (time.perf_counter() - t0) / number
    finally:
        if enabled:
            gc.enable()


def calibrate(fn, min_time):
    """Warm ``fn`` up (compiles on first call), then pick a loop count taking >= ``min_time`` s."""
    fn()
    t = time_loop(fn, 1)
    return max(1, math.ceil(min_time / max(t, 1e-7)))


def interleaved(fns, repeats, min_time, tick=None):
    """Time several callables in turn, ``repeats`` rounds, the order rotating each round.

    fns: dict name -> zero-argument callable. Returns dict name -> list of seconds per
    call (one per round). Interleaving spreads slow drifts of a shared machine (other
    jobs, frequency changes) evenly over the implementations compared.
    ``tick()`` is called after each timed loop (for a progress bar).
    """
    names = list(fns)
    numbers = {name: calibrate(fns[name], min_time) for name in names}
    samples = {name: [] for name in names}
    for r in range(repeats):
        k = r % len(names)
        for name in names[k:] + names[:k]:
            samples[name].append(time_loop(fns[name], numbers[name]))
            if tick is not None:
                tick()
    return samples


def interleaved_medians(fns, repeats, min_time):
    """:func:`interleaved`, reduced to each callable's median seconds per call."""
    return {name: statistics.median(s) for name, s in interleaved(fns, repeats, min_time).items()}


def median(xs):
    return statistics.median(xs)


def gemm_rate(n, dtype=np.float32, repeats=5, seed=0):
    """Best FLOP/s of ``a @ b`` over ``repeats`` calls, (n, n) matrices, numpy's BLAS.

    The roof is a peak, so the best call counts (other jobs only ever slow a call down).
    Call it with the threads pinned.
    """
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((n, n)).astype(dtype)
    b = rng.standard_normal((n, n)).astype(dtype)
    out = np.empty((n, n), dtype)
    np.matmul(a, b, out=out)
    times = [time_loop(lambda: np.matmul(a, b, out=out), 1) for _ in range(repeats)]
    return 2.0 * n ** 3 / min(times)
