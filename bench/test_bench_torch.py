"""fastrnn.torch vs torch.nn: one training step inside torch (``loss.backward()``).

Size (T, N, I, H) = (50, 32, 128, 256) float32; the smoke run (``--benchmark-disable``) uses a
small one. Skipped without torch. ``python bench/torch_adapter.py`` prints the same comparison
as interleaved medians.
"""
import pytest

pytest.importorskip("torch")

from bench.reference.torch_adapter import (ADAPTER_CELLS, ADAPTER_IMPLS, ADAPTER_SIZES,  # noqa: E402
                                           adapter_problem, check_agree, train_step)


def pytest_generate_tests(metafunc):
    if "adapter_size" in metafunc.fixturenames:
        smoke = metafunc.config.getoption("benchmark_disable", False)
        metafunc.parametrize("adapter_size", ["T8-N4-I6-H5"] if smoke else ["T50-N32-I128-H256"])


@pytest.mark.parametrize("impl", ADAPTER_IMPLS)
@pytest.mark.parametrize("cell", ADAPTER_CELLS)
def test_torch_adapter_train(benchmark, cell, adapter_size, impl):
    modules, x, weight = adapter_problem(cell, ADAPTER_SIZES[adapter_size])
    step = train_step(modules[impl], x, weight)
    step()                                                # compile / warm up outside the timing
    benchmark.group = f"torch-adapter {cell} {adapter_size} train"
    benchmark(step)


@pytest.mark.parametrize("cell", ADAPTER_CELLS)
def test_torch_adapter_agrees(cell):
    """The two implementations give the same loss and gradients (the benchmark's guard)."""
    modules, x, weight = adapter_problem(cell, ADAPTER_SIZES["T8-N4-I6-H5"], dtype="float64", seed=3)
    check_agree(modules, x, weight, rtol=1e-9, atol=1e-11)
