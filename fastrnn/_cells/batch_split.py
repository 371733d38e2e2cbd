"""Both threads on one sequence call: each runs half of the batch through the whole time loop.

With a thread budget of 2 or more (``fastrnn.set_num_threads``), a sequence call
(``forward``, ``infer``, ``backward`` of any registry entry) whose batch and work are big
enough runs as two calls on the two halves of its sequences, one in a worker thread (the
kernels release the GIL), each with its own per-step products on one OpenBLAS thread. No
thread waits on the other inside the time loop, which a shared per-step GEMM would make it
do at every step; the halves meet once, at the end. The backward of a split forward runs
split the same way and adds the second half's weight gradients to the first's.

Outputs, final states, input and state gradients are the unsplit call's, joined; the
weight gradients are the sums of the two halves' (the same sums, added in another order).
A packed batch (variable lengths, ``batch_sizes``) is cut into its even and its odd
sequences in length order, so that both halves have about the same rows at every step; each
half is gathered into a packed batch of its own and the results scattered back.
Calls not split: batches of fewer than 2·MIN_ROWS sequences, calls under MIN_MACS
multiply-adds, a budget below 2, and OpenBLAS already limited to one thread by the user
(threadpoolctl, ``OPENBLAS_NUM_THREADS``).
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


def may_split():
    """False when no call made now can split: a budget below 2 (the default of 1), or this
    thread already runs one half of a split call. A test cheaper than :func:`split_point`."""
    return _budget[0] >= 2 and not getattr(_local, "inside", False)


def split_point(x, params, batch_sizes=None):
    """How a call's batch is cut in two (:class:`PaddedHalves` or :class:`PackedHalves`), or
    None when the call runs whole."""
    if not may_split():
        return None
    if batch_sizes is None:
        if x.ndim != 3:
            return None
        T, N, I = x.shape
        rows = T * N
    else:
        if x.ndim != 2 or batch_sizes.shape[0] == 0:
            return None
        N, rows, I = int(batch_sizes[0]), x.shape[0], x.shape[1]
    if N < 2 * MIN_ROWS:
        return None
    G, K = params[1].shape                      # the recurrent weight (G·H, H or P)
    if rows * G * (I + K) < MIN_MACS or available_threads() < 2:
        return None
    return PaddedHalves(N // 2) if batch_sizes is None else PackedHalves(batch_sizes)


class _Halves:
    def options(self, options, first, out_shape):
        """Option arrays shaped like the call's ``out`` (zoneout's per-row keep weights) cut
        like the rows; the other options as they are."""
        def per_row(v):
            return isinstance(v, np.ndarray) and v.ndim == len(out_shape) and v.shape[:-1] == out_shape[:-1]
        if not any(per_row(v) for v in options.values()):
            return options
        return {k: self.rows(v, first) if per_row(v) else v for k, v in options.items()}


class PaddedHalves(_Halves):
    """A padded (T, N, ...) batch cut into its first n0 sequences and the rest."""

    __slots__ = ("n0",)

    def __init__(self, n0):
        self.n0 = n0

    def batch_sizes(self, first):
        return None

    def rows(self, value, first):
        """The half of a (T, N, F) array (None stays None)."""
        if value is None:
            return None
        return np.ascontiguousarray(value[:, :self.n0] if first else value[:, self.n0:])

    def states(self, value, first):
        """The half of an (N, F) state (None stays None)."""
        if value is None:
            return None
        return np.ascontiguousarray(value[:self.n0] if first else value[self.n0:])

    def join_rows(self, a, b):
        return np.concatenate((a, b), axis=1)

    def join_states(self, a, b):
        return np.concatenate((a, b))


class PackedHalves(_Halves):
    """A packed batch (rows step by step, each step's sequences longest first, as
    ``batch_sizes`` counts them) cut into its even and its odd sequences. Each half is a
    packed batch of its own, and both have about the same rows at every step."""

    __slots__ = ("_rows", "_sizes")

    def __init__(self, batch_sizes):
        starts = np.concatenate(([0], np.cumsum(batch_sizes)[:-1]))
        sequence = np.arange(int(batch_sizes.sum())) - np.repeat(starts, batch_sizes)   # each row's sequence
        self._rows = (np.flatnonzero(sequence % 2 == 0), np.flatnonzero(sequence % 2 == 1))
        second = batch_sizes // 2
        self._sizes = ((batch_sizes + 1) // 2, np.ascontiguousarray(second[second > 0]))

    def batch_sizes(self, first):
        return self._sizes[0 if first else 1]

    def rows(self, value, first):
        """The half's rows of an (R, F) array (None stays None)."""
        return None if value is None else value[self._rows[0 if first else 1]]

    def states(self, value, first):
        """The half's sequences of an (N, F) state, sorted as the rows (None stays None)."""
        if value is None:
            return None
        return np.ascontiguousarray(value[0::2] if first else value[1::2])

    def join_rows(self, a, b):
        out = np.empty((a.shape[0] + b.shape[0],) + a.shape[1:], a.dtype)
        out[self._rows[0]] = a
        out[self._rows[1]] = b
        return out

    def join_states(self, a, b):
        out = np.empty((a.shape[0] + b.shape[0],) + a.shape[1:], a.dtype)
        out[0::2] = a
        out[1::2] = b
        return out


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
    """The two halves' caches of a split forward, for the backward, and how the batch was cut."""

    __slots__ = ("halves", "cut")

    def __init__(self, halves, cut):
        self.halves, self.cut = halves, cut

    def __repr__(self):
        return f"<SplitCache of {self.halves[0]!r} and {self.halves[1]!r}>"


def _forward_args(cut, x, states, params, layout, options, first):
    return (cut.rows(x, first), tuple(cut.states(s, first) for s in states), params, layout,
            cut.options(options, first, x.shape), cut.batch_sizes(first))


def _split_call(call, with_cache):
    """``call`` (a registry entry's forward or infer) run on two halves of a big enough batch."""
    def run(x, states, params, layout, options, batch_sizes=None):
        cut = split_point(x, params, batch_sizes)
        if cut is None:
            return call(x, states, params, layout, options, batch_sizes)
        a, b = _both(call, _forward_args(cut, x, states, params, layout, options, True),
                     _forward_args(cut, x, states, params, layout, options, False))
        joined = (cut.join_rows(a[0], b[0]), tuple(cut.join_states(p, q) for p, q in zip(a[1], b[1])))
        return joined + (SplitCache((a[2], b[2]), cut),) if with_cache else joined
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
        cut = cache.cut
        second_grads = tuple(None if g is None else np.empty_like(g) for g in grads)
        a, b = _both(backward,
                     (cache.halves[0], cut.rows(dout, True), tuple(cut.states(d, True) for d in dstates),
                      grads, accumulate),
                     (cache.halves[1], cut.rows(dout, False), tuple(cut.states(d, False) for d in dstates),
                      second_grads, False))
        for g, extra in zip(grads, second_grads):
            if g is not None:
                g += extra
        return cut.join_rows(a[0], b[0]), tuple(cut.join_states(p, q) for p, q in zip(a[1], b[1]))
    run.splits = True
    return run
