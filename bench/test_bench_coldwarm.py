"""Smoke test of the cold/warm-cache machinery (bench/cold_warm.py); no numbers are asserted.

A real cold run compiles every kernel of a cell (tens of seconds), so the smoke test runs
one child process on the cache the rest of the session already filled.
"""
from bench.reference.coldwarm import format_rows, measure_once


def test_cold_warm_child_process():
    m = measure_once("rnn", "tiny", "float32", cache_dir=None)
    assert set(m) == {"import_s", "first_step_s", "second_step_s", "process_s", "package"}
    assert all(v >= 0 for k, v in m.items() if k != "package")
    text = format_rows([{"cell": "rnn", "size": "tiny", "dtype": "float32", "cold": m, "warm": [m]}])
    assert "cold" in text and "warm" in text
