"""Book-layer comparison: ``fastrnn.layers.TimeLSTM`` / ``TimeGRU`` vs the book's NumPy layers.

Book layout and conventions: ``xs (N, T, D)`` float32, ``Wx (D, G*H)`` = randn/√D,
``Wh (H, G*H)`` = randn/√H, ``b`` zeros (the book's initialisation).
"""
import numpy as np

from bench.reference import book
from fastrnn._bench.timing import interleaved, median

LAYER_SIZES = {"rnnlm650": (20, 35, 650, 650), "tiny32": (1, 20, 32, 32)}    # (N, T, D, H)
LAYER_GATES = {"TimeLSTM": 4, "TimeGRU": 3}


def layer_problem(name, shape, seed=0):
    """-> (Wx, Wh, b), xs (N, T, D), dhs (N, T, H), all float32."""
    N, T, D, H = shape
    rng = np.random.default_rng(seed)
    G = LAYER_GATES[name]
    Wx = (rng.standard_normal((D, G * H)) / np.sqrt(D)).astype(np.float32)
    Wh = (rng.standard_normal((H, G * H)) / np.sqrt(H)).astype(np.float32)
    b = np.zeros(G * H, np.float32)
    xs = rng.standard_normal((N, T, D)).astype(np.float32)
    dhs = rng.standard_normal((N, T, H)).astype(np.float32)
    return (Wx, Wh, b), xs, dhs


def make_layer(impl, name, weights):
    """impl 'fastrnn' or 'book'; the layer gets its own copies of the weights."""
    if impl == "book":
        return getattr(book, name)(*(w.copy() for w in weights))
    import fastrnn.layers
    return getattr(fastrnn.layers, name)(*(w.copy() for w in weights))


def layer_step(layer, xs, dhs, mode):
    """A zero-argument callable: forward, or forward + backward (mode 'train')."""
    if mode == "train":
        def train():
            layer.forward(xs)
            layer.backward(dhs)
        return train
    return lambda: layer.forward(xs)


def compare_layers(names=tuple(LAYER_GATES), sizes=tuple(LAYER_SIZES), modes=("train", "forward"),
                   repeats=5, min_time=0.1):
    """Interleaved medians (ms) of both implementations; -> list of dict rows."""
    rows = []
    for name in names:
        for size in sizes:
            weights, xs, dhs = layer_problem(name, LAYER_SIZES[size])
            layers = {impl: make_layer(impl, name, weights) for impl in ("fastrnn", "book")}
            for mode in modes:
                fns = {impl: layer_step(layer, xs, dhs, mode) for impl, layer in layers.items()}
                ms = {k: 1e3 * median(v) for k, v in interleaved(fns, repeats, min_time).items()}
                rows.append({"layer": name, "size": size, "shape": LAYER_SIZES[size], "mode": mode, "ms": ms,
                             "speedup": ms["book"] / ms["fastrnn"]})
    return rows
