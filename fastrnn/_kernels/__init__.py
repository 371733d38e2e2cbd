"""Numba kernels of fastrnn (private: nothing outside fastrnn imports them).

Every kernel is ``@njit(cache=True)`` and compiled lazily on first call, for float32
and float64. ``blas`` binds numpy's own OpenBLAS GEMM so compiled code can call it;
``activations`` holds the vectorisable tanh/sigmoid; ``lstm``, ``gru``, ``rnn`` the
fused sequence kernels; ``clip`` the gradient clipping passes.
"""
