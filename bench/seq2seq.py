"""One training iteration of the book's attention seq2seq (date task): fastrnn vs the book's NumPy, interleaved medians.

    python bench/seq2seq.py                      # batch 128, AttentionSeq2seq(V, 16, 256), 1 thread
    python bench/seq2seq.py --threads 2 --repeats 7

What is raced and how it is checked: bench/reference/seq2seq.py. bench/test_bench_seq2seq.py runs
the same race under pytest-benchmark.
"""
import argparse
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:                # run as python bench/<script>.py: make bench.reference importable
    sys.path.insert(0, ROOT)

from fastrnn._bench.run import cpu_name  # noqa: E402
from fastrnn._bench.threads import blas_info, pin_threads  # noqa: E402
from fastrnn._bench.timing import interleaved, median  # noqa: E402

from bench.reference.seq2seq import (GRAD_ATOL, GRAD_NORM_RTOL, GRAD_RTOL, IMPLS, LOSS_RTOL,  # noqa: E402
                                     MAX_GRAD, PARAM_NAMES, SIZES, WORDVEC, check_agreement, date_batch,
                                     make_models, train_steps)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--repeats", type=int, default=7)
    p.add_argument("--min-time", type=float, default=0.2, help="seconds per timed loop")
    p.add_argument("--batch-size", type=int, default=SIZES["date"]["batch_size"])
    p.add_argument("--hidden", type=int, default=SIZES["date"]["hidden"])
    a = p.parse_args(argv)

    with pin_threads(a.threads, torch=False):
        xs, ts, V = date_batch(a.batch_size)
        fast, book = make_models(V, a.hidden)
        loss_fast, loss_book, grad_err = check_agreement(fast, book, xs, ts)
        samples = interleaved(train_steps(fast, book, xs, ts), a.repeats, a.min_time)
        blas = blas_info()
    ms = {name: 1e3 * median(s) for name, s in samples.items()}
    base = ms["numpy-book"]

    print(f"AttentionSeq2seq(V={V}, D={WORDVEC}, H={a.hidden}), date task, batch {a.batch_size} "
          f"(T_enc={xs.shape[1]}, T_dec={ts.shape[1] - 1}): forward + backward + clip_grads({MAX_GRAD}) + Adam")
    print(f"check passed: loss {loss_fast:.6f} (fastrnn) vs {loss_book:.6f} (book), rtol {LOSS_RTOL:g}; "
          f"all {len(PARAM_NAMES)} gradients within rtol {GRAD_RTOL:g}, atol {GRAD_ATOL:g} "
          f"(worst relative L2 error {grad_err:.1e}, bound {GRAD_NORM_RTOL:g})")
    print()
    print("| implementation | ms per iteration (median) | speedup |")
    print("|---|---|---|")
    for name in IMPLS:
        print(f"| {name} | {ms[name]:.2f} | {base / ms[name]:.1f}× |")
    print()
    print(f"machine: {cpu_name()}, {a.threads} thread(s), OpenBLAS core type {blas['architecture']} "
          f"(OPENBLAS_CORETYPE={blas['openblas_coretype'] or 'unset'}); "
          f"{a.repeats} interleaved rounds of >= {a.min_time:g} s each")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
