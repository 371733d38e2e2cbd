"""Command line: ``python -m fastrnn bench ...`` and ``python -m fastrnn train <name> ...``.

Also installed as the ``fastrnn`` console script. ``main(argv=None)`` returns an exit code.
"""
import argparse
import datetime
import importlib
import os
import sys

from ._bench.impls import IMPLS, available
from ._bench.sizes import CELLS, MODES, SIZES

EPILOG = """examples:
  python -m fastrnn bench --quick                  # under a minute
  python -m fastrnn bench                          # the full comparison (several minutes)
  python -m fastrnn bench --cells lstm --sizes medium large --dtype float32 float64
  python -m fastrnn train --list                   # the example training scripts
"""


def _split(values):
    """Accept both ``--cells lstm gru`` and ``--cells lstm,gru``."""
    return tuple(v for item in values for v in item.split(",") if v)


def _choices(parser, name, values, allowed):
    bad = [v for v in values if v not in allowed]
    if bad:
        parser.error(f"{name}: expected values from {', '.join(allowed)}, got {', '.join(bad)}")
    return values


def build_parser():
    p = argparse.ArgumentParser(prog="fastrnn", description="fastrnn: fused Numba LSTM/GRU/RNN kernels.",
                                epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", metavar="{bench,train}")

    b = sub.add_parser("bench", help="time fastrnn against NumPy (and torch if installed), print a table",
                       description="Interleaved, thread-pinned timings of fastrnn.nn against fastrnn.oracle "
                                   "(pure NumPy), a NumPy implementation structured like the book's (from "
                                   "a source checkout: bench/reference/) and torch.nn (when importable). "
                                   "Prints medians, speedups, GFLOP/s and the share of the GEMM rate "
                                   "measured in the same run; writes JSON and a PNG chart.")
    b.add_argument("--quick", action="store_true",
                   help="under a minute: sizes tiny, small, medium; fewer, shorter repeats; GEMM roof at 1024³")
    b.add_argument("--threads", type=int, default=1, metavar="N",
                   help="threads for every pool: numba, numpy's/scipy's OpenBLAS, OpenMP, torch (default 1)")
    b.add_argument("--sizes", nargs="+", metavar="SIZE",
                   help="from " + ", ".join(f"{k} {v}" for k, v in SIZES.items()) + " as (T, N, I, H)")
    b.add_argument("--cells", nargs="+", metavar="CELL",
                   help="from " + ", ".join(CELLS) + " (default all but the LSTM variants)")
    b.add_argument("--dtype", nargs="+", metavar="DTYPE", help="float32 and/or float64 (default float32)")
    b.add_argument("--modes", nargs="+", metavar="STEP",
                   help="train (forward + backward with every gradient) and/or forward (default both)")
    b.add_argument("--impls", nargs="+", metavar="IMPL",
                   help="from fastrnn, oracle, numpy (the book-style baseline; source checkout only), torch "
                        "(default: every one available)")
    b.add_argument("--no-torch", action="store_true", help="leave torch out even if it is installed")
    b.add_argument("--repeats", type=int, metavar="R", help="interleaved rounds per measurement (median taken)")
    b.add_argument("--min-time", type=float, metavar="S", help="seconds per timed loop")
    b.add_argument("--gemm-n", type=int, metavar="N", help="matrix size of the GEMM roof measurement")
    b.add_argument("--json", metavar="PATH", help="where to write the JSON record "
                   "(default bench-results/bench-<date>.json)")
    b.add_argument("--plot", metavar="PATH", help="where to write the PNG chart (needs matplotlib: the 'plot' "
                   "extra; default next to the JSON)")
    b.add_argument("--no-files", action="store_true", help="print the table only, write no JSON/PNG")
    b.add_argument("--markdown", action="store_true", help="print the table as Markdown")
    b.add_argument("--no-progress", action="store_true", help="no progress bar")
    b.add_argument("--no-varlen", action="store_true", help="leave out the variable-length section "
                   "(training steps with lengths uniform in [T/4, T] vs the padded batch, and torch.nn on it "
                   "as a PackedSequence)")

    t = sub.add_parser("train", help="run an example training script from fastrnn.examples",
                       description="python -m fastrnn train <name> [args...]: runs "
                                   "fastrnn.examples.EXAMPLES[name].main(args). --list shows the names.")
    t.add_argument("--list", action="store_true", help="list the examples")
    t.add_argument("name", nargs="?", help="example name")
    t.add_argument("args", nargs=argparse.REMAINDER, help="arguments passed to the example")
    return p


def _bench(parser, a):
    from ._bench import report
    from ._bench.run import Options, run

    kw = {}
    if a.sizes:
        kw["sizes"] = _choices(parser, "--sizes", _split(a.sizes), tuple(SIZES))
    if a.cells:
        kw["cells"] = _choices(parser, "--cells", tuple(c.lower() for c in _split(a.cells)), CELLS)
    if a.dtype:
        kw["dtypes"] = _choices(parser, "--dtype", _split(a.dtype), ("float32", "float64"))
    if a.modes:
        kw["modes"] = _choices(parser, "--modes", _split(a.modes), MODES)
    if a.threads < 1:
        parser.error(f"--threads: expected a positive integer, got {a.threads}")
    kw["threads"] = a.threads
    for name in ("repeats", "min_time", "gemm_n"):
        if getattr(a, name) is not None:
            if getattr(a, name) <= 0:
                parser.error(f"--{name.replace('_', '-')}: expected a positive number, got {getattr(a, name)}")
            kw[name] = getattr(a, name)
    impls = _choices(parser, "--impls", tuple(i.lower() for i in _split(a.impls)), IMPLS) if a.impls else IMPLS
    if a.no_torch:
        impls = tuple(i for i in impls if i != "torch")
    if not available(impls):
        parser.error(f"--impls: none of {', '.join(impls) or 'them'} can run here (numpy needs the bench/ "
                     "directory of a source checkout, torch needs torch)")
    kw["impls"] = impls
    kw["varlen"] = not a.no_varlen
    opts = Options.quick(**kw) if a.quick else Options(**kw)

    record = run(opts, progress=not a.no_progress)
    print(report.table(record, markdown=a.markdown))
    if record.get("varlen"):
        from ._bench import varlen
        print()
        print(varlen.table(record["varlen"]))
    print()
    print(report.legend(record))
    if not a.no_files:
        stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
        json_path = a.json or f"bench-results/bench-{stamp}.json"
        report.write_json(record, json_path)
        print(f"wrote {json_path}")
        if report.plot_available():
            plot_path = a.plot or os.path.splitext(json_path)[0] + ".png"
            report.write_plot(record, plot_path)
            print(f"wrote {plot_path}")
        else:
            print("no chart: matplotlib is not installed (pip install 'fastrnn[plot]')")
    return 0


def _examples():
    return importlib.import_module("fastrnn.examples").EXAMPLES


def _train(parser, a):
    examples = _examples()
    if a.list or not a.name:
        print("examples (python -m fastrnn train <name> [--help]):")
        for name, path in sorted(examples.items()):
            try:
                doc = (importlib.import_module(path).__doc__ or "").strip().splitlines()
                summary = doc[0] if doc else path
            except ImportError as e:             # e.g. the torch example without torch
                summary = f"(not available here: {e})"
            print(f"  {name:<20} {summary}")
        return 0
    if a.name not in examples:
        parser.error(f"train: unknown example {a.name!r}; expected one of {', '.join(sorted(examples))}")
    module = importlib.import_module(examples[a.name])
    result = module.main(a.args)
    return result if isinstance(result, int) else 0


def main(argv=None):
    """Entry point of ``python -m fastrnn`` / ``fastrnn``; returns the exit code."""
    parser = build_parser()
    a = parser.parse_args(sys.argv[1:] if argv is None else list(argv))
    if a.command == "bench":
        return _bench(parser, a)
    if a.command == "train":
        return _train(parser, a)
    parser.print_help()
    return 0


if __name__ == "__main__":
    sys.exit(main())
