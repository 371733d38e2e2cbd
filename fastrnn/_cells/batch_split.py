"""Both threads on one sequence call: each runs half of the batch through the whole time loop.

With a thread budget of 2 or more (``fastrnn.set_num_threads``), a padded sequence call
(``forward``, ``infer``, ``backward`` of any registry entry) whose batch and work are big
enough runs as two calls on the two halves of its sequences, one in a worker thread (the
kernels release the GIL), each with its own per-step products on one OpenBLAS thread. No
thread waits on the other inside the time loop, which a shared per-step GEMM would make it
do at every step; the halves meet once, at the end. The backward of a split forward runs
split the same way and adds the second half's weight gradients to the first's.

Outputs, final states, input and state gradients are the unsplit call's, concatenated; the
weight gradients are the sums of the two halves' (the same sums, added in another order).
Calls not split: packed batches (variable lengths), batches of fewer than 2·MIN_ROWS
sequences, calls under MIN_MACS multiply-adds, a budget below 2, and OpenBLAS already
limited to one thread by the user (threadpoolctl, ``OPENBLAS_NUM_THREADS``).
"""
import concurrent.futures
import os
import threading

import numpy as np

from .._threads import _budget, available_threads, one_blas_thread

MIN_ROWS = 4             # sequences in each half: fewer make the per-step products too thin
MIN_MACS = 1 << 23       # multiply-adds of a call (T·N·G·H·(I + H)), ~0.3 ms on one core

_local = threading.local()         # .inside: this thread runs one half of a split call
_pool = []                         # the worker thread's executor, made on first use

if hasattr(os, "register_at_fork"):
    # a forked child (a DataLoader worker, multiprocessing) has no worker thread: it makes its own
    os.register_at_fork(after_in_child=_pool.clear)


def _worker():
    if not _pool:
        _pool.append(concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="fastrnn-split"))
    return _pool[0]


def split_point(x, params, batch_sizes=None):
    """The first half's sequence count, or 0 when the call runs whole."""
    if _budget[0] < 2 or batch_sizes is not None or x.ndim != 3 or getattr(_local, "inside", False):
        return 0            # the default budget of 1 returns at the first test
    T, N, I = x.shape
    if N < 2 * MIN_ROWS:
        return 0
    G, K = params[1].shape                      # the recurrent weight (G·H, H or P)
    if T * N * G * (I + K) < MIN_MACS or available_threads() < 2:
        return 0
    return N // 2


def _half(value, n0, axis, first):
    if value is None:
        return None
    part = value[(slice(None),) * axis + (slice(None, n0) if first else slice(n0, None),)]
    return np.ascontiguousarray(part)


def _half_options(options, T, N, n0, first):
    """Per-row option arrays (zoneout's (T, N, H) keep weights) cut like the batch."""
    if not any(isinstance(v, np.ndarray) and v.ndim == 3 and v.shape[:2] == (T, N) for v in options.values()):
        return options
    return {k: _half(v, n0, 1, first) if isinstance(v, np.ndarray) and v.ndim == 3 and v.shape[:2] == (T, N) else v
            for k, v in options.items()}


def _both(call, first_args, second_args):
    """call(*second_args) in the worker while call(*first_args) runs here -> (first, second)."""
    def second():
        _local.inside = True
        try:
            return call(*second_args)
        finally:
            _local.inside = False
    with one_blas_thread():
        future = _worker().submit(second)
        _local.inside = True
        try:
            first = call(*first_args)
        finally:
            _local.inside = False
        return first, future.result()


class SplitCache:
    """The two halves' caches of a split forward, for the backward."""

    __slots__ = ("halves", "n0")

    def __init__(self, halves, n0):
        self.halves, self.n0 = halves, n0

    def __repr__(self):
        return f"<SplitCache of {self.halves[0]!r} and {self.halves[1]!r}>"


def _forward_args(x, states, params, layout, options, n0, first):
    T, N = x.shape[:2]
    return (_half(x, n0, 1, first), tuple(_half(s, n0, 0, first) for s in states), params, layout,
            _half_options(options, T, N, n0, first), None)


def _split_call(call, with_cache):
    """``call`` (a registry entry's forward or infer) run on two halves of a big enough padded batch."""
    def run(x, states, params, layout, options, batch_sizes=None):
        n0 = split_point(x, params, batch_sizes)
        if not n0:
            return call(x, states, params, layout, options, batch_sizes)
        a, b = _both(call, _forward_args(x, states, params, layout, options, n0, True),
                     _forward_args(x, states, params, layout, options, n0, False))
        joined = (np.concatenate((a[0], b[0]), axis=1), tuple(np.concatenate(pair) for pair in zip(a[1], b[1])))
        return joined + (SplitCache((a[2], b[2]), n0),) if with_cache else joined
    run.splits = True
    return run


def split_forward(forward):
    """``forward`` -> (out, finals, cache), split: the cache is a :class:`SplitCache`."""
    return _split_call(forward, True)


def split_infer(infer):
    """``infer`` (forward only) -> (out, finals), split as :func:`split_forward`."""
    return _split_call(infer, False)


def split_backward(backward):
    """``backward`` of a split forward's cache: both halves at once, weight gradients summed."""
    def run(cache, dout, dstates, grads, accumulate):
        if not isinstance(cache, SplitCache):
            return backward(cache, dout, dstates, grads, accumulate)
        n0 = cache.n0
        second_grads = tuple(None if g is None else np.empty_like(g) for g in grads)
        a, b = _both(backward,
                     (cache.halves[0], _half(dout, n0, 1, True), tuple(_half(d, n0, 0, True) for d in dstates),
                      grads, accumulate),
                     (cache.halves[1], _half(dout, n0, 1, False), tuple(_half(d, n0, 0, False) for d in dstates),
                      second_grads, False))
        for g, extra in zip(grads, second_grads):
            if g is not None:
                g += extra
        return np.concatenate((a[0], b[0]), axis=1), tuple(np.concatenate(pair) for pair in zip(a[1], b[1]))
    run.splits = True
    return run
