"""fastrnn.layers recurrent layers against the book's equations, computed by the oracle.

The reference is fastrnn.oracle in float64 run in the book's layout (helpers.book_forward /
book_backward): LSTM column blocks f, g, i, o; GRU blocks z, r, h̃ with the reset before the
recurrent matmul and h' = (1 − z) h + z h̃ (the oracle's reset_after=False, blend="book");
RNN tanh; a single bias. Time layers loop the step, backward starts from dh = 0 (dc = 0) and
adds dhs[:, t] at each step. That reference is itself checked against the book's own code
(bench/reference/book.py, "Deep Learning from Scratch 2" common/time_layers.py), which the
RNNLM training curve also follows.
"""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import fastrnn.layers as L
from fastrnn import _cells
from bench.reference import book
from fastrnn import oracle
from helpers import book_backward, book_forward, book_to_torch, numeric_grad


# --------------------------------------------------------------------------- book reference (the oracle)
def ref_time_forward(kind, xs, params, h0=None, c0=None):
    """The book's Time layer by the oracle -> hs (N, T, H), h, c (LSTM), cache (float64)."""
    b = params[2] if len(params) == 3 else None
    return book_forward(kind.lower(), xs, params[0], params[1], b, h0, c0)


def ref_time_backward(dhs, cache):
    """-> dxs, dh (initial h), book-layout grads summed over time (float64)."""
    dxs, dh, _, grads = book_backward(cache, dhs)
    return dxs, dh, grads


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
    ref_dxs, ref_dh, ref_grads = ref_time_backward(dhs, caches)
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
    """A step layer is the book's Time layer with T = 1 from the given states, and its backward
    takes the final states' gradients (dh_next, dc_next)."""
    N, D, H = 4, 5, 6
    params = make_params(kind, D, H)
    x, h = data((N, D), 3), data((N, H), 4)
    c = data((N, H), 5)
    dh, dc = data((N, H), 6), data((N, H), 7)
    lstm = kind == "LSTM"
    layer = STEP[kind](*params)
    _, rh, rc, cache = ref_time_forward(kind, x[:, None], params, h, c if lstm else None)
    rdx, rdh, rdc, rg = book_backward(cache, np.zeros((N, 1, H)), dh, dc if lstm else None)
    if lstm:
        h1, c1 = layer.forward(x, h, c)
        np.testing.assert_allclose(c1, rc, **F32)
        dx, dhp, dcp = layer.backward(dh, dc)
        np.testing.assert_allclose(dcp, rdc, **F32)
    else:
        h1 = layer.forward(x, h)
        dx, dhp = layer.backward(dh)
    np.testing.assert_allclose(h1, rh, **F32)
    np.testing.assert_allclose(dx, rdx[:, 0], **F32)
    np.testing.assert_allclose(dhp, rdh, **F32)
    for got, want in zip(layer.grads, rg):
        np.testing.assert_allclose(got, want, **F32)


@pytest.mark.parametrize("bias", [True, False])
# (the LSTM variants' book layers take a 4th array after b: tests/test_lstm_variants.py)
@pytest.mark.parametrize("name", [n for n, c in _cells.CELLS.items() if "book" in c.layouts and not c.variant_of])
def test_time_recurrent_of_every_registered_cell_matches_its_oracle(name, bias):
    """TimeRecurrent(name, ...) (the book face of any registry cell) against the cell's oracle in
    the book's layout: outputs, final states, dxs, dh and the weight gradients, twice (a
    repeated backward gives the same), float32 weights."""
    cell = _cells.get(name)
    N, T, D, H = 3, 5, 4, 6
    rng = np.random.default_rng(81)
    params = [(rng.standard_normal(p.shape(D, H, cell.gates)) / 2).astype(np.float32)
              for p in cell.params("book", bias)]
    xs, dhs = data((N, T, D), 82), data((N, T, H), 83)
    layer = L.TimeRecurrent(name, *params)
    assert layer.params[0] is params[0] and len(layer.grads) == len(params)
    hs = layer.forward(xs)
    r_hs, r_h, r_c, cache = book_forward(name, xs, *params)
    r_dxs, r_dh, _, r_grads = book_backward(cache, dhs)
    np.testing.assert_allclose(hs, r_hs, **F32)
    np.testing.assert_allclose(layer.h, r_h, **F32)
    if r_c is not None:
        np.testing.assert_allclose(layer.c, r_c, **F32)
    for _ in range(2):
        dxs = layer.backward(dhs)
        np.testing.assert_allclose(dxs, r_dxs, **F32)
        np.testing.assert_allclose(layer.dh, r_dh, **F32)
        for got, want in zip(layer.grads, r_grads):
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
    # the helpers' conversion (the reference of every other test here) is that permutation
    w_ih, w_hh, b_ih, b_hh = book_to_torch(_cells.get("lstm").layouts["book"].blocks, Wx, Wh, b)
    np.testing.assert_array_equal(w_ih, Wx[:, perm].T)
    np.testing.assert_array_equal(w_hh, Wh[:, perm].T)
    np.testing.assert_array_equal(b_ih, b[perm])
    assert not b_hh.any()


BOOK_STEP = {"RNN": book.RNN, "LSTM": book.LSTM, "GRU": book.GRU}


@pytest.mark.parametrize("kind", KINDS)
def test_reference_is_the_books_code(kind):
    """The oracle in the book's layout (the reference of the tests here) equals the book's own step
    layers (bench/reference/book.py) looped as the book's Time layers loop them, in float64."""
    N, T, D, H = 3, 4, 5, 6
    params = make_params(kind, D, H, np.float64)
    xs, dhs = data((N, T, D), dtype=np.float64), data((N, T, H), 2, np.float64)
    h0, c0 = data((N, H), 3, np.float64), data((N, H), 4, np.float64)
    lstm = kind == "LSTM"
    steps, hs, h, c = [], [], h0, c0
    for t in range(T):
        steps.append(BOOK_STEP[kind](*params))
        if lstm:
            h, c = steps[t].forward(xs[:, t], h, c)
        else:
            h = steps[t].forward(xs[:, t], h)
        hs.append(h)
    dxs, dh, dc, grads = [None] * T, 0, 0, [0, 0, 0]
    for t in reversed(range(T)):
        if lstm:
            dxs[t], dh, dc = steps[t].backward(dhs[:, t] + dh, dc)
        else:
            dxs[t], dh = steps[t].backward(dhs[:, t] + dh)
        grads = [a + g for a, g in zip(grads, steps[t].grads)]

    ref_hs, ref_h, ref_c, cache = ref_time_forward(kind, xs, params, h0, c0 if lstm else None)
    ref_dxs, ref_dh, ref_grads = ref_time_backward(dhs, cache)
    np.testing.assert_allclose(np.stack(hs, 1), ref_hs, **F64)
    np.testing.assert_allclose(h, ref_h, **F64)
    if lstm:
        np.testing.assert_allclose(c, ref_c, **F64)
    np.testing.assert_allclose(np.stack(dxs, 1), ref_dxs, **F64)
    np.testing.assert_allclose(dh, ref_dh, **F64)
    assert len(ref_grads) == 3
    for got, want in zip(grads, ref_grads):
        np.testing.assert_allclose(got, want, **F64)


def test_gradients_match_finite_differences():
    """The layers' gradients against central differences of the reference (float64)."""
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
        for p, g in zip(params, layer.grads):
            assert np.abs(numeric_grad(loss, p, 1e-6) - g).max() < 1e-6
        assert np.abs(numeric_grad(loss, xs, 1e-6) - dxs).max() < 1e-5


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
    ref_dxs, ref_dh, ref_grads = ref_time_backward(dhs, caches)
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
    d1, _, g1 = ref_time_backward(dhs[:, :, :H], c1)
    d2, _, g2 = ref_time_backward(dhs[:, ::-1, H:], c2)
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
    for got, want in zip(layer.grads, ref_time_backward(dhs, caches)[2]):
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
    ref_dxs, ref_dh, ref_grads = ref_time_backward(dhs, caches)
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
    ref_dxs, _, ref_grads = ref_time_backward(dhs, caches)
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
    ref_dxs, _, ref_grads = ref_time_backward(dhs, caches)
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
    with pytest.raises(ValueError, match=r"xs must have shape \(N, T, D=3\) \(D: the rows of Wx, params\[0\]\), got \(2, 5, 4\)"):
        layer.forward(np.zeros((2, 5, 4), np.float32))
    with pytest.raises(ValueError, match=r"xs must have shape \(N, T, D=3\) \(D: the rows of Wx, params\[0\]\), got \(5, 3\)"):
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
    (truncated BPTT over consecutive batches) follows the book's own code step for step: its stateful
    TimeLSTM (bench/reference/book.py) with float64 weights (hs, dxs stored in float32 as the book
    does), embedding, affine and softmax loss written out in float64."""
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

    rE, rWx, rWh, rb, rAW, rAb = ref
    book_lstm = book.TimeLSTM(rWx, rWh, rb, stateful=True)     # updated in place with ref below
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

        # the book's reference
        ex = rE[xs]
        hs = book_lstm.forward(ex)
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
        dex = book_lstm.backward(dhs)
        dWx, dWh, db = book_lstm.grads
        dE = np.zeros_like(rE)
        np.add.at(dE, xs.reshape(-1), dex.reshape(N * T, D))
        for p, g in zip(ref, [dE, dWx, dWh, db, dAW, dAb]):
            p -= lr * g

        np.testing.assert_allclose(loss, ref_loss, rtol=1e-5)
        for p, r in zip(params, ref):
            np.testing.assert_allclose(p, r, rtol=1e-4, atol=1e-5)
