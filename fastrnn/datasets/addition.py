"""The built-in ``addition`` task: ``a+b`` -> ``a+b``'s digits, in the book's ``addition.txt`` format."""
import functools

import numpy as np

__all__ = ["addition_lines"]

QUESTION_WIDTH = 7       # '999+999'
ANSWER_WIDTH = 4         # '1998' (after the '_')
MAX_LINES = 1000 * 1001 // 2     # unordered pairs of operands 0..999


def _random_numbers(rs, n):
    """(n, 2) operands: 1 to 3 random digits each (uniform count, then uniform digits), read as integers."""
    n_digits = rs.randint(1, 4, size=(n, 2))
    digits = rs.randint(0, 10, size=(n, 2, 3))
    value = np.zeros((n, 2), np.int64)
    for k in range(3):
        value = np.where(k < n_digits, value * 10 + digits[..., k], value)
    return value.tolist()


def addition_lines(size=50000, seed=0):
    """``size`` distinct lines ``'16+75  _91  '`` (question width 7, ``_`` + answer width 4).

    Operands have 1 to 3 digits; a pair is used once in either order (``a+b`` excludes ``b+a``).
    The first k lines do not depend on ``size``.
    Deterministic: a private legacy ``RandomState(seed)`` (its stream is frozen across NumPy versions).
    There are :data:`MAX_LINES` distinct lines; a larger ``size`` is a ValueError.
    """
    size = int(size)
    if not 1 <= size <= MAX_LINES:
        raise ValueError(f"size: expected 1 to {MAX_LINES} lines (the distinct pairs of 0..999 there are), got {size}")
    return _addition_lines(size, int(seed))


@functools.lru_cache(maxsize=4)
def _addition_lines(size, seed):
    rs = np.random.RandomState(seed)
    seen, lines = set(), []
    while len(lines) < size:
        for a, b in _random_numbers(rs, 4096):
            key = (min(a, b), max(a, b))
            if key in seen:
                continue
            seen.add(key)
            lines.append(f"{a}+{b}".ljust(QUESTION_WIDTH) + "_" + str(a + b).ljust(ANSWER_WIDTH))
            if len(lines) == size:
                break
    return tuple(lines)
