"""Zoneout on h (Krueger et al., 2016): every registered cell that has it (the LSTM, the GRU,
the layer-normalised cells) against the oracle's ``zoneout_blend``, its limits, its
evaluation-mode expectation, and the modules' masks.

h_t = keep ⊙ h_{t−1} + (1 − keep) ⊙ h'_t: in training keep is a Bernoulli(p) mask per step,
sequence and unit; in evaluation it is p.
"""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import fastrnn
from fastrnn import _cells
from fastrnn._cells import spec
from fastrnn._packing import Packing
from fastrnn.nn import Recurrent
from helpers import (assert_close, flat_results, float32_sensitivity, layer_problem, numeric_grad, oracle_results,
                     result_labels)

ZONED = [name for name, cell in _cells.CELLS.items() if cell.zoneout]


def test_the_cells_with_zoneout():
    assert {"lstm", "gru"} <= set(ZONED)
    assert not _cells.get("rnn").zoneout


def keep_weights(kind, rng, T, N, H, p, dtype):
    """None, p as an (H,) array, or a (T, N, H) Bernoulli(p) mask."""
    if kind == "none":
        return None
    if kind == "p":
        return np.full(H, p, dtype)
    return (rng.random((T, N, H)) < p).astype(dtype)


def run_kernels(cell, x, states, params, options, lengths, dout, dstates):
    """The entry's forward/backward, padded or packed by ``lengths`` -> out, finals, dx, d0, grads."""
    grads = tuple(None if p is None else np.zeros_like(p) for p in params)
    if lengths is None:
        out, finals, cache = cell.forward(x, states, params, "torch", options)
        dx, d0 = cell.backward(cache, dout, dstates, grads, False)
        return out, finals, dx, d0, grads
    packing = Packing(lengths, x.shape[0])
    opts = dict(options)
    if opts.get("zoneout") is not None and opts["zoneout"].ndim == 3:
        opts["zoneout"] = packing.pack(opts["zoneout"])
    out, finals, cache = cell.forward(packing.pack(x), tuple(packing.sort(s) for s in states), params, "torch",
                                      opts, packing.batch_sizes)
    dx, d0 = cell.backward(cache, packing.pack(dout), tuple(None if d is None else packing.sort(d) for d in dstates),
                           grads, False)
    return (packing.unpack(out), tuple(packing.unsort(f) for f in finals), packing.unpack(dx),
            tuple(packing.unsort(d) for d in d0), grads)


@pytest.mark.parametrize("name", ZONED)
@given(T=st.integers(1, 6), N=st.integers(1, 4), I=st.integers(1, 6), H=st.integers(1, 19),
       dtype=st.sampled_from([np.float32, np.float64]), kind=st.sampled_from(["none", "p", "mask"]),
       p=st.floats(0, 1), packed=st.booleans(), seed=st.integers(0, 2**32 - 1), data=st.data())
def test_kernels_with_zoneout_match_the_oracle(name, T, N, I, H, dtype, kind, p, packed, seed, data):
    cell = _cells.get(name)
    rng = np.random.default_rng(seed)
    params, reference, x, states, dout, dstates = layer_problem(cell, (T, N, I, H), dtype, rng)
    options = cell.check_options({o.name: data.draw(st.sampled_from(o.choices)) for o in cell.options})
    options["zoneout"] = keep_weights(kind, rng, T, N, cell.state_sizes(H)[0], p, dtype)
    lengths = rng.integers(0, T + 1, N) if packed else None
    if lengths is not None and lengths.max() == 0:
        lengths[0] = T
    want = oracle_results(cell, x, states, reference, options, dout, dstates, lengths)
    slack = {} if dtype != np.float32 else float32_sensitivity(cell, x, states, reference, options, dout, dstates,
                                                                want, rng, lengths)
    got = run_kernels(cell, x, states, params, options, lengths, dout, dstates)
    for label, g, w in zip(result_labels(cell), flat_results(got), flat_results(want)):
        if w is not None:
            assert_close(g, w, dtype, f"{name} {kind} {label}", slack=8 * slack.get(label, 0.0))
    # forward only (chunks of 3 rows): the same outputs
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(spec, "INFER_CHUNK_ROWS", 3)
        if lengths is None:
            f_out, f_finals = cell.forward_only(x, states, params, "torch", options)
            for label, g, w in zip(result_labels(cell), (f_out, *f_finals), (want[0], *want[1])):
                assert_close(g, w, dtype, f"forward-only {label}", slack=8 * slack.get(label, 0.0))


@pytest.mark.parametrize("packed", [False, True], ids=["padded", "packed"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", ZONED)
def test_zoneout_limits(name, dtype, packed):
    """The kernels at keep = 0 (one weight row for every row, or one per row) equal no zoneout
    bit for bit. At keep = 1, h stays h0 at every step of each sequence: out is h0 (0 in the
    padding), h_n is h0, and with no c_n gradient nothing reaches x or the weights, while
    dh0 = dh_n + the douts of the sequence's steps. c is not zoned out: it still moves."""
    cell = _cells.get(name)
    rng = np.random.default_rng(6)
    T, N, I, H = 5, 4, 3, 6
    params, _, x, states, dout, dstates = layer_problem(cell, (T, N, I, H), dtype, rng)
    options = cell.check_options()
    lengths = np.array([5, 2, 4, 1]) if packed else None
    dstates = (dstates[0],) + (None,) * (len(states) - 1)

    def run(keep):
        return run_kernels(cell, x, states, params, options if keep is None else dict(options, zoneout=keep),
                           lengths, dout, dstates)

    plain = flat_results(run(None))
    for keep in (np.zeros(H, dtype), np.zeros((T, N, H), dtype)):
        for got, want in zip(flat_results(run(keep)), plain):
            np.testing.assert_array_equal(got, want)
    running = np.ones((T, N), bool) if lengths is None else np.arange(T)[:, None] < lengths[None]
    h0 = states[0]
    for keep in (np.ones(H, dtype), np.ones((T, N, H), dtype)):
        out, finals, dx, d0, grads = run(keep)
        np.testing.assert_array_equal(out, np.where(running[..., None], h0[None], 0))
        np.testing.assert_array_equal(finals[0], h0)
        assert not dx.any() and not any(g.any() for g in grads if g is not None)
        assert_close(d0[0], dstates[0] + np.where(running[..., None], dout, 0).sum(axis=0), dtype, "dh0")
        for moved, start in zip(finals[1:], states[1:]):
            assert not np.allclose(moved, start)


@pytest.mark.parametrize("name", ZONED)
def test_oracle_zoneout_limits(name):
    """The oracle's zoneout_blend: keep = 0 is no zoneout; keep = 1 (a scalar or one weight
    per step, row and unit) keeps h at h0; c still moves."""
    cell = _cells.get(name)
    rng = np.random.default_rng(7)
    T, N, I, H = 4, 3, 2, 5
    _, reference, x, states, _, _ = layer_problem(cell, (T, N, I, H), np.float64, rng)
    options = cell.check_options()
    out, finals, _ = cell.oracle_forward(x, states, reference, options)
    zero, zero_finals, _ = cell.oracle_forward(x, states, reference, dict(options, zoneout=np.zeros(H)))
    for got, want in zip((zero, *zero_finals), (out, *finals)):
        np.testing.assert_array_equal(got, want)
    for keep in (1.0, np.ones((T, N, H))):
        stuck, stuck_finals, _ = cell.oracle_forward(x, states, reference, dict(options, zoneout=keep))
        np.testing.assert_array_equal(stuck, np.broadcast_to(states[0], stuck.shape))
        np.testing.assert_array_equal(stuck_finals[0], states[0])
        for moved, start in zip(stuck_finals[1:], states[1:]):
            assert not np.allclose(moved, start)


@pytest.mark.parametrize("name", ZONED)
@settings(max_examples=6)
@given(kind=st.sampled_from(["p", "mask"]), lengths=st.booleans(), seed=st.integers(0, 2**32 - 1))
def test_oracle_with_zoneout_matches_finite_differences(name, kind, lengths, seed):
    cell = _cells.get(name)
    rng = np.random.default_rng(seed)
    T, N, I, H = 3, 2, 3, 3
    params, _, x, states, dout, dstates = layer_problem(cell, (T, N, I, H), np.float64, rng)
    options = dict(cell.check_options(), zoneout=keep_weights(kind, rng, T, N, H, 0.4, np.float64))
    lens = np.array([T, 1]) if lengths else None

    def loss():
        out, finals, _ = cell.oracle_forward(x, states, params, options, lens)
        return (out * dout).sum() + sum((f * d).sum() for f, d in zip(finals, dstates))

    _, _, cache = cell.oracle_forward(x, states, params, options, lens)
    dx, d0, grads = cell.oracle_backward(cache, dout, dstates)
    np.testing.assert_allclose(dx, numeric_grad(loss, x), rtol=1e-5, atol=1e-7)
    for s, d in zip(states, d0):
        np.testing.assert_allclose(d, numeric_grad(loss, s), rtol=1e-5, atol=1e-7)
    for p, g in zip(params, grads):
        if p is not None:
            np.testing.assert_allclose(g, numeric_grad(loss, p), rtol=1e-5, atol=1e-7)


def test_eval_zoneout_is_the_expectation_of_the_training_masks():
    """In evaluation the blend weight is p: the mean of the training masks' blends for a
    one-step sequence (linear in keep), checked by averaging many masked forwards."""
    m = fastrnn.GRU(3, 4, zoneout=0.3, seed=5, dtype=np.float64)
    x = np.random.default_rng(1).standard_normal((1, 2000, 3))
    h0 = np.random.default_rng(2).standard_normal((1, 2000, 4))
    train_out, _ = m(x, h0)
    m.eval()
    eval_out, _ = m(x, h0)
    plain = fastrnn.GRU(3, 4, seed=5, dtype=np.float64).eval()
    h1, _ = plain(x, h0)
    np.testing.assert_allclose(eval_out, 0.3 * h0 + 0.7 * h1, rtol=1e-12)
    kept = np.isclose(train_out, h0).mean()
    assert 0.26 < kept < 0.34                          # Bernoulli(0.3) per unit over 8000 units


@pytest.mark.parametrize("name", ZONED)
@pytest.mark.parametrize("bidirectional", [False, True])
def test_module_matches_oracle_composition_with_its_masks(monkeypatch, name, bidirectional):
    """A 2-layer module in training draws one mask per layer and direction from its
    generator; with those masks captured, the oracle composed layer by layer gives the same
    output, final states and gradients; in evaluation the oracle with keep = p does."""
    cell = _cells.get(name)
    masks = []
    original = Recurrent._zoneout_options

    def capture(self, options, rows_shape):
        result = original(self, options, rows_shape)
        masks.append(result["zoneout"])
        return result
    monkeypatch.setattr(Recurrent, "_zoneout_options", capture)
    T, N, I, H = 4, 3, 2, 5
    m = Recurrent(name, I, H, num_layers=2, bidirectional=bidirectional, zoneout=0.35, seed=7, dtype=np.float64)
    rng = np.random.default_rng(8)
    x = rng.standard_normal((T, N, I))
    out, finals = m(x)
    dout = rng.standard_normal(out.shape)
    dx, _ = m.backward(dout)
    D = 2 if bidirectional else 1
    assert len(masks) == 2 * D and all(k.shape == (T, N, H) for k in masks)
    assert set(np.unique(np.concatenate([k.ravel() for k in masks]))) <= {0.0, 1.0}
    for training in (True, False):
        layer_in, caches = x, []
        for k in range(2 * D):
            p = tuple(None if n is None else m.params[n] for n in m._names[k])
            keep = masks[k] if training else np.full(H, 0.35)
            if k % D == 0:
                outs = []
            xin = layer_in if k % D == 0 else layer_in[::-1]
            keep = keep if k % D == 0 or not training else keep       # masks are drawn in the kernels' row order
            o, _, cache = cell.oracle_forward(xin, tuple(np.zeros((N, s)) for s in cell.state_sizes(H)), p,
                                              dict(cell.check_options(), zoneout=keep))
            caches.append(cache)
            outs.append(o if k % D == 0 else o[::-1])
            if k % D == D - 1:
                layer_in = np.concatenate(outs, -1)
        if training:
            np.testing.assert_allclose(out, layer_in, rtol=1e-10, atol=1e-12)
        else:
            m.eval()
            np.testing.assert_allclose(m(x)[0], layer_in, rtol=1e-10, atol=1e-12)
    assert dx.shape == x.shape


def test_zoneout_argument_checks():
    with pytest.raises(ValueError, match="zoneout"):
        fastrnn.LSTM(3, 4, zoneout=1.5)
    with pytest.raises(ValueError, match="zoneout: the RNN cell"):
        Recurrent("rnn", 3, 4, zoneout=0.1)
    with pytest.raises(ValueError, match="zoneout"):
        fastrnn.LSTM(3, 4, peephole=True, zoneout=0.1)
    assert "zoneout=0.2" in repr(fastrnn.GRU(3, 4, zoneout=0.2))


def test_same_seed_same_masks():
    x = np.random.default_rng(0).standard_normal((6, 2, 3)).astype(np.float32)
    a, b = (fastrnn.LSTM(3, 4, zoneout=0.5, seed=11) for _ in range(2))
    np.testing.assert_array_equal(a(x)[0], b(x)[0])
    first, second = a(x)[0], a(x)[0]
    assert not np.array_equal(first, second)            # a new mask each call
