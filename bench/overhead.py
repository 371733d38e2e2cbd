"""Where a small forward's time goes: the kernel, the registry entry, the module's paths.

    python bench/overhead.py [--rounds 15] [--calls 2000]

For a tiny LSTM forward (20, 1, 32, 32) and one streaming step of a 2-layer LSTM (N = 1,
I = H = 128), one thread, interleaved rounds (the minimum and the median per call):

- ``weights read``: compiled code only summing every weight matrix the forward reads, in the
  forward's order (the memory floor: the streaming step's 1 MiB does not fit in L2);
- ``kernels, compiled``: the kernels called from compiled code (no dispatch from Python);
- ``kernels``: the compiled kernels alone, buffers preallocated, called from Python;
- ``entries``: the registry entries' forward-only calls (allocation, dispatch);
- ``module, stream``: the module's ``stream().step`` (one-step problems only);
- ``module, ready``: ``fastrnn.nn.LSTM`` under ``no_grad()`` with ready arrays (the short path);
- ``module, general``: the same call through the general path (validation, conversion, layouts);
- ``module, training``: the training forward (what ``eval()`` cost before ``no_grad()`` existed).
"""
import argparse
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir))

import numpy as np  # noqa: E402
from numba import njit  # noqa: E402

import fastrnn  # noqa: E402
from fastrnn._bench.threads import pin_threads  # noqa: E402
from fastrnn._kernels import blas  # noqa: E402
from fastrnn._kernels import lstm as kernels  # noqa: E402
from fastrnn._kernels.activations import FASTMATH  # noqa: E402


@njit(cache=True, error_model="numpy", fastmath=FASTMATH)
def read_weights(weights):
    """The sum of every entry of each array in ``weights`` (a tuple), read in turn (vectorised)."""
    total = weights[0].dtype.type(0)
    for w in weights:
        flat = w.ravel()
        for i in range(flat.shape[0]):
            total += flat[i]
    return total


@njit(cache=True)
def run_layers(layers):
    """kernels.lstm_forward on each layer's argument tuple, from compiled code."""
    for args in layers:
        kernels.lstm_forward(*args)


def contenders(T, N, H, L):
    m = fastrnn.LSTM(H, H, num_layers=L, seed=0)
    x = np.random.default_rng(0).standard_normal((T, N, H)).astype(np.float32)
    params = [m._guard.params(m.params, names) for names in m._names]
    zeros = (np.zeros((N, H), np.float32), np.zeros((N, H), np.float32))
    sizes = np.full(T, N, np.int64)
    buffers = [dict(gates=np.empty((T * N, 4 * H), np.float32), scratch=np.empty(5 * H * N, np.float32),
                    cs=np.empty((2 * N, H), np.float32), out=np.empty((T * N, H), np.float32),
                    h_n=np.empty((N, H), np.float32), c_n=np.empty((N, H), np.float32)) for _ in range(L)]

    no_zoneout = np.zeros((0, H), np.float32)

    layers, rows = [], x.reshape(T * N, H)
    for p, b in zip(params, buffers):
        layers.append((rows, sizes, zeros[0], zeros[1], p[0], p[1], p[2], p[3], True, (0, 1, 2, 3), T, False,
                       b["gates"], b["scratch"], b["cs"], b["out"], b["h_n"], b["c_n"], no_zoneout,
                       blas.SMALL_KERNELS))
        rows = b["out"]
    layers = tuple(layers)
    weights = tuple(w for p in params for w in (p[0], p[1]))

    def kernels_only():
        for args in layers:
            kernels.lstm_forward(*args)

    def entries():
        layer_in = x
        for p in params:
            layer_in = m.cell.forward_only(layer_in, zeros, p, "torch", {})[0]

    def ready():
        with fastrnn.no_grad():
            m(x)

    def general():
        with fastrnn.no_grad():
            m._forward(x, (None, None), None)

    calls = {"weights read": lambda: read_weights(weights), "kernels, compiled": lambda: run_layers(layers),
             "kernels": kernels_only, "entries": entries}
    if T == 1:
        stream, x_t = m.stream(batch_size=N), x[0]
        calls["module, stream"] = lambda: stream.step(x_t)
    calls.update({"module, ready": ready, "module, general": general, "module, training": lambda: m(x)})
    return calls


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rounds", type=int, default=15)
    p.add_argument("--calls", type=int, default=2000)
    args = p.parse_args(argv)
    with pin_threads(1):
        for title, shape in (("tiny LSTM forward (20, 1, 32, 32)", (20, 1, 32, 1)),
                             ("streaming step, 2-layer LSTM (1, 1, 128, 128)", (1, 1, 128, 2))):
            fns = contenders(*shape)
            for fn in fns.values():
                fn()
            samples = {name: [] for name in fns}
            for _ in range(args.rounds):
                for name, fn in fns.items():
                    start = time.perf_counter()
                    for _ in range(args.calls):
                        fn()
                    samples[name].append((time.perf_counter() - start) / args.calls * 1e6)
            print(title)
            for name, s in samples.items():
                print(f"  {name:17s} min {min(s):7.1f} us   median {statistics.median(s):7.1f} us")


if __name__ == "__main__":
    main()
