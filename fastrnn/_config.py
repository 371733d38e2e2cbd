"""``fastrnn.show_config()``: what fastrnn runs on here, like ``numpy.show_config()``.

The BLAS library the kernels call (the one numpy loaded), the kernel tier (the per-step
product's panels: AVX-512, AVX2, or none and why), the reduced-precision instructions the
CPU has (VNNI, AVX512-BF16, AMX), the thread budget and the limits in force, the versions
of what fastrnn compiles with, and where Numba caches the compiled kernels.

    >>> import fastrnn
    >>> config = fastrnn.show_config(mode="dicts")
    >>> sorted(config)
    ['blas', 'cache', 'cpu', 'kernels', 'threads', 'versions']
"""
import os
import platform
import sys

__all__ = ["show_config"]

# LLVM feature names -> what show_config calls them (instructions for int8 and bfloat16 products)
_PRECISION_FEATURES = (("avx512vnni", "AVX512-VNNI"), ("avxvnni", "AVX-VNNI"), ("avx512bf16", "AVX512-BF16"),
                       ("amx-tile", "AMX-TILE"), ("amx-int8", "AMX-INT8"), ("amx-bf16", "AMX-BF16"))
_THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS",
                     "OPENBLAS_CORETYPE")


def _blas():
    from threadpoolctl import threadpool_info

    from ._kernels import blas
    pool = next((p for p in threadpool_info() if p.get("filepath") and _same_file(p["filepath"], blas.BLAS_LIBRARY)),
                {})
    return {"library": pool.get("internal_api") or _name_of(blas.BLAS_LIBRARY),
            "path": blas.BLAS_LIBRARY,
            "version": pool.get("version"),
            "core_type": pool.get("architecture") or blas._core_name() or None,
            "integer_width": "ILP64" if blas.BLAS_INT_BITS == 64 else "LP64",
            "symbol": blas.BLAS_SYMBOL,
            "found": blas.BLAS_FOUND,
            "threading_layer": pool.get("threading_layer"),
            "num_threads": pool.get("num_threads")}


def _same_file(a, b):
    try:
        return os.path.samefile(a, b)
    except OSError:
        return a == b


def _name_of(path):
    name = os.path.basename(path).lower()
    for known in ("openblas", "mkl", "blis", "accelerate", "cblas"):
        if known in name:
            return known
    return "blas" if "blas" in name else name


def _kernels():
    from ._kernels import panels
    if panels._ARM:
        tier, why = "none", "ARM: panels off until measured on an ARM CPU (OpenBLAS runs the per-step products)"
    elif not panels.PANELS:
        tier, why = "none", "the CPU lacks AVX2 with FMA (OpenBLAS runs the per-step products)"
    elif panels.WIDE:
        tier, why = "AVX-512", "two 64-byte vectors per panel"
    else:
        tier, why = "AVX2", "two 32-byte vectors per panel"
    return {"tier": tier, "note": why, "panels": bool(panels.PANELS),
            "panel_width_float32": panels.panel_width(4) if panels.PANELS else None,
            "panel_width_float64": panels.panel_width(8) if panels.PANELS else None,
            "register_rows": panels.ROWS if panels.PANELS else None}


def _cpu():
    from ._kernels import panels
    features = panels._FEATURES
    try:
        from llvmlite import binding as llvm
        name = llvm.get_host_cpu_name()
    except Exception:          # llvmlite cannot tell
        name = None
    vector = [label for key, label in (("avx2", "AVX2"), ("fma", "FMA"), ("avx512f", "AVX-512F"))
              if features.get(key)]
    return {"machine": platform.machine(), "llvm_cpu": name, "vector": vector,
            "reduced_precision": [label for key, label in _PRECISION_FEATURES if features.get(key)]}


def _threads():
    from . import _threads
    return {"budget": _threads.get_num_threads(),
            "available": _threads.available_threads(),
            "cores": os.cpu_count(),
            "environment": {name: os.environ[name] for name in _THREAD_VARIABLES if name in os.environ}}


def _versions():
    import llvmlite
    import numba
    import numpy

    from . import __version__
    return {"fastrnn": __version__, "python": platform.python_version(), "numpy": numpy.__version__,
            "numba": numba.__version__, "llvmlite": llvmlite.__version__}


def _cache():
    from numba.core import config
    package = os.path.dirname(os.path.abspath(__file__))
    chosen = config.CACHE_DIR or None
    return {"directory": chosen or os.path.join(package, "_kernels", "__pycache__"),
            "set_by": "NUMBA_CACHE_DIR" if chosen else "Numba's default (__pycache__ beside the kernel files)"}


def show_config(mode="stdout"):
    """What fastrnn runs on here: ``mode="stdout"`` prints it (returns None), ``mode="dicts"``
    returns it as a dict of dicts: ``blas`` (library, path, version, core type, ILP64/LP64,
    symbol, how it was found, threads), ``kernels`` (the per-step product's tier: AVX-512,
    AVX2 or none, panel widths), ``cpu`` (vector and reduced-precision instructions: VNNI,
    AVX512-BF16, AMX), ``threads`` (fastrnn's budget, what a call may use now, the
    environment's limits), ``versions`` and ``cache`` (where Numba keeps the compiled kernels).
    """
    if mode not in ("stdout", "dicts"):
        raise ValueError(f"mode: expected 'stdout' or 'dicts', got {mode!r}")
    config = {"blas": _blas(), "kernels": _kernels(), "cpu": _cpu(), "threads": _threads(),
              "versions": _versions(), "cache": _cache()}
    if mode == "dicts":
        return config
    for section, values in config.items():
        print(f"{section}:")
        for key, value in values.items():
            if isinstance(value, (list, tuple)):
                value = ", ".join(map(str, value)) or "none"
            elif isinstance(value, dict):
                value = ", ".join(f"{k}={v}" for k, v in value.items()) or "none set"
            print(f"  {key}: {value}")
    sys.stdout.flush()
    return None
