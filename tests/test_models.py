"""fastrnn.models: the book's parameter lists, forward = the book's equations (recurrent layers by
the oracle in the book's layout, the rest written out here), gradients = finite differences,
generation, and .npz persistence."""
import numpy as np
import pytest

from fastrnn import models as M
from fastrnn.train import merge_shared
from helpers import book_forward, numeric_directional

V, D, H = 11, 5, 7


# --- the book's equations in NumPy (float64) -----------------------------------------------------

def _softmax(x):
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def book_lstm(xs, Wx, Wh, b, h=None, c=None):
    """Book LSTM over time, blocks f, g, i, o (the oracle's, float64). xs (N, T, D) -> hs (N, T, H)."""
    return book_forward("lstm", xs, Wx, Wh, b, h, c)[0]


def book_rnn(xs, Wx, Wh, b):
    """Book tanh RNN over time (the oracle's, float64). xs (N, T, D) -> hs (N, T, H)."""
    return book_forward("rnn", xs, Wx, Wh, b)[0]


def cross_entropy(scores, ts):
    p = _softmax(scores)
    return -np.mean(np.log(np.take_along_axis(p, ts[..., None], axis=-1)))


def ref_rnnlm(params, xs, ts, cell=book_lstm):
    E, Wx, Wh, b, W, bb = [np.asarray(p, np.float64) for p in params]
    return cross_entropy(cell(E[xs], Wx, Wh, b) @ W + bb, ts)


def ref_better_rnnlm(params, xs, ts):
    E, Wx1, Wh1, b1, Wx2, Wh2, b2, W, bb = [np.asarray(p, np.float64) for p in params]
    hs = book_lstm(book_lstm(E[xs], Wx1, Wh1, b1), Wx2, Wh2, b2)
    return cross_entropy(hs @ W + bb, ts)


def ref_seq2seq(kind, params, xs, ts):
    p = [np.asarray(a, np.float64) for a in params]
    E1, Wx1, Wh1, b1, E2, Wx2, Wh2, b2, W, bb = p
    enc = book_lstm(E1[xs], Wx1, Wh1, b1)
    h = enc[:, -1]
    dx, dt = ts[:, :-1], ts[:, 1:]
    emb = E2[dx]
    N, T = dx.shape
    if kind == "plain":
        out = book_lstm(emb, Wx2, Wh2, b2, h=h)
    elif kind == "peeky":
        hh = np.repeat(h[:, None], T, axis=1)
        out = np.concatenate([hh, book_lstm(np.concatenate([hh, emb], axis=2), Wx2, Wh2, b2, h=h)], axis=2)
    else:
        dec = book_lstm(emb, Wx2, Wh2, b2, h=h)
        a = _softmax(np.einsum("nsh,nth->nts", enc, dec))       # (N, Td, Te)
        ctx = np.einsum("nts,nsh->nth", a, enc)
        out = np.concatenate([ctx, dec], axis=2)
    return cross_entropy(out @ W + bb, dt)


# --- fixtures --------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def batch():
    rng = np.random.default_rng(0)
    return rng.integers(0, V, (3, 6)), rng.integers(0, V, (3, 5))


@pytest.fixture
def keep_global_rng():
    state = np.random.get_state()
    yield
    np.random.set_state(state)


def _same_state(a, b):
    return a[0] == b[0] and np.array_equal(a[1], b[1]) and a[2:] == b[2:]


LM = [(M.SimpleRnnlm, 1), (M.Rnnlm, 4), (M.RnnlmGen, 4)]
S2S = [(M.Seq2seq, "plain"), (M.PeekySeq2seq, "peeky"), (M.AttentionSeq2seq, "attention")]


# --- parameter lists ---------------------------------------------------------------------------------

@pytest.mark.parametrize("cls, G", LM, ids=lambda v: getattr(v, "__name__", str(v)))
def test_lm_params_in_book_order(cls, G):
    m = cls(V, D, H, seed=0)
    assert [p.shape for p in m.params] == [(V, D), (D, G * H), (H, G * H), (G * H,), (H, V), (V,)]
    assert [g.shape for g in m.grads] == [p.shape for p in m.params]
    assert all(p.dtype == np.float32 for p in m.params)
    layer_params = [p for layer in m.layers for p in layer.params]
    assert all(a is b for a, b in zip(m.params, layer_params))
    assert all(a is b for a, b in zip(m.grads, [g for layer in m.layers for g in layer.grads]))
    assert not m.params[3].any() and not m.params[5].any()             # biases start at 0


def test_better_rnnlm_nine_params_tied():
    m = M.BetterRnnlm(V, H, H, seed=0)
    shapes = [(V, H), (H, 4 * H), (H, 4 * H), (4 * H,), (H, 4 * H), (H, 4 * H), (4 * H,), (H, V), (V,)]
    assert [p.shape for p in m.params] == shapes
    assert m.params[7].base is m.params[0] and np.shares_memory(m.params[7], m.params[0])
    np.testing.assert_array_equal(m.params[7], m.params[0].T)
    kept, _ = merge_shared(m.params, m.grads)
    assert len(kept) == 8
    with pytest.raises(ValueError, match="wordvec_size"):
        M.BetterRnnlm(V, D, H)


@pytest.mark.parametrize("cls, kind", S2S, ids=lambda v: getattr(v, "__name__", str(v)))
def test_seq2seq_params_in_book_order(cls, kind):
    m = cls(V, D, H, seed=0)
    dec_in = H + D if kind == "peeky" else D
    aff_in = H if kind == "plain" else 2 * H
    assert [p.shape for p in m.params] == [
        (V, D), (D, 4 * H), (H, 4 * H), (4 * H,),
        (V, D), (dec_in, 4 * H), (H, 4 * H), (4 * H,), (aff_in, V), (V,)]
    assert all(a is b for a, b in zip(m.params, m.encoder.params + m.decoder.params))


def test_init_follows_book_scales_and_seed():
    before = np.random.get_state()
    m = M.Rnnlm(400, 100, 100, seed=1)
    assert _same_state(before, np.random.get_state())
    assert np.std(m.params[0]) == pytest.approx(1 / 100, rel=0.05)
    assert np.std(m.params[1]) == pytest.approx(1 / np.sqrt(100), rel=0.05)
    assert np.std(m.params[4]) == pytest.approx(1 / np.sqrt(100), rel=0.05)
    again, other = M.Rnnlm(400, 100, 100, seed=1), M.Rnnlm(400, 100, 100, seed=2)
    assert all(np.array_equal(a, b) for a, b in zip(m.params, again.params))
    assert not np.array_equal(m.params[1], other.params[1])
    g = M.Rnnlm(400, 100, 100, seed=np.random.default_rng(1))
    assert all(np.array_equal(a, b) for a, b in zip(m.params, g.params))
    assert M.Rnnlm(V, D, H, dtype=np.float64).params[0].dtype == np.float64
    with pytest.raises(ValueError, match="dtype"):
        M.Rnnlm(V, D, H, dtype=np.int32)


# --- forward = the book's equations ------------------------------------------------------------------

def test_lm_forward_matches_book(batch):
    xs, _ = batch
    ts = np.roll(xs, -1, axis=1)
    for cls, cell in ((M.SimpleRnnlm, book_rnn), (M.Rnnlm, book_lstm)):
        m = cls(V, D, H, seed=3)
        for p in m.params:
            p += np.random.default_rng(4).standard_normal(p.shape).astype(p.dtype) * 0.3   # non-trivial
        assert m.forward(xs, ts) == pytest.approx(ref_rnnlm(m.params, xs, ts, cell), rel=1e-5)
        assert m.predict(xs).shape == (3, 6, V)
    b = M.BetterRnnlm(V, H, H, seed=3)
    assert b.forward(xs, ts, train_flg=False) == pytest.approx(ref_better_rnnlm(b.params, xs, ts), rel=1e-5)


def test_lm_is_stateful_until_reset(batch):
    xs, _ = batch
    ts = np.roll(xs, -1, axis=1)
    m = M.Rnnlm(V, D, H, seed=3)
    first = m.forward(xs, ts)
    assert m.forward(xs, ts) != first                 # carried state
    m.reset_state()
    assert m.forward(xs, ts) == first


@pytest.mark.parametrize("cls, kind", S2S, ids=lambda v: getattr(v, "__name__", str(v)))
def test_seq2seq_forward_matches_book(cls, kind, batch):
    xs, ts = batch
    m = cls(V, D, H, seed=5)
    rng = np.random.default_rng(6)
    for p in m.params:
        p += rng.standard_normal(p.shape).astype(p.dtype) * 0.3
    assert m.forward(xs, ts) == pytest.approx(ref_seq2seq(kind, m.params, xs, ts), rel=1e-5)


# --- gradients = finite differences (float64 weights) -------------------------------------------------

def _fd_check(model, loss_fn, params, grads, eps=1e-4, rtol=5e-3, seed=0):
    """Directional derivative along a random direction, one per parameter array."""
    rng = np.random.default_rng(seed)
    for i, (p, g) in enumerate(zip(params, grads)):
        d = rng.standard_normal(p.shape)
        fd = numeric_directional(loss_fn, p, d, eps)
        an = float(np.sum(g * d))
        assert an == pytest.approx(fd, rel=rtol, abs=2e-7), f"param {i} {p.shape}"


def _grads_of(model, loss_fn):
    loss_fn()
    model.backward()
    params, grads = merge_shared(model.params, model.grads)
    return params, [g.copy() for g in grads]


@pytest.mark.parametrize("cls", [M.SimpleRnnlm, M.Rnnlm])
def test_lm_gradient(cls, batch):
    xs, _ = batch
    ts = np.roll(xs, -1, axis=1)
    m = cls(V, D, H, seed=7, dtype=np.float64)

    def loss():
        m.reset_state()
        return m.forward(xs, ts)

    params, grads = _grads_of(m, loss)
    _fd_check(m, loss, params, grads)


def test_better_rnnlm_gradient_with_dropout_and_tying(batch, keep_global_rng):
    xs, _ = batch
    ts = np.roll(xs, -1, axis=1)
    m = M.BetterRnnlm(V, H, H, dropout_ratio=0.3, seed=7, dtype=np.float64)

    def loss():
        m.reset_state()
        np.random.seed(11)             # the book's dropout draws from the global RNG: same masks
        return m.forward(xs, ts)

    params, grads = _grads_of(m, loss)
    assert len(params) == 8            # embed_W once: its grad holds both uses
    _fd_check(m, loss, params, grads)


@pytest.mark.parametrize("cls, kind", S2S, ids=lambda v: getattr(v, "__name__", str(v)))
def test_seq2seq_gradient(cls, kind, batch):
    xs, ts = batch
    m = cls(V, D, H, seed=8, dtype=np.float64)
    params, grads = _grads_of(m, lambda: m.forward(xs, ts))
    _fd_check(m, lambda: m.forward(xs, ts), params, grads)


# --- generation ----------------------------------------------------------------------------------------

def test_rnnlm_gen_reproducible_and_book_sampling():
    m = M.RnnlmGen(V, D, H, seed=0)
    before = np.random.get_state()
    a = m.generate(3, sample_size=30, seed=42)
    m.reset_state()
    b = m.generate(3, sample_size=30, seed=42)
    m.reset_state()
    c = m.generate(3, sample_size=30, rng=np.random.default_rng(43))
    assert _same_state(before, np.random.get_state())
    assert a == b and a != c
    assert len(a) == 30 and a[0] == 3 and all(isinstance(i, int) for i in a)
    # the second id is drawn from softmax(predict(start)) with the given Generator
    m.reset_state()
    p = _softmax(m.predict(np.array([[3]])).reshape(-1).astype(np.float64))
    assert a[1] == np.random.default_rng(42).choice(V, p=p)


def test_generate_respects_skip_ids():
    m = M.BetterRnnlmGen(V, H, H, seed=0)
    skip = [0, 1, 2, 5, 7]
    ids = m.generate(5, skip_ids=skip, sample_size=60, seed=1)
    assert len(ids) == 60 and ids[0] == 5 and not set(ids[1:]) & set(skip)
    m.reset_state()
    assert ids == m.generate(5, skip_ids=skip, sample_size=60, seed=1)
    with pytest.raises(ValueError, match="skip_ids"):
        m.generate(0, skip_ids=range(V), sample_size=3)
    with pytest.raises(ValueError, match="start_id"):
        m.generate(V, sample_size=3)
    states = m.get_state()
    assert len(states) == 2 and states[0][0].shape == (1, H)


@pytest.mark.parametrize("cls, kind", S2S, ids=lambda v: getattr(v, "__name__", str(v)))
def test_seq2seq_generate_is_greedy_decoding(cls, kind):
    rng = np.random.default_rng(9)
    m = cls(V, D, H, seed=9)
    for p in m.params:
        p += rng.standard_normal(p.shape).astype(p.dtype)
    xs = rng.integers(0, V, (4, 6))
    gen = m.generate(xs, np.array([1, 2, 3, 4]), 5)
    assert isinstance(gen, np.ndarray) and gen.shape == (4, 5)
    # fed its own outputs, the teacher-forced decoder predicts the same ids
    dec_in = np.concatenate([[[1], [2], [3], [4]], gen[:, :-1]], axis=1)
    np.testing.assert_array_equal(m.predict(xs, dec_in).argmax(axis=2), gen)
    # one question at a time: the book's list of ints, same answers
    for n in range(4):
        one = m.generate(xs[[n]], n + 1, 5)
        assert isinstance(one, list) and all(isinstance(i, int) for i in one)
        assert one == gen[n].tolist()
    assert m.generate(xs[[0]], 1, 0) == []


def test_attention_weights():
    m = M.AttentionSeq2seq(V, D, H, seed=0)
    xs, ts = np.random.default_rng(1).integers(0, V, (3, 6)), np.random.default_rng(2).integers(0, V, (3, 4))
    m.forward(xs, ts)
    w = m.attention_weights
    assert len(w) == 3 and all(a.shape == (3, 6) for a in w)
    np.testing.assert_allclose(np.sum(w, axis=2), 1.0, rtol=1e-5)
    m.generate(xs[[0]], 1, 7)
    assert len(m.attention_weights) == 7 and m.attention_weights[0].shape == (1, 6)


# --- save / load ------------------------------------------------------------------------------------------

def test_save_load_round_trip(tmp_path, batch):
    xs, ts = batch
    m = M.AttentionSeq2seq(V, D, H, seed=0)
    path = m.save_params(tmp_path / "att")
    assert path.endswith(".npz")
    with np.load(path, allow_pickle=False) as f:      # plain arrays only
        assert str(f["model"]) == "AttentionSeq2seq" and len([k for k in f.files if k.startswith("param_")]) == 10
    loss = m.forward(xs, ts)
    ids = [id(p) for p in m.params]
    for p in m.params:
        p[...] = 0.5
    m.load_params(tmp_path / "att")                   # '.npz' found as save_params wrote it
    assert [id(p) for p in m.params] == ids
    assert m.forward(xs, ts) == loss
    other = M.AttentionSeq2seq(V, D, H, seed=1)
    other.load_params(path)
    assert all(np.array_equal(a, b) for a, b in zip(other.params, m.params))


def test_tied_and_gen_models_load(tmp_path):
    b = M.BetterRnnlm(V, H, H, seed=0)
    path = b.save_params(tmp_path / "better.npz")
    g = M.BetterRnnlmGen(V, H, H, seed=1)
    g.load_params(path)
    assert all(np.array_equal(p, q) for p, q in zip(g.params, b.params))
    assert g.params[7].base is g.params[0]
    r = M.Rnnlm(V, D, H, seed=0)
    gen = M.RnnlmGen(V, D, H, seed=5)
    gen.load_params(r.save_params(tmp_path / "rnnlm"))
    np.testing.assert_array_equal(gen.params[2], r.params[2])


def test_load_errors_leave_model_unchanged(tmp_path):
    m = M.PeekySeq2seq(V, D, H, seed=0)
    snapshot = [p.copy() for p in m.params]

    def unchanged():
        return all(np.array_equal(p, s) for p, s in zip(m.params, snapshot))

    other_model = M.Seq2seq(V, D, H, seed=1).save_params(tmp_path / "s2s")
    with pytest.raises(ValueError, match="PeekySeq2seq.*Seq2seq"):
        m.load_params(other_model)
    assert unchanged()
    wrong_shape = M.PeekySeq2seq(V, D, H + 1, seed=1).save_params(tmp_path / "big")
    with pytest.raises(ValueError, match=r"parameter 1 expected shape"):
        m.load_params(wrong_shape)
    assert unchanged()
    pickled = tmp_path / "obj.npz"
    np.savez(pickled, model=np.array("PeekySeq2seq"), param_000=np.array([{"a": 1}], dtype=object))
    with pytest.raises(ValueError, match="path"):
        m.load_params(pickled)
    assert unchanged()
    few = tmp_path / "few.npz"
    np.savez(few, model=np.array("PeekySeq2seq"), param_000=snapshot[0])
    with pytest.raises(ValueError, match="10 parameters"):
        m.load_params(few)
    assert unchanged()
    with pytest.raises(FileNotFoundError):
        m.load_params(tmp_path / "missing.npz")


# --- sequence regression / classification ------------------------------------------------------------------

@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
@pytest.mark.parametrize("many_to_many", [False, True])
def test_regressor_loss_and_gradient(cell, many_to_many):
    rng = np.random.default_rng(0)
    xs = rng.standard_normal((4, 5, 2))
    m = M.SequenceRegressor(2, 6, 3, cell=cell, many_to_many=many_to_many, seed=0, dtype=np.float64)
    out_shape = (4, 5, 3) if many_to_many else (4, 3)
    ts = rng.standard_normal(out_shape)
    y = m.predict(xs)
    assert y.shape == out_shape
    assert m.forward(xs, ts) == pytest.approx(np.mean((y - ts) ** 2), rel=1e-12)
    params, grads = _grads_of(m, lambda: m.forward(xs, ts))
    assert [p.shape for p in m.params][-2:] == [(6, 3), (3,)]
    _fd_check(m, lambda: m.forward(xs, ts), params, grads)
    with pytest.raises(ValueError, match="ts"):
        m.forward(xs, ts[:2])


def test_regressor_learns_sine():
    from fastrnn.datasets import sine_wave
    from fastrnn.optim import Adam
    from fastrnn.train import Trainer
    (x, t), (xt, tt) = sine_wave(n_samples=256, time_size=12, noise=0.02, seed=0)
    m = M.SequenceRegressor(1, 16, 1, seed=0)
    before = float(np.mean((m.predict(xt) - tt) ** 2))
    Trainer(m, Adam(lr=0.01), seed=0, progress=False).fit(x, t, max_epoch=8, batch_size=16, max_grad=1.0)
    assert float(np.mean((m.predict(xt) - tt) ** 2)) < 0.2 * before


@pytest.mark.parametrize("num_classes", [2, 4])
def test_classifier_lengths_padding_and_gradient(num_classes):
    rng = np.random.default_rng(1)
    xs = rng.integers(0, V, (5, 8))
    lengths = np.array([8, 3, 5, 1, 6])
    padded = xs.copy()
    for n, L in enumerate(lengths):
        padded[n, L:] = -1
    m = M.SequenceClassifier(V, 4, 6, num_classes=num_classes, seed=0, dtype=np.float64)
    score = m.predict(padded)
    assert score.shape == ((5,) if num_classes == 2 else (5, num_classes))
    # lengths inferred from the padding = explicit lengths; what follows a sequence does not matter
    np.testing.assert_array_equal(score, m.predict(xs, lengths))
    np.testing.assert_array_equal(score, m.predict(np.where(padded < 0, 0, padded), lengths))
    proba = m.predict_proba(padded)
    assert proba.shape == (5, num_classes)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    ts = rng.integers(0, num_classes, 5)

    def loss():
        return m.forward(padded, ts)

    params, grads = _grads_of(m, loss)
    # padding never reaches the embedding: row 0 gets gradient only from real zeros
    if not (xs[padded >= 0] == 0).any():
        assert not grads[0][0].any()
    _fd_check(m, loss, params, grads)
    with pytest.raises(ValueError, match="lengths"):
        m.predict(xs, np.array([0, 1, 2, 3, 4]))
    with pytest.raises(ValueError, match="num_classes"):
        M.SequenceClassifier(V, num_classes=1)


def test_classifier_learns_with_trainer():
    from fastrnn.examples.classify import make_data
    from fastrnn.optim import Adam
    from fastrnn.train import Trainer
    x, t = make_data(512, num_classes=2, max_len=12, seed=0)
    m = M.SequenceClassifier(12, 8, 16, num_classes=2, seed=0)
    tr = Trainer(m, Adam(lr=0.01), seed=0, progress=False).fit(x, t, max_epoch=6, batch_size=32)
    assert tr.epoch_losses[-1] < 0.8 * tr.epoch_losses[0]
    assert m.accuracy(x, t) > 0.7


def test_constructor_sizes_are_checked():
    with pytest.raises(ValueError, match="vocab_size"):
        M.Rnnlm(0, D, H)
    with pytest.raises(TypeError, match="wordvec_size"):
        M.AttentionSeq2seq(V, 5.0, H)
    with pytest.raises(ValueError, match="hidden_size"):
        M.SequenceRegressor(1, -3)
    with pytest.raises(ValueError, match="cell"):
        M.SequenceClassifier(V, cell="transformer")
