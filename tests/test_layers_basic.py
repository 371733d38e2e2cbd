"""fastrnn.layers Embedding, TimeEmbedding, MatMul, Affine, TimeAffine, Softmax, Sigmoid.

References: the book's equations written out here (``W[idx]``, ``np.add.at`` per time step,
``x·W + b``, row softmax), finite differences for the gradients (float64).
"""
import numpy as np
import pytest

import fastrnn.layers as L
from helpers import numeric_grad


def rnd(shape, seed=0, dtype=np.float64):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


# --------------------------------------------------------------------------- embeddings
def book_time_embedding_grad(W_shape, idx, dout):
    """The book: per time step dW = 0; np.add.at(dW, idx[:, t], dout[:, t]); summed over t."""
    grad = 0
    for t in range(idx.shape[1]):
        dW = np.zeros(W_shape, np.float64)
        np.add.at(dW, idx[:, t], dout[:, t])
        grad = grad + dW
    return grad


@pytest.mark.parametrize("make_idx", [
    lambda a: a.astype(np.int64),
    lambda a: a.astype(np.int32),
    lambda a: np.ascontiguousarray(a[::-1, ::-1]).astype(np.int64)[::-1, ::-1],   # reversed strides
    lambda a: np.asfortranarray(a.astype(np.int16)),
    lambda a: a.astype(np.uint8),
], ids=["int64", "int32", "reversed", "fortran-int16", "uint8"])
def test_time_embedding_matches_book(make_idx):
    V, D, N, T = 7, 5, 4, 6
    W = rnd((V, D), 1, np.float32)
    base = np.random.default_rng(2).integers(0, V, (N, T))
    base[0, :] = 3                         # duplicates within a step and across steps
    base[:, 1] = 3
    idx = make_idx(base)
    idx_copy = idx.copy()
    dout = rnd((N, T, D), 3, np.float32)
    dout_copy = dout.copy()
    layer = L.TimeEmbedding(W)
    assert layer.params[0] is W and layer.W is W
    grad = layer.grads[0]
    out = layer.forward(idx)
    assert out.dtype == np.float32 and out.shape == (N, T, D)
    np.testing.assert_array_equal(out, W[base])
    assert layer.backward(dout) is None
    assert layer.grads[0] is grad
    np.testing.assert_allclose(grad, book_time_embedding_grad(W.shape, base, dout), rtol=1e-6, atol=1e-6)
    np.testing.assert_array_equal(idx, idx_copy)
    np.testing.assert_array_equal(dout, dout_copy)
    # the second backward rewrites (zero, then scatter) rather than accumulating
    layer.backward(dout)
    np.testing.assert_allclose(grad, book_time_embedding_grad(W.shape, base, dout), rtol=1e-6, atol=1e-6)


def test_time_embedding_reads_params_each_call_and_float64_weights():
    W = rnd((5, 3), 1)
    layer = L.TimeEmbedding(W)
    idx = np.array([[0, 4], [4, 4]])
    out = layer.forward(idx)
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, W[idx].astype(np.float32))
    W *= 2                                   # an optimizer's in-place update
    np.testing.assert_array_equal(layer.forward(idx), W[idx].astype(np.float32))
    layer.backward(np.ones((2, 2, 3), np.float32))
    assert layer.grads[0].dtype == np.float64
    np.testing.assert_array_equal(layer.grads[0][:, 0], [1, 0, 0, 0, 3])


def test_time_embedding_fortran_weight_and_negative_indices():
    W = np.asfortranarray(rnd((6, 4), 5, np.float32))
    layer = L.TimeEmbedding(W)
    idx = np.array([[-1, 0, 5], [2, -6, -1]])
    out = layer.forward(idx)
    np.testing.assert_array_equal(out, W[idx])                # NumPy's wrap-around
    dout = rnd((2, 3, 4), 6, np.float32)
    layer.backward(dout)
    want = np.zeros((6, 4))
    np.add.at(want, idx, dout)
    np.testing.assert_allclose(layer.grads[0], want, rtol=1e-6, atol=1e-6)


def test_embedding_2d_matches_book():
    W = rnd((8, 3), 1, np.float32)
    idx = np.array([1, 7, 1, 1, 0])
    layer = L.Embedding(W)
    out = layer.forward(idx)
    np.testing.assert_array_equal(out, W[idx])
    dout = rnd((5, 3), 2, np.float32)
    assert layer.backward(dout) is None
    want = np.zeros_like(W)
    np.add.at(want, idx, dout)
    np.testing.assert_allclose(layer.grads[0], want, rtol=1e-6)
    # other index shapes (negative sampling uses (N, k))
    idx2 = np.array([[1, 2], [2, 2]], np.int32)
    np.testing.assert_array_equal(layer.forward(idx2), W[idx2])
    dout2 = rnd((2, 2, 3), 3, np.float32)
    layer.backward(dout2)
    want = np.zeros_like(W)
    np.add.at(want, idx2, dout2)
    np.testing.assert_allclose(layer.grads[0], want, rtol=1e-6)


def test_embedding_errors():
    layer = L.TimeEmbedding(rnd((5, 3), 1, np.float32))
    with pytest.raises(ValueError, match=r"idx must hold indices in \[-5, 5\).*got 5"):
        layer.forward(np.array([[0, 5]]))
    with pytest.raises(TypeError, match="idx must hold integers, got dtype float64"):
        layer.forward(np.zeros((2, 2)))
    with pytest.raises(ValueError, match=r"idx must have shape \(N, T\), got \(4,\)"):
        layer.forward(np.zeros(4, int))
    layer.forward(np.zeros((2, 4), int))
    with pytest.raises(ValueError, match=r"dout must have shape \(N=2, T=4, D=3\), got \(2, 4, 2\)"):
        layer.backward(np.zeros((2, 4, 2), np.float32))
    with pytest.raises(TypeError, match="W must be a numpy.ndarray"):
        L.Embedding([[1.0]])


# --------------------------------------------------------------------------- affine layers
def test_matmul_and_affine_forward_backward():
    x = rnd((4, 3), 1)
    W, b = rnd((3, 5), 2), rnd(5, 3)
    w = rnd((4, 5), 4)                        # loss = Σ out·w
    for layer, f in ((L.MatMul(W), lambda: np.sum((x @ W) * w)),
                     (L.Affine(W, b), lambda: np.sum((x @ W + b) * w))):
        grads = list(layer.grads)
        out = layer.forward(x)
        np.testing.assert_allclose(np.sum(out * w), f(), rtol=1e-12)
        dx = layer.backward(w)
        assert all(a is c for a, c in zip(layer.grads, grads))
        np.testing.assert_allclose(dx, numeric_grad(f, x), rtol=1e-6, atol=1e-8)
        np.testing.assert_allclose(layer.grads[0], numeric_grad(f, W), rtol=1e-6, atol=1e-8)
        if len(layer.grads) == 2:
            np.testing.assert_allclose(layer.grads[1], numeric_grad(f, b), rtol=1e-6, atol=1e-8)


def test_time_affine_matches_book_and_gradients():
    N, T, D, M = 2, 3, 4, 5
    x, W, b = rnd((N, T, D), 1), rnd((D, M), 2), rnd(M, 3)
    w = rnd((N, T, M), 4)

    def f():
        return np.sum(((x.reshape(N * T, D) @ W + b).reshape(N, T, M)) * w)

    layer = L.TimeAffine(W, b)
    assert layer.params[0] is W and layer.params[1] is b
    out = layer.forward(x)
    np.testing.assert_allclose(out, (x.reshape(N * T, D) @ W + b).reshape(N, T, M), rtol=1e-12)
    dx = layer.backward(w)
    np.testing.assert_allclose(dx, numeric_grad(f, x), rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(layer.grads[0], numeric_grad(f, W), rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(layer.grads[1], numeric_grad(f, b), rtol=1e-6, atol=1e-8)


def test_time_affine_with_tied_fortran_weight():
    """BetterRnnlm ties the output weight to embed_W.T (a Fortran-ordered view)."""
    V, H, N, T = 9, 4, 2, 3
    embed_W = rnd((V, H), 1, np.float32)
    b = np.zeros(V, np.float32)
    tied = embed_W.T
    layer = L.TimeAffine(tied, b)
    assert layer.params[0] is tied and layer.grads[0].shape == (H, V)
    grad = layer.grads[0]
    x = rnd((N, T, H), 2, np.float32)
    dout = rnd((N, T, V), 3, np.float32)
    out = layer.forward(x)
    np.testing.assert_allclose(out, (x.reshape(-1, H) @ embed_W.T).reshape(N, T, V), rtol=1e-5, atol=1e-6)
    dx = layer.backward(dout)
    assert layer.grads[0] is grad
    rx, rd = x.reshape(-1, H).astype(np.float64), dout.reshape(-1, V).astype(np.float64)
    np.testing.assert_allclose(grad, rx.T @ rd, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(dx, (rd @ embed_W.astype(np.float64)).reshape(N, T, H), rtol=1e-5, atol=1e-5)
    embed_W *= 0.5                           # the optimizer updates embed_W in place: the view follows
    np.testing.assert_allclose(layer.forward(x), out * 0.5, rtol=1e-5, atol=1e-6)


def test_affine_errors():
    layer = L.TimeAffine(rnd((4, 3), 1), rnd(3, 2))
    with pytest.raises(ValueError, match=r"x must have shape \(N, T, D=4\), got \(2, 3, 5\)"):
        layer.forward(np.zeros((2, 3, 5)))
    layer.forward(np.zeros((2, 3, 4)))
    with pytest.raises(ValueError, match=r"dout must have shape \(N=2, T=3, M=3\), got \(2, 3, 4\)"):
        layer.backward(np.zeros((2, 3, 4)))
    with pytest.raises(ValueError, match=r"b must have shape \(M=3,\), got \(4,\)"):
        L.Affine(rnd((4, 3), 1), rnd(4, 2))


# --------------------------------------------------------------------------- activations
def test_softmax_layer():
    x = rnd((3, 5), 1) * 3
    w = rnd((3, 5), 2)
    layer = L.Softmax()
    y = layer.forward(x)
    e = np.exp(x - x.max(axis=1, keepdims=True))
    np.testing.assert_allclose(y, e / e.sum(axis=1, keepdims=True), rtol=1e-14)

    def f():
        e = np.exp(x - x.max(axis=1, keepdims=True))
        return np.sum(e / e.sum(axis=1, keepdims=True) * w)

    np.testing.assert_allclose(layer.backward(w), numeric_grad(f, x), rtol=1e-6, atol=1e-9)
    # huge logits: the max is subtracted, no overflow
    assert np.isfinite(layer.forward(np.array([[1000.0, 0.0]]))).all()


def test_sigmoid_layer():
    x = rnd((3, 4), 1)
    w = rnd((3, 4), 2)
    layer = L.Sigmoid()
    np.testing.assert_allclose(layer.forward(x), 1 / (1 + np.exp(-x)), rtol=1e-14)
    f = lambda: np.sum(w / (1 + np.exp(-x)))
    np.testing.assert_allclose(layer.backward(w), numeric_grad(f, x), rtol=1e-6, atol=1e-9)
