"""fastrnn's thread budget: the default, set/get, the limits it keeps, and that every kernel call
leaves OpenBLAS's thread count as it found it (the time loops run their products on one thread)."""
import numpy as np
import pytest
from threadpoolctl import threadpool_limits

import fastrnn
from fastrnn._kernels.blas import blas_thread_count
from fastrnn._threads import capped, kernel_threads


@pytest.fixture
def two_blas_threads():
    """OpenBLAS at 2 threads for the test (skipped where it cannot have 2)."""
    with threadpool_limits(limits=2, user_api="blas"):
        if blas_thread_count() != 2:
            pytest.skip("OpenBLAS cannot run 2 threads here")
        yield


@pytest.fixture
def budget():
    """Restore the thread budget after a test that sets it."""
    before = fastrnn.get_num_threads()
    yield
    fastrnn.set_num_threads(before)


def test_default_budget_is_one_and_set_get_round_trip(budget):
    assert fastrnn.get_num_threads() == 1
    fastrnn.set_num_threads(2)
    assert fastrnn.get_num_threads() == 2


@pytest.mark.parametrize("bad,exc", [(0, ValueError), (-1, ValueError), (1.5, TypeError), ("2", TypeError),
                                     (True, TypeError), (None, TypeError)])
def test_bad_budget_is_a_named_error_and_changes_nothing(bad, exc, budget):
    with pytest.raises(exc, match="n"):
        fastrnn.set_num_threads(bad)
    assert fastrnn.get_num_threads() == 1


def test_kernel_calls_run_at_the_budget_and_restore_the_count(two_blas_threads, budget):
    with kernel_threads():
        assert blas_thread_count() == 1                  # the default budget
    assert blas_thread_count() == 2
    fastrnn.set_num_threads(2)
    with kernel_threads():
        assert blas_thread_count() == 2
    with capped(1):                                      # e.g. torch.get_num_threads() == 1
        with kernel_threads():
            assert blas_thread_count() == 1
        with capped(2), kernel_threads():                # an inner cap never raises an outer one
            assert blas_thread_count() == 1
    with kernel_threads():
        assert blas_thread_count() == 2
    assert blas_thread_count() == 2


def test_a_limit_the_user_set_is_kept(budget):
    fastrnn.set_num_threads(4)
    with threadpool_limits(limits=1, user_api="blas"):
        with kernel_threads():
            assert blas_thread_count() == 1
        assert blas_thread_count() == 1


@pytest.mark.parametrize("cls", [fastrnn.nn.LSTM, fastrnn.nn.GRU, fastrnn.nn.RNN])
def test_forward_and_backward_leave_the_count_as_found(cls, two_blas_threads, budget):
    m = cls(6, 8, num_layers=2, seed=0)
    x = np.random.default_rng(0).standard_normal((7, 3, 6)).astype(np.float32)
    for threads in (1, 2):
        fastrnn.set_num_threads(threads)
        out, _ = m(x)
        assert blas_thread_count() == 2
        m.backward(np.ones_like(out))
        assert blas_thread_count() == 2
        with fastrnn.no_grad():
            m(x)
        assert blas_thread_count() == 2


def test_results_do_not_depend_on_the_budget(two_blas_threads, budget):
    m = fastrnn.nn.GRU(6, 8, num_layers=2, dtype=np.float64, seed=0)
    x = np.random.default_rng(1).standard_normal((9, 4, 6))
    results = []
    for threads in (1, 2):
        fastrnn.set_num_threads(threads)
        out, h = m(x)
        dx, dh = m.backward(np.ones_like(out))
        results.append((out, h, dx, dh))
    for a, b in zip(*results):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)
