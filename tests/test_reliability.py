"""The silent-garbage and confusing-error cases of the reliability review, one test each."""
import numpy as np
import pytest

import fastrnn
import fastrnn.layers as L
from fastrnn.models import SequenceClassifier


def test_all_ignored_labels_give_loss_and_gradient_zero():
    layer = L.TimeSoftmaxWithLoss()
    loss = layer.forward(np.random.default_rng(0).standard_normal((2, 3, 5)).astype(np.float32),
                         np.full((2, 3), -1))
    assert loss == 0 and np.isfinite(loss)
    assert not layer.backward().any()


def test_uint64_id_beyond_the_vocabulary_is_an_error_not_the_last_row():
    emb = L.Embedding(np.arange(12, dtype=np.float32).reshape(4, 3))
    with pytest.raises(ValueError, match=r"idx must hold indices in \[-4, 4\).*got 18446744073709551615"):
        emb.forward(np.array([2**64 - 1], np.uint64))
    np.testing.assert_array_equal(emb.forward(np.array([3], np.uint64)), [[9, 10, 11]])


def test_embedding_grads_of_another_shape_are_named_before_anything_is_written():
    emb = L.Embedding(np.zeros((1000, 8), np.float32))
    emb.forward(np.array([999, 5]))
    small = np.zeros((2, 8), np.float32)
    emb.grads[0] = small
    with pytest.raises(ValueError, match=r"grads\[0\] must have the shape of W at the forward, \(1000, 8\)"):
        emb.backward(np.ones((2, 8), np.float32))
    assert not small.any()


def test_classifier_rejects_labels_outside_its_classes():
    model = SequenceClassifier(5, 4, 4, num_classes=2, seed=0)
    with pytest.raises(ValueError, match=r"ts: expected class ids in \[0, 2\), got 5"):
        model.forward(np.array([[1, 2], [3, 4]]), np.array([0, 5]))


def test_torch_style_device_and_proj_size_arguments():
    m = fastrnn.LSTM(3, 4, 1, True, False, 0.0, False, 0, "cpu")       # torch's positional order
    assert m.device == "cpu"
    assert fastrnn.GRU(3, 4, device="cpu").device == "cpu"
    assert fastrnn.RNNCell(3, 4, True, "tanh", "cpu").device == "cpu"
    with pytest.raises(ValueError, match="device: expected None or 'cpu'"):
        fastrnn.LSTM(3, 4, device="cuda")
    assert fastrnn.LSTM(3, 4, proj_size=2).proj_size == 2
    with pytest.raises(ValueError, match=r"proj_size: .* expected 1 <= proj_size < hidden_size \(4\), got 4"):
        fastrnn.LSTM(3, 4, proj_size=4)


def test_book_layer_with_params_replaced_by_another_input_size_names_it():
    rng = np.random.default_rng(0)
    layer = L.TimeLSTM(rng.standard_normal((3, 16)).astype(np.float32),
                       rng.standard_normal((4, 16)).astype(np.float32), np.zeros(16, np.float32))
    xs = rng.standard_normal((2, 5, 3)).astype(np.float32)
    layer.forward(xs)
    layer.params[0] = rng.standard_normal((6, 16)).astype(np.float32)       # grads[0] still (3, 16)
    with pytest.raises(ValueError, match=r"params changed from shapes"):
        layer.backward(np.ones((2, 5, 4), np.float32))
    with pytest.raises(ValueError, match=r"D: the rows of Wx, params\[0\]"):
        layer.forward(xs)
    layer.forward(rng.standard_normal((2, 5, 6)).astype(np.float32))
    with pytest.raises(ValueError, match=r"grads\[0\] must have the shape of params\[0\], \(6, 16\), got \(3, 16\)"):
        layer.backward(np.ones((2, 5, 4), np.float32))
