"""fastrnn.layers losses and dropout against the book's formulas (written out here),
finite differences, and the book's use of the global NumPy RNG for dropout masks."""
import numpy as np
import pytest

import fastrnn.layers as L
from helpers import numeric_grad


def rnd(shape, seed=0, dtype=np.float64):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


def book_softmax(x):
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def book_time_softmax_loss(xs, ts, ignore=-1):
    """loss = −Σ_{kept} log softmax(xs)[ts] / #kept, rows with label −1 dropped."""
    N, T, V = xs.shape
    total, kept = 0.0, 0
    for n in range(N):
        for t in range(T):
            if ts[n, t] == ignore:
                continue
            total -= np.log(book_softmax(xs[n, t])[ts[n, t]])
            kept += 1
    return total / kept


# --------------------------------------------------------------------------- TimeSoftmaxWithLoss
def test_time_softmax_with_loss_matches_book_and_gradient():
    N, T, V = 3, 4, 5
    xs = rnd((N, T, V), 1) * 2
    ts = np.random.default_rng(2).integers(0, V, (N, T))
    ts[0, 1] = ts[2, 3] = -1
    xs_copy, ts_copy = xs.copy(), ts.copy()
    layer = L.TimeSoftmaxWithLoss()
    assert layer.ignore_label == -1 and layer.params == [] and layer.grads == []
    loss = layer.forward(xs, ts)
    np.testing.assert_allclose(loss, book_time_softmax_loss(xs, ts), rtol=1e-12)
    dx = layer.backward()
    num = numeric_grad(lambda: book_time_softmax_loss(xs, ts), xs)
    np.testing.assert_allclose(dx, num, rtol=1e-6, atol=1e-9)
    assert not dx[0, 1].any() and not dx[2, 3].any()         # ignored rows get no gradient
    np.testing.assert_array_equal(xs, xs_copy)
    np.testing.assert_array_equal(ts, ts_copy)
    # backward may be called again with the same result; dout scales
    np.testing.assert_array_equal(layer.backward(), dx)
    np.testing.assert_allclose(layer.backward(2.5), 2.5 * dx, rtol=1e-14)
    np.testing.assert_array_equal(layer.backward(1), dx)


def test_time_softmax_with_loss_same_float32_numbers_as_book():
    """The book's own sequence of NumPy operations, float32: results are bit-identical."""
    N, T, V = 4, 5, 30
    xs = rnd((N, T, V), 5, np.float32) * 3
    ts = np.random.default_rng(6).integers(0, V, (N, T))
    ts[1, 2] = -1
    for dout in (1, 0.37):
        x, t = xs.reshape(N * T, V), ts.reshape(N * T)
        mask = t != -1
        y = x - x.max(axis=1, keepdims=True)
        y = np.exp(y)
        y /= y.sum(axis=1, keepdims=True)
        ls = np.log(y[np.arange(N * T), t])
        ls *= mask
        book_loss = -np.sum(ls)
        book_loss /= mask.sum()
        dx = y
        dx[np.arange(N * T), t] -= 1
        dx *= dout
        dx /= mask.sum()
        dx *= mask[:, np.newaxis]

        layer = L.TimeSoftmaxWithLoss()
        assert layer.forward(xs, ts) == book_loss
        np.testing.assert_array_equal(layer.backward(dout), dx.reshape(N, T, V))


def test_time_softmax_with_loss_one_hot_int32_and_float32():
    N, T, V = 2, 3, 4
    xs = rnd((N, T, V), 3, np.float32)
    ts = np.random.default_rng(4).integers(0, V, (N, T)).astype(np.int32)
    one_hot = np.eye(V, dtype=np.int32)[ts]
    a, b = L.TimeSoftmaxWithLoss(), L.TimeSoftmaxWithLoss()
    la, lb = a.forward(xs, ts), b.forward(xs, one_hot)
    assert la == lb
    np.testing.assert_allclose(la, book_time_softmax_loss(xs.astype(np.float64), ts), rtol=1e-5)
    da = a.backward()
    assert da.dtype == np.float32 and da.shape == (N, T, V)
    np.testing.assert_array_equal(da, b.backward())


def test_time_softmax_with_loss_extreme_logits_and_ignored_zero_probability():
    """A label −1 must not pick up log(0) from the last column (NaN·0) of an ignored row."""
    xs = np.array([[[0.0, 0.0, -1e4], [3.0, 1.0, -1e4]]])
    ts = np.array([[-1, 0]])
    layer = L.TimeSoftmaxWithLoss()
    loss = layer.forward(xs, ts)
    np.testing.assert_allclose(loss, -np.log(book_softmax(xs[0, 1])[0]), rtol=1e-12)
    assert np.isfinite(layer.backward()).all()


def test_time_softmax_with_loss_errors():
    layer = L.TimeSoftmaxWithLoss()
    xs = np.zeros((2, 3, 4))
    with pytest.raises(ValueError, match=r"ts must have shape \(N=2, T=3\), got \(2, 4\)"):
        layer.forward(xs, np.zeros((2, 4), int))
    with pytest.raises(ValueError, match=r"ts must hold labels in \[0, 4\), got 4"):
        layer.forward(xs, np.full((2, 3), 4))
    with pytest.raises(TypeError, match="ts must hold integers"):
        layer.forward(xs, np.zeros((2, 3)))
    with pytest.raises(ValueError, match=r"xs must have shape \(N, T, V\), got \(2, 3\)"):
        layer.forward(np.zeros((2, 3)), np.zeros((2, 3), int))
    with pytest.raises(RuntimeError, match="before forward"):
        L.TimeSoftmaxWithLoss().backward()


# --------------------------------------------------------------------------- other losses
def test_softmax_with_loss_matches_book():
    x = rnd((4, 5), 1) * 2
    t = np.array([0, 4, 2, 2])

    def f():
        y = book_softmax(x)
        return -np.sum(np.log(y[np.arange(4), t] + 1e-7)) / 4

    layer = L.SoftmaxWithLoss()
    np.testing.assert_allclose(layer.forward(x, t), f(), rtol=1e-14)
    dx = layer.backward()
    y = book_softmax(x)
    want = y.copy()
    want[np.arange(4), t] -= 1
    np.testing.assert_allclose(dx, want / 4, rtol=1e-14)
    np.testing.assert_allclose(dx, numeric_grad(f, x), rtol=1e-5, atol=1e-8)   # 1e-7 in the log
    np.testing.assert_array_equal(layer.backward(), dx)
    one_hot = np.eye(5)[t]
    np.testing.assert_allclose(L.SoftmaxWithLoss().forward(x, one_hot), f(), rtol=1e-14)


def test_sigmoid_losses_match_book():
    x = rnd(6, 1) * 2
    t = np.array([1, 0, 0, 1, 1, 0])

    def f():
        y = 1 / (1 + np.exp(-x))
        return -np.sum(t * np.log(y + 1e-7) + (1 - t) * np.log(1 - y + 1e-7)) / 6

    layer = L.SigmoidWithLoss()
    np.testing.assert_allclose(layer.forward(x, t), f(), rtol=1e-14)
    np.testing.assert_allclose(layer.backward(), ((1 / (1 + np.exp(-x))) - t) / 6, rtol=1e-14)
    np.testing.assert_allclose(layer.backward(), numeric_grad(f, x), rtol=1e-5, atol=1e-8)

    xs = rnd((3, 4), 2)
    ts = np.random.default_rng(3).integers(0, 2, (3, 4))

    def g():
        y = 1 / (1 + np.exp(-xs))
        per_step = [-np.mean(ts[:, k] * np.log(y[:, k] + 1e-7) + (1 - ts[:, k]) * np.log(1 - y[:, k] + 1e-7))
                    for k in range(4)]
        return np.mean(per_step)

    tl = L.TimeSigmoidWithLoss()
    np.testing.assert_allclose(tl.forward(xs, ts), g(), rtol=1e-13)
    dxs = tl.backward()
    assert dxs.dtype == np.float32 and dxs.shape == (3, 4)
    np.testing.assert_allclose(dxs, ((1 / (1 + np.exp(-xs))) - ts) / 12, rtol=1e-6)
    np.testing.assert_allclose(dxs, numeric_grad(g, xs), rtol=1e-4, atol=1e-7)
    with pytest.raises(ValueError, match=r"ts must have shape \(N=3, T=4\), got \(3, 5\)"):
        tl.forward(xs, np.zeros((3, 5)))


# --------------------------------------------------------------------------- dropout
@pytest.mark.parametrize("ratio", [0.5, 0.3])
def test_time_dropout_reproduces_book_masks(ratio):
    xs = rnd((3, 4, 5), 1, np.float32)
    xs_copy = xs.copy()
    np.random.seed(123)
    flg = np.random.rand(*xs.shape) > ratio
    mask = flg.astype(np.float32) * (1 / (1.0 - ratio))
    after = np.random.rand()                        # what the global RNG yields after one draw

    layer = L.TimeDropout(ratio)
    assert layer.train_flg is True and layer.params == [] and layer.grads == []
    np.random.seed(123)
    out = layer.forward(xs)
    assert np.random.rand() == after               # exactly one np.random.rand(*xs.shape)
    np.testing.assert_array_equal(out, xs * mask)
    assert out.dtype == np.float32
    np.testing.assert_array_equal(layer.mask, mask)
    dout = rnd((3, 4, 5), 2, np.float32)
    np.testing.assert_array_equal(layer.backward(dout), dout * mask)
    np.testing.assert_array_equal(xs, xs_copy)

    layer.train_flg = False
    state = np.random.get_state()[1].copy()
    assert layer.forward(xs) is xs
    np.testing.assert_array_equal(np.random.get_state()[1], state)     # no draw at inference


def test_dropout_2d_reproduces_book():
    x = rnd((4, 6), 1)
    np.random.seed(7)
    mask = np.random.rand(4, 6) > 0.4
    layer = L.Dropout(0.4)
    np.random.seed(7)
    np.testing.assert_array_equal(layer.forward(x), x * mask)
    dout = rnd((4, 6), 2)
    np.testing.assert_array_equal(layer.backward(dout), dout * mask)
    np.testing.assert_allclose(layer.forward(x, train_flg=False), x * 0.6, rtol=1e-15)
    with pytest.raises(ValueError, match=r"dropout_ratio must be in \[0, 1\), got 1.5"):
        L.TimeDropout(1.5)
