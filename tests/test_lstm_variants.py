"""The LSTM variants (fastrnn/_cells/lstm_variants.py): projection (proj_size) and peepholes.

The registry-parametrized tests run the three entries like every cell: kernels against the
oracle (tests/test_kernels.py: hypothesis, both dtypes, both layouts, accumulation, both
OpenBLAS strategies), the oracle against finite differences (tests/test_oracle.py), packed
rows (tests/test_lengths.py), the autograd node against gradcheck (tests/test_torch.py).
Here: the variants' oracle without peepholes or projection is the LSTM's; ``proj_size``
against ``torch.nn.LSTM(proj_size=...)`` (outputs, final states, every gradient; stacked,
bidirectional, batch_first, packed); peepholes against ONNX Runtime's LSTM operator with
``P``, through every face; the ONNX export.
"""
import numpy as np
import pytest

import fastrnn
import fastrnn.layers as L
from fastrnn import _cells
from helpers import book_to_torch, torch_grads_to_book

try:
    import torch
    import fastrnn.torch as ft
    from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence
    TORCH_DTYPE = {np.float32: torch.float32, np.float64: torch.float64}
except ImportError:          # the tests below that need torch skip
    torch = None
needs_torch = pytest.mark.skipif(torch is None, reason="torch is not installed")
TOL = {np.float32: 2e-5, np.float64: 1e-10}


def close(got, want, dtype, what=""):
    got, want = np.asarray(got, np.float64), np.asarray(want, np.float64)
    assert got.shape == want.shape, f"{what}: shape {got.shape} != {want.shape}"
    scale = 1.0 + (np.abs(want).max() if want.size else 0.0)
    err = np.abs(got - want).max() if want.size else 0.0
    assert err <= TOL[dtype] * scale, f"{what}: max abs error {err:.3g}"


# --- the registry entries ------------------------------------------------------------------------
def test_entries_and_their_shapes():
    assert _cells.lstm_variant_name(False, False) == "lstm"
    proj = _cells.get(_cells.lstm_variant_name(True, True))
    assert proj.projects and not _cells.get("lstm_peephole").projects and not _cells.get("lstm").projects
    assert proj.state_sizes(6, 2) == (2, 6) and proj.output_size(6, 2) == 2
    assert proj.param_shapes("torch", 5, 6, True, 2) == [
        ("weight_ih", (24, 5)), ("weight_hh", (24, 2)), ("bias_ih", (24,)), ("bias_hh", (24,)),
        ("weight_hr", (2, 6)), ("weight_ph", (18,))]
    assert "book" not in proj.layouts
    assert [p.name for p in _cells.get("lstm_peephole").params("book")] == ["Wx", "Wh", "b", "p"]


# --- proj_size against torch -------------------------------------------------------------------------
CONFIGS = [dict(), dict(num_layers=2, bidirectional=True), dict(num_layers=2, batch_first=True, bias=False),
           dict(bidirectional=True, batch_first=True)]
I, H, P, T, N = 5, 6, 3, 4, 3


def torch_run(ref, x, h0, c0, dout, dh, dc, lengths=None):
    """torch.nn.LSTM forward and backward of Σ out·dout + Σ h_n·dh + Σ c_n·dc -> numpy arrays:
    out, h_n, c_n, dx, dh0, dc0, {param name: grad}."""
    t = [torch.tensor(a, requires_grad=True) for a in (x, h0, c0)]
    if lengths is None:
        out, (h_n, c_n) = ref(t[0], (t[1], t[2]))
    else:
        packed = pack_padded_sequence(t[0], torch.tensor(lengths), batch_first=ref.batch_first, enforce_sorted=False)
        out, (h_n, c_n) = ref(packed, (t[1], t[2]))
        T_ = x.shape[1 if ref.batch_first else 0]
        out, _ = pad_packed_sequence(out, batch_first=ref.batch_first, total_length=T_)
    ref.zero_grad(set_to_none=True)
    ((out * torch.tensor(dout)).sum() + (h_n * torch.tensor(dh)).sum() + (c_n * torch.tensor(dc)).sum()).backward()
    grads = {name: p.grad.numpy() for name, p in ref.named_parameters()}
    return (out.detach().numpy(), h_n.detach().numpy(), c_n.detach().numpy(), t[0].grad.numpy(), t[1].grad.numpy(),
            t[2].grad.numpy(), grads)


def problem(config, dtype, seed):
    rng = np.random.default_rng(seed)
    D, Lr = 2 if config.get("bidirectional") else 1, config.get("num_layers", 1)
    shape = (N, T) if config.get("batch_first") else (T, N)
    x = rng.standard_normal(shape + (I,)).astype(dtype)
    h0, c0 = rng.standard_normal((Lr * D, N, P)).astype(dtype), rng.standard_normal((Lr * D, N, H)).astype(dtype)
    dout = rng.standard_normal(shape + (D * P,)).astype(dtype)
    dh, dc = rng.standard_normal(h0.shape).astype(dtype), rng.standard_normal(c0.shape).astype(dtype)
    return x, h0, c0, dout, dh, dc


@needs_torch
@pytest.mark.parametrize("lengths", [None, [4, 1, 3]])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("config", CONFIGS, ids=str)
def test_nn_proj_size_matches_torch(config, dtype, lengths):
    torch.manual_seed(1)
    ref = torch.nn.LSTM(I, H, proj_size=P, dtype=TORCH_DTYPE[dtype], **config)
    mod = fastrnn.nn.LSTM(I, H, proj_size=P, dtype=dtype, **config)
    mod.load_state_dict(ref.state_dict())
    assert set(mod.params) == set(dict(ref.named_parameters()))
    x, h0, c0, dout, dh, dc = problem(config, dtype, 2)
    want = torch_run(ref, x, h0, c0, dout, dh, dc, lengths)
    out, (h_n, c_n) = mod(x, (h0, c0), lengths=lengths)
    dx, (dh0, dc0) = mod.backward(dout, (dh, dc))
    for name, got, w in zip(("out", "h_n", "c_n", "dx", "dh0", "dc0"), (out, h_n, c_n, dx, dh0, dc0), want):
        close(got, w, dtype, name)
    for name, g in want[6].items():
        close(mod.grads[name], g, dtype, "d" + name)


@needs_torch
@pytest.mark.parametrize("packed", [False, True])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("config", CONFIGS, ids=str)
def test_torch_proj_size_matches_torch(config, dtype, packed):
    torch.manual_seed(3)
    ref = torch.nn.LSTM(I, H, proj_size=P, dtype=TORCH_DTYPE[dtype], **config)
    fast = ft.LSTM(I, H, proj_size=P, dtype=TORCH_DTYPE[dtype], **config)
    fast.load_state_dict(ref.state_dict())
    x, h0, c0, dout, dh, dc = problem(config, dtype, 4)
    lengths = [4, 2, 3] if packed else None
    want = torch_run(ref, x, h0, c0, dout, dh, dc, lengths)
    got = torch_run(fast, x, h0, c0, dout, dh, dc, lengths)
    for name, g, w in zip(("out", "h_n", "c_n", "dx", "dh0", "dc0"), got, want):
        close(g, w, dtype, name)
    for name, w in want[6].items():
        close(got[6][name], w, dtype, "d" + name)


def test_nn_proj_size_checks_the_state_sizes():
    mod = fastrnn.nn.LSTM(I, H, proj_size=P, dtype=np.float64)
    x = np.zeros((T, N, I))
    with pytest.raises(ValueError, match=r"h0.*proj_size=3"):
        mod(x, (np.zeros((1, N, H)), np.zeros((1, N, H))))
    with pytest.raises(ValueError, match=r"c0.*hidden_size=6"):
        mod(x, (np.zeros((1, N, P)), np.zeros((1, N, P))))
    with pytest.raises(ValueError, match="proj_size"):
        fastrnn.nn.LSTM(I, H, proj_size=H)
    assert "proj_size=3" in repr(mod)


# --- peepholes ---------------------------------------------------------------------------------------
def test_zero_peepholes_are_the_plain_lstm():
    """weight_ph starts at 0 (and draws nothing from the seed): the peephole LSTM then computes
    the plain one's outputs and gradients, and a gradient for weight_ph."""
    plain = fastrnn.nn.LSTM(I, H, num_layers=2, bidirectional=True, dtype=np.float64, seed=5)
    peep = fastrnn.nn.LSTM(I, H, num_layers=2, bidirectional=True, dtype=np.float64, seed=5, peephole=True)
    assert [k for k in peep.params if k not in plain.params] == [
        "weight_ph_l0", "weight_ph_l0_reverse", "weight_ph_l1", "weight_ph_l1_reverse"]
    assert not peep.params["weight_ph_l0"].any() and peep.params["weight_ph_l1"].shape == (3 * H,)
    x = np.random.default_rng(0).standard_normal((T, N, I))
    dout = np.random.default_rng(1).standard_normal((T, N, 2 * H))
    for a, b in zip(plain(x)[0:1], peep(x)[0:1]):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(plain.backward(dout)[0], peep.backward(dout)[0], rtol=1e-12, atol=1e-13)
    for name, g in plain.grads.items():
        np.testing.assert_allclose(peep.grads[name], g, rtol=1e-12, atol=1e-13)
    assert np.abs(peep.grads["weight_ph_l0"]).max() > 0
    assert repr(peep).endswith("peephole=True)")


def random_peepholes(module, rng, dtype):
    for name in module.params:
        if "weight_ph" in name:
            module.params[name][...] = rng.uniform(-0.8, 0.8, module.params[name].shape)


def ort_lstm(x, h0, c0, W, R, B, Pp, bidirectional):
    """ONNX Runtime's LSTM operator (float32): x (T, N, I) -> Y (T, D, N, H), Y_h, Y_c."""
    pytest.importorskip("onnx")
    ort = pytest.importorskip("onnxruntime")
    from onnx import TensorProto, helper, numpy_helper
    Hh = R.shape[2]
    inits = [numpy_helper.from_array(a.astype(np.float32), n) for n, a in (("W", W), ("R", R), ("B", B), ("P", Pp))]
    node = helper.make_node("LSTM", ["X", "W", "R", "B", "", "h0", "c0", "P"], ["Y", "Y_h", "Y_c"],
                            hidden_size=Hh, direction="bidirectional" if bidirectional else "forward")
    f = TensorProto.FLOAT
    graph = helper.make_graph(
        [node], "peephole", [helper.make_tensor_value_info(n, f, list(a.shape)) for n, a in
                             (("X", x), ("h0", h0), ("c0", c0))],
        [helper.make_tensor_value_info(n, f, None) for n in ("Y", "Y_h", "Y_c")], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 14)])
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return session.run(None, {"X": x, "h0": h0, "c0": c0})


def onnx_weights(module, layer):
    """fastrnn.nn.LSTM(peephole=True) layer weights in ONNX's LSTM layout (gates i, o, f, c; P i, o, f)."""
    Hh = module.hidden_size
    rows = np.concatenate([np.arange(g * Hh, (g + 1) * Hh) for g in (0, 3, 1, 2)])
    prow = np.concatenate([np.arange(g * Hh, (g + 1) * Hh) for g in (0, 2, 1)])
    sfx = ["", "_reverse"] if module.bidirectional else [""]
    p = module.params
    W = np.stack([p[f"weight_ih_l{layer}{s}"][rows] for s in sfx])
    R = np.stack([p[f"weight_hh_l{layer}{s}"][rows] for s in sfx])
    B = np.stack([np.concatenate([p[f"bias_ih_l{layer}{s}"][rows], p[f"bias_hh_l{layer}{s}"][rows]]) for s in sfx])
    Pp = np.stack([p[f"weight_ph_l{layer}{s}"][prow] for s in sfx])
    return W, R, B, Pp


@pytest.mark.parametrize("bidirectional", [False, True])
def test_peephole_forward_matches_onnxruntime(bidirectional):
    """ONNX's LSTM with P: i, f read c_{t-1}, o reads c_t (ORT runs float32 only)."""
    rng = np.random.default_rng(7)
    mod = fastrnn.nn.LSTM(I, H, bidirectional=bidirectional, dtype=np.float32, seed=8, peephole=True)
    random_peepholes(mod, rng, np.float32)
    D = 2 if bidirectional else 1
    x = rng.standard_normal((T, N, I)).astype(np.float32)
    h0, c0 = (rng.standard_normal((D, N, H)).astype(np.float32) for _ in range(2))
    Y, Y_h, Y_c = ort_lstm(x, h0, c0, *onnx_weights(mod, 0), bidirectional)
    out, (h_n, c_n) = mod(x, (h0, c0))
    np.testing.assert_allclose(out, Y.transpose(0, 2, 1, 3).reshape(T, N, D * H), rtol=1e-5, atol=2e-6)
    np.testing.assert_allclose(h_n, Y_h, rtol=1e-5, atol=2e-6)
    np.testing.assert_allclose(c_n, Y_c, rtol=1e-5, atol=2e-6)


def test_peephole_export_runs_in_onnxruntime():
    ort = pytest.importorskip("onnxruntime")
    pytest.importorskip("onnx")
    import fastrnn.onnx
    rng = np.random.default_rng(9)
    mod = fastrnn.nn.LSTM(I, H, num_layers=2, bidirectional=True, seed=10, peephole=True).eval()
    random_peepholes(mod, rng, np.float32)
    model = fastrnn.onnx.export(mod)
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    x = rng.standard_normal((T, N, I)).astype(np.float32)
    h0, c0 = (rng.standard_normal((4, N, H)).astype(np.float32) for _ in range(2))
    got = session.run(None, {"x": x, "h0": h0, "c0": c0})
    out, (h_n, c_n) = mod(x, (h0, c0))
    for g, w in zip(got, (out, h_n, c_n)):
        np.testing.assert_allclose(g, w, rtol=1e-5, atol=2e-6)


def test_export_refuses_proj_size():
    pytest.importorskip("onnx")
    import fastrnn.onnx
    with pytest.raises(ValueError, match="no projection"):
        fastrnn.onnx.export(fastrnn.nn.LSTM(I, H, proj_size=2))


@needs_torch
@pytest.mark.parametrize("proj_size", [0, P])
def test_torch_peephole_matches_nn(proj_size):
    """fastrnn.torch.LSTM(peephole=True) (and with proj_size) computes fastrnn.nn's: outputs,
    states and every gradient, float64; its weight_ph start at 0 and follow state_dict."""
    torch.manual_seed(5)
    cfg = dict(num_layers=2, bidirectional=True, proj_size=proj_size)
    fast = ft.LSTM(I, H, dtype=torch.float64, peephole=True, **cfg)
    assert all(not p.any() for n, p in fast.named_parameters() if "weight_ph" in n)
    assert "peephole=True" in repr(fast)
    mod = fastrnn.nn.LSTM(I, H, dtype=np.float64, peephole=True, **cfg)
    random_peepholes(mod, np.random.default_rng(6), np.float64)
    fast.load_state_dict({k: torch.tensor(v) for k, v in mod.params.items()})
    rng = np.random.default_rng(7)
    out_size = proj_size or H
    x = rng.standard_normal((T, N, I))
    h0, c0 = rng.standard_normal((4, N, out_size)), rng.standard_normal((4, N, H))
    dout = rng.standard_normal((T, N, 2 * out_size))
    dh, dc = rng.standard_normal(h0.shape), rng.standard_normal(c0.shape)
    got = torch_run(fast, x, h0, c0, dout, dh, dc)
    out, (h_n, c_n) = mod(x, (h0, c0))
    dx, (dh0, dc0) = mod.backward(dout, (dh, dc))
    for name, g, w in zip(("out", "h_n", "c_n", "dx", "dh0", "dc0"), got, (out, h_n, c_n, dx, dh0, dc0)):
        close(g, w, np.float64, name)
    assert set(got[6]) == set(mod.grads)
    for name, g in got[6].items():
        close(g, mod.grads[name], np.float64, "d" + name)


@needs_torch
def test_torch_peephole_cell_matches_nn_cell():
    torch.manual_seed(2)
    fast = ft.LSTMCell(I, H, dtype=torch.float64, peephole=True)
    cell = fastrnn.nn.LSTMCell(I, H, dtype=np.float64, peephole=True, seed=3)
    cell.params["weight_ph"][...] = np.random.default_rng(4).uniform(-1, 1, 3 * H)
    fast.load_state_dict({k: torch.tensor(v) for k, v in cell.params.items()})
    rng = np.random.default_rng(5)
    x, h, c = rng.standard_normal((N, I)), rng.standard_normal((N, H)), rng.standard_normal((N, H))
    h1, c1 = cell(x, (h, c))
    t1, u1 = fast(torch.tensor(x), (torch.tensor(h), torch.tensor(c)))
    close(t1.detach().numpy(), h1, np.float64, "h1")
    close(u1.detach().numpy(), c1, np.float64, "c1")
    assert cell.params["weight_ph"].shape == (3 * H,) and "peephole=True" in repr(cell)


@needs_torch
def test_torch_peephole_refuses_what_only_torch_runs():
    fast = ft.LSTM(I, H, peephole=True).to(torch.float16)
    with pytest.raises(RuntimeError, match="peephole=True.*kernels only"):
        fast(torch.zeros(T, N, I, dtype=torch.float16))
    with pytest.raises(TypeError, match="peephole"):
        ft.LSTM(I, H, peephole=1)


@pytest.mark.parametrize("step", [False, True])
def test_book_layers_with_peepholes_match_the_oracle(step):
    """TimeLSTM / LSTM(peephole=...) take p (3H,) as params[3]; forward and backward against the
    oracle through the layout conversion (float64)."""
    rng = np.random.default_rng(11)
    D_, Tn = I, 1 if step else T
    Wx, Wh = rng.standard_normal((D_, 4 * H)) / 3, rng.standard_normal((H, 4 * H)) / 3
    b, p = rng.standard_normal(4 * H) / 3, rng.uniform(-1, 1, 3 * H)
    assert not L.TimeLSTM(Wx, Wh, b, peephole=True).params[3].any()
    cell = _cells.get("lstm_peephole")
    ref = book_to_torch(cell.layouts["book"].blocks, Wx, Wh, b) + (p,)
    xs = rng.standard_normal((N, Tn, D_))
    dhs = rng.standard_normal((N, Tn, H))
    zeros = (np.zeros((N, H)), np.zeros((N, H)))
    out, finals, cache = cell.oracle_forward(xs.transpose(1, 0, 2), zeros, ref, {})
    dx, _, grads = cell.oracle_backward(cache, dhs.transpose(1, 0, 2), (None, None))
    want = list(torch_grads_to_book(cell.layouts["book"].blocks, *grads[:3])) + [grads[4]]
    if step:
        layer = L.LSTM(Wx, Wh, b, peephole=p)
        h1, c1 = layer.forward(xs[:, 0], *zeros)
        close(h1, out[0], np.float64, "h1")
        ldx = layer.backward(dhs[:, 0], None)[0][:, None]
    else:
        layer = L.TimeLSTM(Wx, Wh, b, peephole=p)
        hs = layer.forward(xs)
        close(hs, out.transpose(1, 0, 2), np.float32, "hs")      # the book layer returns float32
        ldx = layer.backward(dhs)
    assert len(layer.params) == 4 and layer.params[3] is p
    close(ldx, dx.transpose(1, 0, 2), np.float32, "dx")
    for k, (g, w) in enumerate(zip(layer.grads, want)):
        close(g, w, np.float64 if step else np.float32, f"grads[{k}]")


@pytest.mark.parametrize("peephole", [False, True])
def test_forward_only_equals_the_training_forward(peephole):
    """fastrnn.no_grad() runs the variants' forward-only kernels (the short path for ready
    calls and the general one): the training forward's outputs and states."""
    mod = fastrnn.nn.LSTM(I, H, num_layers=2, proj_size=P, seed=12, peephole=peephole)
    random_peepholes(mod, np.random.default_rng(13), np.float32)
    rng = np.random.default_rng(14)
    x = rng.standard_normal((9, 1, I)).astype(np.float32)
    hx = (rng.standard_normal((2, 1, P)).astype(np.float32), rng.standard_normal((2, 1, H)).astype(np.float32))
    want = mod(x, hx)
    with fastrnn.no_grad():
        ready = mod(x, hx)                                   # C-contiguous float32: the short path
        general = mod(x.astype(np.float64), hx)              # converted: the general path
    for got in (ready, general):
        np.testing.assert_allclose(got[0], want[0], rtol=1e-6, atol=1e-6)
        for g, w in zip(got[1], want[1]):
            np.testing.assert_allclose(g, w, rtol=1e-6, atol=1e-6)
