"""One adapter per implementation, all built from the same weights and data.

Every adapter has ``train_step()`` (forward, then backward producing every gradient:
input, initial state(s), all weights and biases) and ``forward()`` (inference), and
``results()`` returning what its last training step computed under PyTorch's names,
so the benchmarks can check the implementations agree before timing them.
"""
import importlib

import numpy as np

from .baseline import TIME_LAYERS
from .sizes import GATES, SIZES

IMPLS = ("fastrnn", "numpy", "torch")
_MODULE = {"lstm": "LSTM", "gru": "GRU", "rnn": "RNN"}


def torch_available():
    """True when ``import torch`` works."""
    try:
        importlib.import_module("torch")
    except Exception:
        return False
    return True


def make_problem(cell, size, dtype, seed=0):
    """Weights (PyTorch names and init), input, initial states and output gradient."""
    T, N, I, H = SIZES[size] if isinstance(size, str) else size
    G = GATES[cell]
    rng = np.random.default_rng(seed)
    k = 1 / np.sqrt(H)

    def u(*shape):
        return rng.uniform(-k, k, shape).astype(dtype)

    params = {"weight_ih_l0": u(G * H, I), "weight_hh_l0": u(G * H, H),
              "bias_ih_l0": u(G * H), "bias_hh_l0": u(G * H)}
    data = {"x": rng.standard_normal((T, N, I)).astype(dtype),
            "h0": (0.5 * rng.standard_normal((N, H))).astype(dtype),
            "dout": rng.standard_normal((T, N, H)).astype(dtype)}
    if cell == "lstm":
        data["c0"] = (0.5 * rng.standard_normal((N, H))).astype(dtype)
    return params, data


class FastrnnImpl:
    """``fastrnn.nn`` modules (``fastrnn.LSTM`` / ``GRU`` / ``RNN``)."""

    name = "fastrnn"

    def __init__(self, cell, params, data):
        import fastrnn
        x = data["x"]
        I, H = x.shape[2], data["h0"].shape[1]
        self.cell = cell
        self.module = getattr(fastrnn, _MODULE[cell])(I, H, dtype=x.dtype.type)
        self.module.load_state_dict(params)
        self.x, self.dout = x, data["dout"]
        self.state = (data["h0"][None], data["c0"][None]) if cell == "lstm" else data["h0"][None]
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
        if self.cell == "lstm":
            r["dh0"], r["dc0"] = dstate[0][0], dstate[1][0]
        else:
            r["dh0"] = dstate[0]
        r.update({"d" + k: v for k, v in self.module.grads.items()})
        return r


class NumpyImpl:
    """The book-structured NumPy baseline (:mod:`fastrnn._bench.baseline`)."""

    name = "numpy"

    def __init__(self, cell, params, data):
        self.cell = cell
        self.layer = TIME_LAYERS[cell](params["weight_ih_l0"], params["weight_hh_l0"],
                                       params["bias_ih_l0"], params["bias_hh_l0"])
        self.x, self.dout = data["x"], data["dout"]
        self.state = (data["h0"], data["c0"]) if cell == "lstm" else (data["h0"],)
        self._last = None

    def forward(self):
        return self.layer.forward(self.x, *self.state)

    def train_step(self):
        out = self.layer.forward(self.x, *self.state)[0]
        back = self.layer.backward(self.dout)
        self._last = (out, back)

    def results(self):
        out, back = self._last
        r = {"out": out, "dx": back[0], "dh0": back[1]}
        if self.cell == "lstm":
            r["dc0"] = back[2]
        names = ("weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0")
        r.update({"d" + n: g for n, g in zip(names, self.layer.grads)})
        return r


class TorchImpl:
    """``torch.nn.LSTM`` / ``GRU`` / ``RNN`` with autograd for the backward."""

    name = "torch"

    def __init__(self, cell, params, data):
        import torch
        self.torch = torch
        x = data["x"]
        I, H = x.shape[2], data["h0"].shape[1]
        tdtype = torch.float32 if x.dtype == np.float32 else torch.float64
        self.cell = cell
        self.module = getattr(torch.nn, _MODULE[cell])(I, H, dtype=tdtype)
        self.module.load_state_dict({k: torch.from_numpy(v.copy()) for k, v in params.items()})
        t = {k: torch.from_numpy(v.copy()) for k, v in data.items()}
        self.x, self.dout = t["x"], t["dout"]
        self.state = (t["h0"][None], t["c0"][None]) if cell == "lstm" else t["h0"][None]
        self.xg = self.x.clone().requires_grad_()
        states = self.state if cell == "lstm" else (self.state,)
        self.states_g = tuple(s.clone().requires_grad_() for s in states)
        self._last = None

    def forward(self):
        with self.torch.inference_mode():
            return self.module(self.x, self.state)

    def train_step(self):
        m = self.module
        m.zero_grad(set_to_none=True)
        self.xg.grad = None
        for s in self.states_g:
            s.grad = None
        state = self.states_g if self.cell == "lstm" else self.states_g[0]
        out, _ = m(self.xg, state)
        out.backward(self.dout)
        self._last = out

    def results(self):
        r = {"out": self._last.detach().numpy(), "dx": self.xg.grad.numpy(),
             "dh0": self.states_g[0].grad[0].numpy()}
        if self.cell == "lstm":
            r["dc0"] = self.states_g[1].grad[0].numpy()
        r.update({"d" + k: p.grad.numpy() for k, p in self.module.named_parameters()})
        return r


CLASSES = {"fastrnn": FastrnnImpl, "numpy": NumpyImpl, "torch": TorchImpl}


def make_impls(cell, size, dtype, names=IMPLS, seed=0):
    """dict name -> adapter for the requested implementations, sharing weights and data."""
    params, data = make_problem(cell, size, dtype, seed)
    return {name: CLASSES[name](cell, params, data) for name in names}
