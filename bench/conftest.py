"""pytest-benchmark suite of fastrnn against NumPy and torch.

    pytest bench --benchmark-only              # the whole comparison (minutes)
    pytest bench --benchmark-disable           # fast smoke run (tiny sizes; CI)
    pytest bench --benchmark-only --bench-threads 2 --bench-sizes medium large

Every thread pool (Numba, numpy's and scipy's OpenBLAS, OpenMP, torch) is pinned to
``--bench-threads`` (default 1) for the whole session.
"""
import os
import sys

import pytest

from fastrnn._bench.sizes import SIZES
from fastrnn._bench.threads import pin_threads

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:                # bench.reference, whatever the import mode or working directory
    sys.path.insert(0, ROOT)

SMOKE_SIZES = ("tiny",)


def pytest_addoption(parser):
    group = parser.getgroup("fastrnn bench")
    group.addoption("--bench-threads", type=int, default=1, help="threads for every pool (default 1)")
    group.addoption("--bench-sizes", nargs="+", default=None,
                    help="sizes to run (default: all when timing, tiny with --benchmark-disable)")


def smoke(config):
    """True for ``--benchmark-disable`` runs: keep them to the tiny sizes."""
    return bool(config.getoption("benchmark_disable", False))


def pytest_generate_tests(metafunc):
    if "size" in metafunc.fixturenames:
        sizes = metafunc.config.getoption("bench_sizes") or (
            SMOKE_SIZES if smoke(metafunc.config) else tuple(SIZES))
        metafunc.parametrize("size", sizes)


@pytest.fixture(scope="session", autouse=True)
def pinned_threads(request):
    with pin_threads(request.config.getoption("bench_threads")) as n:
        yield n
