"""The book's attention seq2seq race (benchmarks only): shared setup of bench/seq2seq.py and
bench/test_bench_seq2seq.py.

One iteration is the book's ``Trainer`` step: forward, backward, merge of shared weights,
gradient clipping (``max_grad=5.0``), Adam update. fastrnn runs ``fastrnn.models.AttentionSeq2seq``
with ``fastrnn.optim.Adam`` and the trainer's ``merge_shared`` / ``clip_grads``; the baseline is the
book's own code (``book_seq2seq``). Both start from the same weights (fastrnn's, copied) and train
on the same batch: the first rows of the date training set, question reversed as the examples feed
it. ``check_agreement`` is the race's guard: one forward/backward of each must give the same loss
and the same gradients (float32).
"""
import numpy as np

from fastrnn.datasets import load_sequence
from fastrnn.models import AttentionSeq2seq
from fastrnn.optim import Adam, clip_grads
from fastrnn.train.shared import merge_shared

from bench.reference import book_seq2seq

IMPLS = ("fastrnn", "numpy-book")
WORDVEC = 16
MAX_GRAD = 5.0
SIZES = {"date": {"batch_size": 128, "hidden": 256, "rows": 50000},     # the book's ch08 run
         "tiny": {"batch_size": 8, "hidden": 32, "rows": 300}}          # the smoke run
LOSS_RTOL = 1e-4
GRAD_RTOL, GRAD_ATOL = 1e-3, 1e-5
GRAD_NORM_RTOL = 1e-4
PARAM_NAMES = ("encoder.embed_W", "encoder.lstm_Wx", "encoder.lstm_Wh", "encoder.lstm_b",
               "decoder.embed_W", "decoder.lstm_Wx", "decoder.lstm_Wh", "decoder.lstm_b",
               "decoder.affine_W", "decoder.affine_b")


def date_batch(batch_size, rows=50000):
    """-> xs (N, 29) question ids reversed, ts (N, 11) ``_`` + answer ids (int32, C order), vocabulary size V.

    The first ``batch_size`` rows of ``load_sequence('date', size=rows)``'s training split; copied
    to C order as the trainer's shuffled batches are.
    """
    (x_train, t_train), _, (char_to_id, _) = load_sequence("date", size=rows)
    if batch_size > len(x_train):
        raise ValueError(f"batch_size: expected at most {len(x_train)} rows (size={rows}), got {batch_size}")
    xs = np.ascontiguousarray(x_train[:batch_size, ::-1])
    ts = np.ascontiguousarray(t_train[:batch_size])
    return xs, ts, len(char_to_id)


def make_models(vocab_size, hidden_size, seed=0):
    """-> (fastrnn AttentionSeq2seq, book AttentionSeq2seq), the book's holding copies of fastrnn's weights.

    Both keep their params in the book's order (encoder 4, decoder 6). The book's constructor draws
    its own weights from the global ``np.random`` first, as the book does; they are overwritten.
    """
    fast = AttentionSeq2seq(vocab_size, WORDVEC, hidden_size, seed=seed)
    book = book_seq2seq.AttentionSeq2seq(vocab_size, WORDVEC, hidden_size)
    shapes = [p.shape for p in fast.params]
    if shapes != [p.shape for p in book.params]:
        raise ValueError(f"params: the two models disagree on shapes: {shapes} vs {[p.shape for p in book.params]}")
    for mine, theirs in zip(book.params, fast.params):
        mine[...] = theirs
    return fast, book


def fastrnn_train_step(model, optimizer, batch_x, batch_t, max_grad=MAX_GRAD):
    """One iteration of ``fastrnn.train.Trainer``: forward, backward, merge_shared, clip_grads, update; -> loss."""
    loss = model.forward(batch_x, batch_t)
    model.backward()
    params, grads = merge_shared(model.params, model.grads)
    if max_grad is not None:
        clip_grads(grads, max_grad)
    optimizer.update(params, grads)
    return loss


def train_steps(fast, book, xs, ts, max_grad=MAX_GRAD):
    """-> {impl: zero-argument callable running one training iteration}, each model with its own Adam."""
    fast_adam, book_adam = Adam(), book_seq2seq.Adam()
    return {"fastrnn": lambda: fastrnn_train_step(fast, fast_adam, xs, ts, max_grad),
            "numpy-book": lambda: book_seq2seq.train_step(book, book_adam, xs, ts, max_grad)}


def relative_error(got, want):
    """||got - want|| / ||want|| (L2 over the whole array, float64)."""
    want = want.astype(np.float64)
    return float(np.linalg.norm(got - want) / np.linalg.norm(want))


def check_agreement(fast, book, xs, ts):
    """One forward/backward of each model (no clipping, no update): same loss, same gradients.

    Loss to ``rtol=LOSS_RTOL``. Every gradient nonzero, element-wise within ``rtol=GRAD_RTOL,
    atol=GRAD_ATOL`` and, as these gradients are small (~1e-4) next to that atol, within
    ``GRAD_NORM_RTOL`` in relative L2 norm. Raises AssertionError naming what differs;
    -> (fastrnn loss, book loss, worst relative gradient error).
    """
    loss_fast = float(fast.forward(xs, ts))
    fast.backward()
    loss_book = float(book.forward(xs, ts))
    book.backward()
    np.testing.assert_allclose(loss_fast, loss_book, rtol=LOSS_RTOL, atol=0, err_msg="loss")
    assert len(fast.grads) == len(book.grads) == len(PARAM_NAMES)
    worst = 0.0
    for name, got, want in zip(PARAM_NAMES, fast.grads, book.grads):
        assert np.any(want != 0), f"{name}: the book's gradient is all zeros"
        np.testing.assert_allclose(got, want, rtol=GRAD_RTOL, atol=GRAD_ATOL, err_msg=f"gradient of {name}")
        err = relative_error(got, want)
        assert err <= GRAD_NORM_RTOL, f"gradient of {name}: relative L2 error {err:.2e} > {GRAD_NORM_RTOL:g}"
        worst = max(worst, err)
    return loss_fast, loss_book, worst
