"""The book's attention seq2seq, one training iteration: fastrnn.models.AttentionSeq2seq vs the book's NumPy.

One group, ``seq2seq-attention-train``, entries ``fastrnn`` and ``numpy-book``: forward + backward +
clip_grads(5.0) + Adam on the date task (batch 128, ``AttentionSeq2seq(V, 16, 256)``). The smoke run
(``--benchmark-disable``) uses batch 8, H = 32 and 300 rows instead. Every benchmark first checks
that the two models compute the same loss and gradients from the same weights (bench/reference/seq2seq.py;
bench/seq2seq.py prints the same race as interleaved medians).
"""
import numpy as np
import pytest

from bench.reference.seq2seq import IMPLS, SIZES, check_agreement, date_batch, make_models, train_steps


def pytest_generate_tests(metafunc):
    if "seq2seq_size" in metafunc.fixturenames:
        smoke = metafunc.config.getoption("benchmark_disable", False)
        metafunc.parametrize("seq2seq_size", ["tiny"] if smoke else ["date"])


def _problem(size):
    """-> fastrnn model, book model (same weights), xs, ts for the named size."""
    config = SIZES[size]
    xs, ts, V = date_batch(config["batch_size"], config["rows"])
    fast, book = make_models(V, config["hidden"])
    return fast, book, xs, ts


@pytest.mark.parametrize("impl", IMPLS)
def test_seq2seq_attention_train(benchmark, seq2seq_size, impl):
    fast, book, xs, ts = _problem(seq2seq_size)
    check_agreement(fast, book, xs, ts)                 # the race is fair: same loss, same gradients
    step = train_steps(fast, book, xs, ts)[impl]
    step()                                              # compile / warm up outside the timing
    benchmark.group = "seq2seq-attention-train"
    benchmark.extra_info.update(SIZES[seq2seq_size])
    benchmark(step)


def test_seq2seq_train_steps_agree(seq2seq_size):
    """Three full iterations (clipping and Adam included) keep the two models on the same weights."""
    fast, book, xs, ts = _problem(seq2seq_size)
    steps = train_steps(fast, book, xs, ts)
    for _ in range(3):
        np.testing.assert_allclose(steps["fastrnn"](), steps["numpy-book"](), rtol=1e-4)
    for got, want in zip(fast.params, book.params):
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-6)


def test_seq2seq_check_catches_a_different_weight():
    """The guard is not vacuous: a decoder affine weight 1% off fails it."""
    fast, book, xs, ts = _problem("tiny")
    book.params[8] *= 1.01
    with pytest.raises(AssertionError):
        check_agreement(fast, book, xs, ts)
