"""The measurement plan of ``python -m fastrnn bench`` and its JSON-ready record."""
import dataclasses
import datetime
import os
import platform
import sys

import numpy as np

from . import impls as _impls
from . import varlen as _varlen
from .sizes import DEFAULT_CELLS, MODES, SIZES, step_flops
from .threads import blas_info, coretype_note, pin_threads, thread_info
from .timing import gemm_rate, interleaved, median

DTYPES = {"float32": np.float32, "float64": np.float64}

#: one line each when a requested implementation cannot run here
NOTES = {"numpy": "the book-style NumPy baseline is not available (it lives in bench/reference/ of a source "
                  "checkout; run from its root to add it).",
         "torch": "torch is not installed: running without it (pip install torch to add it)."}


@dataclasses.dataclass
class Options:
    cells: tuple = DEFAULT_CELLS
    sizes: tuple = tuple(SIZES)
    dtypes: tuple = ("float32",)
    modes: tuple = MODES
    threads: int = 1
    repeats: int = 7
    min_time: float = 0.1          # seconds per timed loop
    gemm_n: int = 2048
    impls: tuple = _impls.IMPLS
    varlen: bool = True            # the variable-length section (training steps, padding skipped or not)

    @classmethod
    def quick(cls, **kw):
        """Under a minute: three sizes, float32, fewer and shorter repeats, a 1024³ GEMM roof."""
        base = dict(sizes=("tiny", "small", "medium"), repeats=5, min_time=0.02, gemm_n=1024)
        base.update(kw)
        return cls(**base)


def cpu_name():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine_info():
    import numba
    info = {"cpu": cpu_name(), "cores": os.cpu_count(), "platform": platform.platform(),
            "python": platform.python_version(), "numpy": np.__version__, "numba": numba.__version__}
    try:
        import llvmlite
        info["llvmlite"] = llvmlite.__version__
        info["numba_cpu"] = llvmlite.binding.get_host_cpu_name()
    except Exception:
        pass
    if "torch" in sys.modules:
        info["torch"] = sys.modules["torch"].__version__
    info["blas"] = blas_info()
    from .._config import show_config
    info["config"] = show_config(mode="dicts")       # BLAS, kernel tier, CPU instructions, threads, cache
    return info


def plan(opts):
    """The (cell, size, dtype) groups to measure, in order."""
    return [(cell, size, dtype) for dtype in opts.dtypes for cell in opts.cells for size in opts.sizes]


def _measure_gemm(opts, gemm, bar):
    """GEMM roof per dtype; measured at the start and at the end of the run, the higher kept."""
    for dtype in opts.dtypes:
        bar.set_postfix_str(f"GEMM {opts.gemm_n}³ {dtype}")
        rate = gemm_rate(opts.gemm_n, DTYPES[dtype]) / 1e9
        g = gemm.setdefault(dtype, {"n": opts.gemm_n, "gflops": 0.0, "measured": []})
        g["measured"].append(rate)
        g["gflops"] = max(g["measured"])
        bar.update(1)


def _add_roof(entry, gemm):
    if "fastrnn" in entry["gflops"] and entry["dtype"] in gemm:
        entry["pct_gemm"] = 100.0 * entry["gflops"]["fastrnn"] / gemm[entry["dtype"]]["gflops"]


def _entry(cell, size, dtype, mode, samples):
    T, N, I, H = SIZES[size]
    flops = step_flops(cell, size, mode)
    ms = {name: 1e3 * median(s) for name, s in samples.items()}
    entry = {"cell": cell, "size": size, "T": T, "N": N, "I": I, "H": H, "dtype": dtype, "mode": mode,
             "flops": flops, "ms": ms,
             "samples_ms": {name: [1e3 * t for t in s] for name, s in samples.items()},
             "gflops": {name: flops / (1e6 * v) for name, v in ms.items()},
             "speedup": {name: ms[name] / ms["fastrnn"] for name in ms if name != "fastrnn"}
             if "fastrnn" in ms else {}}
    return entry


DEFAULT_THREADS = "fastrnn, default threads"


def _out_of_the_box(fn, blas_threads):
    """``fn`` with no thread setting at all: OpenBLAS at ``blas_threads`` (its count before the
    benchmark pinned it) and fastrnn's default budget; the pinned setting restored after each
    call (two ctypes calls and two assignments, about 1 µs)."""
    from .. import _threads
    from .._kernels import blas
    get, set_ = blas._THREAD_COUNT_SOURCE, blas._SET_THREADS_SOURCE

    def run():
        pinned, budget = get(), _threads.get_num_threads()
        set_(blas_threads)
        _threads.set_num_threads(1)
        try:
            fn()
        finally:
            set_(pinned)
            _threads.set_num_threads(budget)
    return run


def _warm_up(bar, what, fns):
    """Call each function once before timing (the first call of a kernel compiles it, or loads it
    from Numba's cache), saying so on the progress bar and keeping that time out of its estimate."""
    bar.set_postfix_str(f"{what}: compiling kernels (first run only) / warming up")
    for fn in fns:
        fn()
    bar.unpause()


def run(opts, progress=True, log=print):
    """Measure every group of ``plan(opts)``; returns the record written to JSON."""
    from tqdm.auto import tqdm

    names = list(_impls.available(opts.impls))
    for name, note in NOTES.items():
        if name in opts.impls and name not in names:
            log(note)
    if not names:
        raise ValueError(f"none of the implementations {', '.join(opts.impls)} can run here")
    note = coretype_note(blas_info())
    if note:
        log(note)
    groups = plan(opts)
    ticks = 2 * len(opts.dtypes) + len(groups) * len(opts.modes) * opts.repeats * len(names)
    default_row = "fastrnn" in names and "train" in opts.modes
    ticks += len(groups) * opts.repeats if default_row else 0
    from .._kernels.blas import blas_thread_count
    default_blas = blas_thread_count()               # OpenBLAS's own count, before pinning
    if opts.varlen:
        ticks += len(groups) * opts.repeats * len(_varlen.available())
    results, gemm = [], {}
    with pin_threads(opts.threads), tqdm(total=ticks, desc="fastrnn bench", unit="run",
                                         disable=not progress, file=sys.stderr, leave=False) as bar:
        threads = thread_info()
        _measure_gemm(opts, gemm, bar)
        for cell, size, dtype in groups:
            adapters = _impls.make_impls(cell, size, DTYPES[dtype], names)
            _warm_up(bar, f"{cell} {size} {dtype}", [a.train_step for a in adapters.values()]
                     + [a.forward for a in adapters.values()])
            for mode in opts.modes:
                bar.set_postfix_str(f"{cell} {size} {dtype} {mode}")
                fns = {n: (a.train_step if mode == "train" else a.forward) for n, a in adapters.items()}
                if default_row and mode == "train":
                    fns[DEFAULT_THREADS] = _out_of_the_box(fns["fastrnn"], default_blas)
                samples = interleaved(fns, opts.repeats, opts.min_time, tick=lambda: bar.update(1))
                out_of_the_box = samples.pop(DEFAULT_THREADS, None)
                results.append(_entry(cell, size, dtype, mode, samples))
                if out_of_the_box is not None:
                    results[-1]["default_threads_ms"] = 1e3 * median(out_of_the_box)
                    results[-1]["default_blas_threads"] = default_blas
        varlen = []
        for cell, size, dtype in groups if opts.varlen else ():
            bar.set_postfix_str(f"{cell} {size} {dtype} variable length")
            steps, lengths = _varlen.make_steps(cell, size, DTYPES[dtype])
            _warm_up(bar, f"{cell} {size} {dtype} variable length", [s.train_step for s in steps.values()])
            samples = interleaved({n: s.train_step for n, s in steps.items()}, opts.repeats, opts.min_time,
                                  tick=lambda: bar.update(1))
            varlen.append(_varlen.entry(cell, size, dtype, lengths, {n: 1e3 * median(v) for n, v in samples.items()}))
        _measure_gemm(opts, gemm, bar)
    for e in results:
        _add_roof(e, gemm)
    return {"fastrnn_version": _version(), "date": datetime.datetime.now().isoformat(timespec="seconds"),
            "machine": machine_info(), "threads": opts.threads, "thread_info": threads,
            "options": dataclasses.asdict(opts), "implementations": names,
            "sizes": {k: SIZES[k] for k in opts.sizes}, "gemm": gemm, "results": results, "varlen": varlen}


def _version():
    import fastrnn
    return getattr(fastrnn, "__version__", "unknown")
