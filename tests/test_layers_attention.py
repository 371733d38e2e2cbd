"""fastrnn.layers attention (chapter 8) against the book's per-step NumPy layers, restated here,
and finite differences."""
import numpy as np
import pytest

import fastrnn.layers as L
from helpers import numeric_grad


def rnd(shape, seed=0, dtype=np.float64):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


# --------------------------------------------------------------------------- book reference
def ref_attention_step(hs, h):
    """AttentionWeight then WeightSum: a = softmax_T(Σ_H hs·h), c = Σ_T hs·a."""
    s = np.sum(hs * h[:, None, :], axis=2)
    e = np.exp(s - s.max(axis=1, keepdims=True))
    a = e / e.sum(axis=1, keepdims=True)
    return np.sum(hs * a[:, :, None], axis=1), a


def ref_attention_step_back(dc, hs, h, a):
    N, T, H = hs.shape
    dt = np.repeat(dc.reshape(N, 1, H), T, axis=1)
    dhs0 = dt * a[:, :, None]
    da = np.sum(dt * hs, axis=2)
    dx = a * da                                         # Softmax.backward
    ds = dx - a * np.sum(dx, axis=1, keepdims=True)
    dhs1 = ds[:, :, None] * h[:, None, :]
    dh = np.sum(ds[:, :, None] * hs, axis=1)
    return dhs0 + dhs1, dh


def ref_time_attention(hs_enc, hs_dec):
    outs, weights = [], []
    for t in range(hs_dec.shape[1]):
        c, a = ref_attention_step(hs_enc, hs_dec[:, t])
        outs.append(c)
        weights.append(a)
    return np.stack(outs, 1), weights


def ref_time_attention_back(dout, hs_enc, hs_dec, weights):
    dhs_enc = 0
    dhs_dec = np.empty_like(hs_dec)
    for t in range(hs_dec.shape[1]):
        dhs, dh = ref_attention_step_back(dout[:, t], hs_enc, hs_dec[:, t], weights[t])
        dhs_enc = dhs_enc + dhs
        dhs_dec[:, t] = dh
    return dhs_enc, dhs_dec


@pytest.fixture(scope="module")
def sample():
    N, Te, Td, H = 3, 5, 4, 6
    return (rnd((N, Te, H), 1) * 0.7, rnd((N, Td, H), 2) * 0.7, rnd((N, Td, H), 3))


# --------------------------------------------------------------------------- tests
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_time_attention_matches_book(sample, dtype):
    hs_enc, hs_dec, dout = (a.astype(dtype) for a in sample)
    copies = [a.copy() for a in (hs_enc, hs_dec, dout)]
    layer = L.TimeAttention()
    assert layer.params == [] and layer.grads == []
    out = layer.forward(hs_enc, hs_dec)
    dhs_enc, dhs_dec = layer.backward(dout)
    ref_out, ref_w = ref_time_attention(*(a.astype(np.float64) for a in (hs_enc, hs_dec)))
    ref_de, ref_dd = ref_time_attention_back(dout.astype(np.float64), hs_enc.astype(np.float64),
                                             hs_dec.astype(np.float64), ref_w)
    tol = dict(rtol=1e-5, atol=1e-6) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-13)
    assert out.dtype == dtype and dhs_enc.dtype == dtype and dhs_dec.dtype == dtype
    np.testing.assert_allclose(out, ref_out, **tol)
    np.testing.assert_allclose(dhs_enc, ref_de, **tol)
    np.testing.assert_allclose(dhs_dec, ref_dd, **tol)
    assert isinstance(layer.attention_weights, list) and len(layer.attention_weights) == hs_dec.shape[1]
    for got, want in zip(layer.attention_weights, ref_w):
        assert got.shape == want.shape
        np.testing.assert_allclose(got, want, **tol)
    for a, c in zip((hs_enc, hs_dec, dout), copies):
        np.testing.assert_array_equal(a, c)


def test_time_attention_finite_differences(sample):
    hs_enc, hs_dec, w = (a.copy() for a in sample)
    layer = L.TimeAttention()
    layer.forward(hs_enc, hs_dec)
    dhs_enc, dhs_dec = layer.backward(w)
    f = lambda: np.sum(ref_time_attention(hs_enc, hs_dec)[0] * w)
    for arr, grad in ((hs_enc, dhs_enc), (hs_dec, dhs_dec)):
        assert np.abs(numeric_grad(f, arr, 1e-6) - grad).max() < 1e-7


def test_attention_step_layers_match_book(sample):
    hs_enc, hs_dec, dout = sample
    h, dc = hs_dec[:, 0], dout[:, 0]
    ref_c, ref_a = ref_attention_step(hs_enc, h)
    ref_dhs, ref_dh = ref_attention_step_back(dc, hs_enc, h, ref_a)

    att = L.Attention()
    c = att.forward(hs_enc, h)
    np.testing.assert_allclose(c, ref_c, rtol=1e-12)
    np.testing.assert_allclose(att.attention_weight, ref_a, rtol=1e-12)
    dhs, dh = att.backward(dc)
    np.testing.assert_allclose(dhs, ref_dhs, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(dh, ref_dh, rtol=1e-12, atol=1e-14)

    aw, ws = L.AttentionWeight(), L.WeightSum()
    a = aw.forward(hs_enc, h)
    np.testing.assert_allclose(a, ref_a, rtol=1e-12)
    np.testing.assert_allclose(ws.forward(hs_enc, a), ref_c, rtol=1e-12)
    dhs0, da = ws.backward(dc)
    dhs1, dh2 = aw.backward(da)
    np.testing.assert_allclose(dhs0 + dhs1, ref_dhs, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(dh2, ref_dh, rtol=1e-12, atol=1e-14)


def test_attention_single_encoder_step_and_nan(sample):
    hs_enc, hs_dec, _ = sample
    layer = L.TimeAttention()
    out = layer.forward(hs_enc[:, :1], hs_dec)
    np.testing.assert_allclose(out, np.repeat(hs_enc[:, :1], hs_dec.shape[1], axis=1), rtol=1e-14)
    bad = hs_dec.copy()
    bad[0, 2, 0] = np.nan
    out = layer.forward(hs_enc, bad)
    assert np.isnan(out[0, 2]).all() and np.isfinite(out[1:]).all() and np.isfinite(out[0, :2]).all()


def test_attention_errors(sample):
    hs_enc, hs_dec, dout = sample
    layer = L.TimeAttention()
    with pytest.raises(ValueError, match=r"hs_dec must have shape \(N=3, T_dec, H=6\), got \(3, 4, 5\)"):
        layer.forward(hs_enc, hs_dec[:, :, :5])
    with pytest.raises(ValueError, match=r"hs_enc must have shape \(N, T, H\), got \(3, 5\)"):
        layer.forward(hs_enc[:, :, 0], hs_dec)
    with pytest.raises(ValueError, match="hs_enc must not be empty"):
        layer.forward(hs_enc[:, :0], hs_dec)
    layer.forward(hs_enc, hs_dec)
    with pytest.raises(ValueError, match=r"dout must have shape \(N=3, T_dec=4, H=6\), got \(3, 3, 6\)"):
        layer.backward(dout[:, :3])
    with pytest.raises(ValueError, match=r"h must have shape \(N=3, H=6\), got \(3, 5\)"):
        L.Attention().forward(hs_enc, hs_dec[:, 0, :5])
