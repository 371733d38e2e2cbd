"""Pin every thread pool the benchmarks touch to one count.

numpy's OpenBLAS, scipy's OpenBLAS, torch's intra-op pool (and its OpenMP runtime)
and Numba's pool are four separate pools; left alone each sizes itself to the
machine and they fight. ``pin_threads(n)`` imports what is installed first, so the
libraries are loaded when threadpoolctl looks for them.
"""
import contextlib
import importlib


def _try_import(name):
    try:
        return importlib.import_module(name)
    except Exception:           # absent or broken optional library: nothing to pin
        return None


def _torch():
    return _try_import("torch")


@contextlib.contextmanager
def pin_threads(n, torch=True):
    """Context manager: numba, fastrnn's thread budget, every BLAS/OpenMP pool threadpoolctl sees, and torch use ``n`` threads.

    ``torch=False`` leaves torch unimported (its pools are then pinned only if already loaded).
    """
    import numba
    from threadpoolctl import threadpool_limits

    _try_import("scipy.linalg")                 # loads scipy's OpenBLAS copy if scipy is installed
    import sys
    torch = _torch() if torch else sys.modules.get("torch")
    from .. import _threads
    old_numba, old_budget = numba.get_num_threads(), _threads.get_num_threads()
    old_torch = torch.get_num_threads() if torch is not None else None
    numba.set_num_threads(min(n, numba.config.NUMBA_NUM_THREADS))
    _threads.set_num_threads(n)
    if torch is not None:
        torch.set_num_threads(n)
    try:
        with threadpool_limits(limits=n):
            yield n
    finally:
        numba.set_num_threads(old_numba)
        _threads.set_num_threads(old_budget)
        if torch is not None:
            torch.set_num_threads(old_torch)


def thread_info():
    """What each pool reports right now (for the JSON record)."""
    import numba
    from threadpoolctl import threadpool_info

    info = {"numba": numba.get_num_threads(),
            "pools": [{k: p.get(k) for k in ("internal_api", "prefix", "version", "num_threads", "filepath")}
                      for p in threadpool_info()]}
    torch = _torch()
    if torch is not None:
        info["torch"] = torch.get_num_threads()
    return info


def blas_info():
    """numpy's BLAS as threadpoolctl sees it, and the OpenBLAS kernel override in force, if any.

    OpenBLAS picks its kernels for the CPU when it loads, unless ``OPENBLAS_CORETYPE``
    names a core type: then it uses that one's kernels (e.g. ``Haswell``: AVX2 where the
    CPU has AVX-512), which changes the speed of fastrnn's and NumPy's GEMMs (not torch's,
    which uses MKL and oneDNN).
    """
    import os
    from threadpoolctl import threadpool_info

    from .._kernels.blas import BLAS_LIBRARY        # the BLAS numpy loaded, which fastrnn calls
    pools = [p for p in threadpool_info() if p.get("user_api") == "blas" and p.get("filepath") == BLAS_LIBRARY]
    pool = pools[0] if pools else {}
    return {"library": pool.get("internal_api"), "version": pool.get("version"),
            "architecture": pool.get("architecture"),
            "openblas_coretype": os.environ.get("OPENBLAS_CORETYPE")}


def coretype_note(info):
    """One line saying that OPENBLAS_CORETYPE forces the BLAS kernels, or None when it does not."""
    forced = info.get("openblas_coretype")
    if not forced:
        return None
    return (f"note: OPENBLAS_CORETYPE={forced} forces OpenBLAS's {info.get('architecture') or forced} kernels, "
            "used by fastrnn's and NumPy's matrix products (torch uses its own MKL/oneDNN). To measure with "
            "the kernels OpenBLAS picks for this CPU: env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python -m fastrnn bench ...")
