"""The built-in ``date`` task: dates in many human formats -> ``YYYY-MM-DD`` (the book's ``date.txt`` format)."""
import datetime
import functools

import numpy as np

__all__ = ["date_lines", "FORMATS"]

QUESTION_WIDTH = 29      # 'Wednesday, September 27, 1995'
FIRST_DAY = datetime.date(1970, 1, 1)
LAST_DAY = datetime.date(2029, 12, 31)   # two-digit years: 70-99 -> 19xx, 00-29 -> 20xx

MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August",
          "September", "October", "November", "December")
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


def _fields(d):
    month, weekday = MONTHS[d.month - 1], WEEKDAYS[d.weekday()]
    return {"MMMM": month, "MMM": month[:3], "EEEE": weekday, "EEE": weekday[:3],
            "d": d.day, "M": d.month, "yyyy": d.year, "yy": d.year % 100}


# Unambiguous: slashes are month first (US), dots and words-first are day first.
FORMATS = (
    "{MMMM} {d}, {yyyy}",            # September 27, 1994
    "{MMM} {d}, {yyyy}",             # Sep 27, 1994
    "{EEEE}, {MMMM} {d}, {yyyy}",    # Tuesday, September 27, 1994
    "{EEE}, {MMM} {d}, {yyyy}",      # Tue, Sep 27, 1994
    "{d} {MMMM} {yyyy}",             # 27 September 1994
    "{d} {MMM} {yyyy}",              # 27 Sep 1994
    "{EEEE} {d} {MMMM} {yyyy}",      # Tuesday 27 September 1994
    "{d} {MMM}, {yy:02d}",           # 27 Sep, 94
    "{M}/{d}/{yy:02d}",              # 9/27/94
    "{M:02d}/{d:02d}/{yyyy}",        # 09/27/1994
    "{d:02d}.{M:02d}.{yyyy}",        # 27.09.1994
    "{d}.{M}.{yy:02d}",              # 27.9.94
    "{yyyy}, {d} {MMMM}",            # 1994, 27 September
)
CASES = (str, str.lower, str.upper)


def date_lines(size=50000, seed=0):
    """``size`` distinct lines: the question padded to 29 characters, then ``_YYYY-MM-DD``.

    Days uniform in 1970-01-01 .. 2029-12-31, a format from :data:`FORMATS` and a casing
    (as written, lower, upper) uniform each. Deterministic: a private legacy ``RandomState(seed)``;
    the first k lines do not depend on ``size``. A ``size`` beyond the number of distinct
    questions (:func:`max_lines`, about 0.6 million) is a ValueError.
    """
    size = int(size)
    if size < 1 or (size > _SURELY_AVAILABLE and size > max_lines()):
        limit = max_lines() if size >= 1 else "the number of distinct questions"
        raise ValueError(f"size: expected 1 to {limit} lines (the distinct questions there are), got {size}")
    return _date_lines(size, int(seed))


# every day in every format in one casing: certainly available without counting
_SURELY_AVAILABLE = ((LAST_DAY - FIRST_DAY).days + 1) * len(FORMATS) // 2


@functools.lru_cache(maxsize=1)
def max_lines():
    """How many distinct questions there are (counted once, on first use: about a second)."""
    seen = set()
    day = FIRST_DAY
    while day <= LAST_DAY:
        fields = _fields(day)
        for f in FORMATS:
            text = f.format(**fields)
            seen.update(case(text) for case in CASES)
        day += datetime.timedelta(days=1)
    return len(seen)


@functools.lru_cache(maxsize=4)
def _date_lines(size, seed):
    rs = np.random.RandomState(seed)
    n_days = (LAST_DAY - FIRST_DAY).days + 1
    seen, lines = set(), []
    while len(lines) < size:
        days = rs.randint(n_days, size=4096).tolist()
        formats = rs.randint(len(FORMATS), size=4096).tolist()
        cases = rs.randint(len(CASES), size=4096).tolist()
        for k, f, c in zip(days, formats, cases):
            day = FIRST_DAY + datetime.timedelta(days=k)
            question = CASES[c](FORMATS[f].format(**_fields(day)))
            if question in seen:
                continue
            seen.add(question)
            lines.append(question.ljust(QUESTION_WIDTH) + "_" + day.isoformat())
            if len(lines) == size:
                break
    return tuple(lines)
