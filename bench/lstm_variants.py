"""LSTM variants, one thread, training step (forward + backward), interleaved medians.

    python bench/lstm_variants.py [--repeats 7] [--min-time 0.3]

1. fastrnn.torch.LSTM(proj_size=P) against torch.nn.LSTM(proj_size=P), same weights, inside
   torch (zero_grad, forward, backward of a fixed output gradient), float32, after checking
   both give the same output.
2. fastrnn.nn.LSTM(peephole=True) (random peepholes) against the plain fastrnn.nn.LSTM.
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir))

import numpy as np  # noqa: E402

import fastrnn  # noqa: E402
from fastrnn._bench.threads import pin_threads  # noqa: E402
from fastrnn._bench.timing import interleaved_medians  # noqa: E402

PROJ_SIZES = [(50, 32, 256, 256, 64), (35, 20, 650, 650, 256)]
PEEPHOLE_SIZES = [(50, 32, 256, 256)]


def torch_steps(size):
    import torch
    import fastrnn.torch as ft
    T, N, I, H, P = size
    torch.manual_seed(0)
    ref = torch.nn.LSTM(I, H, proj_size=P)
    fast = ft.LSTM(I, H, proj_size=P)
    fast.load_state_dict(ref.state_dict())
    x = torch.randn(T, N, I)
    dout = torch.randn(T, N, P)
    from bench.reference.torch_adapter import train_step
    with torch.no_grad():
        np.testing.assert_allclose(fast(x)[0].numpy(), ref(x)[0].numpy(), atol=1e-4)
    return {"fastrnn.torch": train_step(fast, x, dout), "torch.nn": train_step(ref, x, dout)}


def peephole_steps(size):
    T, N, I, H = size
    rng = np.random.default_rng(0)
    x = rng.standard_normal((T, N, I)).astype(np.float32)
    dout = rng.standard_normal((T, N, H)).astype(np.float32)
    plain = fastrnn.LSTM(I, H, seed=1)
    peephole = fastrnn.LSTM(I, H, seed=1, peephole=True)
    peephole.params["weight_ph_l0"][...] = rng.uniform(-0.5, 0.5, 3 * H)

    def step(m):
        def run():
            m(x)
            m.backward(dout)
        return run
    return {"plain": step(plain), "peephole": step(peephole)}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=7)
    p.add_argument("--min-time", type=float, default=0.3)
    args = p.parse_args(argv)
    with pin_threads(1):
        try:
            import torch  # noqa: F401
        except ImportError:
            print("1. skipped: torch is not installed")
        else:
            print("1. proj_size, training step inside torch (ms): fastrnn.torch.LSTM vs torch.nn.LSTM")
            for size in PROJ_SIZES:
                times = interleaved_medians(torch_steps(size), args.repeats, args.min_time)
                print(f"   (T, N, I, H, P) = {size}: fastrnn.torch {times['fastrnn.torch'] * 1e3:.1f}  "
                      f"torch.nn {times['torch.nn'] * 1e3:.1f}  -> {times['torch.nn'] / times['fastrnn.torch']:.2f}x",
                      flush=True)
        print("2. peephole, fastrnn.nn training step (ms): peephole vs plain LSTM")
        for size in PEEPHOLE_SIZES:
            times = interleaved_medians(peephole_steps(size), args.repeats, args.min_time)
            print(f"   (T, N, I, H) = {size}: plain {times['plain'] * 1e3:.1f}  peephole "
                  f"{times['peephole'] * 1e3:.1f}  -> peephole speed {times['plain'] / times['peephole']:.2f}x "
                  "the plain LSTM's", flush=True)


if __name__ == "__main__":
    main()
