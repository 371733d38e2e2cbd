"""fastrnn.no_grad() in the non-recurrent book layers, the book's one-step RNN/LSTM/GRU and the
fastrnn.nn heads and cells: the forward gives the same output and keeps nothing for a backward,
a backward after it raises (grads untouched), enable_grad() saves again, the mode is per thread."""
import threading

import numpy as np
import pytest

import fastrnn.layers as L
from fastrnn import _cells, nn
from fastrnn._grad_mode import NOT_SAVED, enable_grad, is_grad_enabled, no_grad

N, T, D, H, V = 3, 4, 5, 6, 7


def rnd(*shape, seed=0, dtype=np.float32):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


def ids(*shape, seed=0):
    return np.random.default_rng(seed).integers(0, V, shape)


def seeded(layer, *args, **kw):
    """Dropout draws from the global RNG: the same seed before every forward."""
    np.random.seed(0)
    return layer.forward(*args, **kw)


def case(layer, *inputs, run=None):
    """(layer, a thunk running its forward on ``inputs``)."""
    run = run or type(layer).forward
    return layer, lambda: run(layer, *inputs)


def step(cls, G, n_states, bias=True):
    layer = cls(rnd(D, G * H, seed=1), rnd(H, G * H, seed=2), rnd(G * H, seed=3) if bias else None)
    return case(layer, rnd(N, D), *(rnd(N, H, seed=4 + k) for k in range(n_states)))


# name -> () -> (a fresh layer, its forward)
CASES = {
    "Softmax": lambda: case(L.Softmax(), rnd(N, V)),
    "Sigmoid": lambda: case(L.Sigmoid(), rnd(N, D)),
    "MatMul": lambda: case(L.MatMul(rnd(D, H, seed=1)), rnd(N, D)),
    "Affine": lambda: case(L.Affine(rnd(D, H, seed=1), rnd(H, seed=2)), rnd(N, D)),
    "TimeAffine": lambda: case(L.TimeAffine(rnd(D, H, seed=1), rnd(H, seed=2)), rnd(N, T, D)),
    "WeightSum": lambda: case(L.WeightSum(), rnd(N, T, H), rnd(N, T, seed=1)),
    "AttentionWeight": lambda: case(L.AttentionWeight(), rnd(N, T, H), rnd(N, H, seed=1)),
    "Attention": lambda: case(L.Attention(), rnd(N, T, H), rnd(N, H, seed=1)),
    "TimeAttention": lambda: case(L.TimeAttention(), rnd(N, T, H), rnd(N, 2, H, seed=1)),
    "Dropout": lambda: case(L.Dropout(0.5), rnd(N, D), run=seeded),
    "TimeDropout": lambda: case(L.TimeDropout(0.5), rnd(N, T, D), run=seeded),
    "Embedding": lambda: case(L.Embedding(rnd(V, D, seed=1)), ids(N, 2)),
    "TimeEmbedding": lambda: case(L.TimeEmbedding(rnd(V, D, seed=1)), ids(N, T)),
    "SoftmaxWithLoss": lambda: case(L.SoftmaxWithLoss(), rnd(N, V), ids(N)),
    "SigmoidWithLoss": lambda: case(L.SigmoidWithLoss(), rnd(N), ids(N) % 2),
    "TimeSoftmaxWithLoss": lambda: case(L.TimeSoftmaxWithLoss(), rnd(N, T, V), ids(N, T) - 1),
    "TimeSigmoidWithLoss": lambda: case(L.TimeSigmoidWithLoss(), rnd(N, T), ids(N, T) % 2),
    "RNN": lambda: step(L.RNN, 1, 1),
    "LSTM": lambda: step(L.LSTM, 4, 2),
    "GRU": lambda: step(L.GRU, 3, 1),
    "GRU-nobias": lambda: step(L.GRU, 3, 1, bias=False),
    "nn.Linear": lambda: case(nn.Linear(D, H, seed=0), rnd(2, N, D)),
    "nn.Embedding": lambda: case(nn.Embedding(V, D, padding_idx=0, seed=0), ids(N, T)),
    "nn.MSELoss": lambda: case(nn.MSELoss(), rnd(N, D), rnd(N, D, seed=1)),
    "nn.BCEWithLogitsLoss": lambda: case(nn.BCEWithLogitsLoss(reduction="none"), rnd(N, D), ids(N, D) % 2),
    "nn.CrossEntropyLoss": lambda: case(nn.CrossEntropyLoss(ignore_index=-1), rnd(N, V, T), ids(N, T) - 1),
    "nn.LSTMCell": lambda: case(nn.LSTMCell(D, H, seed=0), rnd(N, D), (rnd(N, H, seed=4), rnd(N, H, seed=5))),
    "nn.GRUCell": lambda: case(nn.GRUCell(D, H, seed=0), rnd(N, D), rnd(N, H, seed=4)),
    "nn.RNNCell-unbatched": lambda: case(nn.RNNCell(D, H, nonlinearity="relu", seed=0), rnd(D), rnd(H, seed=4)),
}
for _name, _cell in _cells.CELLS.items():    # every registered cell (the test-only one too), zero initial states
    CASES[f"nn.RecurrentCell-{_name}"] = lambda name=_name, cell=_cell: case(
        nn.RecurrentCell(name, D, H, seed=0, proj_size=max(1, H // 2) if cell.projects else 0), rnd(N, D))

# Outputs a layer keeps as results, not for a backward (the book's attention maps, the loss).
RESULTS = {"attention_weight", "attention_weights", "loss"}


def backward(layer, out):
    """The backward matching ``out``: no argument after a scalar loss, one gradient per output."""
    if isinstance(out, tuple):
        return layer.backward(*(np.ones_like(o) for o in out))
    if np.ndim(out) == 0:
        return layer.backward()
    return layer.backward(np.random.default_rng(9).standard_normal(np.shape(out)).astype(np.float32))


def kept_arrays(layer):
    """Arrays reachable from the layer's attributes that are not its parameters, gradients or
    results: what a forward kept for a backward."""
    owned = [a for group in (layer.params, layer.grads)
             for a in (group.values() if isinstance(group, dict) else group) if isinstance(a, np.ndarray)]
    found, seen = [], set()

    def walk(value, depth):
        if id(value) in seen or depth > 6:
            return
        seen.add(id(value))
        if isinstance(value, np.ndarray):
            if not any(np.may_share_memory(value, a) for a in owned):
                found.append(value)
        elif isinstance(value, dict):
            for v in value.values():
                walk(v, depth + 1)
        elif isinstance(value, (list, tuple)):
            for v in value:
                walk(v, depth + 1)
        elif type(value).__module__.startswith("fastrnn."):     # a cache object, a layer in a layer
            names = list(getattr(value, "__dict__", ())) + list(getattr(type(value), "__slots__", ()))
            for k in names:
                if k not in RESULTS:
                    walk(getattr(value, k, None), depth + 1)

    for key, value in vars(layer).items():
        if key not in RESULTS | {"params", "grads", "W", "_w", "_guard", "_rng", "_cell", "cell"}:
            walk(value, 0)
    return found


def same(a, b):
    if isinstance(a, tuple):
        return isinstance(b, tuple) and len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    return np.array_equal(a, b) and np.asarray(a).dtype == np.asarray(b).dtype


def grads_of(layer):
    g = layer.grads
    return [(k, a, a.copy()) for k, a in (g.items() if isinstance(g, dict) else enumerate(g))]


@pytest.mark.parametrize("name", sorted(CASES))
def test_no_grad_forward_saves_nothing_and_backward_refuses(name):
    layer, forward = CASES[name]()
    ref = forward()
    assert kept_arrays(layer), "the walker must see what a forward keeps"
    backward(layer, ref)                   # non-zero grads, to see that a refused backward keeps them
    before = grads_of(layer)
    with no_grad():
        out = forward()
        assert same(out, ref)
        assert not kept_arrays(layer)
        with pytest.raises(RuntimeError, match=r"backward\(\).*no_grad") as err:
            backward(layer, out)
        assert type(layer).__name__ in str(err.value)
    with pytest.raises(RuntimeError, match="no_grad"):   # still refused outside: the state is the forward's
        backward(layer, out)
    for (k, g, copy), (k2, g2, _) in zip(before, grads_of(layer)):
        assert k == k2 and g is g2 and np.array_equal(g, copy)
    assert same(forward(), ref)            # and a forward outside saves again
    assert kept_arrays(layer)
    backward(layer, ref)


@pytest.mark.parametrize("name", ["Affine", "LSTM", "TimeSoftmaxWithLoss", "nn.Linear", "nn.GRUCell",
                                  "nn.CrossEntropyLoss", "Dropout"])
def test_enable_grad_inside_no_grad_and_decorator(name):
    layer, forward = CASES[name]()
    ref = forward()
    want = backward(layer, ref)
    with no_grad():
        with enable_grad():
            assert is_grad_enabled()
            out = forward()
        assert not is_grad_enabled()
        assert same(backward(layer, out), want)      # a backward runs in either mode

    @no_grad()
    def infer():
        assert not is_grad_enabled()
        return forward()

    assert same(infer(), ref) and is_grad_enabled()
    with pytest.raises(RuntimeError, match="no_grad"):
        backward(layer, ref)
    assert same(infer(), ref)                         # the decorator is reusable


def test_mode_is_per_thread():
    layer, forward = CASES["TimeAffine"]()
    seen = {}

    def work():
        seen["enabled"] = is_grad_enabled()
        seen["out"] = forward()

    with no_grad():
        thread = threading.Thread(target=work)
        thread.start()
        thread.join()
        assert not is_grad_enabled()
    assert seen["enabled"]
    assert kept_arrays(layer)                      # the thread's forward saved
    backward(layer, seen["out"])

    entered, done = threading.Event(), threading.Event()

    def inside():
        with no_grad():
            entered.set()
            done.wait(30)

    thread = threading.Thread(target=inside)
    thread.start()
    try:
        assert entered.wait(30)
        assert is_grad_enabled()                   # another thread's no_grad does not reach this one
        out = forward()
        assert kept_arrays(layer)
        backward(layer, out)
    finally:
        done.set()
        thread.join()


def inference_forward(layer, x):
    if isinstance(layer, L.Dropout):
        return layer.forward(x, train_flg=False)
    layer.train_flg = False
    try:
        return layer.forward(x)
    finally:
        layer.train_flg = True


@pytest.mark.parametrize("cls", [L.Dropout, L.TimeDropout])
def test_dropout_under_no_grad(cls):
    """Training dropout still drops under no_grad (torch's does too) but keeps no mask; an
    inference forward under no_grad leaves no earlier mask for a backward either (outside
    no_grad it does, as in the book)."""
    layer = cls(0.5)
    x = rnd(N, T, D)
    out = seeded(layer, x)
    with no_grad():
        assert same(seeded(layer, x), out) and not np.array_equal(out, x)
        assert layer.mask is NOT_SAVED
    seeded(layer, x)
    inference_forward(layer, x)
    np.testing.assert_array_equal(layer.backward(x), out)      # the book: the last training mask
    with no_grad():
        inference_forward(layer, x)
    assert layer.mask is NOT_SAVED
    with pytest.raises(RuntimeError, match="no_grad"):
        layer.backward(x)


@pytest.mark.parametrize("name", ["Softmax", "Affine", "WeightSum", "Embedding", "TimeSoftmaxWithLoss", "GRU",
                                  "Dropout", "nn.Linear", "nn.MSELoss", "nn.LSTMCell"])
def test_other_backward_errors_unchanged(name):
    layer, forward = CASES[name]()
    like = CASES[name]()[1]()                     # an output of another instance, for the gradient's shape
    with pytest.raises(RuntimeError, match="before"):
        backward(layer, like)
    out = forward()
    backward(layer, out)
    if name.startswith("nn."):
        with pytest.raises(RuntimeError, match="twice"):
            backward(layer, out)
    else:                                         # the book's layers allow a second backward
        backward(layer, out)
