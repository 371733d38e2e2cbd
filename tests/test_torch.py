"""fastrnn.torch: drop-in torch.nn recurrent modules, checked against torch.nn itself.

Every expected value comes from running the torch.nn module of the same name on the
same weights (loaded through state_dict) and inputs, or from torch.autograd.gradcheck's
finite differences.
"""
import contextlib
import warnings

import pytest

torch = pytest.importorskip("torch")

import dataclasses                                                    # noqa: E402

import fastrnn.torch as ft                                           # noqa: E402
from fastrnn import _cells                                           # noqa: E402
from fastrnn.torch._functions import LayerSpec, apply_layer          # noqa: E402
from fastrnn.torch import _fallback                                  # noqa: E402
from torch.nn.utils.rnn import pack_padded_sequence                  # noqa: E402
from helpers import problem_proj_size                                 # noqa: E402

F64 = torch.float64
I, H, T, N = 5, 6, 4, 3

# name, torch.nn class, fastrnn.torch class, extra constructor kwargs, number of states
SEQ = {
    "lstm": (torch.nn.LSTM, ft.LSTM, {}, 2),
    "gru": (torch.nn.GRU, ft.GRU, {}, 1),
    "rnn_tanh": (torch.nn.RNN, ft.RNN, {"nonlinearity": "tanh"}, 1),
    "rnn_relu": (torch.nn.RNN, ft.RNN, {"nonlinearity": "relu"}, 1),
}
CELLS = {
    "lstm": (torch.nn.LSTMCell, ft.LSTMCell, {}, 2),
    "gru": (torch.nn.GRUCell, ft.GRUCell, {}, 1),
    "rnn_tanh": (torch.nn.RNNCell, ft.RNNCell, {"nonlinearity": "tanh"}, 1),
    "rnn_relu": (torch.nn.RNNCell, ft.RNNCell, {"nonlinearity": "relu"}, 1),
}


@pytest.fixture(autouse=True)
def _fresh_warnings():
    _fallback.reset_warnings()
    yield
    _fallback.reset_warnings()


def pair(table, kind, dtype=F64, seed=0, **kw):
    """(torch.nn module, fastrnn.torch module with the same weights)."""
    ref_cls, fast_cls, extra, _ = table[kind]
    torch.manual_seed(seed)
    ref = ref_cls(I, H, dtype=dtype, **extra, **kw)
    fast = fast_cls(I, H, dtype=dtype, **extra, **kw)
    fast.load_state_dict(ref.state_dict(), strict=True)
    return ref, fast


def flat(result):
    """Module output (tensor, or nested tuples of tensors) -> list of tensors."""
    if isinstance(result, torch.Tensor):
        return [result]
    return [t for part in result for t in flat(part)]


def leaf(t):
    """A new leaf tensor on t's memory (strides kept)."""
    return None if t is None else t.detach().requires_grad_(True)


def run_and_backward(module, x, hx, weights):
    """Forward, a loss touching every output with fixed random weights, backward.
    -> (outputs, grads of x, of each state, of each parameter)."""
    x = leaf(x)
    hx = None if hx is None else (leaf(hx) if isinstance(hx, torch.Tensor) else tuple(leaf(h) for h in hx))
    outs = flat(module(x, hx))
    loss = sum((o * w).sum() for o, w in zip(outs, weights))
    module.zero_grad(set_to_none=True)
    loss.backward()
    states = [] if hx is None else flat(hx)
    return outs, x.grad, [s.grad for s in states], [p.grad for p in module.parameters()]


def loss_weights(ref, x, hx, seed=1):
    with torch.no_grad():
        outs = flat(ref(x, hx))
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(o.shape, generator=g, dtype=o.dtype) for o in outs]


def assert_same(a, b, tol):
    assert len(a) == len(b)
    for u, v in zip(a, b):
        if u is None or v is None:
            assert u is None and v is None
            continue
        assert u.shape == v.shape and u.dtype == v.dtype
        torch.testing.assert_close(v, u, rtol=tol, atol=tol)


@contextlib.contextmanager
def kernel_calls():
    """Count the fastrnn kernel forward/backward calls made inside the block (registry entries
    swapped for counting copies)."""
    counts = {"forward": 0, "backward": 0}
    saved = dict(_cells.CELLS)

    def spy(fn, kind):
        def counted(*a, **k):
            counts[kind] += 1
            return fn(*a, **k)
        return counted

    for name, cell in saved.items():
        _cells.CELLS[name] = dataclasses.replace(cell, forward=spy(cell.forward, "forward"),
                                                 backward=spy(cell.backward, "backward"))
    try:
        yield counts
    finally:
        _cells.CELLS.update(saved)


def expected_calls(module):
    """Kernel calls per forward: one per layer and direction (1 for a cell)."""
    return module.num_layers * (2 if module.bidirectional else 1) if hasattr(module, "num_layers") else 1


def compare(ref, fast, x, hx, tol):
    weights = loss_weights(ref, x, hx)
    want = run_and_backward(ref, x, hx, weights)
    with kernel_calls() as calls:
        got = run_and_backward(fast, x, hx, weights)
    assert calls == {"forward": expected_calls(fast), "backward": expected_calls(fast)}
    assert_same(want[0], got[0], tol)                    # outputs and final states
    assert_same([want[1]], [got[1]], tol)                # dx
    assert_same(want[2], got[2], tol)                    # initial-state grads
    assert_same(want[3], got[3], tol)                    # parameter grads
    return got


def seq_input(module, batched=True, dtype=F64, seed=2, n=N):
    g = torch.Generator().manual_seed(seed)
    shape = ((n, T, I) if module.batch_first else (T, n, I)) if batched else (T, I)
    return torch.randn(shape, generator=g, dtype=dtype)


def seq_state(module, nstates, batched=True, dtype=F64, seed=3, n=N):
    g = torch.Generator().manual_seed(seed)
    d = 2 if module.bidirectional else 1
    shape = (module.num_layers * d, n, H) if batched else (module.num_layers * d, H)
    states = tuple(torch.randn(shape, generator=g, dtype=dtype) for _ in range(nstates))
    return states if nstates == 2 else states[0]


CONFIGS = [
    # num_layers, bidirectional, batch_first, bias, batched, initial states given
    (1, False, False, True, True, False),
    (1, False, False, True, True, True),
    (2, True, False, True, True, True),
    (2, False, True, False, True, True),
    (1, True, True, True, True, False),
    (2, True, False, True, False, True),
    (1, False, True, False, False, False),
]


@pytest.mark.parametrize("kind", list(SEQ))
@pytest.mark.parametrize("config", CONFIGS, ids=lambda c: "L{}-bi{:d}-bf{:d}-bias{:d}-batched{:d}-hx{:d}".format(*c))
def test_sequence_matches_torch_float64(kind, config):
    layers, bidir, batch_first, bias, batched, given = config
    ref, fast = pair(SEQ, kind, num_layers=layers, bidirectional=bidir, batch_first=batch_first, bias=bias)
    x = seq_input(ref, batched)
    hx = seq_state(ref, SEQ[kind][3], batched) if given else None
    compare(ref, fast, x, hx, 1e-10)


@pytest.mark.parametrize("kind", list(SEQ))
def test_sequence_matches_torch_float32(kind):
    ref, fast = pair(SEQ, kind, dtype=torch.float32, num_layers=2, bidirectional=True)
    x = seq_input(ref, dtype=torch.float32, n=5)
    hx = seq_state(ref, SEQ[kind][3], dtype=torch.float32, n=5)
    compare(ref, fast, x, hx, 2e-5)
    compare(ref, fast, x, None, 2e-5)


@pytest.mark.parametrize("kind", ["lstm", "rnn_relu"])
def test_non_contiguous_inputs_and_states(kind):
    ref, fast = pair(SEQ, kind, num_layers=2, bidirectional=True)
    g = torch.Generator().manual_seed(12)
    x = torch.randn(N, T, I, generator=g, dtype=F64).transpose(0, 1)            # (T, N, I) strided
    states = tuple(torch.randn(N, 4, H, generator=g, dtype=F64).transpose(0, 1) for _ in range(SEQ[kind][3]))
    assert not x.is_contiguous() and not states[0].is_contiguous()
    compare(ref, fast, x, states if len(states) == 2 else states[0], 1e-10)
    expanded = torch.randn(1, N, I, generator=g, dtype=F64).expand(T, N, I)    # stride 0 in time
    compare(ref, fast, expanded, None, 1e-10)


def test_batch_first_output_layout_is_torchs():
    ref, fast = pair(SEQ, "gru", batch_first=True, bidirectional=True)
    x = seq_input(ref)
    out_ref, h_ref = ref(x)
    out, h = fast(x)
    assert out.shape == out_ref.shape == (N, T, 2 * H) and h.shape == h_ref.shape == (2, N, H)
    torch.testing.assert_close(out, out_ref, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("kind", list(CELLS))
@pytest.mark.parametrize("batched,given,bias", [(True, True, True), (True, False, False), (False, True, True),
                                                (False, False, True)])
def test_cell_matches_torch(kind, batched, given, bias):
    ref, fast = pair(CELLS, kind, bias=bias)
    g = torch.Generator().manual_seed(4)
    x = torch.randn((N, I) if batched else (I,), generator=g, dtype=F64)
    shape = (N, H) if batched else (H,)
    hx = None
    if given:
        hx = tuple(torch.randn(shape, generator=g, dtype=F64) for _ in range(CELLS[kind][3]))
        hx = hx if len(hx) == 2 else hx[0]
    compare(ref, fast, x, hx, 1e-10)


def test_cell_unrolled_over_time_matches_torch():
    """A cell applied step by step (the graph spans many kernel calls)."""
    ref, fast = pair(CELLS, "lstm")
    xs = torch.randn(T, N, I, generator=torch.Generator().manual_seed(2), dtype=F64)
    results = []
    for cell in (ref, fast):
        x = leaf(xs)
        h = c = None
        total = 0
        for t in range(T):
            h, c = cell(x[t], None if h is None else (h, c))
            total = total + (h * (t + 1)).sum() + c.sum()
        cell.zero_grad(set_to_none=True)
        total.backward()
        results.append([h, c, x.grad] + [p.grad for p in cell.parameters()])
    assert_same(results[0], results[1], 1e-10)


def params_of(fn, module):
    """Wrap `fn(module, *inputs)` as a function of (*inputs, *parameters) via functional_call."""
    names = [n for n, _ in module.named_parameters()]

    def wrapped(*args):
        k = len(args) - len(names)
        return fn(lambda *a: torch.func.functional_call(module, dict(zip(names, args[k:])), a), *args[:k])
    return wrapped


GRADCHECK = [
    ("lstm", dict(bidirectional=True)),
    ("gru", dict(num_layers=2)),
    ("rnn_tanh", dict(batch_first=True, bidirectional=True)),
    ("rnn_relu", dict(num_layers=2, bias=False)),
]


@pytest.mark.parametrize("kind,kw", GRADCHECK, ids=[k for k, _ in GRADCHECK])
def test_gradcheck_sequence(kind, kw):
    _, fast = pair(SEQ, kind, **kw)
    g = torch.Generator().manual_seed(5)
    d = 2 if fast.bidirectional else 1
    x = torch.randn((2, 3, I) if fast.batch_first else (3, 2, I), generator=g, dtype=F64)
    states = [torch.randn(fast.num_layers * d, 2, H, generator=g, dtype=F64) for _ in range(SEQ[kind][3])]
    if kind == "rnn_relu":            # keep pre-activations away from relu's kink
        x = x + 0.5
    inputs = [t.requires_grad_(True) for t in [x, *states, *(p.detach().clone() for p in fast.parameters())]]

    def call(m, x, *states):
        hx = tuple(states) if len(states) == 2 else states[0]
        return tuple(flat(m(x, hx)))
    assert torch.autograd.gradcheck(params_of(call, fast), inputs)


@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("name", list(_cells.CELLS))
def test_gradcheck_layer_of_every_registered_cell(name, reverse):
    """The autograd node over the kernels, for every registry cell (default options, then each
    other value): gradients of x, the initial states and every parameter against gradcheck's
    finite differences; then one call without bias."""
    cell = _cells.get(name)
    g = torch.Generator().manual_seed(7)
    variants = [{}] + [{o.name: v} for o in cell.options for v in o.choices if v != o.default]
    for options in variants:
        for bias in (True, False):
            spec = LayerSpec(cell, cell.check_options(options), reverse)
            x = torch.randn(3, 2, I, generator=g, dtype=F64) + 0.3     # (relu: away from the kink)
            P = problem_proj_size(cell, I, H)
            states = [torch.randn(2, size, generator=g, dtype=F64) for size in cell.state_sizes(H, P)]
            params = [torch.empty(shape, dtype=F64).uniform_(-0.5, 0.5, generator=g)
                      for _, shape in cell.param_shapes("torch", I, H, bias, P)]
            inputs = [t.requires_grad_(True) for t in (x, *states, *params)]
            count = len(states)

            def run(x, *rest):
                given = dict(zip((p.name for p in cell.params("torch", bias)), rest[count:]))
                full = tuple(given.get(p.name) for p in cell.params("torch"))
                return tuple(apply_layer(spec, x, tuple(rest[:count]), full))
            assert torch.autograd.gradcheck(run, inputs), (options, bias)


@pytest.mark.parametrize("kind", ["lstm", "gru", "rnn_tanh"])
def test_gradcheck_cell(kind):
    _, fast = pair(CELLS, kind)
    g = torch.Generator().manual_seed(6)
    x = torch.randn(2, I, generator=g, dtype=F64)
    states = [torch.randn(2, H, generator=g, dtype=F64) for _ in range(CELLS[kind][3])]
    inputs = [t.requires_grad_(True) for t in [x, *states, *(p.detach().clone() for p in fast.parameters())]]

    def call(m, x, *states):
        return tuple(flat(m(x, tuple(states) if len(states) == 2 else states[0])))
    assert torch.autograd.gradcheck(params_of(call, fast), inputs)


@pytest.mark.parametrize("table,kind,kw", [
    (SEQ, "lstm", dict(num_layers=2, bidirectional=True)),
    (SEQ, "gru", dict(bias=False)),
    (SEQ, "rnn_relu", dict(num_layers=2, dropout=0.3)),
    (CELLS, "lstm", {}),
    (CELLS, "gru", dict(bias=False)),
    (CELLS, "rnn_relu", {}),
])
def test_state_dict_round_trips_strictly(table, kind, kw):
    ref_cls, fast_cls, extra, _ = table[kind]
    ref = ref_cls(I, H, **extra, **kw)
    fast = fast_cls(I, H, **extra, **kw)
    assert isinstance(fast, ref_cls)
    assert repr(fast) == repr(ref)
    assert list(fast.state_dict()) == list(ref.state_dict())
    fast.load_state_dict(ref.state_dict(), strict=True)
    for (n1, a), (n2, b) in zip(ref.state_dict().items(), fast.state_dict().items()):
        assert n1 == n2 and torch.equal(a, b)
    back = ref_cls(I, H, **extra, **kw)
    torch.manual_seed(123)
    fast2 = fast_cls(I, H, **extra, **kw)            # different random init
    back.load_state_dict(fast2.state_dict(), strict=True)
    for a, b in zip(back.parameters(), fast2.parameters()):
        assert torch.equal(a, b)


class Classifier(torch.nn.Module):
    """embedding -> (bidirectional, 2-layer, batch_first) recurrent layer -> linear."""

    def __init__(self, rnn_cls):
        super().__init__()
        self.embed = torch.nn.Embedding(11, I)
        self.rnn = rnn_cls(I, H, num_layers=2, batch_first=True, bidirectional=True, dropout=0.25)
        self.head = torch.nn.Linear(2 * H, 3)

    def forward(self, tokens):
        out, _ = self.rnn(self.embed(tokens))
        return self.head(out[:, -1])


@pytest.mark.parametrize("kind", ["lstm", "gru", "rnn_tanh"])
def test_training_with_sgd_matches_torch(kind):
    ref_cls, fast_cls, extra, _ = SEQ[kind]
    torch.manual_seed(7)
    ref = Classifier(lambda *a, **k: ref_cls(*a, **extra, **k)).to(F64)
    fast = Classifier(lambda *a, **k: fast_cls(*a, **extra, **k)).to(F64)
    fast.load_state_dict(ref.state_dict(), strict=True)
    g = torch.Generator().manual_seed(8)
    tokens = torch.randint(0, 11, (4, T + 2), generator=g)
    labels = torch.randint(0, 3, (4,), generator=g)
    losses = {}
    for name, model in (("ref", ref), ("fast", fast)):
        opt = torch.optim.SGD(model.parameters(), lr=0.5, momentum=0.9)
        torch.manual_seed(9)                             # same dropout masks for both
        losses[name] = []
        with kernel_calls() as calls:
            for _ in range(4):
                opt.zero_grad()
                loss = torch.nn.functional.cross_entropy(model(tokens), labels)
                loss.backward()
                opt.step()
                losses[name].append(loss.item())
        assert calls["backward"] == (0 if name == "ref" else 4 * 4)
    assert losses["ref"] == pytest.approx(losses["fast"], rel=1e-10, abs=1e-12)
    assert losses["ref"][-1] < losses["ref"][0]
    for (n1, a), (n2, b) in zip(ref.state_dict().items(), fast.state_dict().items()):
        assert n1 == n2
        torch.testing.assert_close(b, a, rtol=1e-9, atol=1e-9)
    ref.eval(), fast.eval()                              # dropout off: deterministic
    torch.testing.assert_close(fast(tokens), ref(tokens), rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("kind", list(SEQ))
def test_dropout_in_eval_mode_equals_torch(kind):
    ref, fast = pair(SEQ, kind, num_layers=3, dropout=0.5, bidirectional=True)
    ref.eval(), fast.eval()
    x = seq_input(ref)
    assert_same(flat(ref(x)), flat(fast(x)), 1e-10)
    assert_same(flat(ref(x)), flat(fast(x)), 1e-10)     # and again: deterministic


@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_dropout_in_training_draws_torchs_masks(kind):
    ref, fast = pair(SEQ, kind, num_layers=2, dropout=0.5)
    x = seq_input(ref)
    torch.manual_seed(10)
    want = flat(ref(x))
    torch.manual_seed(10)
    got = flat(fast(x))
    assert_same(want, got, 1e-10)
    assert not torch.allclose(flat(fast(x))[0], got[0])  # masks differ between calls


@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_no_grad_and_inference_mode(kind):
    ref, fast = pair(SEQ, kind, num_layers=2)
    x = seq_input(ref)
    with torch.no_grad():
        want = flat(ref(x))
        got = flat(fast(x))
    assert all(t.grad_fn is None and not t.requires_grad for t in got)
    assert_same(want, got, 1e-10)
    with torch.inference_mode():
        got = flat(fast(x))
    assert_same(want, got, 1e-10)


def test_no_grad_runs_the_forward_only_kernels(monkeypatch):
    from fastrnn._cells import spec
    calls = []
    original = spec.Cell.forward_only
    monkeypatch.setattr(spec.Cell, "forward_only", lambda self, *a: calls.append(self.name) or original(self, *a))
    ref, fast = pair(SEQ, "gru", num_layers=2, bidirectional=True)
    x = seq_input(ref)
    with torch.inference_mode():
        want = flat(ref(x))
        got = flat(fast(x))
    assert calls == ["gru"] * 4
    assert_same(want, got, 1e-10)
    fast(x)                                   # parameters require grad: the training kernels
    assert len(calls) == 4


def test_gradients_only_where_required():
    ref, fast = pair(SEQ, "lstm")
    for p in fast.parameters():
        p.requires_grad_(False)
    fast.bias_hh_l0.requires_grad_(True)
    x = seq_input(ref).requires_grad_(True)
    out, _ = fast(x)
    out.sum().backward()
    assert x.grad is not None and fast.bias_hh_l0.grad is not None
    assert fast.weight_ih_l0.grad is None and fast.bias_ih_l0.grad is None
    out, _ = ref(x.detach())
    out.sum().backward()
    torch.testing.assert_close(fast.bias_hh_l0.grad, ref.bias_hh_l0.grad, rtol=1e-10, atol=1e-10)


def test_grads_accumulate_across_backward_calls_like_torch():
    ref, fast = pair(SEQ, "gru", bidirectional=True)
    x = seq_input(ref)
    for m in (ref, fast):
        for scale in (1.0, 2.0):
            out, h = m(x)
            ((out * scale).sum() + h.sum()).backward()
    for a, b in zip(ref.parameters(), fast.parameters()):
        torch.testing.assert_close(b.grad, a.grad, rtol=1e-10, atol=1e-10)


def test_backward_twice_with_retain_graph():
    ref, fast = pair(SEQ, "lstm", bidirectional=True)
    x = seq_input(ref)
    grads = []
    for m in (ref, fast):
        out, (h, c) = m(x)
        loss = out.sum() + c.sum()
        loss.backward(retain_graph=True)
        loss.backward()
        grads.append([p.grad for p in m.parameters()])
    assert_same(grads[0], grads[1], 1e-10)


def test_in_place_change_of_a_saved_tensor_is_detected():
    _, fast = pair(SEQ, "rnn_tanh")
    x = seq_input(fast).requires_grad_(True)
    out, _ = fast(x)
    out.mul_(2.0)                                    # the kernel's cache holds this memory
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        out.sum().backward()
    out, _ = fast(x)
    with torch.no_grad():
        fast.weight_hh_l0.add_(1.0)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        out.sum().backward()


def test_nan_propagates_like_torch():
    ref, fast = pair(SEQ, "gru")
    x = seq_input(ref)
    x[1, 0, 2] = float("nan")
    want, got = ref(x)[0], fast(x)[0]
    assert torch.equal(torch.isnan(want), torch.isnan(got))
    torch.testing.assert_close(got, want, rtol=1e-10, atol=1e-10, equal_nan=True)


@pytest.mark.parametrize("call", [
    lambda m: m(torch.randn(T, N, I + 1, dtype=F64)),                        # wrong feature size
    lambda m: m(torch.randn(2, T, N, I, dtype=F64)),                          # 4-D input
    lambda m: m(torch.randn(T, N, I, dtype=torch.float32)),                  # dtype mismatch
    lambda m: m(torch.randn(T, N, I, dtype=F64), torch.zeros(1, N + 1, H, dtype=F64)),   # state shape
    lambda m: m(torch.randn(T, N, I, dtype=F64), torch.zeros(N, H, dtype=F64)),          # state rank
    lambda m: m(torch.randn(0, N, I, dtype=F64)),                             # empty sequence
])
def test_malformed_calls_raise_torchs_errors(call):
    ref, fast = pair(SEQ, "gru")
    with pytest.raises(Exception) as want:
        call(ref)
    with warnings.catch_warnings():
        warnings.simplefilter("error")                 # no fallback warning for a caller error
        with pytest.raises(want.type) as got:
            call(fast)
    assert str(got.value) == str(want.value)


def test_empty_batch_gives_torchs_result():
    ref, fast = pair(SEQ, "lstm")
    x = torch.randn(T, 0, I, dtype=F64)
    assert_same(flat(ref(x)), flat(fast(x)), 0)


def test_functional_call_uses_the_given_weights():
    ref, fast = pair(SEQ, "gru")
    other = {n: p.detach() * 0.5 for n, p in ref.named_parameters()}
    x = seq_input(ref)
    want = flat(torch.func.functional_call(ref, other, (x,)))
    got = flat(torch.func.functional_call(fast, other, (x,)))
    assert_same(want, got, 1e-10)
    assert_same(flat(ref(x)), flat(fast(x)), 1e-10)    # and its own weights afterwards


# ---------------------------------------------------------------------------- fallbacks

def test_proj_size_runs_on_the_kernels_without_a_warning():
    torch.manual_seed(11)
    ref = torch.nn.LSTM(I, H, proj_size=2, num_layers=2, dtype=F64)
    fast = ft.LSTM(I, H, proj_size=2, num_layers=2, dtype=F64)
    fast.load_state_dict(ref.state_dict(), strict=True)
    x = seq_input(ref)
    weights = loss_weights(ref, x, None)
    with warnings.catch_warnings(), kernel_calls() as calls:
        warnings.simplefilter("error")
        got = run_and_backward(fast, x, None, weights)
    assert calls == {"forward": 2, "backward": 2}
    want = run_and_backward(ref, x, None, weights)
    assert_same(want[0], got[0], 1e-12)
    assert_same(want[3], got[3], 1e-12)


PACKED = [
    ("lstm", dict(num_layers=2, bidirectional=True), False),
    ("gru", dict(num_layers=2, bidirectional=True, batch_first=True), True),
    ("rnn_tanh", dict(bidirectional=True), False),
    ("rnn_relu", dict(num_layers=2), True),
    ("lstm", dict(batch_first=True, bias=False), True),
    ("gru", dict(), False),
]


@pytest.mark.parametrize("kind,kw,enforce_sorted", PACKED, ids=[f"{k}-{i}" for i, (k, _, _) in enumerate(PACKED)])
def test_packed_sequence_runs_the_kernels_and_matches_torch(kind, kw, enforce_sorted):
    """A PackedSequence through the kernels (no fallback): the packed output, each sequence's
    final states in the caller's order and every gradient as torch.nn gives them."""
    ref, fast = pair(SEQ, kind, **kw)
    g = torch.Generator().manual_seed(3)
    n, t = 4, 6
    lengths = torch.tensor([6, 5, 3, 1]) if enforce_sorted else torch.tensor([3, 6, 1, 5])
    x = torch.randn((n, t, I) if fast.batch_first else (t, n, I), generator=g, dtype=F64)
    d = 2 if fast.bidirectional else 1
    states = [torch.randn(fast.num_layers * d, n, H, generator=g, dtype=F64) for _ in range(SEQ[kind][3])]

    def run(module):
        xl = leaf(x)
        st = [leaf(s) for s in states]
        packed = pack_padded_sequence(xl, lengths, batch_first=fast.batch_first, enforce_sorted=enforce_sorted)
        out, hn = module(packed, tuple(st) if len(st) == 2 else st[0])
        outs = [out.data] + flat(hn)
        gw = torch.Generator().manual_seed(4)
        loss = sum((o * torch.randn(o.shape, generator=gw, dtype=F64)).sum() for o in outs)
        module.zero_grad(set_to_none=True)
        loss.backward()
        return out, outs, [xl.grad] + [s.grad for s in st] + [p.grad for p in module.parameters()]

    want_packed, want, want_grads = run(ref)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ft.FallbackWarning)
        with kernel_calls() as calls:
            got_packed, got, got_grads = run(fast)
    assert calls["forward"] == fast.num_layers * d and calls["backward"] == fast.num_layers * d
    assert type(got_packed) is type(want_packed)
    assert torch.equal(got_packed.batch_sizes, want_packed.batch_sizes)
    for a, b in ((got_packed.sorted_indices, want_packed.sorted_indices),
                 (got_packed.unsorted_indices, want_packed.unsorted_indices)):
        assert (a is None and b is None) or torch.equal(a, b)
    assert_same(want, got, 1e-10)
    assert_same(want_grads, got_grads, 1e-10)


def test_packed_sequence_float32_and_cells_by_name():
    ref, fast = pair(SEQ, "lstm", dtype=torch.float32, num_layers=2)
    x = torch.randn(5, 3, I)
    packed = pack_padded_sequence(x, torch.tensor([2, 5, 4]), enforce_sorted=False)
    with kernel_calls() as calls:
        got, (h, c) = fast(packed)
    assert calls["forward"] == 2
    want, (h2, c2) = ref(packed)
    assert_same([want.data, h2, c2], [got.data, h, c], 2e-5)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16], ids=str)
@pytest.mark.parametrize("table,kind", [(SEQ, "lstm"), (SEQ, "gru"), (CELLS, "rnn_tanh")])
def test_half_precision_falls_back(dtype, table, kind):
    ref, fast = pair(table, kind, dtype=dtype)
    x = torch.randn((T, N, I) if table is SEQ else (N, I), dtype=dtype)
    with pytest.warns(ft.FallbackWarning, match="float32/float64"), kernel_calls() as calls:
        got = flat(fast(x))
    assert calls["forward"] == 0
    assert_same(flat(ref(x)), got, 0)


@pytest.mark.parametrize("table,kind", [(SEQ, "lstm"), (CELLS, "gru")])
def test_other_devices_fall_back(table, kind):
    ref_cls, fast_cls, extra, _ = table[kind]
    fast = fast_cls(I, H, device="meta", **extra)
    x = torch.empty((T, N, I) if table is SEQ else (N, I), device="meta")
    with pytest.warns(ft.FallbackWarning, match="not on the CPU") as record:
        got = flat(fast(x))
    assert record[0].filename == __file__                # points at the caller
    want = flat(ref_cls(I, H, device="meta", **extra)(x))
    assert [(t.shape, t.device) for t in got] == [(t.shape, t.device) for t in want]


def test_autocast_falls_back():
    ref, fast = pair(SEQ, "rnn_tanh", dtype=torch.float32)
    x = seq_input(ref, dtype=torch.float32)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        want = flat(ref(x))
        with pytest.warns(ft.FallbackWarning, match="autocast"):
            got = flat(fast(x))
    assert_same(want, got, 0)


@pytest.mark.filterwarnings("ignore:There is a performance drop")
def test_vmap_falls_back():
    ref, fast = pair(CELLS, "gru")
    xs = torch.randn(2, N, I, dtype=F64)
    want = torch.vmap(ref)(xs)
    with pytest.warns(ft.FallbackWarning, match="torch.func"):
        got = torch.vmap(fast)(xs)
    assert_same([want], [got], 1e-12)


def test_torch_compile_runs_and_matches_torch():
    """torch.compile of a drop-in module runs (the kernels, or torch's own implementation after
    a FallbackWarning) and gives torch.nn's output."""
    ref, fast = pair(SEQ, "gru", dtype=torch.float32)
    x = torch.randn(5, 3, I)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        got = torch.compile(fast)(x)
    torch.testing.assert_close(got[0], ref(x)[0], rtol=1e-4, atol=1e-5)


def test_double_backward_is_refused_clearly():
    """The kernels give first derivatives only: asking for a gradient with create_graph=True (a
    gradient penalty) raises at once instead of returning a gradient without its graph."""
    _, fast = pair(SEQ, "gru")
    x = seq_input(fast).requires_grad_(True)
    with pytest.raises(RuntimeError, match="create_graph=True"):
        torch.autograd.grad(fast(x)[0].pow(2).sum(), x, create_graph=True)
    with pytest.raises(RuntimeError, match="create_graph=True"):
        torch.autograd.grad(fast(x)[0].sum(), fast.weight_hh_l0, create_graph=True)
    g, = torch.autograd.grad(fast(x)[0].pow(2).sum(), x)                 # first derivatives work
    assert g.shape == x.shape and not g.requires_grad
