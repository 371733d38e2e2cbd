"""fastrnn.train on tiny pure-NumPy models: the book's loop, shared weights by identity, history, RNG."""
import math
import sys

import numpy as np
import pytest

from fastrnn.optim import SGD, Adam
from fastrnn.train import Trainer, RnnlmTrainer, eval_perplexity, eval_seq2seq, seq2seq_accuracy, merge_shared


def _softmax_ce(scores, ts):
    """Mean cross-entropy and its gradient w.r.t. scores (rows = samples)."""
    s = scores - scores.max(axis=-1, keepdims=True)
    p = np.exp(s)
    p /= p.sum(axis=-1, keepdims=True)
    n = ts.size
    loss = -np.log(np.take_along_axis(p, ts[..., None], axis=-1)).sum() / n
    d = p.copy()
    np.put_along_axis(d, ts[..., None], np.take_along_axis(d, ts[..., None], axis=-1) - 1, axis=-1)
    return loss, d / n


class LinearClassifier:
    """scores = x W + b, softmax cross-entropy; records the batches it saw."""

    def __init__(self, d, k, seed=0):
        self.params = [np.random.default_rng(seed).standard_normal((d, k)) * 0.01, np.zeros(k)]
        self.grads = [np.zeros_like(p) for p in self.params]
        self.seen = []

    def forward(self, x, t):
        self.seen.append(x.copy())
        self.x = x
        loss, self.dscore = _softmax_ce(x @ self.params[0] + self.params[1], t)
        return loss

    def backward(self, dout=1):
        self.grads[0][...] = self.x.T @ self.dscore
        self.grads[1][...] = self.dscore.sum(axis=0)


class Bigram:
    """Language model: scores[n, t] = W[xs[n, t]] (V, V); softmax cross-entropy over all steps."""

    def __init__(self, v, seed=0):
        self.params = [np.random.default_rng(seed).standard_normal((v, v)) * 0.01]
        self.grads = [np.zeros_like(self.params[0])]
        self.calls = []

    def forward(self, xs, ts):
        self.calls.append((xs.copy(), ts.copy()))
        self.xs = xs
        loss, self.dscore = _softmax_ce(self.params[0][xs], ts)
        return loss

    def backward(self, dout=1):
        self.grads[0][...] = 0
        np.add.at(self.grads[0], self.xs, self.dscore)


def _data(n=96, d=5, k=3, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, d))
    t = np.argmax(x[:, :k], axis=1)
    return x, t


def _same_state(a, b):
    return a[0] == b[0] and np.array_equal(a[1], b[1]) and a[2:] == b[2:]


def test_trainer_loss_decreases_and_history_length():
    x, t = _data()
    model = LinearClassifier(5, 3)
    trainer = Trainer(model, SGD(lr=0.5), seed=0, progress=False)
    trainer.fit(x, t, max_epoch=20, batch_size=16, eval_interval=2)
    max_iters = 96 // 16
    assert len(trainer.loss_list) == 20 * math.ceil(max_iters / 2)
    assert trainer.loss_list[-1] < 0.5 * trainer.loss_list[0]
    assert trainer.current_epoch == 20 and len(trainer.epoch_times) == 20
    trainer.fit(x, t, max_epoch=1, batch_size=16, eval_interval=None)
    assert len(trainer.loss_list) == 20 * 3 and trainer.current_epoch == 21     # grows across fits
    assert len(model.seen) == 21 * max_iters and all(len(b) == 16 for b in model.seen)


def test_trainer_shuffle_reproducible_and_global_rng_untouched():
    x, t = _data(n=40)
    runs = []
    for seed_kw in ({"seed": 5}, {"seed": 5}, {"rng": np.random.default_rng(5)}, {"seed": 6}):
        np.random.seed(123)
        before = np.random.get_state()
        model = LinearClassifier(5, 3)
        Trainer(model, SGD(), progress=False, **seed_kw).fit(x, t, max_epoch=3, batch_size=8)
        assert _same_state(before, np.random.get_state())
        runs.append(np.concatenate(model.seen))
    assert np.array_equal(runs[0], runs[1]) and np.array_equal(runs[0], runs[2])
    assert not np.array_equal(runs[0], runs[3])
    # each epoch visits every sample once (len(x) divisible by batch_size)
    for epoch in np.split(runs[0], 3):
        assert sorted(map(bytes, epoch)) == sorted(map(bytes, x))


def test_trainer_errors():
    x, t = _data(n=10)
    model = LinearClassifier(5, 3)
    with pytest.raises(ValueError, match="seed, rng"):
        Trainer(model, SGD(), seed=1, rng=np.random.default_rng())
    with pytest.raises(TypeError, match="rng"):
        Trainer(model, SGD(), rng=np.random.RandomState(0))
    tr = Trainer(model, SGD(), progress=False)
    with pytest.raises(ValueError, match="batch_size"):
        tr.fit(x, t, batch_size=11)
    with pytest.raises(ValueError, match="x, t"):
        tr.fit(x, t[:5])
    with pytest.raises(ValueError, match="max_grad"):
        tr.fit(x, t, max_grad=-1.0)
    with pytest.raises(TypeError, match="model"):
        Trainer(object(), SGD())
    assert model.seen == []


class Tied:
    """params [W (2,3), b (3,), W.T (3,2), W again]: loss = sum(x W + b) + sum(y W.T) + sum(z W)."""

    def __init__(self):
        W = np.arange(6.0).reshape(2, 3)
        self.params = [W, np.zeros(3), W.T, W]
        self.grads = [np.zeros((2, 3)), np.zeros(3), np.zeros((3, 2)), np.zeros((2, 3))]

    def forward(self, x, t):
        return 0.0

    def backward(self):
        self.grads[0][...] = 1.0
        self.grads[1][...] = 2.0
        self.grads[2][...] = np.arange(6.0).reshape(3, 2)
        self.grads[3][...] = 10.0


def test_tied_weights_merged_by_identity_into_one_update():
    model = Tied()
    W = model.params[0].copy()
    tr = Trainer(model, SGD(lr=0.1), seed=0, progress=False)
    tr.fit(np.zeros((1, 1)), np.zeros(1), max_epoch=1, batch_size=1)
    total = 1.0 + np.arange(6.0).reshape(3, 2).T + 10.0
    np.testing.assert_allclose(model.params[0], W - 0.1 * total)
    np.testing.assert_allclose(model.params[2], model.params[0].T)
    np.testing.assert_allclose(model.params[1], -0.2)


def test_merge_shared_never_compares_values():
    rng = np.random.default_rng(0)
    A = rng.standard_normal((3, 3))
    B = A.T.copy()                    # equal to A.T in value, but its own memory
    Z1, Z2 = np.zeros(4), np.zeros(4)  # equal values, different arrays
    params = [A, B, Z1, Z2, A.T, A[:, :]]
    grads = [np.ones((3, 3)), np.full((3, 3), 2.0), np.ones(4), np.ones(4),
             np.arange(9.0).reshape(3, 3), np.full((3, 3), 5.0)]
    expected_A = 1.0 + np.arange(9.0).reshape(3, 3).T + 5.0
    p, g = merge_shared(params, grads)
    assert len(params) == 6                              # input list untouched
    assert [id(x) for x in p] == [id(A), id(B), id(Z1), id(Z2)]
    np.testing.assert_allclose(g[0], expected_A)
    assert g[0] is grads[0]                              # merged in place, as the book does
    np.testing.assert_allclose(g[1], 2.0)


def test_max_grad_clips_before_update():
    model = Tied()
    W = model.params[0].copy()
    b = model.params[1].copy()
    Trainer(model, SGD(lr=1.0), progress=False).fit(np.zeros((1, 1)), np.zeros(1), max_epoch=1,
                                                    batch_size=1, max_grad=0.5)
    step = np.concatenate([(model.params[0] - W).ravel(), (model.params[1] - b).ravel()])
    assert np.linalg.norm(step) == pytest.approx(0.5, rel=1e-5)


def test_progress_bar_can_be_turned_off(capsys):
    x, t = _data(n=16)
    Trainer(LinearClassifier(5, 3), SGD(), progress=False).fit(x, t, max_epoch=1, batch_size=4)
    out = capsys.readouterr()
    assert out.out == "" and out.err == ""
    Trainer(LinearClassifier(5, 3), SGD()).fit(x, t, max_epoch=1, batch_size=4, progress=True)
    err = capsys.readouterr().err
    assert "4/4" in err and "loss" in err


# --- RnnlmTrainer ----------------------------------------------------------------------------------

def book_get_batch(x, t, batch_size, time_size, time_idx):
    batch_x = np.empty((batch_size, time_size), dtype="i")
    batch_t = np.empty((batch_size, time_size), dtype="i")
    data_size = len(x)
    jump = data_size // batch_size
    offsets = [i * jump for i in range(batch_size)]
    for time in range(time_size):
        for i, offset in enumerate(offsets):
            batch_x[i, time] = x[(offset + time_idx) % data_size]
            batch_t[i, time] = t[(offset + time_idx) % data_size]
        time_idx += 1
    return batch_x, batch_t, time_idx


def _corpus(n=600, v=7, seed=0):
    # a deterministic cycle with a little noise: learnable by a bigram model
    rng = np.random.default_rng(seed)
    c = np.arange(n) % v
    flip = rng.random(n) < 0.1
    c[flip] = rng.integers(0, v, flip.sum())
    return c


def test_rnnlm_trainer_batches_are_the_books_and_ppl_drops():
    corpus = _corpus()
    xs, ts = corpus[:-1], corpus[1:]
    model = Bigram(7)
    tr = RnnlmTrainer(model, Adam(lr=0.1), progress=False)
    tr.fit(xs, ts, max_epoch=4, batch_size=5, time_size=10, eval_interval=3)
    max_iters = len(xs) // 50
    assert len(model.calls) == 4 * max_iters
    time_idx = 0
    for bx, bt in model.calls:
        ex, et, time_idx = book_get_batch(xs, ts, 5, 10, time_idx)
        np.testing.assert_array_equal(bx, ex)
        np.testing.assert_array_equal(bt, et)
        assert bx.dtype == np.int32
    assert len(tr.ppl_list) == 4 * math.ceil(max_iters / 3)
    assert tr.ppl_list[-1] < 0.5 * tr.ppl_list[0]
    assert tr.ppl_list[0] == pytest.approx(7, rel=0.05)     # uniform model at the start
    tr.fit(xs, ts, max_epoch=1, batch_size=5, time_size=10, eval_interval=3)
    assert len(tr.ppl_list) == math.ceil(max_iters / 3) and tr.current_epoch == 5   # reset per fit, as the book


def test_eval_perplexity_matches_book_loop():
    corpus = _corpus(n=503)
    model = Bigram(7, seed=3)
    got = eval_perplexity(model, corpus, batch_size=4, time_size=9, progress=False)
    # the book's eval_perplexity, written out
    corpus_size = len(corpus)
    total_loss = 0
    max_iters = (corpus_size - 1) // (4 * 9)
    jump = (corpus_size - 1) // 4
    ref = Bigram(7, seed=3)
    for iters in range(max_iters):
        xs = np.zeros((4, 9), dtype=np.int32)
        ts = np.zeros((4, 9), dtype=np.int32)
        time_offset = iters * 9
        offsets = [time_offset + (i * jump) for i in range(4)]
        for t in range(9):
            for i, offset in enumerate(offsets):
                xs[i, t] = corpus[(offset + t) % corpus_size]
                ts[i, t] = corpus[(offset + t + 1) % corpus_size]
        total_loss += ref.forward(xs, ts)
    assert got == pytest.approx(np.exp(total_loss / max_iters), rel=1e-12)
    with pytest.raises(ValueError, match="corpus"):
        eval_perplexity(model, corpus[:10], progress=False)


def test_eval_perplexity_passes_train_flg_false():
    class WithFlag(Bigram):
        def forward(self, xs, ts, train_flg=True):
            self.flags = getattr(self, "flags", []) + [train_flg]
            return super().forward(xs, ts)

    m = WithFlag(7)
    eval_perplexity(m, _corpus(n=100), batch_size=2, time_size=5, progress=False)
    assert m.flags and not any(m.flags)


# --- seq2seq evaluation ---------------------------------------------------------------------------

class EchoSeq2seq:
    """generate returns the question's first sample_size ids (batched or not)."""

    def generate(self, xs, start_id, sample_size):
        xs = np.asarray(xs)
        out = xs[:, :sample_size]
        return [int(i) for i in out[0]] if len(xs) == 1 else out


def test_eval_seq2seq_and_accuracy(capsys):
    id_to_char = {0: "_", 1: "1", 2: "2", 3: "+", 4: " "}
    q = np.array([[1, 3, 2]])
    right = np.array([[0, 1, 3]])
    wrong = np.array([[0, 2, 3]])
    assert eval_seq2seq(EchoSeq2seq(), q, right, id_to_char) == 1
    assert eval_seq2seq(EchoSeq2seq(), q, wrong, id_to_char) == 0
    assert capsys.readouterr().out == ""
    eval_seq2seq(EchoSeq2seq(), q, wrong, id_to_char, verbose=True, is_reverse=True)
    out = capsys.readouterr().out
    assert "Q 2+1" in out and "T 2+" in out and "1+" in out
    qs = np.array([[1, 3, 2], [2, 3, 1], [1, 1, 1]])
    cs = np.array([[0, 1, 3], [0, 2, 1], [0, 1, 1]])
    assert seq2seq_accuracy(EchoSeq2seq(), qs, cs, batch_size=2) == pytest.approx(2 / 3)


# --- plot -----------------------------------------------------------------------------------------

def test_plot_saves_to_path(tmp_path):
    pytest.importorskip("matplotlib")
    x, t = _data(n=32)
    tr = Trainer(LinearClassifier(5, 3), SGD(), progress=False).fit(x, t, max_epoch=2, batch_size=4, eval_interval=2)
    path = tmp_path / "loss.png"
    tr.plot(path=str(path))
    assert path.stat().st_size > 1000


def test_plot_without_matplotlib_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    tr = Trainer(LinearClassifier(5, 3), SGD(), progress=False)
    with pytest.raises(ImportError, match=r'pip install "fastrnn\[plot\]"'):
        tr.plot(path="x.png")
