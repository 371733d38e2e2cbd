"""The reference implementations and race harnesses of the benchmarks (not installed).

The book's code ("Deep Learning from Scratch 2", MIT-licensed) transcribed, a NumPy baseline
structured like it, and the harnesses of the races in ``bench/``. The scripts and tests in
``bench/`` and tests/test_optim.py import them as ``bench.reference.<module>``, with the
repository root on ``sys.path``. The engine of ``python -m fastrnn bench`` (sizes, timing,
threads, report, run, impls) stays in the package as ``fastrnn._bench``: it times
:mod:`.baseline` when ``bench.reference`` is importable (from the root of a source checkout)
and runs without it otherwise.

- :mod:`.baseline`      a NumPy baseline structured like the book's Time layers, in PyTorch's layout
                        (the ``numpy`` implementation of ``python -m fastrnn bench``)
- :mod:`.book`          the book's own NumPy TimeRNN / TimeLSTM / TimeGRU (its layout)
- :mod:`.book_optim`    the book's optimizers and ``clip_grads`` (the reference of tests/test_optim.py)
- :mod:`.book_seq2seq`  the book's attention seq2seq (layers, encoder/decoder, one trainer step)
- :mod:`.layers`        ``fastrnn.layers.TimeLSTM`` / ``TimeGRU`` vs :mod:`.book` (bench/book_layers.py)
- :mod:`.seq2seq`       ``fastrnn.models.AttentionSeq2seq`` vs :mod:`.book_seq2seq` (bench/seq2seq.py)
- :mod:`.torch_adapter` ``fastrnn.torch`` modules vs ``torch.nn``'s in a torch step (bench/torch_adapter.py)
- :mod:`.torch_layernorm` the per-step torch loop of a layer-normalised LSTM / GRU (bench/layernorm.py)
- :mod:`.coldwarm`      the first training step with an empty vs a warm Numba cache (bench/cold_warm.py)
"""
