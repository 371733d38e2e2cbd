"""Threads: a training step out of the box, pinned to 1 thread, and with 2, the other core idle or busy.

    python bench/threads.py [--repeats 7] [--min-time 0.3] [--cells lstm gru rnn] [--busy] [--lengths]

One fastrnn.LSTM/GRU/RNN training step (forward + backward, float32) per size, timed as
interleaved medians in one process:

- ``default``: nothing set anywhere (OpenBLAS at its default count, fastrnn's default budget);
  fastrnn.set_num_threads is left at its default in every row but ``2 threads``;
- ``1 thread``: every pool pinned to 1 (threadpoolctl, numba, fastrnn.set_num_threads(1));
- ``2 threads``: OpenBLAS at 2 and ``fastrnn.set_num_threads(2)``;
- ``torch 2``: torch.nn's same step at ``torch.set_num_threads(2)`` (if torch is installed).

With ``--busy`` a second process spins on one core for the whole run (started and stopped
here), the case of a shared machine, a data loader or a second training job. With
``--lengths`` the sequences have variable lengths, drawn uniformly in [T/2, T] (fastrnn's
``lengths``; torch.nn gets the same batch as a PackedSequence).
"""
import argparse
import multiprocessing
import os
import statistics
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir))

import numpy as np  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402

import fastrnn  # noqa: E402
from fastrnn._bench.timing import calibrate, time_loop  # noqa: E402

SIZES = {"small": (100, 8, 64, 64), "medium": (50, 32, 256, 256), "large": (35, 20, 650, 650),
         "wide batch": (64, 128, 128, 256)}
_MODULES = {"lstm": "LSTM", "gru": "GRU", "rnn": "RNN"}


def _spin():
    while True:
        pass


def draw_lengths(size, variable):
    """None (every sequence T steps), or lengths drawn uniformly in [T/2, T] (seeded)."""
    T, N = size[0], size[1]
    return np.random.default_rng(1).integers((T + 1) // 2, T + 1, N) if variable else None


def fastrnn_step(cell, size, lengths=None):
    T, N, I, H = size
    m = getattr(fastrnn, _MODULES[cell])(I, H, seed=0)
    x = np.random.default_rng(0).standard_normal((T, N, I)).astype(np.float32)
    dout = np.ones((T, N, H), np.float32)

    def step():
        m.zero_grad()
        m(x, lengths=lengths)
        m.backward(dout)
    return step


def torch_step(cell, size, lengths=None):
    import torch
    T, N, I, H = size
    m = getattr(torch.nn, _MODULES[cell])(I, H)
    x = torch.randn(T, N, I)

    def step():
        m.zero_grad()
        if lengths is None:
            out, _ = m(x)
        else:
            packed = torch.nn.utils.rnn.pack_padded_sequence(x, torch.from_numpy(lengths), enforce_sorted=False)
            out = m(packed)[0].data
        out.sum().backward()
    return step


class Setting:
    """A thread setting entered around a whole timed loop (never per call: threadpoolctl's
    context manager costs milliseconds): OpenBLAS at ``blas`` threads (None: as it is),
    fastrnn's budget, torch at ``torch_threads`` (None: as it is)."""

    def __init__(self, blas, budget, torch_threads=None):
        self.blas, self.budget, self.torch_threads = blas, budget, torch_threads

    def __enter__(self):
        self._budget = fastrnn.get_num_threads()
        fastrnn.set_num_threads(self.budget)
        self._limits = None if self.blas is None else threadpool_limits(limits=self.blas, user_api="blas")
        if self.torch_threads is not None:
            import torch
            self._torch = torch.get_num_threads()
            torch.set_num_threads(self.torch_threads)
        return self

    def __exit__(self, *exc):
        if self._limits is not None:
            self._limits.restore_original_limits()
        fastrnn.set_num_threads(self._budget)
        if self.torch_threads is not None:
            import torch
            torch.set_num_threads(self._torch)


def race(steps, repeats, min_time):
    """{name: (Setting, step)} -> {name: median seconds per call}, the settings taking turns."""
    numbers = {}
    for name, (setting, step) in steps.items():
        with setting:
            numbers[name] = calibrate(step, min_time)
    samples = {name: [] for name in steps}
    names = list(steps)
    for r in range(repeats):
        k = r % len(names)
        for name in names[k:] + names[:k]:
            setting, step = steps[name]
            with setting:
                samples[name].append(time_loop(step, numbers[name]))
    return {name: statistics.median(s) for name, s in samples.items()}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=7)
    p.add_argument("--min-time", type=float, default=0.3)
    p.add_argument("--cells", nargs="+", default=["lstm", "gru", "rnn"])
    p.add_argument("--sizes", nargs="+", default=list(SIZES))
    p.add_argument("--busy", action="store_true", help="keep one core busy with a spinning process")
    p.add_argument("--lengths", action="store_true", help="variable lengths in [T/2, T]")
    args = p.parse_args(argv)
    try:
        import torch  # noqa: F401
        have_torch = True
    except ImportError:
        have_torch = False
    spinner = None
    if args.busy:
        spinner = multiprocessing.get_context("spawn").Process(target=_spin, daemon=True)
        spinner.start()
    try:
        print(f"other core {'busy (a spinning process)' if args.busy else 'idle'}; "
              f"{'variable lengths in [T/2, T]; ' if args.lengths else ''}"
              f"ms per training step, interleaved medians; ratios are 1 thread's time / theirs")
        print(f"{'cell':5s} {'(T, N, I, H)':20s} {'1 thread':>9s} {'default':>9s} {'2 threads':>9s} "
              f"{'torch 2':>9s} {'default/1':>9s} {'2/1':>6s} {'2 vs torch 2':>12s}")
        for cell in args.cells:
            for name in args.sizes:
                size = SIZES[name]
                lengths = draw_lengths(size, args.lengths)
                step = fastrnn_step(cell, size, lengths)
                steps = {"1": (Setting(1, 1), step), "default": (Setting(None, 1), step),
                         "2": (Setting(2, 2), step)}
                if have_torch:
                    steps["torch"] = (Setting(None, 1, torch_threads=2), torch_step(cell, size, lengths))
                times = race(steps, args.repeats, args.min_time)
                torch_ratio = f"{times['torch'] / times['2']:.2f}x" if "torch" in times else "-"
                print(f"{cell:5s} {str(size):20s} {times['1'] * 1e3:9.2f} {times['default'] * 1e3:9.2f} "
                      f"{times['2'] * 1e3:9.2f} {times.get('torch', float('nan')) * 1e3:9.2f} "
                      f"{times['1'] / times['default']:8.2f}x {times['1'] / times['2']:5.2f}x {torch_ratio:>12s}",
                      flush=True)
    finally:
        if spinner is not None:
            spinner.terminate()
            spinner.join()


if __name__ == "__main__":
    main()
