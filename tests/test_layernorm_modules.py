"""The faces of the layer-normalised cells: fastrnn.nn.LayerNormLSTM / LayerNormGRU against a
composition of oracle calls, and fastrnn.torch's against the per-step torch loop
(bench/reference/torch_layernorm.py: F.linear, F.layer_norm, autograd) and against fastrnn.nn's.
The kernels themselves are checked against the oracle in tests/test_layernorm_lstm.py,
tests/test_layernorm_gru.py and the registry-wide tests."""
import numpy as np
import pytest

import fastrnn
from fastrnn import _cells

CLASSES = {"layernorm_lstm": fastrnn.LayerNormLSTM, "layernorm_gru": fastrnn.LayerNormGRU}


def randomized(module, rng):
    """Move the gains and shifts off 1 and 0 so that they matter."""
    for name, value in module.params.items():
        if name.startswith("ln_"):
            value += rng.uniform(-0.4, 0.4, value.shape).astype(value.dtype)
    return module


def oracle_stack(module, x, lengths=None):
    """Float64 oracle composition of a module's layers and directions -> out, finals, caches."""
    cell = module.cell
    L, D, H = module.num_layers, 2 if module.bidirectional else 1, module.hidden_size
    layer_in, finals, caches = x, [], []
    for layer in range(L):
        outs = []
        for d in range(D):
            k = layer * D + d
            p = tuple(None if n is None else np.asarray(module.params[n], np.float64) for n in module._names[k])
            xin = layer_in if d == 0 else fastrnn.oracle.reverse_sequences(layer_in, lengths)
            zeros = tuple(np.zeros((x.shape[1], H)) for _ in cell.state_names)
            o, f, cache = cell.oracle_forward(xin, zeros, p, cell.check_options(), lengths)
            outs.append(o if d == 0 else fastrnn.oracle.reverse_sequences(o, lengths))
            finals.append(f)
            caches.append(cache)
        layer_in = np.concatenate(outs, -1)
    return layer_in, finals, caches


@pytest.mark.parametrize("name", list(CLASSES))
@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("lengths", [None, [5, 2, 0]])
def test_nn_module_matches_the_oracle(name, bidirectional, lengths):
    rng = np.random.default_rng(1)
    T, N, I, H = 5, 3, 4, 6
    m = randomized(CLASSES[name](I, H, num_layers=2, bidirectional=bidirectional, dtype=np.float64, seed=2), rng)
    x = rng.standard_normal((T, N, I))
    out, finals = m(x, lengths=lengths)
    want, want_finals, _ = oracle_stack(m, x, lengths)
    np.testing.assert_allclose(out, want, rtol=1e-10, atol=1e-12)
    h_n = finals[0] if isinstance(finals, tuple) else finals
    np.testing.assert_allclose(h_n, np.stack([f[0] for f in want_finals]), rtol=1e-10, atol=1e-12)
    # the gradient of a one-layer module against the oracle's backward
    one = randomized(CLASSES[name](I, H, dtype=np.float64, seed=3), rng)
    out, _ = one(x, lengths=lengths)
    dout = rng.standard_normal(out.shape)
    dx, _ = one.backward(dout)
    _, _, caches = oracle_stack(one, x, lengths)
    want_dx, _, grads = one.cell.oracle_backward(caches[0], dout, (None,) * len(one.cell.state_names))
    np.testing.assert_allclose(dx, want_dx, rtol=1e-9, atol=1e-11)
    for pname, g in zip(one._names[0], grads):
        if pname is not None:
            np.testing.assert_allclose(one.grads[pname], g, rtol=1e-9, atol=1e-11, err_msg=pname)


@pytest.mark.parametrize("name", list(CLASSES))
def test_nn_parameters_and_state_dict(name):
    cell = _cells.get(name)
    m = CLASSES[name](3, 4, num_layers=2, bidirectional=True, seed=0)
    expected = {p.name + f"_l{layer}" + sfx for p in cell.params("torch") for layer in (0, 1)
                for sfx in ("", "_reverse")}
    assert set(m.params) == expected
    for key, value in m.params.items():
        if key.startswith("ln_weight"):
            np.testing.assert_array_equal(value, 1)
        elif key.startswith("ln_bias"):
            np.testing.assert_array_equal(value, 0)
    assert m.params["weight_ih_l1"].shape == (cell.gates * 4, 8)
    no_bias = CLASSES[name](3, 4, bias=False, seed=0)
    assert not any(k.startswith("bias") for k in no_bias.params)
    assert any(k.startswith("ln_") for k in no_bias.params)
    other = CLASSES[name](3, 4, num_layers=2, bidirectional=True, seed=1)
    other.load_state_dict(m.state_dict())
    x = np.random.default_rng(0).standard_normal((4, 2, 3)).astype(np.float32)
    np.testing.assert_array_equal(other(x)[0], m(x)[0])
    assert repr(CLASSES[name](3, 4, zoneout=0.25)) == f"{CLASSES[name].__name__}(3, 4, zoneout=0.25)"


# --- fastrnn.torch ------------------------------------------------------------------------------
torch = pytest.importorskip("torch")
import fastrnn.torch as ft  # noqa: E402
from bench.reference.torch_layernorm import StepLayerNormGRU, StepLayerNormLSTM  # noqa: E402

TORCH = {"layernorm_lstm": (ft.LayerNormLSTM, StepLayerNormLSTM), "layernorm_gru": (ft.LayerNormGRU, StepLayerNormGRU)}


def torch_pair(name, I, H, seed=0, **kwargs):
    fast_cls, loop_cls = TORCH[name]
    torch.manual_seed(seed)
    fast = fast_cls(I, H, dtype=torch.float64, **kwargs)
    with torch.no_grad():
        for pname, p in fast.named_parameters():
            if pname.startswith("ln_"):
                p.add_(torch.empty_like(p).uniform_(-0.4, 0.4))
    loop = loop_cls(I, H, bias=kwargs.get("bias", True), dtype=torch.float64)
    loop.load_state_dict(fast.state_dict())
    return fast, loop


def states_of(name, finals):
    return finals if isinstance(finals, tuple) else (finals,)


@pytest.mark.parametrize("name", list(TORCH))
@pytest.mark.parametrize("bias", [True, False])
def test_torch_module_matches_the_per_step_torch_loop(name, bias):
    T, N, I, H = 6, 3, 4, 5
    fast, loop = torch_pair(name, I, H, bias=bias)
    g = torch.Generator().manual_seed(1)
    x = torch.randn(T, N, I, generator=g, dtype=torch.float64)
    h0 = tuple(torch.randn(1, N, H, generator=g, dtype=torch.float64) for _ in _cells.get(name).state_names)
    dout = torch.randn(T, N, H, generator=g, dtype=torch.float64)
    results = []
    for module, hx in ((fast, h0 if len(h0) > 1 else h0[0]),
                       (loop, tuple(s[0] for s in h0) if len(h0) > 1 else h0[0][0])):
        xi = x.clone().requires_grad_(True)
        out, finals = module(xi, hx)
        (out * dout).sum().backward()
        results.append((out.detach(), [s.detach().reshape(N, H) for s in states_of(name, finals)], xi.grad,
                        {k: p.grad for k, p in module.named_parameters()}))
    (out_f, fin_f, dx_f, grads_f), (out_l, fin_l, dx_l, grads_l) = results
    torch.testing.assert_close(out_f, out_l, rtol=1e-10, atol=1e-12)
    for a, b in zip(fin_f, fin_l):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(dx_f, dx_l, rtol=1e-9, atol=1e-11)
    assert set(grads_f) == set(grads_l)
    for k in grads_f:
        torch.testing.assert_close(grads_f[k], grads_l[k], rtol=1e-9, atol=1e-11, msg=k)


@pytest.mark.parametrize("name", list(TORCH))
def test_torch_zoneout_draws_from_torch_and_evaluates_with_p(name):
    T, N, I, H = 5, 4, 3, 6
    fast, loop = torch_pair(name, I, H, zoneout=0.3)
    x = torch.randn(T, N, I, dtype=torch.float64)
    torch.manual_seed(21)
    out, _ = fast(x)
    torch.manual_seed(21)
    mask = (torch.rand(T, N, H, dtype=torch.float64) < 0.3).to(torch.float64)
    torch.testing.assert_close(out, loop(x, keep=mask)[0], rtol=1e-10, atol=1e-12)
    fast.eval()
    torch.testing.assert_close(fast(x)[0], loop(x, keep=0.3)[0], rtol=1e-10, atol=1e-12)
    with torch.inference_mode():                                # the forward-only kernels
        torch.testing.assert_close(fast(x)[0], loop(x, keep=0.3)[0], rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("name", list(TORCH))
def test_torch_module_equals_the_nn_module_stacked_bidirectional_packed(name):
    T, N, I, H = 5, 3, 4, 5
    torch.manual_seed(3)
    fast = TORCH[name][0](I, H, num_layers=2, bidirectional=True, batch_first=True, dtype=torch.float64)
    m = CLASSES[name](I, H, num_layers=2, bidirectional=True, batch_first=True, dtype=np.float64)
    m.load_state_dict({k: v.detach().numpy().copy() for k, v in fast.state_dict().items()})
    x = torch.randn(N, T, I, dtype=torch.float64)
    np.testing.assert_allclose(fast(x)[0].detach().numpy(), m(x.numpy())[0], rtol=1e-10, atol=1e-12)
    lengths = torch.tensor([5, 3, 1])
    packed = torch.nn.utils.rnn.pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
    out, _ = fast(packed)
    padded, _ = torch.nn.utils.rnn.pad_packed_sequence(out, batch_first=True, total_length=T)
    want, _ = m(x.numpy(), lengths=lengths.numpy())
    np.testing.assert_allclose(padded.detach().numpy(), want, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("name", list(TORCH))
def test_torch_module_bad_calls_raise_clear_errors(name):
    fast = TORCH[name][0](4, 5)
    with pytest.raises(ValueError, match="input_size=4"):
        fast(torch.zeros(3, 2, 7))
    with pytest.raises(ValueError, match="hidden_size=5"):
        fast(torch.zeros(3, 2, 4), torch.zeros(1, 2, 6) if name == "layernorm_gru" else
             (torch.zeros(1, 2, 6), torch.zeros(1, 2, 6)))
    with pytest.raises(RuntimeError, match="kernels only"):
        fast.half()(torch.zeros(3, 2, 4, dtype=torch.float16))
    with pytest.raises(ValueError, match="zoneout"):
        TORCH[name][0](4, 5, zoneout=2.0)
    assert "zoneout=0.5" in repr(TORCH[name][0](4, 5, zoneout=0.5))
