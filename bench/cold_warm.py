"""Cold vs warm Numba cache: the cost of the first fastrnn training step in a new process.

    python bench/cold_warm.py                          # lstm, gru, rnn at size 'small', float32
    python bench/cold_warm.py --cells lstm --size medium --dtype float64 --warm-runs 3

Cold: ``NUMBA_CACHE_DIR`` points at an empty directory, so every kernel compiles.
Warm: a second process with the same directory loads the compiled kernels.
See docs/compile-cache.md.
"""
import argparse
import json
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:                # run as python bench/<script>.py: make bench.reference importable
    sys.path.insert(0, ROOT)

from fastrnn._bench.sizes import CELLS, SIZES  # noqa: E402

from bench.reference.coldwarm import cold_warm, format_rows  # noqa: E402


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--cells", nargs="+", default=list(CELLS), choices=CELLS)
    p.add_argument("--size", default="small", choices=list(SIZES))
    p.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--warm-runs", type=int, default=2)
    p.add_argument("--json", metavar="PATH", help="also write the measurements as JSON")
    a = p.parse_args(argv)
    rows = [cold_warm(c, a.size, a.dtype, a.threads, a.warm_runs) for c in a.cells]
    print(format_rows(rows))
    if a.json:
        with open(a.json, "w") as f:
            json.dump(rows, f, indent=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
