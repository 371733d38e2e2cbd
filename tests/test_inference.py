"""Forward-only mode (``fastrnn.no_grad()``): the forward-only kernels equal the oracle, the
faces save nothing and refuse a backward, and the extra memory of a call does not grow with T.

The kernel tests run every registered cell (the test-only MGU has no forward-only kernel: it
checks the fallback) on padded and packed batches, with the input projection's chunk
shrunk to a few rows so that every call crosses chunk boundaries.
"""
import threading
import tracemalloc

import numpy as np
import pytest
from hypothesis import example, given, strategies as st

import fastrnn
from fastrnn import _cells
from fastrnn._cells import spec
from fastrnn._packing import Packing
from helpers import assert_close, layer_problem

CELLS = list(_cells.CELLS)


@pytest.fixture
def small_chunks(monkeypatch):
    """Chunks of 3 rows: every forward-only call below runs several chunks."""
    monkeypatch.setattr(spec, "INFER_CHUNK_ROWS", 3)


def test_chunk_steps():
    assert spec.chunk_steps(1000, 1) == spec.INFER_CHUNK_ROWS
    assert spec.chunk_steps(5, 1) == 5                    # never more steps than T
    assert spec.chunk_steps(1000, 10 * spec.INFER_CHUNK_ROWS) == 1    # at least one step
    assert spec.chunk_steps(1000, 100) * 100 >= spec.INFER_CHUNK_ROWS


@pytest.mark.parametrize("name", CELLS)
@given(T=st.integers(1, 9), N=st.integers(1, 5), I=st.integers(1, 9), H=st.integers(1, 20),
       dtype=st.sampled_from([np.float32, np.float64]), layout=st.sampled_from(_cells.LAYOUTS),
       packed=st.booleans(), bias=st.booleans(), seed=st.integers(0, 2**32 - 1), data=st.data())
@example(T=9, N=1, I=3, H=7, dtype=np.float32, layout="torch", packed=False, bias=True, seed=1, data=None)
@example(T=5, N=2, I=3, H=7, dtype=np.float64, layout="book", packed=True, bias=True, seed=2, data=None)
@example(T=4, N=8, I=5, H=37, dtype=np.float32, layout="torch", packed=False, bias=False, seed=3, data=None)
def test_forward_only_kernels_match_the_oracle(name, T, N, I, H, dtype, layout, packed, bias, seed, data):
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(spec, "INFER_CHUNK_ROWS", 3)
        check_forward_only(name, T, N, I, H, dtype, layout, packed, bias, seed, data)


def check_forward_only(name, T, N, I, H, dtype, layout, packed, bias, seed, data):
    cell = _cells.get(name)
    if layout not in cell.layouts:
        return
    rng = np.random.default_rng(seed)
    if data is not None:
        options = {o.name: data.draw(st.sampled_from(o.choices)) for o in cell.options}
    else:
        options = {}
    options = cell.check_options(options if layout == "torch" else {}, layout)
    params, reference, x, states, _, _ = layer_problem(cell, (T, N, I, H), dtype, rng, layout, bias)
    lengths = rng.integers(1, T + 1, N) if packed else None
    out, finals, _ = cell.oracle_forward(x, states, reference, options, lengths)
    before = [None if p is None else p.copy() for p in params]
    if packed:
        packing = Packing(lengths, T)
        k_out, k_finals = cell.forward_only(packing.pack(x), tuple(packing.sort(s) for s in states), params,
                                            layout, options, packing.batch_sizes)
        k_out, k_finals = packing.unpack(k_out), tuple(packing.unsort(f) for f in k_finals)
    else:
        k_out, k_finals = cell.forward_only(x, states, params, layout, options)
    assert_close(k_out, out, dtype, "out")
    for state, got, want in zip(cell.state_names, k_finals, finals):
        assert_close(got, want, dtype, f"{state}_n")
    for p, b in zip(params, before):
        assert (p is None and b is None) or np.array_equal(p, b), "a forward changed a parameter"


@pytest.mark.parametrize("name", [n for n in CELLS if _cells.get(n).infer is not None])
def test_forward_only_kernels_memory_is_about_the_output(name, monkeypatch):
    """Peak of the NumPy allocations of one forward-only call (tracemalloc sees them), the
    input projection's chunk shrunk to 24 rows: the output and at most a fifth of one
    H-wide row per step and sequence besides (no per-step buffers; a projecting cell's
    output has only P features)."""
    monkeypatch.setattr(spec, "INFER_CHUNK_ROWS", 24)
    cell = _cells.get(name)
    T, N, I, H = 400, 8, 16, 64
    params, _, x, states, _, _ = layer_problem(cell, (T, N, I, H), np.float32, np.random.default_rng(4))
    options = cell.check_options()
    cell.forward_only(x[:2], states, params, "torch", options)          # compile outside the measurement
    tracemalloc.start()
    try:
        out, _ = cell.forward_only(x, states, params, "torch", options)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak - out.nbytes <= 0.2 * T * N * H * out.itemsize, (peak, out.nbytes)


def test_the_real_cells_have_forward_only_kernels():
    for name in ("lstm", "gru", "rnn"):
        assert _cells.get(name).infer is not None


# --- the mode itself -------------------------------------------------------------------------
def test_no_grad_is_a_context_manager_a_decorator_and_per_thread():
    assert fastrnn.is_grad_enabled()
    with fastrnn.no_grad():
        assert not fastrnn.is_grad_enabled()
        with fastrnn.enable_grad():
            assert fastrnn.is_grad_enabled()
        assert not fastrnn.is_grad_enabled()
        seen = []
        worker = threading.Thread(target=lambda: seen.append(fastrnn.is_grad_enabled()))
        worker.start()
        worker.join()
        assert seen == [True]
    assert fastrnn.is_grad_enabled()

    @fastrnn.no_grad()
    def inside():
        return fastrnn.is_grad_enabled()

    assert inside() is False and inside() is False
    assert fastrnn.is_grad_enabled()
    with pytest.raises(ValueError):
        with fastrnn.no_grad():
            raise ValueError("the mode is restored when the block raises")
    assert fastrnn.is_grad_enabled()


# --- fastrnn.nn --------------------------------------------------------------------------------
MODULES = {
    "lstm-2-layers-bidirectional": lambda: fastrnn.nn.LSTM(3, 5, num_layers=2, bidirectional=True, seed=0),
    "gru-batch-first": lambda: fastrnn.nn.GRU(3, 5, batch_first=True, seed=1),
    "gru-reset-before-float64": lambda: fastrnn.nn.GRU(3, 5, reset_after=False, dtype=np.float64, seed=2),
    "rnn-relu-3-layers": lambda: fastrnn.nn.RNN(3, 5, num_layers=3, nonlinearity="relu", seed=3),
    "mgu": lambda: fastrnn.nn.Recurrent("mgu", 3, 5, num_layers=2, seed=4),
}


@pytest.mark.parametrize("config", list(MODULES))
@pytest.mark.parametrize("lengths", [None, [6, 1, 0, 4]])
def test_nn_forward_under_no_grad_equals_the_forward_and_refuses_backward(config, lengths, small_chunks):
    m = MODULES[config]()
    rng = np.random.default_rng(7)
    x = rng.standard_normal((4, 6, 3) if m.batch_first else (6, 4, 3)).astype(m.dtype)
    states = tuple(rng.standard_normal((m.num_layers * (2 if m.bidirectional else 1), 4, 5)).astype(m.dtype)
                   for _ in m.cell.state_names)
    hx = states[0] if len(states) == 1 else states
    out, final = m(x, hx, lengths=lengths)
    with fastrnn.no_grad():
        out2, final2 = m(x, hx, lengths=lengths)
    assert_close(out2, out, m.dtype, "out")
    for got, want in zip(np.atleast_1d(final2) if len(states) == 1 else final2,
                         np.atleast_1d(final) if len(states) == 1 else final):
        assert_close(got, want, m.dtype, "final state")
    grads = {k: g.copy() for k, g in m.grads.items()}
    with pytest.raises(RuntimeError, match="no_grad"):
        m.backward(np.ones_like(out))
    assert all(np.array_equal(m.grads[k], g) for k, g in grads.items())
    out3, _ = m(x, hx, lengths=lengths)               # outside no_grad again: a backward works
    m.backward(np.ones_like(out3))


@pytest.mark.parametrize("cls", [fastrnn.nn.LSTMCell, fastrnn.nn.GRUCell, fastrnn.nn.RNNCell])
def test_nn_cells_under_no_grad(cls):
    cell = cls(3, 4, seed=0)
    x = np.random.default_rng(0).standard_normal((2, 3)).astype(np.float32)
    want = cell(x)
    with fastrnn.no_grad():
        got = cell(x)
    for g, w in zip(got if isinstance(got, tuple) else (got,), want if isinstance(want, tuple) else (want,)):
        assert_close(g, w, np.float32, "state")
    with pytest.raises(RuntimeError, match="no_grad"):
        cell.backward(np.ones((2, 4), np.float32))


# --- fastrnn.layers ----------------------------------------------------------------------------
def book_layer(name, D, H, rng):
    """A book time layer with random weights (TimeBiLSTM: both directions' Wx, Wh, b)."""
    G = {"TimeLSTM": 4, "TimeGRU": 3, "TimeRNN": 1, "TimeBiLSTM": 4}[name]
    shapes = [(D, G * H), (H, G * H), (G * H,)] * (2 if name == "TimeBiLSTM" else 1)
    return getattr(fastrnn.layers, name)(*(rng.standard_normal(s).astype(np.float32) / 2 for s in shapes))


@pytest.mark.parametrize("name", ["TimeLSTM", "TimeGRU", "TimeRNN", "TimeBiLSTM"])
def test_book_time_layers_under_no_grad(name, small_chunks):
    rng = np.random.default_rng(1)
    layer = book_layer(name, 3, 5, rng)
    xs = rng.standard_normal((2, 7, 3)).astype(np.float32)
    want = layer.forward(xs)
    with fastrnn.no_grad():
        got = layer.forward(xs)
    assert_close(got, want, np.float32, "hs")
    grads = [g.copy() for g in layer.grads]
    with pytest.raises(RuntimeError, match="no_grad"):
        layer.backward(np.ones_like(got))
    assert all(np.array_equal(g, before) for g, before in zip(layer.grads, grads))
    layer.forward(xs)
    layer.backward(np.ones_like(got))


# --- memory ------------------------------------------------------------------------------------
@pytest.mark.parametrize("cls", [fastrnn.nn.LSTM, fastrnn.nn.GRU, fastrnn.nn.RNN])
def test_forward_only_extra_memory_is_about_the_output(cls, small_chunks):
    """Peak of the NumPy allocations of one call (tracemalloc sees them), against the
    output's size: the training forward keeps G*H per row besides, the forward-only one a
    chunk's worth (a few rows here; the default chunk is measured in bench/inference.py)."""
    T, N, H = 600, 8, 64
    m = cls(16, H, seed=0)
    x = np.zeros((T, N, 16), np.float32)
    output_bytes = T * N * H * 4
    m(x[:2])                                   # compile outside the measurement
    with fastrnn.no_grad():
        m(x[:2])

    def peak(grad):
        tracemalloc.start()
        try:
            if grad:
                out, _ = m(x)
            else:
                with fastrnn.no_grad():
                    out, _ = m(x)
            return tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()

    forward_only, training = peak(False), peak(True)
    assert forward_only <= 1.2 * output_bytes, (forward_only, output_bytes)
    if cls is not fastrnn.nn.RNN:                   # the RNN's training forward keeps only out too
        assert training > 2 * output_bytes
