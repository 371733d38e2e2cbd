"""fastrnn.nn against torch.nn: a torch state_dict loads unchanged and gives torch's numbers."""
import numpy as np
import pytest

import fastrnn

torch = pytest.importorskip("torch")

PAIRS = {"lstm": (fastrnn.LSTM, torch.nn.LSTM), "gru": (fastrnn.GRU, torch.nn.GRU),
         "rnn": (fastrnn.RNN, torch.nn.RNN)}
TOL = {np.float32: dict(rtol=1e-4, atol=1e-5), np.float64: dict(rtol=1e-9, atol=1e-11)}
SHAPES = [  # kwargs, x shape, dtype
    (dict(num_layers=2, bidirectional=True), (7, 3, 5), np.float32),
    (dict(num_layers=2, bidirectional=True, batch_first=True), (2, 4, 5), np.float64),
    (dict(num_layers=1, bias=False), (6, 5), np.float32),            # unbatched
]


def torch_dtype(dtype):
    return torch.float32 if dtype == np.float32 else torch.float64


@pytest.mark.parametrize("case", range(len(SHAPES)))
@pytest.mark.parametrize("kind", list(PAIRS))
def test_matches_torch(kind, case):
    kwargs, x_shape, dtype = SHAPES[case]
    ours_cls, torch_cls = PAIRS[kind]
    extra = dict(nonlinearity="relu") if kind == "rnn" and case == 1 else {}
    torch.manual_seed(case)
    t = torch_cls(5, 6, **kwargs, **extra).to(torch_dtype(dtype))
    m = ours_cls(5, 6, **kwargs, **extra, dtype=dtype, seed=0)
    missing = m.load_state_dict({k: v.numpy() for k, v in t.state_dict().items()})
    assert missing == ([], [])
    assert list(m.params) == [name for name, _ in t.named_parameters()]

    rng = np.random.default_rng(case)
    D = 2 if kwargs.get("bidirectional") else 1
    LD = kwargs.get("num_layers", 1) * D
    batched = len(x_shape) == 3
    N = (x_shape[0] if kwargs.get("batch_first") else x_shape[1]) if batched else None
    s_shape = (LD, N, 6) if batched else (LD, 6)
    x = rng.standard_normal(x_shape).astype(dtype)
    states = [rng.uniform(-1, 1, s_shape).astype(dtype) for _ in range(2 if kind == "lstm" else 1)]
    xt = torch.tensor(x, requires_grad=True)
    st = [torch.tensor(s, requires_grad=True) for s in states]
    if kind == "lstm":
        out, (h, c) = m(x, tuple(states))
        out_t, (h_t, c_t) = t(xt, tuple(st))
        fin, fin_t = [h, c], [h_t, c_t]
    else:
        out, h = m(x, states[0])
        out_t, h_t = t(xt, st[0])
        fin, fin_t = [h], [h_t]
    tol = TOL[dtype]
    np.testing.assert_allclose(out, out_t.detach().numpy(), **tol)
    for a, b in zip(fin, fin_t):
        np.testing.assert_allclose(a, b.detach().numpy(), **tol)

    dout = rng.standard_normal(out.shape).astype(dtype)
    dfin = [rng.standard_normal(s_shape).astype(dtype) for _ in fin]
    loss = (out_t * torch.tensor(dout)).sum() + sum((f * torch.tensor(d)).sum() for f, d in zip(fin_t, dfin))
    loss.backward()
    if kind == "lstm":
        dx, (dh0, dc0) = m.backward(dout, tuple(dfin))
        d0 = [dh0, dc0]
    else:
        dx, dh0 = m.backward(dout, dfin[0])
        d0 = [dh0]
    np.testing.assert_allclose(dx, xt.grad.numpy(), **tol)
    for a, b in zip(d0, st):
        np.testing.assert_allclose(a, b.grad.numpy(), **tol)
    for name, p in t.named_parameters():
        np.testing.assert_allclose(m.grads[name], p.grad.numpy(), err_msg=name, **tol)


def test_torch_tensors_load_directly_and_identity_is_kept():
    t = torch.nn.GRU(3, 4, num_layers=2, bidirectional=True)
    m = fastrnn.GRU(3, 4, num_layers=2, bidirectional=True, seed=1)
    ids = {k: id(v) for k, v in m.params.items()}
    m.load_state_dict(t.state_dict())             # tensors, via np.asarray
    assert {k: id(v) for k, v in m.params.items()} == ids
    for k, v in t.state_dict().items():
        np.testing.assert_array_equal(m.params[k], v.numpy())
    m.load_state_dict(dict(t.named_parameters()))    # Parameters that require grad load too
    for k, v in t.state_dict().items():
        np.testing.assert_array_equal(m.params[k], v.numpy())
    # and back: our state_dict loads into torch
    m2 = fastrnn.GRU(3, 4, num_layers=2, bidirectional=True, seed=2)
    t.load_state_dict({k: torch.from_numpy(v) for k, v in m2.state_dict().items()})
    x = np.random.default_rng(3).standard_normal((5, 2, 3)).astype(np.float32)
    np.testing.assert_allclose(m2(x)[0], t(torch.from_numpy(x))[0].detach().numpy(), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("kind", ["lstm", "gru", "rnn"])
def test_cells_match_torch(kind):
    ours_cls = {"lstm": fastrnn.LSTMCell, "gru": fastrnn.GRUCell, "rnn": fastrnn.RNNCell}[kind]
    torch_cls = {"lstm": torch.nn.LSTMCell, "gru": torch.nn.GRUCell, "rnn": torch.nn.RNNCell}[kind]
    torch.manual_seed(4)
    t = torch_cls(3, 5)
    m = ours_cls(3, 5, seed=0)
    m.load_state_dict({k: v.numpy() for k, v in t.state_dict().items()})
    rng = np.random.default_rng(5)
    x = rng.standard_normal((2, 3)).astype(np.float32)
    states = [rng.uniform(-1, 1, (2, 5)).astype(np.float32) for _ in range(2 if kind == "lstm" else 1)]
    dfin = [rng.standard_normal((2, 5)).astype(np.float32) for _ in states]
    xt = torch.tensor(x, requires_grad=True)
    st = [torch.tensor(s, requires_grad=True) for s in states]
    if kind == "lstm":
        fin = m(x, tuple(states))
        fin_t = t(xt, tuple(st))
        dx, d0 = m.backward(*dfin)
    else:
        fin = (m(x, states[0]),)
        fin_t = (t(xt, st[0]),)
        dx, dh0 = m.backward(dfin[0])
        d0 = (dh0,)
    sum((f * torch.tensor(d)).sum() for f, d in zip(fin_t, dfin)).backward()
    tol = dict(rtol=1e-4, atol=1e-5)
    for a, b in zip(fin, fin_t):
        np.testing.assert_allclose(a, b.detach().numpy(), **tol)
    np.testing.assert_allclose(dx, xt.grad.numpy(), **tol)
    for a, b in zip(d0, st):
        np.testing.assert_allclose(a, b.grad.numpy(), **tol)
    for name, p in t.named_parameters():
        np.testing.assert_allclose(m.grads[name], p.grad.numpy(), err_msg=name, **tol)
