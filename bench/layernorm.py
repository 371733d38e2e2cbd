"""Layer-normalised LSTM / GRU, one thread, training step (forward + backward), interleaved medians.

    python bench/layernorm.py [--repeats 7] [--min-time 0.3]

1. fastrnn.torch.LayerNormLSTM / LayerNormGRU against the per-step torch loop a CPU user
   writes today (bench/reference/torch_layernorm.py: linear products,
   ``torch.nn.functional.layer_norm``, pointwise ops, autograd), same weights, inside torch
   (zero_grad, forward, backward of a fixed output gradient), float32, after checking both
   give the same output. Skipped without torch.
2. fastrnn.nn.LayerNormLSTM / LayerNormGRU against fastrnn.nn's plain LSTM / GRU of the same
   size (the cost of the layer norms), and with zoneout=0.1 in training.
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir))

import numpy as np  # noqa: E402

import fastrnn  # noqa: E402
from fastrnn._bench.threads import pin_threads  # noqa: E402
from fastrnn._bench.timing import interleaved_medians  # noqa: E402

TORCH_SIZES = [(20, 1, 32, 32), (50, 32, 256, 256)]
PLAIN_SIZES = [(50, 32, 256, 256)]
CELLS = ("lstm", "gru")


def torch_modules(cell, size, dtype="float32", seed=0):
    """(fastrnn.torch module, the per-step loop with the same weights, x, dout)."""
    import torch
    import fastrnn.torch as ft
    from bench.reference.torch_layernorm import StepLayerNormGRU, StepLayerNormLSTM
    T, N, I, H = size
    tdtype = getattr(torch, dtype)
    torch.manual_seed(seed)
    fast = (ft.LayerNormLSTM if cell == "lstm" else ft.LayerNormGRU)(I, H, dtype=tdtype)
    with torch.no_grad():                       # gains and shifts away from 1 and 0, so they matter
        for name, p in fast.named_parameters():
            if name.startswith("ln_"):
                p.add_(torch.empty_like(p).uniform_(-0.3, 0.3))
    loop = (StepLayerNormLSTM if cell == "lstm" else StepLayerNormGRU)(I, H, dtype=tdtype)
    loop.load_state_dict(fast.state_dict())
    g = torch.Generator().manual_seed(seed + 1)
    x = torch.randn(T, N, I, generator=g, dtype=tdtype)
    dout = torch.randn(T, N, H, generator=g, dtype=tdtype)
    return fast, loop, x, dout


def torch_steps(cell, size):
    fast, loop, x, dout = torch_modules(cell, size)
    import torch
    from bench.reference.torch_adapter import train_step
    with torch.no_grad():
        np.testing.assert_allclose(fast(x)[0].numpy(), loop(x)[0].numpy(), atol=1e-4)
    return {"fastrnn.torch": train_step(fast, x, dout), "torch loop": train_step(loop, x, dout)}


def plain_steps(cell, size, zoneout=0.0):
    T, N, I, H = size
    rng = np.random.default_rng(0)
    x = rng.standard_normal((T, N, I)).astype(np.float32)
    dout = rng.standard_normal((T, N, H)).astype(np.float32)
    plain = (fastrnn.LSTM if cell == "lstm" else fastrnn.GRU)(I, H, seed=1)
    normed = (fastrnn.LayerNormLSTM if cell == "lstm" else fastrnn.LayerNormGRU)(I, H, seed=1, zoneout=zoneout)

    def step(m):
        def run():
            m(x)
            m.backward(dout)
        return run
    return {"plain": step(plain), "layernorm": step(normed)}


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
            print("1. training step inside torch (ms): fastrnn.torch.LayerNorm* vs the per-step torch loop")
            for cell in CELLS:
                for size in TORCH_SIZES:
                    t = interleaved_medians(torch_steps(cell, size), args.repeats, args.min_time)
                    print(f"   {cell} (T, N, I, H) = {size}: fastrnn.torch {t['fastrnn.torch'] * 1e3:.2f}  "
                          f"torch loop {t['torch loop'] * 1e3:.2f}  -> {t['torch loop'] / t['fastrnn.torch']:.1f}x",
                          flush=True)
        print("2. fastrnn.nn training step (ms): layer-normalised vs plain cell")
        for cell in CELLS:
            for size in PLAIN_SIZES:
                for zoneout in (0.0, 0.1):
                    t = interleaved_medians(plain_steps(cell, size, zoneout), args.repeats, args.min_time)
                    print(f"   {cell} (T, N, I, H) = {size}, zoneout={zoneout}: plain {t['plain'] * 1e3:.1f}  "
                          f"layernorm {t['layernorm'] * 1e3:.1f}  -> layernorm speed "
                          f"{t['plain'] / t['layernorm']:.2f}x the plain cell's", flush=True)


if __name__ == "__main__":
    main()
