"""fastrnn.nn.Linear, Embedding, CrossEntropyLoss, MSELoss, BCEWithLogitsLoss: finite differences
(float64), torch.nn's values where torch is installed, and the module contract."""
import numpy as np
import pytest

import fastrnn.nn as nn
from helpers import numeric_grad


def test_linear_gradients_and_accumulation():
    m = nn.Linear(4, 3, dtype=np.float64, seed=0)
    rng = np.random.default_rng(1)
    x, dy = rng.standard_normal((2, 5, 4)), rng.standard_normal((2, 5, 3))
    loss = lambda: float(np.sum(m(x) * dy))  # noqa: E731
    y = m(x)
    np.testing.assert_allclose(y, x @ m.params["weight"].T + m.params["bias"], rtol=1e-12)
    dx = m.backward(dy)
    np.testing.assert_allclose(dx, numeric_grad(loss, x), rtol=1e-6, atol=1e-8)
    for k in ("weight", "bias"):
        np.testing.assert_allclose(m.grads[k], numeric_grad(loss, m.params[k]), rtol=1e-6, atol=1e-8)
    first = {k: g.copy() for k, g in m.grads.items()}
    m(x)
    m.backward(dy)
    for k in first:
        np.testing.assert_allclose(m.grads[k], 2 * first[k], rtol=1e-12)
    with pytest.raises(RuntimeError, match="called twice"):
        m.backward(dy)
    with pytest.raises(ValueError, match=r"x: expected .*in_features=4"):
        m(np.ones((2, 5)))
    m.grads["weight"] = np.zeros((1, 1))
    m(x)
    with pytest.raises((TypeError, ValueError), match=r"grads\['weight'\]"):
        m.backward(dy)


def test_embedding_padding_idx_and_gradient():
    m = nn.Embedding(6, 3, padding_idx=0, dtype=np.float64, seed=2)
    assert not m.params["weight"][0].any()
    ids = np.array([[1, 0, 5], [5, 2, 0]])
    out = m(ids)
    np.testing.assert_array_equal(out, m.params["weight"][ids])
    m.backward(np.ones_like(out))
    counts = np.bincount(ids.ravel(), minlength=6).astype(float)
    counts[0] = 0
    np.testing.assert_array_equal(m.grads["weight"], counts[:, None] * np.ones(3))
    with pytest.raises(ValueError, match=r"ids: expected indices in \[-6, 6\)"):
        m(np.array([6]))


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_losses_gradients_are_finite_differences(reduction):
    rng = np.random.default_rng(3)
    x = rng.standard_normal((4, 5))
    for loss, target in ((nn.MSELoss(reduction), rng.standard_normal((4, 5))),
                         (nn.BCEWithLogitsLoss(reduction), (rng.random((4, 5)) > 0.5).astype(float)),
                         (nn.CrossEntropyLoss(reduction=reduction, ignore_index=-1), np.array([1, -1, 4, 0]))):
        value = loss(x, target)
        w = rng.standard_normal(np.shape(value)) if reduction == "none" else 1.0
        grad = loss.backward(w)
        f = lambda: float(np.sum(np.asarray(loss.forward(x, target)) * w))  # noqa: E731
        np.testing.assert_allclose(grad, numeric_grad(f, x), rtol=1e-6, atol=1e-8, err_msg=type(loss).__name__)


def test_cross_entropy_all_ignored_is_zero_and_errors_are_named():
    ce = nn.CrossEntropyLoss()
    assert ce(np.zeros((2, 3)), np.array([-100, -100])) == 0
    assert not ce.backward().any()
    with pytest.raises(ValueError, match=r"target: expected class ids in \[0, 3\)"):
        ce(np.zeros((2, 3)), np.array([0, 3]))
    with pytest.raises(TypeError, match="target: expected integer class ids"):
        ce(np.zeros((2, 3)), np.array([0.0, 1.0]))


def test_against_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(4)
    x = rng.standard_normal((3, 4, 5))                 # (N, C, d): classes on axis 1
    t = rng.integers(0, 4, (3, 5))
    t[0, 1] = -100
    xt = torch.from_numpy(x).requires_grad_()
    ref = torch.nn.CrossEntropyLoss()(xt, torch.from_numpy(t))
    ref.backward()
    ce = nn.CrossEntropyLoss()
    assert ce(x, t) == pytest.approx(ref.item(), rel=1e-12)
    np.testing.assert_allclose(ce.backward(), xt.grad.numpy(), rtol=1e-10, atol=1e-12)
    lin = nn.Linear(5, 2, dtype=np.float64)
    tl = torch.nn.Linear(5, 2, dtype=torch.float64)
    lin.load_state_dict(tl.state_dict())
    xs = rng.standard_normal((7, 5))
    np.testing.assert_allclose(lin(xs), tl(torch.from_numpy(xs)).detach().numpy(), rtol=1e-12)
    y = rng.standard_normal((7, 2))
    bce = torch.nn.BCEWithLogitsLoss()(torch.from_numpy(xs[:, :2]), torch.from_numpy((y > 0).astype(float)))
    assert nn.BCEWithLogitsLoss()(xs[:, :2], (y > 0).astype(float)) == pytest.approx(bce.item(), rel=1e-12)
