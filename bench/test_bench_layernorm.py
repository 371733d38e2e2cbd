"""Layer-normalised cells: fastrnn.torch.LayerNormLSTM / GRU vs the per-step torch loop, and
fastrnn.nn's against its plain LSTM / GRU, one training step.

Sizes (T, N, I, H) = (50, 32, 256, 256) and (20, 1, 32, 32), float32; the smoke run
(``--benchmark-disable``) uses a tiny one. ``python bench/layernorm.py`` prints the
comparison as interleaved medians.
"""
import pytest

from bench.layernorm import plain_steps

SIZES = {"T50-N32-I256-H256": (50, 32, 256, 256), "T20-N1-I32-H32": (20, 1, 32, 32), "T4-N3-I5-H6": (4, 3, 5, 6)}


def pytest_generate_tests(metafunc):
    if "ln_size" in metafunc.fixturenames:
        smoke = metafunc.config.getoption("benchmark_disable", False)
        metafunc.parametrize("ln_size", ["T4-N3-I5-H6"] if smoke else ["T50-N32-I256-H256", "T20-N1-I32-H32"])


@pytest.mark.parametrize("impl", ["fastrnn.torch", "torch loop"])
@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_layernorm_torch_train(benchmark, cell, ln_size, impl):
    pytest.importorskip("torch")
    from bench.layernorm import torch_steps
    step = torch_steps(cell, SIZES[ln_size])[impl]
    step()                                                # compile / warm up outside the timing
    benchmark.group = f"layernorm {cell} {ln_size} train (torch)"
    benchmark(step)


@pytest.mark.parametrize("impl", ["plain", "layernorm"])
@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_layernorm_vs_plain_train(benchmark, cell, ln_size, impl):
    step = plain_steps(cell, SIZES[ln_size])[impl]
    step()
    benchmark.group = f"layernorm {cell} {ln_size} train (fastrnn.nn)"
    benchmark(step)
