"""The book's layers: fastrnn.layers.TimeLSTM / TimeGRU vs the book's NumPy TimeLSTM / TimeGRU.

Book layout and conventions: ``xs (N, T, D)`` float32, ``Wx (D, G*H)``, ``Wh (H, G*H)``.
Sizes: the book's BetterRnnlm layer (N=20, T=35, D=H=650) and a small one (N=1, T=20, D=H=32);
the smoke run (``--benchmark-disable``) keeps the small one only. ``python bench/book_layers.py``
prints the same comparison as interleaved medians.
"""
import numpy as np
import pytest

from bench.reference.layers import LAYER_GATES, LAYER_SIZES, layer_problem, layer_step, make_layer


def pytest_generate_tests(metafunc):
    if "layer_size" in metafunc.fixturenames:
        smoke = metafunc.config.getoption("benchmark_disable", False)
        metafunc.parametrize("layer_size", ["tiny32"] if smoke else list(LAYER_SIZES))


@pytest.mark.parametrize("impl", ["fastrnn", "book"])
@pytest.mark.parametrize("mode", ["train", "forward"])
@pytest.mark.parametrize("name", list(LAYER_GATES))
def test_book_layer(benchmark, name, layer_size, mode, impl):
    weights, xs, dhs = layer_problem(name, LAYER_SIZES[layer_size])
    fn = layer_step(make_layer(impl, name, weights), xs, dhs, mode)
    fn()                                                 # compile / warm up outside the timing
    benchmark.group = f"layers {name} {layer_size} (N,T,D,H)={LAYER_SIZES[layer_size]} {mode}"
    benchmark(fn)


@pytest.mark.parametrize("name", list(LAYER_GATES))
def test_book_layer_agrees(name):
    """fastrnn.layers and the book's NumPy layer compute the same outputs and gradients."""
    weights, xs, dhs = layer_problem(name, (3, 6, 5, 4), seed=2)
    got, want = make_layer("fastrnn", name, weights), make_layer("book", name, weights)
    np.testing.assert_allclose(got.forward(xs), want.forward(xs), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(got.backward(dhs), want.backward(dhs), rtol=1e-4, atol=1e-5)
    for g, w in zip(got.grads, want.grads):
        np.testing.assert_allclose(g, w, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(got.dh, want.dh, rtol=1e-4, atol=1e-5)
