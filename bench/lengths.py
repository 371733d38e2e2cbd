"""Variable-length batches: the issue's two races, one thread, interleaved medians.

    python bench/lengths.py [--repeats 7] [--min-time 0.2]

1. fastrnn.nn with ``lengths`` (uniform in [T/4, T], fixed seed) against the same module on
   the padded batch: the time ratio (the real rows are about 0.63 of the padded ones).
2. fastrnn.torch with a PackedSequence against torch.nn with the same PackedSequence, a
   training step inside torch (zero_grad, forward, a loss over the packed output,
   backward), after checking both give the same output and gradients.
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir))

import numpy as np  # noqa: E402

from bench.reference.packed import PACKED_SIZES, check_packed_agreement, packed_pair  # noqa: E402
from fastrnn._bench.threads import blas_info, coretype_note, pin_threads  # noqa: E402
from fastrnn._bench.timing import interleaved, median  # noqa: E402
from fastrnn._bench.varlen import make_steps  # noqa: E402


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=7)
    p.add_argument("--min-time", type=float, default=0.2)
    p.add_argument("--cells", nargs="+", default=["lstm", "gru", "rnn"])
    args = p.parse_args(argv)
    with pin_threads(1):
        note = coretype_note(blas_info())
        if note:
            print(note)
        print("1. fastrnn.nn training step, lengths vs padded (1 thread)")
        print(f"{'cell':5s} {'(T, N, I, H)':20s} {'real rows':>9s} {'padded ms':>10s} {'lengths ms':>10s} "
              f"{'lengths/padded':>14s}")
        for cell in args.cells:
            for size in PACKED_SIZES:
                steps, lengths = make_steps(cell, size, np.float32, ("padded", "lengths"))
                samples = interleaved({n: s.train_step for n, s in steps.items()}, args.repeats, args.min_time)
                pad, var = median(samples["padded"]), median(samples["lengths"])
                real = lengths.sum() / (size[0] * size[1])
                print(f"{cell:5s} {str(size):20s} {real:9.2f} {pad * 1e3:10.3f} {var * 1e3:10.3f} {var / pad:14.2f}",
                      flush=True)
        print()
        print("2. training step on a PackedSequence: fastrnn.torch vs torch.nn (1 thread)")
        print(f"{'cell':5s} {'(T, N, I, H)':20s} {'torch.nn ms':>11s} {'fastrnn ms':>10s} {'speedup':>8s}")
        for cell in [c for c in args.cells if c in ("lstm", "gru")]:
            for size in PACKED_SIZES:
                steps = packed_pair(cell, size)
                check_packed_agreement(steps)
                samples = interleaved({n: s.train_step for n, s in steps.items()}, args.repeats, args.min_time)
                ref, fast = median(samples["torch"]), median(samples["fastrnn"])
                print(f"{cell:5s} {str(size):20s} {ref * 1e3:11.3f} {fast * 1e3:10.3f} {ref / fast:8.2f}", flush=True)


if __name__ == "__main__":
    main()
