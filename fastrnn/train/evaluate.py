"""Evaluation helpers of the book (``common/util.py``): perplexity and seq2seq answers."""
import inspect
import math
import os

import numpy as np
from tqdm.auto import tqdm
from .._grad_mode import no_grad

__all__ = ["eval_perplexity", "eval_seq2seq", "seq2seq_accuracy"]


def _takes_train_flg(method):
    try:
        return "train_flg" in inspect.signature(method).parameters
    except (TypeError, ValueError):
        return False


@no_grad()
def eval_perplexity(model, corpus, batch_size=10, time_size=35, progress=True):
    """exp(mean loss) of a language model over ``corpus`` (1-D ids), read as the book does.

    ``batch_size`` cursors ``(len - 1) // batch_size`` apart each read ``time_size`` ids per
    iteration, the target being the next id; ``model.forward(xs, ts, train_flg=False)`` is used if
    the model takes ``train_flg``. Call ``model.reset_state()`` before, as the book does.
    """
    corpus = np.asarray(corpus)
    if corpus.ndim != 1:
        raise ValueError(f"corpus: expected a 1-D array of ids, got shape {corpus.shape}")
    corpus_size = len(corpus)
    max_iters = (corpus_size - 1) // (batch_size * time_size)
    if max_iters < 1:
        raise ValueError(f"corpus: expected more than batch_size * time_size = {batch_size * time_size} ids, "
                         f"got {corpus_size}")
    jump = (corpus_size - 1) // batch_size
    forward_kw = {"train_flg": False} if _takes_train_flg(model.forward) else {}
    base = np.arange(batch_size)[:, None] * jump + np.arange(time_size)[None, :]
    total_loss = 0.0
    for iters in tqdm(range(max_iters), disable=not progress, desc="perplexity", unit="it"):
        pos = base + iters * time_size
        xs = corpus[pos % corpus_size].astype(np.int32, copy=False)
        ts = corpus[(pos + 1) % corpus_size].astype(np.int32, copy=False)
        total_loss += float(model.forward(xs, ts, **forward_kw))
    try:
        return math.exp(total_loss / max_iters)
    except OverflowError:
        return math.inf


def eval_seq2seq(model, question, correct, id_to_char, verbose=False, is_reverse=False, verbos=None):
    """1 if the model's greedy answer to ``question`` (1, T) equals ``correct`` (1, 1 + answer), else 0.

    ``correct[0, 0]`` is the start id (``_``); ``model.generate(question, start_id, n)`` produces the
    rest. ``verbose`` prints question, truth and guess as the book does (``is_reverse`` un-reverses
    the printed question). ``verbos`` is the book's spelling of ``verbose``.
    """
    if verbos is not None:
        verbose = verbos
    correct = np.asarray(correct).flatten()
    start_id = int(correct[0])
    correct = correct[1:]
    guess = np.asarray(model.generate(question, start_id, len(correct))).flatten()

    question = "".join(id_to_char[int(c)] for c in np.asarray(question).flatten())
    correct = "".join(id_to_char[int(c)] for c in correct)
    guess = "".join(id_to_char[int(c)] for c in guess)

    if verbose:
        if is_reverse:
            question = question[::-1]
        print("Q", question)
        print("T", correct)
        if os.name == "nt":
            mark = "O" if correct == guess else "X"
        else:
            mark = "\033[92m☑\033[0m" if correct == guess else "\033[91m☒\033[0m"
        print(mark + " " + guess)
        print("---")
    return 1 if guess == correct else 0


def seq2seq_accuracy(model, questions, corrects, batch_size=500, progress=False):
    """Fraction of rows whose greedy answer equals ``corrects[:, 1:]`` exactly (batched ``eval_seq2seq``).

    ``questions (n, Tq)``, ``corrects (n, 1 + answer)`` with the start ids in column 0; the model's
    ``generate(xs, start_ids, n)`` must accept a batch (every fastrnn seq2seq model does).
    """
    questions, corrects = np.asarray(questions), np.asarray(corrects)
    if questions.ndim != 2 or corrects.ndim != 2 or len(questions) != len(corrects):
        raise ValueError(f"questions, corrects: expected 2-D arrays with the same number of rows, "
                         f"got shapes {questions.shape} and {corrects.shape}")
    n, sample_size = len(questions), corrects.shape[1] - 1
    if n == 0:
        raise ValueError("questions: expected at least one row, got none")
    hits = 0
    for start in tqdm(range(0, n, batch_size), disable=not progress, desc="accuracy", unit="batch"):
        q, c = questions[start:start + batch_size], corrects[start:start + batch_size]
        guess = np.asarray(model.generate(q, c[:, 0], sample_size)).reshape(len(q), sample_size)
        hits += int(np.sum(np.all(guess == c[:, 1:], axis=1)))
    return hits / n
