"""Runs fuzz cases sent by tests/test_fuzz.py in a process of its own, so that a crash is seen
as a failure of the case being run (printed before it runs), not as a lost test run.

Reads a JSON list of cases on stdin; for each prints ``START i`` then one JSON result line:
``{"i": i, "outcome": "ok" | "error", "type": ..., "message": ..., "same": bool, "outside": bool}``.
"""
import json
import sys

import numpy as np

import fastrnn
import fastrnn.layers as L

NN = {"LSTM": fastrnn.LSTM, "GRU": fastrnn.GRU, "RNN": fastrnn.RNN,
      "LSTMCell": fastrnn.LSTMCell, "GRUCell": fastrnn.GRUCell, "RNNCell": fastrnn.RNNCell}
BOOK = {"TimeLSTM": (L.TimeLSTM, 4), "TimeGRU": (L.TimeGRU, 3), "TimeRNN": (L.TimeRNN, 1),
        "LSTM": (L.LSTM, 4), "GRU": (L.GRU, 3), "RNN": (L.RNN, 1), "TimeEmbedding": (L.TimeEmbedding, 0),
        "Affine": (L.Affine, -1), "TimeAffine": (L.TimeAffine, -1), "MatMul": (L.MatMul, -2)}
I, H, T, N, V = 3, 4, 5, 2, 7


def mutate(original, m, rng):
    """A replacement for ``original`` per the mutation ``m``; -> (array or object, base buffer or None)."""
    if m["dtype"] == "none":
        return None, None
    if m["dtype"] == "list":
        return original.tolist(), None
    shape = tuple(m["shape"]) if m["shape"] is not None else original.shape
    if shape == original.shape:
        values = original.copy()
    else:
        values = rng.standard_normal(shape)
    values = values.astype(m["dtype"])
    base = None
    if m["order"] == "F":
        values = np.asfortranarray(values)
    elif m["order"] == "strided" and values.ndim >= 1:
        base = np.full(values.shape[:-1] + (2 * values.shape[-1],), 7, values.dtype)
        base[..., ::2] = values
        values = base[..., ::2]
    elif m["order"] == "readonly":
        values.setflags(write=False)
    return values, base


def build(case):
    seed = case["seed"]
    if case["face"] == "nn":
        cls = NN[case["cls"]]
        kw = {} if case["cls"].endswith("Cell") else dict(num_layers=case["layers"], bidirectional=case["bidir"])
        return cls(I, H, seed=seed, **kw)
    cls, G = BOOK[case["cls"]]
    rng = np.random.default_rng(seed)
    if G == 0:
        return cls(rng.standard_normal((V, I)).astype(np.float32))
    if G == -1:
        return cls(rng.standard_normal((I, H)).astype(np.float32), rng.standard_normal(H).astype(np.float32))
    if G == -2:
        return cls(rng.standard_normal((I, H)).astype(np.float32))
    return cls((rng.standard_normal((I, G * H)) / 2).astype(np.float32),
               (rng.standard_normal((H, G * H)) / 2).astype(np.float32), np.zeros(G * H, np.float32))


def step(layer, case):
    """One forward and backward -> (outputs..., gradients...) as a list of arrays."""
    rng = np.random.default_rng(1)
    name = case["cls"]
    if case["face"] == "nn":
        cell = name.endswith("Cell")
        x = rng.standard_normal((N, I) if cell else (T, N, I)).astype(np.float32)
        out = layer(x)
        first = out[0] if isinstance(out, tuple) else out
        if cell:
            dx, _ = layer.backward(np.ones_like(first))
        else:
            dx, _ = layer.backward(np.ones_like(first))
        return [first, dx] + [np.array(g) for g in layer.grads.values()]
    if name == "TimeEmbedding":
        hs = layer.forward(rng.integers(0, V, (N, T)))
        layer.backward(np.ones_like(hs))
        return [hs] + [np.array(g) for g in layer.grads]
    if name in ("Affine", "MatMul"):
        y = layer.forward(rng.standard_normal((N, I)).astype(np.float32))
        return [y, layer.backward(np.ones_like(y))] + [np.array(g) for g in layer.grads]
    if name.startswith("Time"):
        hs = layer.forward(rng.standard_normal((N, T, I)).astype(np.float32))
        return [hs, layer.backward(np.ones_like(hs))] + [np.array(g) for g in layer.grads]
    x = rng.standard_normal((N, I)).astype(np.float32)
    h = np.zeros((N, H), np.float32)
    if name == "LSTM":
        h1, c1 = layer.forward(x, h, h)
        back = layer.backward(np.ones_like(h1), np.zeros_like(c1))
    else:
        h1 = layer.forward(x, h)
        back = layer.backward(np.ones_like(h1))
    return [h1, back[0]] + [np.array(g) for g in layer.grads]


def run(case):
    reference = step(build(case), case)
    layer = build(case)
    table = getattr(layer, case["kind"])
    key = case["key"] if case["face"] == "nn" else int(case["key"])
    if case["face"] == "book":
        key = key % len(table)
    rng = np.random.default_rng(case["seed"])
    original = table[key]
    table[key], base = mutate(original, case["mutation"], rng)
    before = None if base is None else base.copy()
    try:
        got = step(layer, case)
    except Exception as exc:             # the outcome to report; the parent judges it
        return {"outcome": "error", "type": type(exc).__name__, "message": str(exc)}
    same = len(got) == len(reference) and all(
        g.shape == r.shape and np.allclose(g, r, rtol=1e-4, atol=1e-5) for g, r in zip(got, reference))
    outside = True
    if base is not None:
        written = base.copy()
        written[..., ::2] = before[..., ::2]
        outside = bool(np.array_equal(written, before))
    return {"outcome": "ok", "same": bool(same), "outside": outside}


def main():
    cases = json.load(sys.stdin)
    for i, case in enumerate(cases):
        print(f"START {i}", flush=True)
        result = run(case)
        result["i"] = i
        print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
