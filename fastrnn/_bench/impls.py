"""One adapter per implementation, all built from the same weights and data.

Every adapter has ``train_step()`` (forward, then backward producing every gradient:
input, initial state(s), all weights and biases) and ``forward()`` (inference), and
``results()`` returning what its last training step computed under PyTorch's names,
so the benchmarks can check the implementations agree before timing them.

The implementations: ``fastrnn`` (``fastrnn.nn``) and ``oracle`` (``fastrnn.oracle``'s
pure NumPy loops) always run; ``numpy``, the book-structured NumPy baseline, only where
``bench.reference.baseline`` is importable (a source checkout: it is not installed);
``torch`` (``torch.nn``) where torch is installed. :func:`available` says which.
"""
import importlib

import numpy as np

from .. import _cells
from .sizes import SIZES, proj_size

IMPLS = ("fastrnn", "oracle", "numpy", "torch")
BASELINE = "bench.reference.baseline"


def torch_available():
    """True when ``import torch`` works."""
    try:
        importlib.import_module("torch")
    except Exception:
        return False
    return True


def baseline_available():
    """True when the book-structured NumPy baseline (``bench/reference/baseline.py``) imports.

    It does from the root of a source checkout (or with it on ``sys.path``), not from a plain install.
    """
    try:
        importlib.import_module(BASELINE)
    except ImportError:
        return False
    return True


def _torch_module(cell):
    """torch.nn's module of the cell (``torch.nn.<title>``, e.g. LSTM), or None."""
    return getattr(importlib.import_module("torch").nn, _cells.get(cell).title, None)


def available(names=IMPLS, cell=None):
    """The names of ``names`` that can run here (for ``cell``, when given), in order."""
    def runs(name):
        if name == "torch":
            return torch_available() and (cell is None or _torch_module(cell) is not None)
        if name == "numpy":
            return baseline_available() and (cell is None or cell in importlib.import_module(BASELINE).TIME_LAYERS)
        return True
    return tuple(n for n in names if runs(n))


def make_problem(cell, size, dtype, seed=0):
    """Weights (PyTorch names and init), input, initial states and output gradient."""
    T, N, I, H = SIZES[size] if isinstance(size, str) else size
    entry = _cells.get(cell)
    rng = np.random.default_rng(seed)
    P = proj_size(cell, H)
    params = entry.init_params("torch", I, H, dtype, rng, suffix="_l0", proj_size=P)
    (first, *others), (out, *sizes) = entry.state_names, entry.state_sizes(H, P)
    data = {"x": rng.standard_normal((T, N, I)).astype(dtype),
            first + "0": (0.5 * rng.standard_normal((N, out))).astype(dtype),
            "dout": rng.standard_normal((T, N, out)).astype(dtype)}
    for name, size in zip(others, sizes):
        data[name + "0"] = (0.5 * rng.standard_normal((N, size))).astype(dtype)
    return params, data


def _states(cell, data):
    """The initial states of ``data``, in the cell's order."""
    return tuple(data[s + "0"] for s in _cells.get(cell).state_names)


def _state_grads(cell, dstates):
    return {f"d{s}0": d for s, d in zip(_cells.get(cell).state_names, dstates)}


class FastrnnImpl:
    """``fastrnn.nn`` modules (``fastrnn.nn.Recurrent(cell, ...)``: ``fastrnn.LSTM`` / ``GRU`` / ``RNN``)."""

    name = "fastrnn"

    def __init__(self, cell, params, data):
        from fastrnn.nn import Recurrent
        from fastrnn.nn._module import pack_states, unpack_states
        x = data["x"]
        self.cell = _cells.get(cell)
        I, H = x.shape[2], params["weight_ih_l0"].shape[0] // self.cell.gates
        self._unpack = lambda value: unpack_states(self.cell, "hx", value, "{}0")
        self.module = Recurrent(cell, I, H, dtype=x.dtype.type, proj_size=proj_size(cell, H))
        self.module.load_state_dict(params)
        self.x, self.dout = x, data["dout"]
        self.state = pack_states(self.cell, tuple(s[None] for s in _states(cell, data)))
        self._last = None

    def train_step(self):
        m = self.module
        m.zero_grad()
        out, hn = m(self.x, self.state)
        dx, dstate = m.backward(self.dout)
        self._last = (out, dx, dstate)

    def forward(self):
        return self.module(self.x, self.state)

    def results(self):
        out, dx, dstate = self._last
        r = {"out": out, "dx": dx}
        r.update(_state_grads(self.cell.name, (d[0] for d in self._unpack(dstate))))
        r.update({"d" + k: v for k, v in self.module.grads.items()})
        return r


class OracleImpl:
    """``fastrnn.oracle``'s pure NumPy sequence calls (a Python loop over steps), via the cell registry."""

    name = "oracle"

    def __init__(self, cell, params, data):
        self.cell = _cells.get(cell)
        self.options = self.cell.check_options()
        self.names = [p.name + "_l0" for p in self.cell.params("torch")]
        self.weights = tuple(params[k] for k in self.names)
        self.x, self.dout = data["x"], data["dout"]
        self.state = _states(cell, data)
        self._last = None

    def forward(self):
        return self.cell.oracle_forward(self.x, self.state, self.weights, self.options)

    def train_step(self):
        out, _, cache = self.cell.oracle_forward(self.x, self.state, self.weights, self.options)
        back = self.cell.oracle_backward(cache, self.dout, (None,) * len(self.state))
        self._last = (out, back)

    def results(self):
        out, (dx, dstates, grads) = self._last
        r = {"out": out, "dx": dx}
        r.update(_state_grads(self.cell.name, dstates))
        r.update({"d" + n: g for n, g in zip(self.names, grads)})
        return r


class NumpyImpl:
    """The book-structured NumPy baseline (``bench/reference/baseline.py``; source checkout only)."""

    name = "numpy"

    def __init__(self, cell, params, data):
        baseline = importlib.import_module(BASELINE)
        self.cell = cell
        self.names = [p.name + "_l0" for p in _cells.get(cell).params("torch")]
        self.layer = baseline.TIME_LAYERS[cell](*(params[k] for k in self.names))
        self.x, self.dout = data["x"], data["dout"]
        self.state = _states(cell, data)
        self._last = None

    def forward(self):
        return self.layer.forward(self.x, *self.state)

    def train_step(self):
        out = self.layer.forward(self.x, *self.state)[0]
        back = self.layer.backward(self.dout)
        self._last = (out, back)

    def results(self):
        out, back = self._last
        r = {"out": out, "dx": back[0]}
        r.update(_state_grads(self.cell, back[1:]))
        r.update({"d" + n: g for n, g in zip(self.names, self.layer.grads)})
        return r


class TorchImpl:
    """``torch.nn.LSTM`` / ``GRU`` / ``RNN`` (the module named like the cell) with autograd for the backward."""

    name = "torch"

    def __init__(self, cell, params, data):
        import torch
        self.torch = torch
        x = data["x"]
        I, H = x.shape[2], data["h0"].shape[1]
        tdtype = torch.float32 if x.dtype == np.float32 else torch.float64
        self.cell = _cells.get(cell)
        self.module = _torch_module(cell)(I, H, dtype=tdtype)
        self.module.load_state_dict({k: torch.from_numpy(v.copy()) for k, v in params.items()})
        t = {k: torch.from_numpy(v.copy()) for k, v in data.items()}
        self.x, self.dout = t["x"], t["dout"]
        states = tuple(t[s + "0"][None] for s in self.cell.state_names)
        self.state = self._pack(states)
        self.xg = self.x.clone().requires_grad_()
        self.states_g = tuple(s.clone().requires_grad_() for s in states)
        self._last = None

    def _pack(self, states):
        return states[0] if len(states) == 1 else states

    def forward(self):
        with self.torch.inference_mode():
            return self.module(self.x, self.state)

    def train_step(self):
        m = self.module
        m.zero_grad(set_to_none=True)
        self.xg.grad = None
        for s in self.states_g:
            s.grad = None
        out, _ = m(self.xg, self._pack(self.states_g))
        out.backward(self.dout)
        self._last = out

    def results(self):
        r = {"out": self._last.detach().numpy(), "dx": self.xg.grad.numpy()}
        r.update(_state_grads(self.cell.name, (s.grad[0].numpy() for s in self.states_g)))
        r.update({"d" + k: p.grad.numpy() for k, p in self.module.named_parameters()})
        return r


CLASSES = {"fastrnn": FastrnnImpl, "oracle": OracleImpl, "numpy": NumpyImpl, "torch": TorchImpl}


def make_impls(cell, size, dtype, names=IMPLS, seed=0):
    """dict name -> adapter for the requested implementations that run ``cell`` here, sharing
    weights and data."""
    params, data = make_problem(cell, size, dtype, seed)
    return {name: CLASSES[name](cell, params, data) for name in available(names, cell)}
