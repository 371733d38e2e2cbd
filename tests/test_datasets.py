"""fastrnn.datasets: the book's seq2seq file format, the built-in generators, sine windows, text ids."""
import datetime
import re

import numpy as np
import pytest

from fastrnn import datasets
from fastrnn.datasets import load_sequence, sine_wave, text_to_ids, load_text


@pytest.fixture(scope="module")
def addition():
    return load_sequence("addition")


@pytest.fixture(scope="module")
def date():
    return load_sequence("date")


def _decode(row, id_to_char):
    return "".join(id_to_char[int(i)] for i in row)


# --- the book's file format ----------------------------------------------------------------------

BOOK_LINES = ["16+75  _91  ", "52+607 _659 ", "75+22  _97  ", "63+22  _85  ", "795+3  _798 ",
              "706+796_1502", "8+4    _12  ", "84+317 _401 ", "9+3    _12  ", "6+5    _11  ",
              "8+9    _17  "]


def test_file_first_appearance_ids_and_no_shuffle(tmp_path):
    path = tmp_path / "add.txt"
    path.write_text("\n".join(BOOK_LINES) + "\n")
    (xtr, ttr), (xte, tte), (c2i, i2c) = load_sequence(str(path), seed=None)
    # ids by first appearance: question then answer, line by line
    expected = {}
    for line in BOOK_LINES:
        for ch in line:
            expected.setdefault(ch, len(expected))
    assert c2i == expected
    assert i2c == {i: c for c, i in expected.items()}
    assert xtr.shape == (10, 7) and ttr.shape == (10, 5) and xte.shape == (1, 7) and tte.shape == (1, 5)
    rows = [_decode(q, i2c) + _decode(a, i2c) for q, a in zip(np.vstack([xtr, xte]), np.vstack([ttr, tte]))]
    assert rows == BOOK_LINES
    assert np.issubdtype(xtr.dtype, np.integer)


def test_file_shuffle_is_the_books_and_leaves_global_rng(tmp_path):
    lines = [f"{i}+{i}".ljust(7) + "_" + str(2 * i).ljust(4) for i in range(40)]
    path = tmp_path / "add.txt"
    path.write_text("\n".join(lines))      # no final newline: the last line must stay whole
    state = np.random.get_state()
    (xtr, ttr), (xte, tte), (c2i, i2c) = load_sequence(path, seed=7)
    after = np.random.get_state()
    assert state[0] == after[0] and np.array_equal(state[1], after[1]) and state[2:] == after[2:]
    # the book: np.random.seed(seed); np.random.shuffle(indices) -- on a private RandomState here
    indices = np.arange(40)
    np.random.RandomState(7).shuffle(indices)
    got = [_decode(q, i2c) + _decode(a, i2c) for q, a in zip(np.vstack([xtr, xte]), np.vstack([ttr, tte]))]
    assert got == [lines[i] for i in indices]
    assert len(xte) == 4 and len(xtr) == 36


def test_file_errors(tmp_path):
    bad = tmp_path / "bad.txt"
    bad.write_text("1+1_2\n12+1_13\n")
    with pytest.raises(ValueError, match="line 2.*width"):
        load_sequence(bad)
    bad.write_text("1+1 _2\n1+2 3\n")
    with pytest.raises(ValueError, match="line 2.*'_'"):
        load_sequence(bad)
    with pytest.raises(FileNotFoundError, match="nope"):
        load_sequence(tmp_path / "nope.txt")
    with pytest.raises(TypeError, match="path_or_name"):
        load_sequence(3)


# --- built-in: addition --------------------------------------------------------------------------

def test_addition_format_and_sizes(addition):
    (xtr, ttr), (xte, tte), (c2i, i2c) = addition
    assert xtr.shape == (45000, 7) and ttr.shape == (45000, 5)
    assert xte.shape == (5000, 7) and tte.shape == (5000, 5)
    assert set(c2i) == set("0123456789+ _")
    pattern = re.compile(r"^(\d{1,3})\+(\d{1,3}) *$")
    questions = set()
    for q, a in zip(np.vstack([xtr, xte]), np.vstack([ttr, tte])):
        q, a = _decode(q, i2c), _decode(a, i2c)
        m = pattern.match(q)
        assert m, q
        assert a[0] == "_" and a[1:].rstrip() == str(int(m[1]) + int(m[2]))
        questions.add(tuple(sorted((int(m[1]), int(m[2])))))
    assert len(questions) == 50000          # no pair twice, in either order


def test_addition_ids_by_first_appearance(addition):
    _, _, (c2i, _) = addition
    order = {}
    for line in datasets.addition_lines():
        for ch in line:
            order.setdefault(ch, len(order))
        if len(order) == len(c2i):
            break
    assert c2i == order


def test_builtin_generation_is_deterministic():
    from fastrnn.datasets import addition as A, date as Dt
    a, d = A._addition_lines.__wrapped__(500, 0), Dt._date_lines.__wrapped__(500, 0)   # uncached
    assert a == A._addition_lines.__wrapped__(500, 0) and d == Dt._date_lines.__wrapped__(500, 0)
    assert d != Dt._date_lines.__wrapped__(500, 1)
    assert a == datasets.addition_lines()[:500] and d == datasets.date_lines()[:500]


def test_seed_changes_only_the_order(addition):
    (xtr, ttr), (xte, tte), vocab = addition
    (xtr2, ttr2), (xte2, tte2), vocab2 = load_sequence("addition", seed=1984)
    np.testing.assert_array_equal(xtr, xtr2)
    np.testing.assert_array_equal(tte, tte2)
    (xtr3, _), (xte3, _), vocab3 = load_sequence("addition", seed=3)
    assert vocab3 == vocab
    assert not np.array_equal(xtr3[:50], xtr[:50])
    rows = lambda *a: sorted(map(bytes, np.vstack(a)))   # noqa: E731
    assert rows(xtr, xte) == rows(xtr3, xte3)


# --- built-in: date ------------------------------------------------------------------------------

STRPTIME = ["%B %d, %Y", "%b %d, %Y", "%A, %B %d, %Y", "%a, %b %d, %Y", "%d %B %Y", "%d %b %Y",
            "%A %d %B %Y", "%d %b, %y", "%m/%d/%y", "%m/%d/%Y", "%d.%m.%Y", "%d.%m.%y", "%Y, %d %B"]
WEEKDAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]


def test_date_format_sizes_and_unambiguous(date):
    (xtr, ttr), (xte, tte), (c2i, i2c) = date
    assert xtr.shape == (45000, 29) and ttr.shape == (45000, 11)
    assert xte.shape == (5000, 29) and tte.shape == (5000, 11)
    questions = [_decode(q, i2c) for q in np.vstack([xtr, xte])]
    assert len(set(questions)) == 50000
    answers = [_decode(a, i2c) for a in np.vstack([ttr, tte])]
    assert all(re.fullmatch(r"_\d{4}-\d\d-\d\d", a) for a in answers)
    # every question read by every matching strptime format gives the answer (so one reading only)
    for q, a in list(zip(questions, answers))[::50]:
        q = q.rstrip()
        parsed = set()
        for fmt in STRPTIME:
            try:
                parsed.add(datetime.datetime.strptime(q, fmt).date())
            except ValueError:
                pass
        assert parsed == {datetime.date.fromisoformat(a[1:])}, q
        day = datetime.date.fromisoformat(a[1:])
        for k, name in enumerate(WEEKDAYS):
            if name[:3] in q.lower():
                assert k == day.weekday(), q


def test_date_has_many_formats_and_casings():
    lines = datasets.date_lines()[:3000]
    q = [line.split("_")[0].rstrip() for line in lines]
    assert any(s.isupper() for s in q) and any(s.islower() and s[0].isalpha() for s in q)
    assert sum("/" in s for s in q) > 100 and sum("." in s for s in q) > 100 and sum("," in s for s in q) > 500
    assert all(len(line) == 40 and line[29] == "_" for line in datasets.date_lines())


# --- sine wave -----------------------------------------------------------------------------------

def test_sine_wave_windows():
    (x, t), (xt, tt) = sine_wave(n_samples=200, time_size=10, noise=0.1, seed=3)
    assert x.shape == (180, 10, 1) and t.shape == (180, 1) and xt.shape == (20, 10, 1) and tt.shape == (20, 1)
    assert x.dtype == np.float32
    # consecutive windows of one series: the target is the next window's last input
    np.testing.assert_array_equal(t[:-1, 0], x[1:, -1, 0])
    np.testing.assert_array_equal(x[1:, :-1], x[:-1, 1:])
    # a sine plus noise of the given size
    clean = np.sin(2 * np.pi * np.arange(10) / 50.0)
    assert 0.02 < np.std(x[0, :, 0] - clean) < 0.3
    (x2, t2), _ = sine_wave(n_samples=200, time_size=10, noise=0.1, seed=3)
    np.testing.assert_array_equal(x, x2)
    (x3, _), _ = sine_wave(n_samples=200, time_size=10, noise=0.1, seed=4)
    assert not np.array_equal(x, x3)
    # test windows start after the last training target
    (xm, tm), (xmt, tmt) = sine_wave(n_samples=200, time_size=10, noise=0.1, seed=3, many_to_many=True)
    assert tm.shape == (180, 10, 1)
    np.testing.assert_array_equal(tm[:, :-1], xm[:, 1:])
    np.testing.assert_array_equal(xm, x)
    last_train_value, first_test_value = t[-1, 0], xt[0, 0, 0]
    full = np.concatenate([x[:, 0, 0], x[-1, 1:, 0], t[-1]])
    assert last_train_value == full[-1] and first_test_value not in full[-5:]


def test_sine_wave_errors():
    with pytest.raises(ValueError, match="time_size"):
        sine_wave(time_size=0)
    with pytest.raises(ValueError, match="test_ratio"):
        sine_wave(test_ratio=1.5)


# --- text ----------------------------------------------------------------------------------------

def test_text_to_ids_word_and_char(tmp_path):
    text = "the cat sat\non the mat\n"
    corpus, w2i, i2w = text_to_ids(text, eos="<eos>")
    assert [i2w[int(i)] for i in corpus] == "the cat sat <eos> on the mat <eos>".split()
    assert w2i == {"the": 0, "cat": 1, "sat": 2, "<eos>": 3, "on": 4, "mat": 5}
    assert corpus.dtype == np.int32
    corpus, w2i, i2w = text_to_ids("Ab a", level="char", lower=True)
    assert list(corpus) == [0, 1, 2, 0] and i2w[2] == " "
    path = tmp_path / "t.txt"
    path.write_text(text, encoding="utf-8")
    corpus2, w2i2, _ = load_text(path)
    assert list(corpus2) == [0, 1, 2, 3, 0, 4] and w2i2["mat"] == 4
    with pytest.raises(ValueError, match="level"):
        text_to_ids("x", level="byte")
    with pytest.raises(TypeError, match="text"):
        text_to_ids(b"x")
