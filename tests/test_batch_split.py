"""k threads on one sequence call (fastrnn/_cells/batch_split.py): with a budget of k, a big
enough batch (padded or packed) runs as k parts, all but one in worker threads, and gives the
unsplit call's results (weight gradients summed in another order: to rounding). k = 2, 3, 4
on any machine (more threads than cores is fine for correctness)."""
import numpy as np
import pytest
from threadpoolctl import threadpool_limits

import fastrnn
from fastrnn import _cells
from fastrnn._cells import batch_split
from fastrnn._packing import Packing
from helpers import assert_close, layer_problem, thread_budget

CELLS = list(_cells.CELLS)


@pytest.fixture
def two_threads(monkeypatch):
    """Budget 2 and every padded call of 2·MIN_PART_ROWS sequences or more split."""
    monkeypatch.setattr(batch_split, "MIN_MACS", 0)
    with thread_budget(2):
        yield


@pytest.fixture(params=[2, 3, 4], ids=lambda k: f"{k}-threads")
def threads(monkeypatch, request):
    """Budget k (and the BLAS pool at k) and every call of k·MIN_PART_ROWS sequences or more split in k."""
    monkeypatch.setattr(batch_split, "MIN_MACS", 0)
    with thread_budget(request.param):
        yield request.param


def run(cell, x, states, params, options, dout, dstates, accumulate, start, batch_sizes=None):
    out, finals, cache = cell.forward(x, states, params, "torch", options, batch_sizes)
    grads = tuple(None if g is None else g.copy() for g in start)
    dx, d0 = cell.backward(cache, dout, dstates, grads, accumulate)
    only = cell.forward_only(x, states, params, "torch", options, batch_sizes)
    return (out, *finals, dx, *d0, *[g for g in grads if g is not None], only[0], *only[1]), cache


@pytest.mark.parametrize("packed", [False, True], ids=["padded", "packed"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", CELLS)
def test_split_calls_equal_the_whole_call(threads, name, dtype, packed):
    cell = _cells.get(name)
    rng = np.random.default_rng(4)
    T, N, I, H = 5, threads * batch_split.MIN_PART_ROWS + 3, 4, 6
    params, _, x, states, dout, dstates = layer_problem(cell, (T, N, I, H), dtype, rng)
    options = cell.check_options()
    if cell.zoneout:
        options["zoneout"] = (rng.random((T, N, cell.state_sizes(H)[0])) < 0.3).astype(dtype)
    batch_sizes = None
    if packed:          # variable lengths, one of them 0 (its states pass through)
        packing = Packing(np.concatenate(([0], rng.integers(1, T + 1, N - 1))), T)
        x, dout, batch_sizes = packing.pack(x), packing.pack(dout), packing.batch_sizes
        states, dstates = tuple(packing.sort(s) for s in states), tuple(packing.sort(d) for d in dstates)
        if cell.zoneout:
            options["zoneout"] = packing.pack(options["zoneout"])
    start = tuple(None if p is None else rng.standard_normal(p.shape).astype(dtype) for p in params)
    split, cache = run(cell, x, states, params, options, dout, dstates, True, start, batch_sizes)
    assert isinstance(cache, batch_split.SplitCache) and len(cache.parts) == threads
    fastrnn.set_num_threads(1)
    whole, cache = run(cell, x, states, params, options, dout, dstates, True, start, batch_sizes)
    assert not isinstance(cache, batch_split.SplitCache)
    for got, want in zip(split, whole):
        assert_close(got, want, dtype)


def test_parts_follow_the_budget_the_blas_limit_and_the_batch(threads):
    cell = _cells.get("lstm")
    rng = np.random.default_rng(9)
    params, _, x, states, _, _ = layer_problem(cell, (3, 4 * batch_split.MIN_PART_ROWS, 3, 4), np.float32, rng)

    def parts(x, states, batch_sizes=None):
        cache = cell.forward(x, states, params, "torch", cell.check_options(), batch_sizes)[2]
        return len(cache.parts) if isinstance(cache, batch_split.SplitCache) else 1
    assert parts(x, states) == threads
    few = 3 * batch_split.MIN_PART_ROWS - 1                      # room for 2 parts only
    assert parts(x[:, :few].copy(), tuple(s[:few] for s in states)) == 2
    with threadpool_limits(2, user_api="blas"):             # the user's own limit
        assert parts(x, states) == 2
    sizes = np.array([4 * batch_split.MIN_PART_ROWS, 9, 2])      # packed: parts by sequence number mod k
    assert parts(x.reshape(-1, 3)[:sizes.sum()], states, sizes) == threads


def test_packed_parts_take_every_kth_sequence():
    sizes = np.array([7, 5, 2])
    cut = batch_split.PackedParts(sizes, 3)
    assert [list(cut.batch_sizes(j)) for j in range(3)] == [[3, 2, 1], [2, 2, 1], [2, 1]]
    rows = np.arange(sizes.sum())[:, None]
    step = np.repeat(np.arange(3), sizes)
    sequence = rows[:, 0] - np.concatenate(([0], np.cumsum(sizes)[:-1]))[step]
    for j in range(3):
        assert list(sequence[cut.rows(rows, j)[:, 0]] % 3) == [j] * int(cut.batch_sizes(j).sum())
    np.testing.assert_array_equal(cut.join_rows([cut.rows(rows, j) for j in range(3)]), rows)
    states = np.arange(7)[:, None]
    np.testing.assert_array_equal(cut.join_states([cut.states(states, j) for j in range(3)]), states)


def test_what_is_not_split(two_threads):
    cell = _cells.get("gru")
    rng = np.random.default_rng(5)
    params, _, x, states, _, _ = layer_problem(cell, (3, 2 * batch_split.MIN_PART_ROWS, 3, 4), np.float32, rng)
    options = cell.check_options()
    assert isinstance(cell.forward(x, states, params, "torch", options)[2], batch_split.SplitCache)
    small = x[:, :2 * batch_split.MIN_PART_ROWS - 1].copy()
    assert not isinstance(cell.forward(small, tuple(s[:small.shape[1]] for s in states), params, "torch",
                                       options)[2], batch_split.SplitCache)
    with threadpool_limits(1):                      # the user's own limit
        assert not isinstance(cell.forward(x, states, params, "torch", options)[2], batch_split.SplitCache)
    sizes = np.array([2 * batch_split.MIN_PART_ROWS - 1, 3, 1])     # packed rows: too few sequences
    rows = x.reshape(-1, x.shape[2])[:sizes.sum()]
    assert not isinstance(cell.forward(rows, states, params, "torch", options, sizes)[2], batch_split.SplitCache)
    sizes[0] += 1
    rows = x.reshape(-1, x.shape[2])[:sizes.sum()]
    assert isinstance(cell.forward(rows, states, params, "torch", options, sizes)[2], batch_split.SplitCache)
    fastrnn.set_num_threads(1)
    assert not isinstance(cell.forward(x, states, params, "torch", options)[2], batch_split.SplitCache)


def test_a_module_trains_the_same_on_k_threads(threads):
    x = np.random.default_rng(6).standard_normal((7, 4 * 4, 5))
    results = []
    for budget in (threads, 1):
        fastrnn.set_num_threads(budget)
        m = fastrnn.LSTM(5, 8, num_layers=2, bidirectional=True, dtype=np.float64, seed=3)
        out, (h, c) = m(x)
        dx, _ = m.backward(np.ones_like(out))
        results.append((out, h, c, dx, *[m.grads[k] for k in sorted(m.grads)]))
    for a, b in zip(*results):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-13)


def test_the_worker_reports_errors_and_keeps_working(two_threads):
    """An error in either half reaches the caller; OpenBLAS's thread count is restored."""
    import threading
    from fastrnn._threads import available_threads
    calls, fail = [], [True]

    def forward(x, states, params, layout, options, batch_sizes=None):
        calls.append(x.shape[1])
        if fail[0] and threading.current_thread().name.startswith("fastrnn-split"):
            raise ValueError("second half failed")
        return x, states, None
    split = batch_split.split_forward(forward)
    x = np.zeros((2, 2 * batch_split.MIN_PART_ROWS, 3))
    params = (None, np.zeros((3, 3)))
    before = available_threads()
    with pytest.raises(ValueError, match="second half failed"):
        split(x, (np.zeros((x.shape[1], 3)),), params, "torch", {})
    assert sorted(calls) == [batch_split.MIN_PART_ROWS] * 2
    assert available_threads() == before
    fail[0] = False
    out, _, cache = split(x, (np.zeros((x.shape[1], 3)),), params, "torch", {})
    assert out.shape == x.shape and isinstance(cache, batch_split.SplitCache)


@pytest.mark.skipif(not hasattr(__import__("os"), "fork"), reason="needs os.fork")
def test_a_forked_child_splits_with_its_own_worker(two_threads):
    """After the worker thread started, a forked child (a DataLoader worker) still splits:
    it makes its own worker instead of waiting on the parent's, which it does not have."""
    import os
    cell = _cells.get("gru")
    rng = np.random.default_rng(8)
    params, _, x, states, _, _ = layer_problem(cell, (3, 2 * batch_split.MIN_PART_ROWS, 3, 4), np.float64, rng)
    want = cell.forward(x, states, params, "torch", cell.check_options())[0]      # the worker runs
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:                                       # the child: report, never return into pytest
        ok = 0
        try:
            out, _, cache = cell.forward(x, states, params, "torch", cell.check_options())
            ok = int(isinstance(cache, batch_split.SplitCache) and np.array_equal(out, want))
        finally:
            os.write(write, bytes([ok]))
            os._exit(0)
    os.close(write)
    import select
    ready, _, _ = select.select([read], [], [], 60)
    if not ready:
        import signal
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    assert ready, "the forked child's split call hung"
    assert os.read(read, 1) == bytes([1])
    os.waitpid(pid, 0)
