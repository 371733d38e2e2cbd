"""fastrnn.layers recurrent layers against the book's per-step NumPy equations.

The reference below restates "Deep Learning from Scratch 2" (common/time_layers.py) step by
step in float64: LSTM column blocks f, g, i, o; GRU blocks z, r, h̃ with the reset before the
recurrent matmul and h' = (1 − z) h + z h̃; RNN tanh. Time layers loop the step, backward
starts from dh = 0 (dc = 0) and adds dhs[:, t] at each step.
"""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import fastrnn.layers as L
from fastrnn import oracle


# --------------------------------------------------------------------------- book reference
def sigmoid(x):
    return 1 / (1 + np.exp(-x))


def ref_rnn_step(x, h, Wx, Wh, b):
    h_next = np.tanh(h @ Wh + x @ Wx + b)
    return h_next, (x, h, h_next)


def ref_rnn_step_back(dh_next, cache, Wx, Wh):
    x, h, h_next = cache
    dt = dh_next * (1 - h_next ** 2)
    return dt @ Wx.T, dt @ Wh.T, (x.T @ dt, h.T @ dt, dt.sum(0))


def ref_lstm_step(x, h, c, Wx, Wh, b):
    H = h.shape[1]
    A = x @ Wx + h @ Wh + b
    f, g, i, o = sigmoid(A[:, :H]), np.tanh(A[:, H:2 * H]), sigmoid(A[:, 2 * H:3 * H]), sigmoid(A[:, 3 * H:])
    c_next = f * c + g * i
    h_next = o * np.tanh(c_next)
    return h_next, c_next, (x, h, c, i, f, g, o, c_next)


def ref_lstm_step_back(dh_next, dc_next, cache, Wx, Wh):
    x, h, c, i, f, g, o, c_next = cache
    tc = np.tanh(c_next)
    ds = dc_next + dh_next * o * (1 - tc ** 2)
    dA = np.hstack((ds * c * f * (1 - f), ds * i * (1 - g ** 2), ds * g * i * (1 - i), dh_next * tc * o * (1 - o)))
    return dA @ Wx.T, dA @ Wh.T, ds * f, (x.T @ dA, h.T @ dA, dA.sum(0))


def ref_gru_step(x, h, Wx, Wh, b):
    H = h.shape[1]
    b = np.zeros(3 * H) if b is None else b
    z = sigmoid(x @ Wx[:, :H] + h @ Wh[:, :H] + b[:H])
    r = sigmoid(x @ Wx[:, H:2 * H] + h @ Wh[:, H:2 * H] + b[H:2 * H])
    hh = np.tanh(x @ Wx[:, 2 * H:] + (r * h) @ Wh[:, 2 * H:] + b[2 * H:])
    return (1 - z) * h + z * hh, (x, h, z, r, hh)


def ref_gru_step_back(dh_next, cache, Wx, Wh):
    x, h, z, r, hh = cache
    H = h.shape[1]
    dt_h = dh_next * z * (1 - hh ** 2)
    dhr = dt_h @ Wh[:, 2 * H:].T
    dh = dh_next * (1 - z) + r * dhr
    dt_z = dh_next * (hh - h) * z * (1 - z)
    dt_r = dhr * h * r * (1 - r)
    dA = np.hstack((dt_z, dt_r, dt_h))
    dx = dA @ Wx.T
    dh = dh + np.hstack((dt_z, dt_r)) @ Wh[:, :2 * H].T
    dWh = np.hstack((h.T @ dt_z, h.T @ dt_r, (r * h).T @ dt_h))
    return dx, dh, (x.T @ dA, dWh, dA.sum(0))


def ref_time_forward(kind, xs, params, h0=None, c0=None):
    """-> hs (N, T, H), h, c, caches (float64)."""
    xs = np.asarray(xs, np.float64)
    params = [np.asarray(p, np.float64) for p in params]
    Wx, Wh = params[:2]
    b = params[2] if len(params) == 3 else None
    N, T, _ = xs.shape
    H = Wh.shape[0]
    h = np.zeros((N, H)) if h0 is None else np.asarray(h0, np.float64)
    c = np.zeros((N, H)) if c0 is None else np.asarray(c0, np.float64)
    hs, caches = [], []
    for t in range(T):
        if kind == "LSTM":
            h, c, cache = ref_lstm_step(xs[:, t], h, c, Wx, Wh, b)
        elif kind == "GRU":
            h, cache = ref_gru_step(xs[:, t], h, Wx, Wh, b)
        else:
            h, cache = ref_rnn_step(xs[:, t], h, Wx, Wh, b)
        hs.append(h)
        caches.append(cache)
    return np.stack(hs, 1), h, c, caches


def ref_time_backward(kind, dhs, caches, params):
    """-> dxs, dh (initial h), grads summed over time."""
    dhs = np.asarray(dhs, np.float64)
    Wx, Wh = (np.asarray(p, np.float64) for p in params[:2])
    dh, dc = 0, 0
    total = [0, 0, 0]
    dxs = [None] * len(caches)
    for t in reversed(range(len(caches))):
        if kind == "LSTM":
            dx, dh, dc, g = ref_lstm_step_back(dhs[:, t] + dh, dc, caches[t], Wx, Wh)
        elif kind == "GRU":
            dx, dh, g = ref_gru_step_back(dhs[:, t] + dh, caches[t], Wx, Wh)
        else:
            dx, dh, g = ref_rnn_step_back(dhs[:, t] + dh, caches[t], Wx, Wh)
        dxs[t] = dx
        total = [a + b for a, b in zip(total, g)]
    return np.stack(dxs, 1), dh, total[:len(params)]


# --------------------------------------------------------------------------- fixtures
G = {"RNN": 1, "LSTM": 4, "GRU": 3}
TIME = {"RNN": L.TimeRNN, "LSTM": L.TimeLSTM, "GRU": L.TimeGRU}
STEP = {"RNN": L.RNN, "LSTM": L.LSTM, "GRU": L.GRU}


def make_params(kind, D, H, dtype=np.float32, seed=0, bias=True):
    rng = np.random.default_rng(seed)
    g = G[kind]
    p = [(rng.standard_normal((D, g * H)) / np.sqrt(D)).astype(dtype),
         (rng.standard_normal((H, g * H)) / np.sqrt(H)).astype(dtype)]
    if bias:
        p.append((rng.standard_normal(g * H) * 0.5).astype(dtype))
    return p


def data(shape, seed=1, dtype=np.float32):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


KINDS = ["RNN", "LSTM", "GRU"]
F32 = dict(rtol=2e-4, atol=2e-5)     # float32 kernels (rational tanh, float32 GEMM) vs float64 book
F64 = dict(rtol=1e-10, atol=1e-12)


# --------------------------------------------------------------------------- equations
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_time_layer_matches_book(kind, dtype):
    N, T, D, H = 3, 6, 5, 7
    params = make_params(kind, D, H, dtype)
    xs = data((N, T, D), dtype=dtype)
    dhs = data((N, T, H), seed=2, dtype=dtype)
    layer = TIME[kind](*params)
    hs = layer.forward(xs)
    dxs = layer.backward(dhs)

    ref_hs, ref_h, ref_c, caches = ref_time_forward(kind, xs, params)
    ref_dxs, ref_dh, ref_grads = ref_time_backward(kind, dhs, caches, params)
    tol = F32 if dtype == np.float32 else F64
    assert hs.dtype == np.float32 and dxs.dtype == np.float32
    assert hs.shape == (N, T, H) and dxs.shape == (N, T, D)
    out_tol = F32 if dtype == np.float32 else dict(rtol=1e-6, atol=1e-7)   # hs, dxs are float32
    np.testing.assert_allclose(hs, ref_hs, **out_tol)
    np.testing.assert_allclose(dxs, ref_dxs, **out_tol)
    np.testing.assert_allclose(layer.h, ref_h, **tol)
    np.testing.assert_allclose(layer.dh, ref_dh, **tol)
    if kind == "LSTM":
        np.testing.assert_allclose(layer.c, ref_c, **tol)
    for got, want in zip(layer.grads, ref_grads):
        np.testing.assert_allclose(got, want, **tol)
        assert got.dtype == dtype


@pytest.mark.parametrize("kind", KINDS)
def test_step_layer_matches_book(kind):
    N, D, H = 4, 5, 6
    params = make_params(kind, D, H)
    x, h = data((N, D), 3), data((N, H), 4)
    c = data((N, H), 5)
    dh, dc = data((N, H), 6), data((N, H), 7)
    P = [p.astype(np.float64) for p in params]
    layer = STEP[kind](*params)
    if kind == "LSTM":
        h1, c1 = layer.forward(x, h, c)
        rh, rc, cache = ref_lstm_step(x.astype(float), h.astype(float), c.astype(float), *P)
        np.testing.assert_allclose(c1, rc, **F32)
        dx, dhp, dcp = layer.backward(dh, dc)
        rdx, rdh, rdc, rg = ref_lstm_step_back(dh.astype(float), dc.astype(float), cache, *P[:2])
        np.testing.assert_allclose(dcp, rdc, **F32)
    else:
        h1 = layer.forward(x, h)
        step = ref_gru_step if kind == "GRU" else ref_rnn_step
        back = ref_gru_step_back if kind == "GRU" else ref_rnn_step_back
        rh, cache = step(x.astype(float), h.astype(float), *P)
        dx, dhp = layer.backward(dh)
        rdx, rdh, rg = back(dh.astype(float), cache, *P[:2])
    np.testing.assert_allclose(h1, rh, **F32)
    np.testing.assert_allclose(dx, rdx, **F32)
    np.testing.assert_allclose(dhp, rdh, **F32)
    for got, want in zip(layer.grads, rg):
        np.testing.assert_allclose(got, want, **F32)


def test_lstm_step_accepts_book_zero_dc():
    params = make_params("LSTM", 3, 4)
    x, h, c, dh = data((2, 3)), data((2, 4), 2), data((2, 4), 3), data((2, 4), 4)
    a, b = L.LSTM(*params), L.LSTM(*params)
    a.forward(x, h, c)
    b.forward(x, h, c)
    ra = a.backward(dh, 0)
    rb = b.backward(dh, np.zeros((2, 4), np.float32))
    for u, v in zip(ra, rb):
        np.testing.assert_array_equal(u, v)


def test_lstm_matches_oracle_with_gate_permutation():
    """Book LSTM blocks f, g, i, o == torch-layout oracle with w_ih = Wx[:, (i, f, g, o)].T."""
    N, T, D, H = 2, 5, 3, 4
    Wx, Wh, b = make_params("LSTM", D, H, np.float64)
    perm = np.concatenate([np.arange(2 * H, 3 * H), np.arange(0, H), np.arange(H, 2 * H), np.arange(3 * H, 4 * H)])
    xs = data((N, T, D), dtype=np.float64)
    out, h_n, c_n, _ = oracle.lstm_forward(xs.transpose(1, 0, 2), np.zeros((N, H)), np.zeros((N, H)),
                                           Wx[:, perm].T, Wh[:, perm].T, b[perm], None)
    layer = L.TimeLSTM(Wx, Wh, b)
    hs = layer.forward(xs)
    np.testing.assert_allclose(hs, out.transpose(1, 0, 2), rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(layer.c, c_n, **F64)


def test_gradients_match_finite_differences():
    """The book reference itself checked: d(Σ w·hs)/dθ by central differences (float64)."""
    N, T, D, H = 2, 3, 3, 4
    rng = np.random.default_rng(7)
    for kind in KINDS:
        params = make_params(kind, D, H, np.float64, seed=3)
        xs = rng.standard_normal((N, T, D))
        w = rng.standard_normal((N, T, H))
        layer = TIME[kind](*params)

        def loss():
            return float(np.sum(ref_time_forward(kind, xs, params)[0] * w))

        layer.forward(xs)
        dxs = layer.backward(w)
        eps = 1e-6
        for p, g in zip(params, layer.grads):
            for k in rng.choice(p.size, 4, replace=False):
                old = p.flat[k]
                p.flat[k] = old + eps
                up = loss()
                p.flat[k] = old - eps
                down = loss()
                p.flat[k] = old
                assert abs((up - down) / (2 * eps) - g.flat[k]) < 1e-6
        for k in rng.choice(xs.size, 4, replace=False):
            old = xs.flat[k]
            xs.flat[k] = old + eps
            up = loss()
            xs.flat[k] = old - eps
            down = loss()
            xs.flat[k] = old
            assert abs((up - down) / (2 * eps) - dxs.flat[k]) < 1e-5


@settings(max_examples=15, deadline=None)
@given(kind=st.sampled_from(KINDS), N=st.integers(1, 4), T=st.integers(1, 5),
       D=st.integers(1, 6), H=st.integers(1, 6), seed=st.integers(0, 2 ** 16))
def test_time_layers_random_shapes(kind, N, T, D, H, seed):
    params = make_params(kind, D, H, seed=seed)
    xs = data((N, T, D), seed + 1)
    dhs = data((N, T, H), seed + 2)
    layer = TIME[kind](*params)
    hs = layer.forward(xs)
    dxs = layer.backward(dhs)
    ref_hs, _, _, caches = ref_time_forward(kind, xs, params)
    ref_dxs, ref_dh, ref_grads = ref_time_backward(kind, dhs, caches, params)
    np.testing.assert_allclose(hs, ref_hs, **F32)
    np.testing.assert_allclose(dxs, ref_dxs, **F32)
    np.testing.assert_allclose(layer.dh, ref_dh, **F32)
    for got, want in zip(layer.grads, ref_grads):
        np.testing.assert_allclose(got, want, rtol=5e-4, atol=5e-5)


def test_bilstm_matches_book_composition():
    N, T, D, H = 2, 5, 3, 4
    p1, p2 = make_params("LSTM", D, H, seed=1), make_params("LSTM", D, H, seed=2)
    xs = data((N, T, D))
    dhs = data((N, T, 2 * H), 9)
    layer = L.TimeBiLSTM(*p1, *p2)
    assert all(a is b for a, b in zip(layer.params, p1 + p2))
    out = layer.forward(xs)
    dxs = layer.backward(dhs)
    o1, _, _, c1 = ref_time_forward("LSTM", xs, p1)
    o2, _, _, c2 = ref_time_forward("LSTM", xs[:, ::-1], p2)
    np.testing.assert_allclose(out, np.concatenate((o1, o2[:, ::-1]), axis=2), **F32)
    d1, _, g1 = ref_time_backward("LSTM", dhs[:, :, :H], c1, p1)
    d2, _, g2 = ref_time_backward("LSTM", dhs[:, ::-1, H:], c2, p2)
    np.testing.assert_allclose(dxs, d1 + d2[:, ::-1], **F32)
    for got, want in zip(layer.grads, g1 + g2):
        np.testing.assert_allclose(got, want, **F32)
    assert out.dtype == np.float32 and dxs.dtype == np.float32


# --------------------------------------------------------------------------- the book's contract
@pytest.mark.parametrize("kind", KINDS)
def test_params_grads_identity_and_inplace_updates(kind):
    N, T, D, H = 2, 4, 3, 5
    params = make_params(kind, D, H)
    layer = TIME[kind](*params)
    assert len(layer.params) == 3 and all(a is b for a, b in zip(layer.params, params))
    grads_before = list(layer.grads)
    assert all(g.shape == p.shape and g.dtype == p.dtype and not g.any() for g, p in zip(layer.grads, params))
    xs, dhs = data((N, T, D)), data((N, T, H), 2)
    layer.forward(xs)
    layer.backward(dhs)
    assert all(a is b for a, b in zip(layer.grads, grads_before))
    assert all(g.any() for g in layer.grads)

    # an optimizer updates params in place: the next call sees the new weights
    for p, g in zip(params, layer.grads):
        p -= 0.1 * g
    hs = layer.forward(xs)
    np.testing.assert_allclose(hs, ref_time_forward(kind, xs, params)[0], **F32)
    # and a clipping step scaling grads in place is not undone: grads are rewritten by backward only
    layer.backward(dhs)
    _, _, _, caches = ref_time_forward(kind, xs, params)
    for got, want in zip(layer.grads, ref_time_backward(kind, dhs, caches, params)[2]):
        np.testing.assert_allclose(got, want, **F32)
    assert all(a is b for a, b in zip(layer.grads, grads_before))


@pytest.mark.parametrize("kind", KINDS)
def test_stateful_carries_state_without_gradient_across_calls(kind):
    N, T, D, H = 2, 3, 4, 5
    params = make_params(kind, D, H)
    xs = data((N, 2 * T, D))
    dhs = data((N, T, H), 3)
    layer = TIME[kind](*params, stateful=True)
    hs1 = layer.forward(xs[:, :T])
    h1 = layer.h
    h1_copy = h1.copy()
    c1 = layer.c.copy() if kind == "LSTM" else None
    assert not np.shares_memory(h1, hs1)
    hs2 = layer.forward(xs[:, T:])
    np.testing.assert_array_equal(h1, h1_copy)          # the old .h is never written into
    ref_hs, ref_h, _, _ = ref_time_forward(kind, xs, params)
    np.testing.assert_allclose(np.concatenate([hs1, hs2], 1), ref_hs, **F32)
    np.testing.assert_allclose(layer.h, ref_h, **F32)
    assert not np.shares_memory(layer.h, hs2)

    # truncated BPTT: the second call's backward starts at its own initial state
    dxs = layer.backward(dhs)
    _, _, _, caches = ref_time_forward(kind, xs[:, T:], params, h1_copy, c1)
    ref_dxs, ref_dh, ref_grads = ref_time_backward(kind, dhs, caches, params)
    np.testing.assert_allclose(dxs, ref_dxs, **F32)
    np.testing.assert_allclose(layer.dh, ref_dh, **F32)
    for got, want in zip(layer.grads, ref_grads):
        np.testing.assert_allclose(got, want, **F32)

    layer.reset_state()
    assert layer.h is None
    np.testing.assert_array_equal(layer.forward(xs[:, :T]), hs1)


@pytest.mark.parametrize("kind", KINDS)
def test_not_stateful_starts_from_zeros(kind):
    params = make_params(kind, 3, 4)
    xs = data((2, 3, 3))
    layer = TIME[kind](*params)
    a = layer.forward(xs)
    layer.set_state(np.ones((2, 4), np.float32))
    np.testing.assert_array_equal(layer.forward(xs), a)


def test_lstm_set_state_keeps_references_and_c_none_means_zeros():
    N, T, D, H = 2, 3, 3, 4
    params = make_params("LSTM", D, H)
    xs = data((N, T, D))
    h0, c0 = data((N, H), 5), data((N, H), 6)
    h0_copy, c0_copy = h0.copy(), c0.copy()
    layer = L.TimeLSTM(*params, stateful=True)
    layer.set_state(h0, c0)
    assert layer.h is h0 and layer.c is c0
    hs = layer.forward(xs)
    np.testing.assert_allclose(hs, ref_time_forward("LSTM", xs, params, h0, c0)[0], **F32)
    np.testing.assert_array_equal(h0, h0_copy)
    np.testing.assert_array_equal(c0, c0_copy)
    layer.backward(data((N, T, H), 8))
    np.testing.assert_array_equal(h0, h0_copy)

    layer.set_state(h0)                     # c=None: zeros next time, h kept
    assert layer.c is None
    hs = layer.forward(xs)
    np.testing.assert_allclose(hs, ref_time_forward("LSTM", xs, params, h0, None)[0], **F32)
    layer.reset_state()
    assert layer.h is None and layer.c is None


@pytest.mark.parametrize("kind", KINDS)
def test_backward_twice_gives_the_same_result(kind):
    """As in the book, backward may be repeated after one forward (grads rewritten, not added)."""
    N, T, D, H = 2, 4, 3, 5
    params = make_params(kind, D, H)
    layer = TIME[kind](*params)
    layer.forward(data((N, T, D)))
    dhs = data((N, T, H), 2)
    first = layer.backward(dhs)
    grads = [g.copy() for g in layer.grads]
    dh = layer.dh.copy()
    np.testing.assert_array_equal(layer.backward(dhs), first)
    np.testing.assert_array_equal(layer.dh, dh)
    for g, want in zip(layer.grads, grads):
        np.testing.assert_array_equal(g, want)
    step = STEP[kind](*params)
    x, h = data((N, D), 3), data((N, H), 4)
    args = (x, h, data((N, H), 5)) if kind == "LSTM" else (x, h)
    step.forward(*args)
    dargs = (data((N, H), 6), data((N, H), 7)) if kind == "LSTM" else (data((N, H), 6),)
    a = step.backward(*dargs)
    b = step.backward(*dargs)
    for u, v in zip(a, b):
        np.testing.assert_array_equal(u, v)


def test_state_shape_mismatch_is_a_named_error():
    layer = L.TimeLSTM(*make_params("LSTM", 3, 4), stateful=True)
    layer.forward(data((2, 3, 3)))
    with pytest.raises(ValueError, match=r"state h must have shape \(N=5, H=4\), got \(2, 4\)"):
        layer.forward(data((5, 3, 3)))


@pytest.mark.parametrize("kind", KINDS)
def test_float64_weights_give_float32_outputs(kind):
    params = make_params(kind, 3, 4, np.float64)
    layer = TIME[kind](*params)
    hs = layer.forward(data((2, 3, 3)))
    dxs = layer.backward(data((2, 3, 4), 2))
    assert hs.dtype == np.float32 and dxs.dtype == np.float32
    assert all(g.dtype == np.float64 for g in layer.grads)


def test_caller_arrays_unchanged_and_odd_layouts_accepted():
    """Fortran weights (grads written via a temporary), reversed-stride and float64 inputs."""
    N, T, D, H = 3, 4, 5, 6
    params = make_params("LSTM", D, H)
    fparams = [np.asfortranarray(p) for p in params]
    copies = [p.copy() for p in fparams]
    xs = data((N, T, D), dtype=np.float64)[:, ::-1]
    dhs = data((N, T, H), 2)[::-1]
    xs_copy, dhs_copy = xs.copy(), dhs.copy()
    layer = L.TimeLSTM(*fparams)
    grads = list(layer.grads)
    assert layer.grads[0].flags.f_contiguous
    hs = layer.forward(xs)
    dxs = layer.backward(dhs)
    ref_hs, _, _, caches = ref_time_forward("LSTM", xs, params)
    ref_dxs, _, ref_grads = ref_time_backward("LSTM", dhs, caches, params)
    np.testing.assert_allclose(hs, ref_hs, **F32)
    np.testing.assert_allclose(dxs, ref_dxs, **F32)
    assert all(a is b for a, b in zip(layer.grads, grads))
    for got, want in zip(layer.grads, ref_grads):
        np.testing.assert_allclose(got, want, **F32)
    for p, c in zip(fparams, copies):
        np.testing.assert_array_equal(p, c)
    np.testing.assert_array_equal(xs, xs_copy)
    np.testing.assert_array_equal(dhs, dhs_copy)


def test_nan_propagates():
    layer = L.TimeGRU(*make_params("GRU", 3, 4))
    xs = data((2, 3, 3))
    xs[0, 1, 0] = np.nan
    hs = layer.forward(xs)
    assert np.isnan(hs[0, 1:]).all() and np.isfinite(hs[1]).all() and np.isfinite(hs[0, 0]).all()
    dxs = layer.backward(np.ones_like(hs))
    assert np.isfinite(dxs[1]).all()


def test_gru_without_bias_book_signature():
    Wx, Wh = make_params("GRU", 3, 4, bias=False)
    layer = L.TimeGRU(Wx, Wh, True)             # the book's TimeGRU(Wx, Wh, stateful)
    assert layer.stateful and len(layer.params) == 2 and len(layer.grads) == 2
    xs, dhs = data((2, 3, 3)), data((2, 3, 4), 2)
    hs = layer.forward(xs)
    dxs = layer.backward(dhs)
    ref_hs, _, _, caches = ref_time_forward("GRU", xs, [Wx, Wh])
    ref_dxs, _, ref_grads = ref_time_backward("GRU", dhs, caches, [Wx, Wh])
    np.testing.assert_allclose(hs, ref_hs, **F32)
    np.testing.assert_allclose(dxs, ref_dxs, **F32)
    assert layer.dWx is layer.grads[0] and layer.dWh is layer.grads[1]
    np.testing.assert_allclose(layer.dWx, ref_grads[0], **F32)
    np.testing.assert_allclose(layer.dWh, ref_grads[1], **F32)
    step = L.GRU(Wx, Wh)
    np.testing.assert_allclose(step.forward(xs[:, 0], np.zeros((2, 4), np.float32)), hs[:, 0], **F32)


def test_bad_shapes_are_named_errors():
    Wx, Wh, b = make_params("LSTM", 3, 4)
    with pytest.raises(ValueError, match=r"Wh must have shape \(H=4, 4\*H=16\), got \(4, 12\)"):
        L.TimeLSTM(Wx, Wh[:, :12], b)
    with pytest.raises(ValueError, match=r"Wx must have shape \(D, 4\*H=16\), got \(3, 15\)"):
        L.TimeLSTM(Wx[:, :15], Wh, b)
    with pytest.raises(ValueError, match=r"b must have shape \(4\*H=16,\), got \(15,\)"):
        L.TimeLSTM(Wx, Wh, b[:15])
    with pytest.raises(TypeError, match="Wx must be a numpy.ndarray"):
        L.TimeLSTM(Wx.tolist(), Wh, b)
    layer = L.TimeLSTM(Wx, Wh, b)
    with pytest.raises(ValueError, match=r"xs must have shape \(N, T, D=3\), got \(2, 5, 4\)"):
        layer.forward(np.zeros((2, 5, 4), np.float32))
    with pytest.raises(ValueError, match=r"xs must have shape \(N, T, D=3\), got \(5, 3\)"):
        layer.forward(np.zeros((5, 3), np.float32))
    with pytest.raises(ValueError, match="xs must not be empty"):
        layer.forward(np.zeros((2, 0, 3), np.float32))
    with pytest.raises(RuntimeError, match="before forward"):
        layer.backward(np.zeros((2, 5, 4), np.float32))
    layer.forward(np.zeros((2, 5, 3), np.float32))
    with pytest.raises(ValueError, match=r"dhs must have shape \(N=2, T=5, H=4\), got \(2, 5, 3\)"):
        layer.backward(np.zeros((2, 5, 3), np.float32))
    layer.backward(np.zeros((2, 5, 4), np.float32))          # still usable after the rejected call
    step = L.LSTM(Wx, Wh, b)
    with pytest.raises(ValueError, match=r"c_prev must have shape \(N=2, H=4\), got \(2, 3\)"):
        step.forward(np.zeros((2, 3), np.float32), np.zeros((2, 4), np.float32), np.zeros((2, 3), np.float32))
    with pytest.raises(TypeError, match="xs must hold numbers"):
        layer.forward(np.array([[["a"] * 3]]))


def test_rnnlm_training_curve_matches_book_reference():
    """Embedding -> stateful TimeLSTM -> TimeAffine -> TimeSoftmaxWithLoss trained with SGD in place
    (truncated BPTT over consecutive batches) follows the float64 book reference step for step."""
    V, D, H, N, T, lr = 11, 6, 6, 2, 5, 0.5
    rng = np.random.default_rng(0)
    embed_W = (rng.standard_normal((V, D)) / 100).astype(np.float32)
    Wx, Wh, b = make_params("LSTM", D, H, seed=1)
    affine_W = (rng.standard_normal((H, V)) / np.sqrt(H)).astype(np.float32)
    affine_b = np.zeros(V, np.float32)
    corpus = rng.integers(0, V, N * T * 4 + 1)
    params = [embed_W, Wx, Wh, b, affine_W, affine_b]
    ref = [p.astype(np.float64) for p in params]

    layers = [L.TimeEmbedding(embed_W), L.TimeLSTM(Wx, Wh, b, stateful=True),
              L.TimeAffine(affine_W, affine_b), L.TimeSoftmaxWithLoss()]
    model_params = sum((lay.params for lay in layers), [])
    model_grads = sum((lay.grads for lay in layers), [])
    assert all(a is c for a, c in zip(model_params, params))

    h = c = np.zeros((N, H))
    offsets = [k * (len(corpus) // N) for k in range(N)]
    for it in range(4):
        xs = np.array([[corpus[(o + it * T + t) % (len(corpus) - 1)] for t in range(T)] for o in offsets])
        ts = np.array([[corpus[(o + it * T + t) % (len(corpus) - 1) + 1] for t in range(T)] for o in offsets])
        # fastrnn.layers, exactly as the book's Rnnlm + SGD use them
        out = xs
        for lay in layers[:-1]:
            out = lay.forward(out)
        loss = layers[-1].forward(out, ts)
        dout = layers[-1].backward()
        for lay in reversed(layers[:-1]):
            dout = lay.backward(dout)
        for p, g in zip(model_params, model_grads):
            p -= lr * g

        # float64 reference
        rE, rWx, rWh, rb, rAW, rAb = ref
        ex = rE[xs]
        hs, h_new, c_new, caches = ref_time_forward("LSTM", ex, [rWx, rWh, rb], h, c)
        scores = hs.reshape(N * T, H) @ rAW + rAb
        e = np.exp(scores - scores.max(1, keepdims=True))
        ys = e / e.sum(1, keepdims=True)
        rows = np.arange(N * T)
        ref_loss = -np.mean(np.log(ys[rows, ts.reshape(-1)]))
        ds = ys.copy()
        ds[rows, ts.reshape(-1)] -= 1
        ds /= N * T
        dAW, dAb = hs.reshape(N * T, H).T @ ds, ds.sum(0)
        dhs = (ds @ rAW.T).reshape(N, T, H)
        dex, _, (dWx, dWh, db) = ref_time_backward("LSTM", dhs, caches, [rWx, rWh, rb])
        dE = np.zeros_like(rE)
        np.add.at(dE, xs.reshape(-1), dex.reshape(N * T, D))
        for p, g in zip(ref, [dE, dWx, dWh, db, dAW, dAb]):
            p -= lr * g
        h, c = h_new, c_new

        np.testing.assert_allclose(loss, ref_loss, rtol=1e-5)
        for p, r in zip(params, ref):
            np.testing.assert_allclose(p, r, rtol=1e-4, atol=1e-5)
