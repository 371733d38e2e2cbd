"""Every thread on one sequence call: each runs a part of the batch through the whole time loop.

With a thread budget of k >= 2 (``fastrnn.set_num_threads``), a sequence call (``forward``,
``infer``, ``backward`` of any registry entry) whose batch and work are big enough runs as
up to k calls on k parts of its sequences, all but the first in worker threads (the kernels
release the GIL), each with its own per-step products on one BLAS thread. No thread waits on
another inside the time loop, which a shared per-step GEMM would make it do at every step;
the parts meet once, at the end. The backward of a split forward runs split the same way and
adds the other parts' weight gradients to the first's.

Outputs, final states, input and state gradients are the unsplit call's, joined; the
weight gradients are the sums of the parts' (the same sums, added in another order).
A padded batch is cut into k runs of consecutive sequences of (almost) equal size. A packed
batch (variable lengths, ``batch_sizes``) is cut by sequence number modulo k in length
order (sequences j, j + k, j + 2k, ... go to part j), so that every part has about the same
rows at every step; each part is gathered into a packed batch of its own and the results
scattered back.

How many parts: ``min(budget, the BLAS's thread count, N // MIN_PART_ROWS, macs // MIN_MACS)``
(``available_threads``: a limit the user set, threadpoolctl or ``OPENBLAS_NUM_THREADS``, is
kept), at most ``1 + macs // MIN_MACS``. Calls not split: fewer than 2·MIN_PART_ROWS sequences,
under MIN_MACS multiply-adds, a budget below 2. docs/scale.md gives the cost model (what a part costs, what to expect on
more cores).
"""
import concurrent.futures
import os
import threading

import numpy as np

from .._threads import _budget, available_threads, one_blas_thread

MIN_PART_ROWS = 4             # sequences in each part: fewer make the per-step products too thin
MIN_MACS = 1 << 23       # multiply-adds (T·N·G·H·(I + H)) a call needs to split, and each further part
                         # needs as many more: ~0.3 ms on one core

_local = threading.local()         # .inside: this thread runs one part of a split call
_pool = []                         # the worker threads' executor, made on first use (grown when needed)

if hasattr(os, "register_at_fork"):
    # a forked child (a DataLoader worker, multiprocessing) has no worker thread: it makes its own
    os.register_at_fork(after_in_child=_pool.clear)


def _workers(count):
    """An executor with at least ``count`` worker threads."""
    if not _pool or _pool[0]._max_workers < count:
        old = _pool[:]
        _pool[:] = [concurrent.futures.ThreadPoolExecutor(max_workers=count, thread_name_prefix="fastrnn-split")]
        for executor in old:
            executor.shutdown(wait=False)
    return _pool[0]


def may_split():
    """False when no call made now can split: a budget below 2 (the default of 1), or this
    thread already runs one part of a split call. A test cheaper than :func:`split_point`."""
    return _budget[0] >= 2 and not getattr(_local, "inside", False)


def split_point(x, params, batch_sizes=None):
    """How a call's batch is cut (:class:`PaddedParts` or :class:`PackedParts`), or None when
    the call runs whole."""
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
    if N < 2 * MIN_PART_ROWS:
        return None
    G, K = params[1].shape                      # the recurrent weight (G·H, H or P)
    parts = min(N // MIN_PART_ROWS, 1 + rows * G * (I + K) // MIN_MACS if MIN_MACS else N)
    if parts < 2:
        return None
    parts = min(parts, available_threads())
    if parts < 2:
        return None
    return PaddedParts(N, parts) if batch_sizes is None else PackedParts(batch_sizes, parts)


class _Parts:
    """A cut of a batch into ``count`` parts; part ``j`` is 0 .. count-1."""

    def options(self, options, j, out_shape):
        """Option arrays shaped like the call's ``out`` (zoneout's per-row keep weights) cut
        like the rows; the other options as they are."""
        def per_row(v):
            return isinstance(v, np.ndarray) and v.ndim == len(out_shape) and v.shape[:-1] == out_shape[:-1]
        if not any(per_row(v) for v in options.values()):
            return options
        return {k: self.rows(v, j) if per_row(v) else v for k, v in options.items()}


class PaddedParts(_Parts):
    """A padded (T, N, ...) batch cut into ``count`` runs of consecutive sequences."""

    __slots__ = ("count", "bounds")

    def __init__(self, N, count):
        self.count = count
        self.bounds = [N * j // count for j in range(count + 1)]

    def batch_sizes(self, j):
        return None

    def rows(self, value, j):
        """Part j of a (T, N, F) array (None stays None)."""
        if value is None:
            return None
        return np.ascontiguousarray(value[:, self.bounds[j]:self.bounds[j + 1]])

    def states(self, value, j):
        """Part j of an (N, F) state (None stays None)."""
        if value is None:
            return None
        return np.ascontiguousarray(value[self.bounds[j]:self.bounds[j + 1]])

    def join_rows(self, parts):
        return np.concatenate(parts, axis=1)

    def join_states(self, parts):
        return np.concatenate(parts)


class PackedParts(_Parts):
    """A packed batch (rows step by step, each step's sequences longest first, as
    ``batch_sizes`` counts them) cut by sequence number modulo ``count``. Each part is a
    packed batch of its own, and all have about the same rows at every step."""

    __slots__ = ("count", "_rows", "_sizes")

    def __init__(self, batch_sizes, count):
        self.count = count
        starts = np.concatenate(([0], np.cumsum(batch_sizes)[:-1]))
        sequence = np.arange(int(batch_sizes.sum())) - np.repeat(starts, batch_sizes)   # each row's sequence
        self._rows = [np.flatnonzero(sequence % count == j) for j in range(count)]
        sizes = [(batch_sizes - j + count - 1) // count for j in range(count)]       # sequences j, j+k, ... < b
        self._sizes = [np.ascontiguousarray(b[b > 0]) for b in sizes]

    def batch_sizes(self, j):
        return self._sizes[j]

    def rows(self, value, j):
        """Part j's rows of an (R, F) array (None stays None)."""
        return None if value is None else value[self._rows[j]]

    def states(self, value, j):
        """Part j's sequences of an (N, F) state, sorted as the rows (None stays None)."""
        if value is None:
            return None
        return np.ascontiguousarray(value[j::self.count])

    def join_rows(self, parts):
        out = np.empty((sum(p.shape[0] for p in parts),) + parts[0].shape[1:], parts[0].dtype)
        for rows, p in zip(self._rows, parts):
            out[rows] = p
        return out

    def join_states(self, parts):
        out = np.empty((sum(p.shape[0] for p in parts),) + parts[0].shape[1:], parts[0].dtype)
        for j, p in enumerate(parts):
            out[j::self.count] = p
        return out


def _run_parts(call, args):
    """call(*args[j]) for every part, parts 1.. in worker threads while part 0 runs here ->
    the results in part order."""
    def part(a):
        _local.inside = True
        try:
            return call(*a)
        finally:
            _local.inside = False
    with one_blas_thread():
        futures = [_workers(len(args) - 1).submit(part, a) for a in args[1:]]
        try:
            first = part(args[0])
        finally:
            rest = [f.result() for f in futures]        # every part ends before the call returns
        return [first] + rest


class SplitCache:
    """The parts' caches of a split forward, for the backward, and how the batch was cut."""

    __slots__ = ("parts", "cut")

    def __init__(self, parts, cut):
        self.parts, self.cut = parts, cut

    def __repr__(self):
        return f"<SplitCache of {len(self.parts)} parts>"


def _forward_args(cut, x, states, params, layout, options, j):
    return (cut.rows(x, j), tuple(cut.states(s, j) for s in states), params, layout,
            cut.options(options, j, x.shape), cut.batch_sizes(j))


def _split_call(call, with_cache):
    """``call`` (a registry entry's forward or infer) run on the parts of a big enough batch."""
    def run(x, states, params, layout, options, batch_sizes=None):
        cut = split_point(x, params, batch_sizes)
        if cut is None:
            return call(x, states, params, layout, options, batch_sizes)
        results = _run_parts(call, [_forward_args(cut, x, states, params, layout, options, j)
                                    for j in range(cut.count)])
        joined = (cut.join_rows([r[0] for r in results]),
                  tuple(cut.join_states(list(f)) for f in zip(*(r[1] for r in results))))
        return joined + (SplitCache(tuple(r[2] for r in results), cut),) if with_cache else joined
    run.splits = True
    return run


def split_forward(forward):
    """``forward`` -> (out, finals, cache), split: the cache is a :class:`SplitCache`."""
    return _split_call(forward, True)


def split_infer(infer):
    """``infer`` (forward only) -> (out, finals), split as :func:`split_forward`."""
    return _split_call(infer, False)


def split_backward(backward):
    """``backward`` of a split forward's cache: every part at once, weight gradients summed."""
    def run(cache, dout, dstates, grads, accumulate):
        if not isinstance(cache, SplitCache):
            return backward(cache, dout, dstates, grads, accumulate)
        cut = cache.cut
        part_grads = [grads] + [tuple(None if g is None else np.empty_like(g) for g in grads)
                                for _ in range(cut.count - 1)]
        results = _run_parts(backward, [(cache.parts[j], cut.rows(dout, j), tuple(cut.states(d, j) for d in dstates),
                                         part_grads[j], accumulate if j == 0 else False)
                                        for j in range(cut.count)])
        for extra in part_grads[1:]:
            for g, e in zip(grads, extra):
                if g is not None:
                    g += e
        return (cut.join_rows([r[0] for r in results]),
                tuple(cut.join_states(list(d)) for d in zip(*(r[1] for r in results))))
    run.splits = True
    return run
