"""Benchmark engine behind ``python -m fastrnn bench`` and the ``bench/`` pytest suite (private).

It lives inside the package so the command works from a plain ``pip install``.

- :mod:`.sizes`     the problem sizes and the FLOP model
- :mod:`.baseline`  a NumPy baseline structured like the book's Time layers, in PyTorch's layout
- :mod:`.book`      the book's own NumPy TimeRNN / TimeLSTM / TimeGRU (its layout), for the layer benchmarks
- :mod:`.impls`     one adapter per implementation (fastrnn, NumPy, torch) with the same weights
- :mod:`.threads`   pinning every thread pool (Numba, both OpenBLAS copies, OpenMP, torch)
- :mod:`.timing`    interleaved medians and the GEMM roof
- :mod:`.run`       the measurement plan and its results
- :mod:`.report`    the table, the JSON file and the chart
"""
