"""Variable-length batches (``lengths``): torch's packed semantics, stated once in fastrnn.oracle.

Sequence n runs steps 0..L_n−1; its outputs after them are 0, its final states those after
its last step (the initial ones when L_n = 0); a reverse direction runs it from its own last
step down to 0; dout after L_n−1 is ignored; gradients reach its initial states through
exactly L_n steps. Checked: the oracle against finite differences and against each sequence
run alone; every registered cell's kernels on packed rows (the padding skipped) against the
oracle; fastrnn.functional, fastrnn.nn, the book's time layers and the models against the
oracle; a batch against each sequence alone; all lengths = T against no lengths; the errors.
"""
import numpy as np
import pytest
from hypothesis import example, given, strategies as st

import fastrnn
import fastrnn.functional as F
import fastrnn.layers as L
from fastrnn import _cells, oracle
from fastrnn._packing import Packing, reverse_rows
from fastrnn.nn import Recurrent
from helpers import (assert_close, book_to_torch, float32_sensitivity, layer_problem, module_proj_size,
                     numeric_directional, numeric_grad, random_params, torch_grads_to_book)

CELLS = list(_cells.CELLS)


def lengths_strategy(T, N):
    """Random lengths in [0, T], with the corner cases drawn often: all T, all 1, some 0."""
    return st.one_of(st.just([T] * N), st.just([1] * N), st.lists(st.integers(0, T), min_size=N, max_size=N))


# --- the oracle --------------------------------------------------------------------------------
@pytest.mark.parametrize("name", CELLS)
def test_oracle_batch_equals_each_sequence_alone(name):
    cell = _cells.get(name)
    rng = np.random.default_rng(1)
    lengths = np.array([5, 0, 2, 3])
    params, _, x, states, dout, dstates = layer_problem(cell, (5, 4, 3, 4), np.float64, rng)
    options = cell.check_options()
    out, finals, cache = cell.oracle_forward(x, states, params, options, lengths)
    dx, d0, grads = cell.oracle_backward(cache, dout, dstates)
    total = [np.zeros_like(p) for p in params]
    for n, Ln in enumerate(lengths):
        assert not out[Ln:, n].any() and not dx[Ln:, n].any()
        alone = tuple(s[n:n + 1] for s in states)
        if Ln == 0:
            for f, s, d, ds in zip(finals, alone, d0, dstates):
                np.testing.assert_array_equal(f[n:n + 1], s)
                np.testing.assert_array_equal(d[n:n + 1], ds[n:n + 1])
            continue
        o1, f1, c1 = cell.oracle_forward(x[:Ln, n:n + 1], alone, params, options)
        dx1, d01, g1 = cell.oracle_backward(c1, dout[:Ln, n:n + 1], tuple(d[n:n + 1] for d in dstates))
        np.testing.assert_allclose(out[:Ln, n:n + 1], o1, rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(dx[:Ln, n:n + 1], dx1, rtol=1e-12, atol=1e-14)
        for f, f1_, d, d1 in zip(finals, f1, d0, d01):
            np.testing.assert_allclose(f[n:n + 1], f1_, rtol=1e-12, atol=1e-14)
            np.testing.assert_allclose(d[n:n + 1], d1, rtol=1e-12, atol=1e-14)
        total = [t + g for t, g in zip(total, g1)]
    for g, t in zip(grads, total):
        np.testing.assert_allclose(g, t, rtol=1e-11, atol=1e-13)


@pytest.mark.parametrize("name", CELLS)
def test_oracle_gradients_with_lengths_equal_finite_differences(name):
    cell = _cells.get(name)
    rng = np.random.default_rng(2)
    lengths = np.array([2, 4, 0])
    params, _, x, states, dout, dstates = layer_problem(cell, (4, 3, 2, 3), np.float64, rng)
    options = cell.check_options()

    def loss():
        out, finals, _ = cell.oracle_forward(x, states, params, options, lengths)
        return np.sum(out * dout) + sum(np.sum(f * d) for f, d in zip(finals, dstates))

    _, _, cache = cell.oracle_forward(x, states, params, options, lengths)
    dx, d0, grads = cell.oracle_backward(cache, dout, dstates)
    for got, array in zip((dx, *d0, *grads), (x, *states, *params)):
        np.testing.assert_allclose(got, numeric_grad(loss, array), rtol=1e-5, atol=1e-6)


def test_reverse_sequences_and_reverse_rows_agree():
    lengths = np.array([3, 5, 0, 1, 5])
    x = np.arange(5 * 5).reshape(5, 5, 1).astype(float)
    rev = oracle.reverse_sequences(x, lengths)
    np.testing.assert_array_equal(rev[:3, 0, 0], x[:3, 0, 0][::-1])
    np.testing.assert_array_equal(rev[3:, 0], x[3:, 0])
    packing = Packing(lengths, 5)
    np.testing.assert_array_equal(packing.reverse(packing.pack(x)), packing.pack(rev))
    r = reverse_rows(packing.batch_sizes)
    np.testing.assert_array_equal(r[r], np.arange(packing.rows))        # an involution


# --- the kernels on packed rows ------------------------------------------------------------------
@pytest.mark.parametrize("name", CELLS)
@given(T=st.integers(1, 7), N=st.integers(1, 6), I=st.integers(1, 9), H=st.integers(1, 20),
       dtype=st.sampled_from([np.float32, np.float64]), layout=st.sampled_from(_cells.LAYOUTS),
       accumulate=st.booleans(), seed=st.integers(0, 2**32 - 1), data=st.data())
@example(T=4, N=20, I=5, H=37, dtype=np.float32, layout="torch", accumulate=True, seed=5, data=None)
def test_kernels_on_packed_rows_match_the_oracle(name, T, N, I, H, dtype, layout, accumulate, seed, data):
    cell = _cells.get(name)
    if layout not in cell.layouts:
        return
    rng = np.random.default_rng(seed)
    lengths = np.array(data.draw(lengths_strategy(T, N)) if data is not None else rng.integers(1, T + 1, N))
    if lengths.max() == 0:
        lengths[0] = 1          # the kernels need a step; no step at all is the faces' case
    options = cell.check_options(layout=layout)
    params, reference, x, states, dout, dstates = layer_problem(cell, (T, N, I, H), dtype, rng, layout)
    out, finals, cache = cell.oracle_forward(x, states, reference, options, lengths)
    dx, d0, grads = cell.oracle_backward(cache, dout, dstates)
    # float32: what the problem's own conditioning makes unavoidable (a layer norm over 1-3
    # entries amplifies rounding), as in test_kernels
    slack = {} if dtype != np.float32 else float32_sensitivity(
        cell, x, states, reference, options, dout, dstates, (out, finals, dx, d0, grads),
        np.random.default_rng(seed), lengths)
    weight_slack = max([slack.get(f"d{p.name}", 0.0) for p in cell.params("torch")], default=0.0)

    packing = Packing(lengths, T)
    k_out, k_finals, k_cache = cell.forward(packing.pack(x), tuple(packing.sort(s) for s in states), params,
                                            layout, options, packing.batch_sizes)
    assert k_out.shape == (int(lengths.sum()), out.shape[-1])
    assert_close(packing.unpack(k_out), out, dtype, "out", 8 * slack.get("out", 0.0))
    for name, got, want in zip(cell.state_names, k_finals, finals):
        assert_close(packing.unsort(got), want, dtype, "final state", 8 * slack.get(f"{name}_n", 0.0))
    buffers = tuple(rng.standard_normal(p.shape).astype(dtype) for p in params)
    start = tuple(b.copy() for b in buffers)
    k_dx, k_d0 = cell.backward(k_cache, packing.pack(dout), tuple(packing.sort(d) for d in dstates), buffers,
                               accumulate)
    assert_close(packing.unpack(k_dx), dx, dtype, "dx", 8 * slack.get("dx", 0.0))
    for name, got, want in zip(cell.state_names, k_d0, d0):
        assert_close(packing.unsort(got), want, dtype, "initial state grad", 8 * slack.get(f"d{name}0", 0.0))
    if layout == "book":
        grads = tuple(torch_grads_to_book(cell.layouts["book"].blocks, *grads[:3])) + tuple(grads[4:])
    assert len(grads) == len(buffers)
    for got, first, want in zip(buffers, start, grads):
        assert_close(got, want + first if accumulate else want, dtype, "weight grad", 8 * weight_slack)


# --- fastrnn.functional ---------------------------------------------------------------------------
@pytest.mark.parametrize("name", CELLS)
def test_functional_lengths_match_the_oracle(name):
    cell = _cells.get(name)
    rng = np.random.default_rng(3)
    lengths = [6, 0, 3, 1, 6]
    params, _, x, states, dout, dstates = layer_problem(cell, (6, 5, 4, 5), np.float64, rng)
    out, finals, cache = cell.oracle_forward(x, states, params, cell.check_options(), np.array(lengths))
    dx, d0, grads = cell.oracle_backward(cache, dout, dstates)
    k_out, k_finals, k_cache = F.sequence_forward(name, x, states, params, lengths=lengths)
    k_dx, k_d0, k_grads = F.sequence_backward(k_cache, dout, dstates)
    for got, want in zip((k_out, *k_finals, k_dx, *k_d0, *k_grads), (out, *finals, dx, *d0, *grads)):
        np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-11)


def test_functional_per_cell_lengths_and_all_zero_lengths():
    rng = np.random.default_rng(4)
    w = random_params(rng, "lstm", 3, 4, np.float64)
    x = rng.standard_normal((5, 2, 3))
    out, h_n, c_n, cache = F.lstm_forward(x, None, None, *w, lengths=[5, 2])
    ref = oracle.lstm_forward(x, np.zeros((2, 4)), np.zeros((2, 4)), *w, lengths=np.array([5, 2]))
    np.testing.assert_allclose(out, ref[0], rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(c_n, ref[2], rtol=1e-10, atol=1e-12)
    h0 = rng.standard_normal((2, 4))
    out, h_n, cache = F.gru_forward(x, h0, *random_params(rng, "gru", 3, 4, np.float64), lengths=[0, 0])
    assert not out.any()
    np.testing.assert_array_equal(h_n, h0)
    dx, dh0, grads = F.gru_backward(np.ones_like(out), np.full((2, 4), 2.0), cache)
    assert not dx.any() and all(not g.any() for g in grads)
    np.testing.assert_array_equal(dh0, np.full((2, 4), 2.0))


# --- fastrnn.nn -----------------------------------------------------------------------------------
def nn_reference(m, x, states, dout, dstates, lengths):
    """The oracle composition of a multi-layer, optionally bidirectional module with lengths."""
    cell = m.cell
    Lyr, D, H = m.num_layers, 2 if m.bidirectional else 1, cell.output_size(m.hidden_size, m.proj_size)
    f64 = lambda a: np.asarray(a, np.float64)  # noqa: E731
    layer_in, caches, finals = f64(x), [], []
    for layer in range(Lyr):
        outs = []
        for d in range(D):
            k = layer * D + d
            sfx = f"_l{layer}" + ("_reverse" if d else "")
            w = tuple(None if p.name + sfx not in m.params else f64(m.params[p.name + sfx])
                      for p in cell.params("torch"))
            xin = layer_in if d == 0 else oracle.reverse_sequences(layer_in, lengths)
            out, fin, cache = cell.oracle_forward(xin, tuple(f64(s[k]) for s in states), w, m._options, lengths)
            outs.append(out if d == 0 else oracle.reverse_sequences(out, lengths))
            caches.append((k, cache))
            finals.append(fin)
        layer_in = np.concatenate(outs, axis=2)
    final = [np.stack([f[i] for f in finals]) for i in range(len(states))]
    grads, d0 = {}, [np.zeros(s.shape) for s in states]
    dlayer = f64(dout)
    for layer in reversed(range(Lyr)):
        dx = 0
        for d in range(D):
            k, cache = caches[layer * D + d]
            dk = dlayer[:, :, d * H:(d + 1) * H]
            dk = dk if d == 0 else oracle.reverse_sequences(dk, lengths)
            dxk, ds0, g = cell.oracle_backward(cache, dk, tuple(f64(s[k]) for s in dstates))
            dx = dx + (dxk if d == 0 else oracle.reverse_sequences(dxk, lengths))
            for i, s in enumerate(ds0):
                d0[i][k] = s
            sfx = f"_l{layer}" + ("_reverse" if d else "")
            for p, gi in zip(cell.params("torch"), g):
                if gi is not None:
                    grads[p.name + sfx] = gi
        dlayer = dx
    return layer_in, final, dlayer, d0, grads


def pack(cell, states):
    return states[0] if len(cell.state_names) == 1 else tuple(states)


def unpack(cell, value):
    return [value] if len(cell.state_names) == 1 else list(value)


CONFIGS = {
    "2layer-bidir-f64": dict(num_layers=2, bidirectional=True, dtype=np.float64),
    "batch_first-f64": dict(batch_first=True, dtype=np.float64),
    "bidir-nobias-f32": dict(bidirectional=True, bias=False),
    "3layer-dropout-eval-f64": dict(num_layers=3, dropout=0.3, dtype=np.float64),
}


@pytest.mark.parametrize("config", list(CONFIGS))
@pytest.mark.parametrize("name", CELLS)
def test_module_with_lengths_matches_the_oracle(name, config):
    kw = CONFIGS[config]
    m = Recurrent(name, 3, 4, seed=5, proj_size=module_proj_size(name, 4), **kw)
    m.eval()
    rng = np.random.default_rng(6)
    T, N = 6, 5
    lengths = np.array([4, 6, 0, 1, 6])
    LD = m.num_layers * (2 if m.bidirectional else 1)
    sizes = m.cell.state_sizes(4, m.proj_size)
    x = rng.standard_normal((T, N, 3)).astype(m.dtype)
    states = [rng.standard_normal((LD, N, size)).astype(m.dtype) for size in sizes]
    dout = rng.standard_normal((T, N, sizes[0] * (2 if m.bidirectional else 1))).astype(m.dtype)
    dstates = [rng.standard_normal((LD, N, size)).astype(m.dtype) for size in sizes]
    r_out, r_fin, r_dx, r_d0, r_grads = nn_reference(m, x, states, dout, dstates, lengths)
    bf = m.batch_first
    tr = (lambda a: a.transpose(1, 0, 2)) if bf else (lambda a: a)
    m.zero_grad()
    out, fin = m(tr(x), pack(m.cell, states), lengths=list(lengths))
    dx, d0 = m.backward(tr(dout), pack(m.cell, dstates))
    dt = m.dtype
    assert_close(tr(out), r_out, dt, "out")
    assert_close(tr(dx), r_dx, dt, "dx")
    for got, want in zip(unpack(m.cell, fin) + unpack(m.cell, d0), r_fin + r_d0):
        assert_close(got, want, dt, "state")
    for k, g in r_grads.items():
        assert_close(m.grads[k], g, dt, k)


@pytest.mark.parametrize("name", CELLS)
def test_all_lengths_t_equal_no_lengths_and_batch_equals_each_alone(name):
    m = Recurrent(name, 3, 4, num_layers=2, bidirectional=True, dtype=np.float64, seed=7,
                  proj_size=module_proj_size(name, 4))
    rng = np.random.default_rng(8)
    T, N = 5, 4
    x = rng.standard_normal((T, N, 3))
    dout = rng.standard_normal((T, N, 2 * m.cell.output_size(4, m.proj_size)))
    out, fin = m(x)
    dx, d0 = m.backward(dout)
    grads = {k: g.copy() for k, g in m.grads.items()}
    m.zero_grad()
    out2, fin2 = m(x, lengths=[T] * N)
    dx2, d02 = m.backward(dout)
    np.testing.assert_allclose(out2, out, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(dx2, dx, rtol=1e-12, atol=1e-14)
    for a, b in zip(unpack(m.cell, fin2) + unpack(m.cell, d02), unpack(m.cell, fin) + unpack(m.cell, d0)):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)
    for k in grads:
        np.testing.assert_allclose(m.grads[k], grads[k], rtol=1e-12, atol=1e-14)
    # a batch with lengths == each sequence run alone at its own length
    lengths = [5, 2, 0, 3]
    m.zero_grad()
    out, fin = m(x, lengths=lengths)
    dx, d0 = m.backward(dout)
    batch_grads = {k: g.copy() for k, g in m.grads.items()}
    total = {k: np.zeros_like(g) for k, g in m.grads.items()}
    for n, Ln in enumerate(lengths):
        if Ln == 0:
            assert not out[:, n].any() and not dx[:, n].any()
            continue
        m.zero_grad()
        o1, f1 = m(x[:Ln, n:n + 1])
        dx1, d01 = m.backward(dout[:Ln, n:n + 1])
        np.testing.assert_allclose(out[:Ln, n:n + 1], o1, rtol=1e-10, atol=1e-12)
        assert not out[Ln:, n].any() and not dx[Ln:, n].any()
        np.testing.assert_allclose(dx[:Ln, n:n + 1], dx1, rtol=1e-10, atol=1e-12)
        for a, b in zip(unpack(m.cell, fin) + unpack(m.cell, d0), unpack(m.cell, f1) + unpack(m.cell, d01)):
            np.testing.assert_allclose(a[:, n:n + 1], b, rtol=1e-10, atol=1e-12)
        for k in total:
            total[k] += m.grads[k]
    for k in total:
        np.testing.assert_allclose(batch_grads[k], total[k], rtol=1e-10, atol=1e-12)


def test_all_lengths_zero_in_a_module():
    m = fastrnn.LSTM(3, 4, num_layers=2, seed=9)
    h0 = np.ones((2, 2, 4), np.float32)
    out, (h_n, c_n) = m(np.ones((3, 2, 3), np.float32), (h0, 2 * h0), lengths=[0, 0])
    assert out.shape == (3, 2, 4) and not out.any()
    np.testing.assert_array_equal(h_n, h0)
    np.testing.assert_array_equal(c_n, 2 * h0)
    dx, (dh0, dc0) = m.backward(np.ones((3, 2, 4), np.float32), (h0, h0))
    assert not dx.any() and all(not g.any() for g in m.grads.values())
    np.testing.assert_array_equal(dh0, h0)


@pytest.mark.parametrize("bad,exc,match", [
    ([3, 2], ValueError, r"lengths: expected a 1-D array of N=3 lengths, got shape \(2,\)"),
    ([[3, 2, 1]], ValueError, r"lengths: expected a 1-D array of N=3 lengths, got shape \(1, 3\)"),
    ([3.0, 2.0, 1.0], TypeError, r"lengths: expected integers, got dtype float64"),
    ([3, -1, 1], ValueError, r"lengths: expected every length in \[0, T=4\], got -1"),
    ([3, 5, 1], ValueError, r"lengths: expected every length in \[0, T=4\], got 5"),
    ("abc", TypeError, r"lengths: expected integers, got dtype <U3"),
])
def test_bad_lengths_are_named_errors_and_change_nothing(bad, exc, match):
    m = fastrnn.GRU(2, 3, seed=10)
    before = {k: v.copy() for k, v in m.params.items()}
    x = np.ones((4, 3, 2), np.float32)
    with pytest.raises(exc, match=match):
        m(x, lengths=bad)
    with pytest.raises(exc, match=match):
        F.gru_forward(x, None, m.params["weight_ih_l0"], m.params["weight_hh_l0"], lengths=bad)
    with pytest.raises(exc, match=match):
        L.TimeGRU(np.ones((2, 9), np.float32), np.ones((3, 9), np.float32)).forward(x.transpose(1, 0, 2), bad)
    for k in before:
        np.testing.assert_array_equal(m.params[k], before[k])
    with pytest.raises(RuntimeError, match="before forward"):
        m.backward()                     # the failed call left no forward behind
    with pytest.raises(ValueError, match="lengths: expected None for unbatched input"):
        m(np.ones((4, 2), np.float32), lengths=[4])


# --- the book's time layers and the models ---------------------------------------------------------
# (the LSTM variants' book layers, with their 4th array: tests/test_lstm_variants.py)
@pytest.mark.parametrize("name", [n for n, c in _cells.CELLS.items() if "book" in c.layouts and not c.variant_of])
def test_book_time_layers_with_lengths_match_the_oracle(name):
    cell = _cells.get(name)
    rng = np.random.default_rng(11)
    N, T, D, H = 4, 5, 3, 4
    lengths = np.array([5, 1, 0, 3])
    params = [(rng.standard_normal(p.shape(D, H, cell.gates)) / 2) for p in cell.params("book")]
    xs = rng.standard_normal((N, T, D))
    dhs = rng.standard_normal((N, T, 2 * H))
    layer = L.TimeBiRecurrent(name, *params, *[p * 0.9 for p in params])
    hs = layer.forward(xs, lengths)
    dxs = layer.backward(dhs)
    # reference: the oracle, time-major, the backward layer on the sequences reversed within their lengths
    blocks = cell.layouts["book"].blocks
    opts = cell.check_options(layout="book")
    x = xs.transpose(1, 0, 2)
    zeros = tuple(np.zeros((N, H)) for _ in cell.state_names)
    outs, dx = [], 0
    for k, ps in enumerate((params, [p * 0.9 for p in params])):
        w = book_to_torch(blocks, *ps)
        xin = x if k == 0 else oracle.reverse_sequences(x, lengths)
        out, _, cache = cell.oracle_forward(xin, zeros, w, opts, lengths)
        d = dhs.transpose(1, 0, 2)[:, :, k * H:(k + 1) * H]
        dxk, _, g = cell.oracle_backward(cache, d if k == 0 else oracle.reverse_sequences(d, lengths),
                                         (None,) * len(zeros))
        outs.append(out if k == 0 else oracle.reverse_sequences(out, lengths))
        dx = dx + (dxk if k == 0 else oracle.reverse_sequences(dxk, lengths))
        want = torch_grads_to_book(blocks, *g[:3])
        for got, wg in zip(layer.grads[3 * k:3 * k + 3], want):
            np.testing.assert_allclose(got, wg, rtol=2e-4, atol=2e-5)
    np.testing.assert_allclose(hs, np.concatenate(outs, axis=2).transpose(1, 0, 2), rtol=2e-4, atol=2e-5)
    np.testing.assert_allclose(dxs, dx.transpose(1, 0, 2), rtol=2e-4, atol=2e-5)


def test_sequence_classifier_bidirectional_learns_and_reads_each_sequence_to_its_end():
    from fastrnn.models import SequenceClassifier
    rng = np.random.default_rng(12)
    N, T, V = 64, 8, 6
    lengths = rng.integers(2, T + 1, N)
    xs = rng.integers(1, V, (N, T))
    labels = (xs[np.arange(N), lengths - 1] > 3).astype(int)        # the class is the last real token's
    xs[np.arange(T)[None, :] >= lengths[:, None]] = -1               # padding
    model = SequenceClassifier(V, 8, 16, num_classes=2, cell="gru", bidirectional=True, seed=0)
    opt = fastrnn.optim.Adam(lr=0.05)
    first = model.forward(xs, labels)
    for _ in range(60):
        model.forward(xs, labels)
        model.backward()
        opt.update(model.params, model.grads)
    assert model.forward(xs, labels) < 0.5 * first
    assert model.accuracy(xs, labels) > 0.9
    # what stands in the padding cannot change a prediction
    other = xs.copy()
    pad = other == -1
    other[pad] = rng.integers(1, V, int(pad.sum()))
    np.testing.assert_array_equal(model.predict(other, lengths), model.predict(xs))


@pytest.mark.parametrize("bidirectional", [False, True])
def test_sequence_regressor_with_lengths_gradient_is_finite_differences(bidirectional):
    from fastrnn.models import SequenceRegressor
    model = SequenceRegressor(2, 3, 1, cell="lstm", many_to_many=True, bidirectional=bidirectional,
                              seed=1, dtype=np.float64)
    rng = np.random.default_rng(13)
    xs = rng.standard_normal((3, 4, 2))
    ts = rng.standard_normal((3, 4, 1))
    lengths = [4, 1, 2]
    model.forward(xs, ts, lengths)
    model.backward()
    grads = [g.copy() for g in model.grads]
    rng = np.random.default_rng(14)
    for p, g in zip(model.params, grads):           # the book layers' hs are float32: directional, 5e-3
        d = rng.standard_normal(p.shape)
        fd = numeric_directional(lambda: model.forward(xs, ts, lengths), p, d, 1e-4)
        assert float(np.sum(g * d)) == pytest.approx(fd, rel=5e-3, abs=2e-7)
    y = model.predict(xs, lengths)
    assert not y[1, 1:].any() and not y[2, 2:].any()


@pytest.mark.parametrize("name", CELLS)
def test_equal_lengths_take_the_truncated_padded_path_and_match_the_oracle(name):
    """Every sequence of the same length L < T: the first L steps run as a padded batch (no
    gather); outputs after L are 0, final states after step L − 1, as the oracle says."""
    from fastrnn._packing import Truncated, packing_for
    assert isinstance(packing_for(np.array([3, 3]), 5, 2), Truncated)
    m = Recurrent(name, 3, 4, num_layers=2, bidirectional=True, dtype=np.float64, seed=15,
                  proj_size=module_proj_size(name, 4))
    rng = np.random.default_rng(16)
    T, N = 5, 2
    lengths = np.array([3, 3])
    LD = 4
    sizes = m.cell.state_sizes(4, m.proj_size)
    x = rng.standard_normal((T, N, 3))
    states = [rng.standard_normal((LD, N, size)) for size in sizes]
    dout = rng.standard_normal((T, N, 2 * sizes[0]))
    dstates = [rng.standard_normal((LD, N, size)) for size in sizes]
    r_out, r_fin, r_dx, r_d0, r_grads = nn_reference(m, x, states, dout, dstates, lengths)
    m.zero_grad()
    out, fin = m(x, pack(m.cell, states), lengths=lengths)
    dx, d0 = m.backward(dout, pack(m.cell, dstates))
    np.testing.assert_allclose(out, r_out, rtol=1e-9, atol=1e-11)
    np.testing.assert_allclose(dx, r_dx, rtol=1e-9, atol=1e-11)
    for got, want in zip(unpack(m.cell, fin) + unpack(m.cell, d0), r_fin + r_d0):
        np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-11)
    for k, g in r_grads.items():
        np.testing.assert_allclose(m.grads[k], g, rtol=1e-9, atol=1e-11)
