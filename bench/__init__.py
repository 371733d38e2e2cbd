"""fastrnn's benchmarks (source checkout only): the pytest-benchmark suite (``test_bench_*.py``),
the race scripts (``python bench/<name>.py``) and, in :mod:`bench.reference`, the NumPy code they
race against. ``python -m fastrnn bench`` itself needs none of it (its engine is ``fastrnn._bench``).
"""
