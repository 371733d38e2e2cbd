"""The inference races: fastrnn's forward-only path against ONNX Runtime and torch.nn.

Each contender is a zero-argument callable running one forward of the same weights on the
same input (float32, time-major): fastrnn.nn under ``fastrnn.no_grad()``, torch.nn under
``torch.inference_mode()``, and ONNX Runtime's LSTM/GRU/RNN operators on the graph
``fastrnn.onnx.export`` writes (one intra-op and one inter-op thread, sequential execution).
``check`` runs them once and compares their outputs before anything is timed.
"""
import importlib

import numpy as np

from .. import nn
from .._grad_mode import no_grad

CONTENDERS = ("fastrnn", "onnxruntime", "torch")
STREAM = "fastrnn.stream"       # the streaming race's extra contender: Stream.step (module.stream())
_MODULES = {"lstm": "LSTM", "gru": "GRU", "rnn": "RNN"}


def available(names):
    """The contenders of ``names`` whose packages are installed."""
    need = {"onnxruntime": ("onnx", "onnxruntime"), "torch": ("torch",)}
    out = []
    for name in names:
        try:
            for module in need.get(name, ()):
                importlib.import_module(module)
        except ImportError:
            continue
        out.append(name)
    return out


def module(cell, input_size, hidden_size, num_layers=1, seed=0):
    """A float32 fastrnn.nn module of ``cell`` in evaluation mode."""
    return getattr(nn, _MODULES[cell])(input_size, hidden_size, num_layers=num_layers, seed=seed).eval()


def torch_twin(m):
    """torch.nn's module with ``m``'s weights."""
    import torch
    twin = getattr(torch.nn, _MODULES[m.cell.name])(m.input_size, m.hidden_size, num_layers=m.num_layers)
    twin.load_state_dict({k: torch.from_numpy(v.copy()) for k, v in m.params.items()})
    return twin.eval()


def ort_session(m, initial_states=False):
    """An ONNX Runtime session of ``m`` exported by fastrnn.onnx, on one thread."""
    import onnxruntime as ort
    from .. import onnx as fastrnn_onnx
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    model = fastrnn_onnx.export(m, initial_states=initial_states)
    return ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])


def sequence_race(cell, size, names=CONTENDERS, seed=0):
    """{contender: callable -> output (T, N, H) array} for one forward of a (T, N, I, H) problem."""
    T, N, I, H = size
    m = module(cell, I, H, seed=seed)
    x = np.random.default_rng(seed).standard_normal((T, N, I)).astype(np.float32)
    calls = {}
    for name in available(names):
        if name == "fastrnn":
            calls[name] = lambda: _no_grad_call(m, x)
        elif name == "torch":
            import torch
            twin, xt = torch_twin(m), torch.from_numpy(x)
            calls[name] = lambda twin=twin, xt=xt: _inference(twin, xt)
        elif name == "onnxruntime":
            session = ort_session(m)
            calls[name] = lambda session=session: session.run(["output"], {"x": x})[0]
    return calls


def _no_grad_call(m, x, state=None):
    with no_grad():
        return m(x, state)[0]


def _inference(twin, xt):
    import torch
    with torch.inference_mode():
        return twin(xt)[0].numpy()


def streaming_race(cell="lstm", num_layers=2, hidden_size=128, names=CONTENDERS, seed=0):
    """{contender: step callable -> output (1, 1, H)} for one time step of a stacked ``cell``
    (N = 1, I = H), the state carried from call to call in each contender's own form; with
    "fastrnn" in ``names`` also STREAM, the module's ``stream().step``."""
    H = hidden_size
    m = module(cell, H, H, num_layers=num_layers, seed=seed)
    x = np.random.default_rng(seed).standard_normal((1, 1, H)).astype(np.float32)
    calls = {}
    for name in available(names):
        if name == "fastrnn":
            calls[name] = _FastrnnStream(m, x)
            stream, x_t = m.stream(), x[0]
            calls[STREAM] = lambda: stream.step(x_t)[None]
        elif name == "torch":
            calls[name] = _TorchStream(torch_twin(m), x)
        elif name == "onnxruntime":
            calls[name] = _OrtStream(ort_session(m, initial_states=True), m, x)
    return calls


class _FastrnnStream:
    def __init__(self, m, x):
        self.m, self.x, self.state = m, x, None

    def __call__(self):
        with no_grad():
            out, self.state = self.m(self.x, self.state)
        return out


class _TorchStream:
    def __init__(self, twin, x):
        import torch
        self.twin, self.x, self.state = twin, torch.from_numpy(x), None

    def __call__(self):
        import torch
        with torch.inference_mode():
            out, self.state = self.twin(self.x, self.state)
        return out.numpy()


class _OrtStream:
    def __init__(self, session, m, x):
        self.session, self.x = session, x
        L, H = m.num_layers, m.hidden_size
        self.names = ["h0", "c0"] if m.cell.name == "lstm" else ["h0"]
        self.outputs = ["output", "h_n", "c_n"] if m.cell.name == "lstm" else ["output", "h_n"]
        self.state = [np.zeros((L, 1, H), np.float32) for _ in self.names]

    def __call__(self):
        feed = {"x": self.x, **dict(zip(self.names, self.state))}
        out, *self.state = self.session.run(self.outputs, feed)
        return out


def check(calls, steps=1, atol=1e-4):
    """Run every callable ``steps`` times and assert their last outputs agree with the first's."""
    results = {}
    for name, call in calls.items():
        for _ in range(steps):
            results[name] = np.asarray(call())
    first = next(iter(results))
    for name, value in results.items():
        np.testing.assert_allclose(value, results[first], atol=atol, rtol=1e-3,
                                   err_msg=f"{name} and {first} disagree")
    return results


def forward_memory(cell, size, seed=0):
    """(peak bytes of a forward-only call, of a training forward, output bytes), from tracemalloc
    (which sees NumPy's allocations)."""
    import tracemalloc
    T, N, I, H = size
    m = module(cell, I, H, seed=seed)
    x = np.zeros((T, N, I), np.float32)
    m(x[:2])
    _no_grad_call(m, x[:2])
    peaks = []
    for grad in (False, True):
        tracemalloc.start()
        try:
            out = m(x)[0] if grad else _no_grad_call(m, x)
            peaks.append(tracemalloc.get_traced_memory()[1])
        finally:
            tracemalloc.stop()
        del out
    return peaks[0], peaks[1], T * N * H * 4
