"""How many threads fastrnn's kernels use: ``fastrnn.set_num_threads`` / ``get_num_threads``.

Every per-step product of a time loop runs on one thread, whatever is set: it is a thin GEMM
(N rows against the recurrent weight), and handing parts of it to other threads costs more
than it computes, far more when another process keeps a core busy (every step then waits for
the slowest thread). The budget set here is for the GEMMs over all rows before and after the
time loop (the input projection, the weight and input gradients).

The default budget is 1, which is never slower than one thread on a shared machine. On a
machine of your own with idle cores, ``fastrnn.set_num_threads(k)`` lets a big enough batch
run as up to k parts, each in its own thread through the whole time loop with its own
per-step products (fastrnn/_cells/batch_split.py), so that no thread waits for another
at every step; smaller calls let those GEMMs over all rows use the other threads. The budget never raises a limit you set yourself: a kernel call uses
``min(budget, OpenBLAS's current thread count)``, so ``threadpoolctl.threadpool_limits(1)``,
``OMP_NUM_THREADS=1`` or ``OPENBLAS_NUM_THREADS=1`` still mean one thread. Each kernel
call sets OpenBLAS's count for its duration and puts it back after, so numpy's own calls
outside fastrnn keep their setting. ``fastrnn.torch`` also keeps within
``torch.get_num_threads()``.

    >>> import fastrnn
    >>> fastrnn.get_num_threads()
    1
"""
import ctypes
import threading

from ._validation import check_int

__all__ = ["set_num_threads", "get_num_threads", "kernel_threads", "capped", "available_threads", "one_blas_thread"]

_budget = [1]


def set_num_threads(n):
    """Let the kernels' GEMMs over all rows use up to ``n`` threads (an int >= 1; default 1)."""
    _budget[0] = check_int("n", n, 1)


def get_num_threads():
    """The thread budget set by :func:`set_num_threads` (1 unless set)."""
    return _budget[0]


def _blas_controls():
    from ._kernels import blas
    return blas._THREAD_COUNT_SOURCE, blas._SET_THREADS_SOURCE


class _Cap(threading.local):
    value = None            # no cap unless a capped() block is open in this thread


_cap = _Cap()
_controls = []              # [get, set]: OpenBLAS's thread-count functions, bound on first use


def _bound_controls():
    if not _controls:
        get, set_ = _blas_controls()
        set_.argtypes = [ctypes.c_int]
        _controls.extend((get, set_))
    return _controls


def available_threads():
    """The threads a kernel call may use here: ``min(budget, OpenBLAS's current count, the cap
    of an enclosing :class:`capped`)``."""
    cap = _cap.value
    inner = _budget[0] if cap is None else min(_budget[0], cap)
    return min(inner, _bound_controls()[0]())


class one_blas_thread:
    """Context manager: OpenBLAS on one thread inside (both halves of a split call run their
    GEMMs on their own thread), its count restored on exit."""

    __slots__ = ("_outer",)

    def __enter__(self):
        get, set_ = _bound_controls()
        self._outer = get()
        if self._outer > 1:
            set_(1)
        return self

    def __exit__(self, *exc):
        if self._outer > 1:
            _controls[1](self._outer)
        return False


class kernel_threads:
    """Context manager around a kernel call: OpenBLAS at ``min(budget, its current count, the
    cap of an enclosing :class:`capped`)`` inside, its count restored on exit."""

    __slots__ = ("_outer",)

    def __enter__(self):
        outer = _bound_controls()[0]()
        cap = _cap.value
        inner = _budget[0] if cap is None else min(_budget[0], cap)
        if inner < outer:
            _controls[1](inner)
            self._outer = outer
        else:
            self._outer = None
        return self

    def __exit__(self, *exc):
        if self._outer is not None:
            _controls[1](self._outer)
        return False


class capped:
    """Context manager: kernel calls in this thread use at most ``n`` threads (fastrnn.torch
    keeps within ``torch.get_num_threads()`` this way)."""

    __slots__ = ("n", "_previous")

    def __init__(self, n):
        self.n = max(1, int(n))

    def __enter__(self):
        self._previous = _cap.value
        _cap.value = self.n if self._previous is None else min(self.n, self._previous)
        return self

    def __exit__(self, *exc):
        _cap.value = self._previous
        return False
