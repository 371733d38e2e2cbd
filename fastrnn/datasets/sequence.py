"""Seq2seq data in the book's text format (``dataset/sequence.py``): ``question_answer`` per line.

Every line holds the question padded with spaces to a common width, then ``_``, then the
answer padded to a common width (``16+75  _91  ``). The ``_`` stays in the answer: it is the
decoder's start symbol. Character ids are assigned by first appearance, reading the lines in
file order, each line's question before its answer.
"""
import os

import numpy as np

from .addition import addition_lines
from .date import date_lines

__all__ = ["load_sequence", "sequence_arrays", "BUILTIN"]

BUILTIN = {"addition": addition_lines, "date": date_lines}


def _split_lines(lines, source):
    """lines (strings without newline) -> questions, answers; checks the format."""
    questions, answers = [], []
    for k, line in enumerate(lines):
        idx = line.find("_")
        if idx < 0:
            raise ValueError(f"{source}: line {k + 1}: expected 'question_answer' with a '_' separator, "
                             f"got {line!r}")
        questions.append(line[:idx])
        answers.append(line[idx:])
    if not questions:
        raise ValueError(f"{source}: expected at least one 'question_answer' line, got none")
    for name, items in (("question", questions), ("answer", answers)):
        width = len(items[0])
        for k, item in enumerate(items):
            if len(item) != width:
                raise ValueError(f"{source}: line {k + 1}: expected every {name} padded to width {width} "
                                 f"(that of line 1), got width {len(item)} ({item!r})")
    return questions, answers


def sequence_arrays(lines, seed=1984, source="lines"):
    """Book-format lines -> ``(x_train, t_train), (x_test, t_test), (char_to_id, id_to_char)``.

    x (n, question width), t (n, answer width) int32 character ids; the rows are shuffled with
    ``np.random.RandomState(seed)`` (a private generator giving the book's order; ``seed=None``
    keeps the file order) and the last ``n // 10`` rows are the test split.
    """
    questions, answers = _split_lines(lines, source)
    char_to_id = {}
    for q, a in zip(questions, answers):
        for ch in q + a:
            if ch not in char_to_id:
                char_to_id[ch] = len(char_to_id)
    id_to_char = {i: ch for ch, i in char_to_id.items()}

    lookup = np.zeros(max(map(ord, char_to_id)) + 1, np.int32)
    for ch, i in char_to_id.items():
        lookup[ord(ch)] = i

    def encode(strings):
        codes = np.array(["".join(strings)]).view(np.uint32).reshape(len(strings), -1)
        return lookup[codes]

    x, t = encode(questions), encode(answers)
    if seed is not None:
        indices = np.arange(len(x))
        np.random.RandomState(seed).shuffle(indices)
        x, t = x[indices], t[indices]
    split_at = len(x) - len(x) // 10
    return (x[:split_at], t[:split_at]), (x[split_at:], t[split_at:]), (char_to_id, id_to_char)


def load_sequence(path_or_name, seed=1984, size=50000):
    """Load a seq2seq data set: a built-in name (``'addition'``, ``'date'``) or a file in the book's format.

    Returns ``(x_train, t_train), (x_test, t_test), (char_to_id, id_to_char)``: int32 arrays
    (n, question width) and (n, answer width, the leading ``_`` included), 90% / 10% split after a
    shuffle seeded with ``seed``. The built-in sets are generated (deterministically, ``size`` lines,
    50,000 as the book's files) in the format of the book's ``addition.txt`` / ``date.txt``; nothing
    is downloaded. ``size`` is ignored for files.
    """
    if isinstance(path_or_name, str) and path_or_name in BUILTIN:
        return sequence_arrays(BUILTIN[path_or_name](int(size)), seed, source=repr(path_or_name))
    if not isinstance(path_or_name, (str, os.PathLike)):
        raise TypeError(f"path_or_name: expected a path or one of {sorted(BUILTIN)}, "
                        f"got {type(path_or_name).__name__}")
    if not os.path.isfile(path_or_name):
        raise FileNotFoundError(f"path_or_name: no file {os.fspath(path_or_name)!r} "
                                f"(built-in names: {sorted(BUILTIN)})")
    with open(path_or_name, encoding="utf-8", newline="") as f:
        lines = [line.rstrip("\r\n") for line in f]
    while lines and lines[-1] == "":
        lines.pop()
    return sequence_arrays(lines, seed, source=os.fspath(path_or_name))
