"""A/B: this checkout's fastrnn.nn against another git revision's, interleaved in one process.

    python bench/ab.py BASE_REV [--sizes tiny small medium long large] [--cells lstm gru rnn ...]
                                [--modes train forward] [--repeats 7] [--min-time 0.1] [--threads 1]

The revision's ``fastrnn`` package is exported (``git archive``) into a temporary folder as
``fastrnn_base`` and imported beside this checkout's ``fastrnn``; both build the same
modules from the same weights (state_dict) and data, checked to agree, then their
training steps (forward + backward) and forwards are timed alternately with every thread
pool pinned to one thread (``--threads N``: N, both packages' fastrnn.set_num_threads too).
Prints each median and the ratio base time / this time (above 1: this checkout is faster),
so a change's speed is judged side by side, not across runs.
"""
import argparse
import importlib
import os
import subprocess
import sys
import tarfile
import tempfile

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from fastrnn._bench.sizes import SIZES  # noqa: E402
from fastrnn._bench.threads import pin_threads  # noqa: E402
from fastrnn._bench.timing import interleaved, median  # noqa: E402

# cell -> (fastrnn.nn class, its keyword arguments); the default --cells are the first three.
# The two builds must agree before they are timed: to 1e-5 relative + 1e-6, except the
# layer-normalised cells, whose small size is ill-conditioned from about step 45 (both
# builds within 2e-4 of float64 there, apart by up to 1.3e-4): + 1e-3.
AGREE_ATOL = {"ln_lstm": 1e-3, "ln_gru": 1e-3}
MODULES = {"lstm": ("LSTM", {}), "gru": ("GRU", {}), "rnn": ("RNN", {}),
           "gru_rb": ("GRU", {"reset_after": False}), "lstm_peep": ("LSTM", {"peephole": True}),
           "lstm_proj": ("LSTM", {"proj_size": "H/2"}), "lstm_zo": ("LSTM", {"zoneout": 0.1}),
           "ln_lstm": ("LayerNormLSTM", {}), "ln_gru": ("LayerNormGRU", {})}
DEFAULT_CELLS = ["lstm", "gru", "rnn"]


def export_base(rev, folder):
    """Write revision ``rev``'s fastrnn/ into ``folder``/fastrnn_base and import it."""
    archive = os.path.join(folder, "base.tar")
    subprocess.run(["git", "-C", ROOT, "archive", "--format=tar", "-o", archive, rev, "fastrnn"], check=True)
    with tarfile.open(archive) as tar:
        tar.extractall(folder, filter="data")
    os.rename(os.path.join(folder, "fastrnn"), os.path.join(folder, "fastrnn_base"))
    init = os.path.join(folder, "fastrnn_base", "__init__.py")   # its lazy imports name the package
    with open(init) as f:
        text = f.read()
    with open(init, "w") as f:
        f.write(text.replace("fastrnn.", "fastrnn_base."))
    sys.path.insert(0, folder)
    return importlib.import_module("fastrnn_base.nn")


def problem(cell, size, seed=0):
    T, N, I, H = SIZES[size]
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((T, N, I)).astype(np.float32)
    dout = rng.standard_normal((T, N, H)).astype(np.float32)
    return x, dout


def steps(nn, cell, size, state_dict, x, dout):
    T, N, I, H = SIZES[size]
    name, kwargs = MODULES[cell]
    kwargs = {k: max(1, H // 2) if v == "H/2" else v for k, v in kwargs.items()}
    m = getattr(nn, name)(I, H, seed=0, **kwargs)
    if state_dict is not None:
        m.load_state_dict(state_dict)
    dout = dout[..., :kwargs.get("proj_size", H)]

    def train():
        m.zero_grad()
        out, _ = m(x)
        m.backward(dout)
        return out

    def forward():
        return m(x)[0]
    return m, train, forward


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("base", help="the git revision to compare against (e.g. HEAD~1, a commit)")
    p.add_argument("--sizes", nargs="+", default=list(SIZES), choices=list(SIZES))
    p.add_argument("--cells", nargs="+", default=DEFAULT_CELLS, choices=list(MODULES))
    p.add_argument("--modes", nargs="+", default=["train", "forward"], choices=["train", "forward"])
    p.add_argument("--repeats", type=int, default=7)
    p.add_argument("--min-time", type=float, default=0.1)
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args(argv)
    import fastrnn.nn as head_nn
    with tempfile.TemporaryDirectory() as folder, pin_threads(args.threads):
        base_nn = export_base(args.base, folder)
        importlib.import_module("fastrnn_base._threads").set_num_threads(args.threads)
        print(f"base: {args.base}; this: {ROOT}; {args.threads} thread(s); medians of {args.repeats} "
              "interleaved rounds")
        print(f"{'cell':9s} {'size':7s} {'step':8s} {'base ms':>9s} {'this ms':>9s} {'base/this':>9s}")
        for cell in args.cells:
            for size in args.sizes:
                x, dout = problem(cell, size)
                mb, train_b, fwd_b = steps(base_nn, cell, size, None, x, dout)
                mh, train_h, fwd_h = steps(head_nn, cell, size, mb.state_dict(), x, dout)
                np.testing.assert_allclose(train_h(), train_b(), rtol=1e-5, atol=AGREE_ATOL.get(cell, 1e-6))
                for k in mb.grads:
                    # float32 sums over all rows: compare against the gradient's scale
                    scale = max(1.0, float(np.abs(mb.grads[k]).max()))
                    np.testing.assert_allclose(mh.grads[k], mb.grads[k], rtol=1e-4,
                                               atol=max(1e-5, AGREE_ATOL.get(cell, 0.0)) * scale, err_msg=k)
                for mode in args.modes:
                    fns = {"base": train_b if mode == "train" else fwd_b,
                           "this": train_h if mode == "train" else fwd_h}
                    samples = interleaved(fns, args.repeats, args.min_time)
                    b, h = median(samples["base"]), median(samples["this"])
                    print(f"{cell:9s} {size:7s} {mode:8s} {b * 1e3:9.3f} {h * 1e3:9.3f} {b / h:9.3f}", flush=True)


if __name__ == "__main__":
    main()
