"""Benchmark engine behind ``python -m fastrnn bench`` and the ``bench/`` pytest suite (private).

It lives inside the package so the command works from a plain ``pip install``. The book
transcriptions, the book-structured NumPy baseline and the other races are not installed:
they are in ``bench/reference/`` of a source checkout (see its ``__init__``).

- :mod:`.sizes`     the problem sizes and the FLOP model
- :mod:`.impls`     one adapter per implementation (fastrnn, oracle, the book-style NumPy baseline when
                    ``bench.reference`` is importable, torch when installed) with the same weights
- :mod:`.threads`   pinning every thread pool (Numba, both OpenBLAS copies, OpenMP, torch)
- :mod:`.timing`    interleaved medians and the GEMM roof
- :mod:`.run`       the measurement plan and its results
- :mod:`.report`    the table, the JSON file and the chart
"""
