"""fastrnn.layers vs the book's NumPy TimeLSTM / TimeGRU, as interleaved medians.

    python bench/book_layers.py                 # N=20, T=35, D=H=650 and N=1, T=20, D=H=32
    python bench/book_layers.py --threads 2 --repeats 7
"""
import argparse
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:                # run as python bench/<script>.py: make bench.reference importable
    sys.path.insert(0, ROOT)

from fastrnn._bench.threads import pin_threads  # noqa: E402

from bench.reference.layers import LAYER_GATES, LAYER_SIZES, compare_layers  # noqa: E402


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--layers", nargs="+", default=list(LAYER_GATES), choices=list(LAYER_GATES))
    p.add_argument("--sizes", nargs="+", default=list(LAYER_SIZES), choices=list(LAYER_SIZES))
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--min-time", type=float, default=0.1)
    a = p.parse_args(argv)
    with pin_threads(a.threads, torch=False):
        rows = compare_layers(a.layers, a.sizes, repeats=a.repeats, min_time=a.min_time)
    print("| layer | (N, T, D, H) | step | fastrnn ms | book ms | speedup |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['layer']} | {r['shape']} | {r['mode']} | {r['ms']['fastrnn']:.3f} | {r['ms']['book']:.3f} "
              f"| {r['speedup']:.1f}× |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
