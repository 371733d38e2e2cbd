"""Inference: fastrnn's forward-only path against ONNX Runtime and torch.nn, one thread.

    python bench/inference.py [--repeats 7] [--min-time 0.2] [--cells lstm gru rnn] [--sizes tiny ...]

1. One forward (float32, same weights, same input; outputs checked to agree first):
   fastrnn.nn under fastrnn.no_grad(), ONNX Runtime's LSTM/GRU/RNN operators on the graph
   fastrnn.onnx.export writes (intra- and inter-op threads 1), torch.nn under
   torch.inference_mode(). Interleaved medians; ratios > 1 mean fastrnn is faster. The
   last columns put ONNX Runtime's rate (forward FLOPs 2·T·N·(I+H)·G·H per second) against
   the 1-thread SGEMM roof measured first (numpy's OpenBLAS, 2048³): beating a contender
   that runs at r of the roof by a factor k needs k·r <= 1.
2. Streaming: one time step of a 2-layer LSTM (N = 1, I = H = 128), the state carried
   between calls: fastrnn's module call (``m(x_t, state)`` under no_grad) and its stream
   (``m.stream().step(x_t)``), ONNX Runtime's session with the states as inputs, torch.nn.
   Ratios against the stream.
3. Memory: the peak of NumPy's allocations during one forward (tracemalloc) at T=2000,
   N=64, I=H=256, forward-only and training, against the output's size.
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir))

from fastrnn._bench.inference import (CONTENDERS, STREAM, available, check, forward_memory,  # noqa: E402
                                      sequence_race, streaming_race)
from fastrnn._bench.sizes import SIZES, forward_flops  # noqa: E402
from fastrnn._bench.threads import blas_info, coretype_note, pin_threads  # noqa: E402
from fastrnn._bench.timing import gemm_rate, interleaved_medians  # noqa: E402

INFERENCE_SIZES = ("tiny", "small", "medium", "large")


def ratio(times, other, ours="fastrnn"):
    return f"{times[other] / times[ours]:.2f}x" if other in times and ours in times else "-"


def rate(cell, size, seconds, roof):
    if seconds is None:
        return ""
    r = forward_flops(cell, size) / seconds
    return f" {r / 1e9:12.1f} {r / roof:8.2f}"


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=7)
    p.add_argument("--min-time", type=float, default=0.2)
    p.add_argument("--cells", nargs="+", default=["lstm", "gru", "rnn"])
    p.add_argument("--sizes", nargs="+", default=list(INFERENCE_SIZES))
    p.add_argument("--skip", nargs="*", default=[], choices=["sequence", "streaming", "memory"])
    args = p.parse_args(argv)
    names = available(CONTENDERS)
    with pin_threads(1):
        note = coretype_note(blas_info())
        if note:
            print(note)
        print(f"contenders: {', '.join(names)} (1 thread each)")
        if "sequence" not in args.skip:
            roof = gemm_rate(2048)
            print(f"\n1. one forward, float32 (ms per call; ratio = their time / fastrnn's); "
                  f"SGEMM roof {roof / 1e9:.0f} GFLOP/s")
            print(f"{'cell':5s} {'size':7s} {'(T, N, I, H)':20s} " + " ".join(f"{n:>11s}" for n in names)
                  + f" {'vs ORT':>8s} {'vs torch':>9s} {'ORT GFLOP/s':>12s} {'of roof':>8s}")
            for cell in args.cells:
                for size in args.sizes:
                    calls = sequence_race(cell, SIZES[size], names)
                    check(calls)
                    times = interleaved_medians(calls, args.repeats, args.min_time)
                    print(f"{cell:5s} {size:7s} {str(SIZES[size]):20s} "
                          + " ".join(f"{times[n] * 1e3:11.3f}" for n in names)
                          + f" {ratio(times, 'onnxruntime'):>8s} {ratio(times, 'torch'):>9s}"
                          + rate(cell, SIZES[size], times.get("onnxruntime"), roof), flush=True)
        if "streaming" not in args.skip:
            print("\n2. streaming: one step of a 2-layer LSTM, N=1, I=H=128, state carried (us per call)")
            calls = streaming_race("lstm", 2, 128, names)
            check(calls, steps=3)
            times = interleaved_medians(calls, args.repeats, args.min_time)
            print("   " + "  ".join(f"{n} {times[n] * 1e6:.1f}" for n in calls)
                  + f"\n   against the stream: ORT {ratio(times, 'onnxruntime', STREAM)}, torch "
                  f"{ratio(times, 'torch', STREAM)}; against the module call: ORT {ratio(times, 'onnxruntime')}, "
                  f"torch {ratio(times, 'torch')}")
        if "memory" not in args.skip:
            print("\n3. peak NumPy memory of one forward at T=2000, N=64, I=H=256 (MiB)")
            for cell in args.cells:
                infer, train, out = forward_memory(cell, (2000, 64, 256, 256))
                print(f"   {cell:5s} output {out / 2**20:7.1f}  forward-only {infer / 2**20:7.1f} "
                      f"({infer / out:.2f}x the output)  training forward {train / 2**20:7.1f} "
                      f"({train / out:.2f}x)", flush=True)


if __name__ == "__main__":
    main()
