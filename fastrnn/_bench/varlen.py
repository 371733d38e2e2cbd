"""The variable-length section of ``python -m fastrnn bench``: padding skipped vs padding computed.

For each (cell, size, dtype): a training step (forward + backward, every gradient) of
``fastrnn.nn`` on the padded batch without lengths, the same module with ``lengths``
(uniform in [T/4, T], fixed seed; the kernels run only the real rows), and, with torch,
``torch.nn`` on the same batch as a ``PackedSequence`` (torch's own way of skipping the
padding). The real work is Σ lengths / (T·N) of the padded work, about 0.63.
"""
import importlib
import math

import numpy as np

from .. import _cells
from .impls import make_problem, torch_available
from .sizes import SIZES

IMPLS = ("padded", "lengths", "torch")


def lengths_for(T, N, seed=0):
    """N lengths uniform in [ceil(T/4), T] (a fixed seed: the same batch every run)."""
    return np.random.default_rng(seed).integers(math.ceil(T / 4), T + 1, N)


class FastrnnStep:
    """``fastrnn.nn.Recurrent(cell)`` training steps on a padded batch, with or without lengths."""

    def __init__(self, cell, params, data, lengths):
        from fastrnn.nn import Recurrent
        x = data["x"]
        self.module = Recurrent(cell, x.shape[2], data["h0"].shape[1], dtype=x.dtype.type)
        self.module.load_state_dict(params)
        self.x, self.dout, self.lengths = x, data["dout"], None if lengths is None else list(lengths)

    def train_step(self):
        m = self.module
        m.zero_grad()
        out, _ = m(self.x, lengths=self.lengths)
        m.backward(self.dout)
        return out


class TorchPackedStep:
    """``torch.nn`` (the module named like the cell) on the batch as a PackedSequence, autograd backward."""

    def __init__(self, cell, params, data, lengths):
        import torch
        from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence
        self.torch, self.pad = torch, pad_packed_sequence
        x = data["x"]
        tdtype = torch.float32 if x.dtype == np.float32 else torch.float64
        module = getattr(torch.nn, _cells.get(cell).title)
        self.module = module(x.shape[2], data["h0"].shape[1], dtype=tdtype)
        self.module.load_state_dict({k: torch.from_numpy(v.copy()) for k, v in params.items()})
        self.xg = torch.from_numpy(x.copy()).requires_grad_()
        self.lengths = torch.as_tensor(lengths)
        self.pack = pack_padded_sequence
        self.dout = torch.from_numpy(data["dout"].copy())

    def train_step(self):
        self.module.zero_grad(set_to_none=True)
        self.xg.grad = None
        out, _ = self.module(self.pack(self.xg, self.lengths, enforce_sorted=False))
        padded, _ = self.pad(out, total_length=self.xg.shape[0])
        padded.backward(self.dout)
        return padded.detach().numpy()


def available(names=IMPLS, cell=None):
    """The names of ``names`` that can run here (torch: installed and has the cell's module)."""
    def runs(name):
        if name != "torch":
            return True
        return torch_available() and (cell is None or hasattr(importlib.import_module("torch").nn,
                                                              _cells.get(cell).title))
    return tuple(n for n in names if runs(n))


def make_steps(cell, size, dtype, names=IMPLS, seed=0):
    """dict name -> object with ``train_step()``, the same weights, data and lengths for all."""
    T, N, I, H = SIZES[size] if isinstance(size, str) else size
    params, data = make_problem(cell, (T, N, I, H), dtype, seed)
    lengths = lengths_for(T, N, seed)
    build = {"padded": lambda: FastrnnStep(cell, params, data, None),
             "lengths": lambda: FastrnnStep(cell, params, data, lengths),
             "torch": lambda: TorchPackedStep(cell, params, data, lengths)}
    return {n: build[n]() for n in available(names, cell)}, lengths


def entry(cell, size, dtype, lengths, ms):
    """One result row: medians, the real share of the rows, and the ratios."""
    T, N, I, H = SIZES[size] if isinstance(size, str) else size
    e = {"cell": cell, "size": size, "T": T, "N": N, "I": I, "H": H, "dtype": dtype,
         "real_fraction": float(np.sum(lengths)) / (T * N), "ms": ms}
    e["lengths_over_padded"] = ms["lengths"] / ms["padded"]
    if "torch" in ms:
        e["torch_over_lengths"] = ms["torch"] / ms["lengths"]
    return e


def table(entries):
    """The variable-length results as text."""
    head = ["cell", "size", "dtype", "real rows", "padded ms", "lengths ms", "lengths/padded", "torch packed ms",
            "×torch"]
    rows = [[e["cell"], e["size"], e["dtype"], f"{e['real_fraction']:.2f}", f"{e['ms']['padded']:.3f}",
             f"{e['ms']['lengths']:.3f}", f"{e['lengths_over_padded']:.2f}",
             f"{e['ms']['torch']:.3f}" if "torch" in e["ms"] else "-",
             f"{e['torch_over_lengths']:.2f}" if "torch_over_lengths" in e else "-"] for e in entries]
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(head)]
    fmt = lambda r: "  ".join(c.ljust(w) if i < 3 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths)))
    lines = [fmt(head), fmt(["-" * w for w in widths])] + [fmt(r) for r in rows]
    lines.append("variable length: training steps of fastrnn.nn on the padded batch (padded) and with lengths "
                 "uniform in [T/4, T] (lengths: the padding skipped), and of torch.nn on the same batch as a "
                 "PackedSequence; real rows: Σ lengths / (T·N); ×torch: torch's time / fastrnn's with lengths")
    return "\n".join(lines)
