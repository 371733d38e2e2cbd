"""Cold vs warm Numba cache: the cost of the first fastrnn training step in a new process.

    python bench/cold_warm.py                          # lstm, gru, rnn at size 'small', float32
    python bench/cold_warm.py --cells lstm --size medium --dtype float64 --warm-runs 3
    python bench/cold_warm.py --base d9e70e9            # that revision beside this checkout, cell by cell

Cold: ``NUMBA_CACHE_DIR`` points at an empty directory, so every kernel compiles.
Warm: a second process with the same directory loads the compiled kernels.
``--base REV``: the revision's ``fastrnn`` (git archive) is measured too, alternating with this
checkout cell by cell, and the cold first steps are compared as base / this.
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

import tempfile  # noqa: E402

from bench.reference.coldwarm import cold_warm, export_revision, format_rows  # noqa: E402


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--cells", nargs="+", default=list(CELLS), choices=CELLS)
    p.add_argument("--size", default="small", choices=list(SIZES))
    p.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--warm-runs", type=int, default=2)
    p.add_argument("--json", metavar="PATH", help="also write the measurements as JSON")
    p.add_argument("--base", metavar="REV", help="also measure this git revision's fastrnn, alternating")
    a = p.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="fastrnn-base-") as folder:
        base = export_revision(ROOT, a.base, folder) if a.base else None
        rows = []
        for c in a.cells:
            if base:
                rows.append(cold_warm(c, a.size, a.dtype, a.threads, a.warm_runs, base, a.base))
            rows.append(cold_warm(c, a.size, a.dtype, a.threads, a.warm_runs))
    print(format_rows(rows))
    if base:
        print()
        for old, new in zip(rows[0::2], rows[1::2]):
            print(f"{new['cell']}: cold first step {old['cold']['first_step_s']:.2f} s ({a.base}) -> "
                  f"{new['cold']['first_step_s']:.2f} s (this), {old['cold']['first_step_s'] / new['cold']['first_step_s']:.2f}x; "
                  f"warm {old['warm'][0]['first_step_s']:.2f} -> {new['warm'][0]['first_step_s']:.2f} s")
    if a.json:
        with open(a.json, "w") as f:
            json.dump(rows, f, indent=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
