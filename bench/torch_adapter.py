"""fastrnn.torch vs torch.nn: a training step inside torch (loss.backward()), interleaved medians.

    python bench/torch_adapter.py                      # T=50, N=32, I=128, H=256, float32, 1 thread
    python bench/torch_adapter.py --threads 2 --cells gru --dtype float64
"""
import argparse
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:                # run as python bench/<script>.py: make bench.reference importable
    sys.path.insert(0, ROOT)

from fastrnn._bench.threads import blas_info, coretype_note, pin_threads  # noqa: E402
from fastrnn._bench.timing import interleaved, median  # noqa: E402

from bench.reference.torch_adapter import (ADAPTER_CELLS, ADAPTER_IMPLS, ADAPTER_SIZES,  # noqa: E402
                                           adapter_problem, check_agree, train_step)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--cells", nargs="+", default=list(ADAPTER_CELLS), choices=list(ADAPTER_CELLS))
    p.add_argument("--size", default="T50-N32-I128-H256", choices=list(ADAPTER_SIZES))
    p.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--repeats", type=int, default=7)
    p.add_argument("--min-time", type=float, default=0.2)
    a = p.parse_args(argv)
    note = coretype_note(blas_info())
    if note:
        print(note)
    size = ADAPTER_SIZES[a.size]
    print(f"(T, N, I, H) = {size}, {a.dtype}, {a.threads} thread(s); step = zero_grad, forward, "
          "(out * w).sum(), loss.backward()")
    print("| cell | fastrnn.torch ms | torch.nn ms | speedup |")
    print("|---|---|---|---|")
    with pin_threads(a.threads):
        for cell in a.cells:
            modules, x, weight = adapter_problem(cell, size, a.dtype)
            check_agree(modules, x, weight, rtol=1e-3 if a.dtype == "float32" else 1e-8)
            fns = {name: train_step(modules[name], x, weight) for name in ADAPTER_IMPLS}
            samples = interleaved(fns, a.repeats, a.min_time)
            ms = {name: 1e3 * median(s) for name, s in samples.items()}
            print(f"| {cell} | {ms['fastrnn.torch']:.3f} | {ms['torch.nn']:.3f} | "
                  f"{ms['torch.nn'] / ms['fastrnn.torch']:.2f}× |", flush=True)
    info = blas_info()
    print(f"BLAS (fastrnn): {info['library']} {info['version']}, {info['architecture']} kernels")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
