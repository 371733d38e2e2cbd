"""fastrnn.nn's forward-only plans (fastrnn/nn/_plans.py): repeated calls of one shape under
``fastrnn.no_grad()`` reuse one set of workspaces per layer. They must give what the training
forward gives on the same input and parameters, whatever happened to the parameters in
between (updated in place, replaced, copied with the module), never hand out an array twice,
and keep two threads calling one module apart.
"""
import copy

import numpy as np
import pytest

import fastrnn
from fastrnn._cells import batch_split
from fastrnn.nn import _plans
from helpers import assert_close, run_in_threads

MODULES = {
    "lstm-2-layers": lambda: fastrnn.nn.LSTM(3, 5, num_layers=2, seed=0),
    "rnn-3-layers": lambda: fastrnn.nn.RNN(3, 5, num_layers=3, seed=8),
    "gru-2-layers": lambda: fastrnn.nn.GRU(3, 5, num_layers=2, seed=1),
    "gru-reset-before-float64": lambda: fastrnn.nn.GRU(3, 5, reset_after=False, dtype=np.float64, seed=2),
    "rnn-relu-no-bias": lambda: fastrnn.nn.RNN(3, 5, nonlinearity="relu", bias=False, seed=3),
    "lstm-zoneout-eval": lambda: fastrnn.nn.LSTM(3, 5, num_layers=2, zoneout=0.3, seed=4).eval(),
    "gru-zoneout-eval": lambda: fastrnn.nn.GRU(3, 5, zoneout=0.6, seed=5).eval(),
    "lstm-proj (no plan)": lambda: fastrnn.nn.LSTM(3, 5, num_layers=2, proj_size=2, seed=6),
    "layernorm-gru (no plan)": lambda: fastrnn.nn.LayerNormGRU(3, 5, seed=7).eval(),
}


def _states(m, N, rng):
    sizes = m.cell.state_sizes(m.hidden_size, m.proj_size)
    states = tuple(rng.standard_normal((m.num_layers, N, s)).astype(m.dtype) for s in sizes)
    return states[0] if len(states) == 1 else states


def _as_tuple(state):
    return state if isinstance(state, tuple) else (state,)


def _training_forward(m, x, hx):
    """The general path with everything saved (what the plans must equal)."""
    mode = m.training
    out, final = m(x, hx)
    m.train(mode)
    return out, final


def _check(got, want, dtype):
    assert_close(got[0], want[0], dtype, "out")
    for g, w in zip(_as_tuple(got[1]), _as_tuple(want[1])):
        assert_close(g, w, dtype, "final state")


@pytest.mark.parametrize("config", list(MODULES))
def test_repeated_calls_equal_the_training_forward_and_hand_out_new_arrays(config):
    m = MODULES[config]()
    rng = np.random.default_rng(11)
    T, N = 4, 3
    given, kept = [], []
    state = None
    for call in range(4):                      # the state carried, as in streaming; None first
        x = rng.standard_normal((T, N, 3)).astype(m.dtype)
        with fastrnn.no_grad():
            got = m(x, state)
        _check(got, _training_forward(m, x, state), m.dtype)
        given.append(got)
        kept.append((got[0].copy(), tuple(s.copy() for s in _as_tuple(got[1]))))
        state = got[1]
    for (out, final), (out_copy, final_copy) in zip(given, kept):      # nothing handed out was reused
        np.testing.assert_array_equal(out, out_copy)
        for s, c in zip(_as_tuple(final), final_copy):
            np.testing.assert_array_equal(s, c)
    ids = [id(a) for out, final in given for a in (out,) + _as_tuple(final)]
    assert len(set(ids)) == len(ids)


@pytest.mark.parametrize("between_bytes", [0, _plans.BETWEEN_BYTES])
def test_lower_layers_outputs_in_workspaces_or_new_arrays(monkeypatch, between_bytes):
    """The layers below the top one write into the plan's workspaces (small calls) or new
    arrays (over BETWEEN_BYTES); a state given for h only (c None) starts c at zero."""
    monkeypatch.setattr(_plans, "BETWEEN_BYTES", between_bytes)
    m = fastrnn.nn.LSTM(3, 5, num_layers=3, seed=9)
    rng = np.random.default_rng(13)
    h0 = rng.standard_normal((3, 2, 5)).astype(m.dtype)
    for hx in (None, (h0, None), (None, h0)):
        for _ in range(3):
            x = rng.standard_normal((4, 2, 3)).astype(m.dtype)
            with fastrnn.no_grad():
                got = m(x, hx)
            _check(got, _training_forward(m, x, hx), m.dtype)


@pytest.mark.parametrize("config", ["lstm-2-layers", "gru-2-layers", "rnn-relu-no-bias"])
def test_parameters_updated_in_place_or_replaced_are_read_as_they_are(config):
    m = MODULES[config]()
    rng = np.random.default_rng(12)
    x = rng.standard_normal((5, 2, 3)).astype(m.dtype)
    hx = _states(m, 2, rng)
    with fastrnn.no_grad():
        before = m(x, hx)
    for name in m.params:                          # in place, as optimizers and load_state_dict do
        m.params[name] *= 0.5
    with fastrnn.no_grad():
        after = m(x, hx)
    _check(after, _training_forward(m, x, hx), m.dtype)
    assert not np.allclose(after[0], before[0])
    name = next(iter(m.params))                    # replaced by another array of the right kind
    m.params[name] = rng.standard_normal(m.params[name].shape).astype(m.dtype)
    with fastrnn.no_grad():
        replaced = m(x, hx)
    _check(replaced, _training_forward(m, x, hx), m.dtype)
    m.params[name] = np.zeros((2, 2), m.dtype)     # and by a wrong one: the guard's error, no kernel
    with fastrnn.no_grad(), pytest.raises(ValueError, match=name):
        m(x, hx)


def test_a_deep_copied_module_runs_its_own_parameters():
    m = fastrnn.nn.LSTM(3, 5, num_layers=2, seed=0)
    rng = np.random.default_rng(13)
    x = rng.standard_normal((4, 2, 3)).astype(np.float32)
    with fastrnn.no_grad():
        original = m(x)                            # the original has its plans now
    twin = copy.deepcopy(m)
    for p in twin.params.values():
        p *= -1.0
    with fastrnn.no_grad():
        got = twin(x)
    _check(got, _training_forward(twin, x, None), np.float32)
    assert not np.allclose(got[0], original[0])
    with fastrnn.no_grad():
        again = m(x)
    _check(again, original, np.float32)


def test_two_threads_calling_one_module_get_their_own_results():
    """The kernels release the GIL, so the calls overlap: each must run in workspaces of its own."""
    m = fastrnn.nn.GRU(16, 32, num_layers=2, seed=0)
    rng = np.random.default_rng(14)
    inputs = [rng.standard_normal((40, 4, 16)).astype(np.float32) for _ in range(2)]
    with fastrnn.no_grad():
        expected = [m(x)[0] for x in inputs]
    failures = []

    def work(x, want):
        with fastrnn.no_grad():
            for _ in range(60):
                out = m(x)[0]
                if not np.array_equal(out, want):
                    failures.append(np.abs(out - want).max())

    run_in_threads(work, list(zip(inputs, expected)))
    assert not failures, failures[:3]


def test_plans_are_kept_for_a_bounded_number_of_shapes():
    m = fastrnn.nn.RNN(3, 4, seed=0)
    rng = np.random.default_rng(15)
    with fastrnn.no_grad():
        for T in range(1, 3 * _plans.MAX_SHAPES):
            x = rng.standard_normal((T, 2, 3)).astype(np.float32)
            _check(m(x), _training_forward(m, x, None), np.float32)
    assert 1 <= len(m._plans._free) <= _plans.MAX_SHAPES


def test_calls_big_enough_to_split_across_threads_still_split(split_halves):
    """With a thread budget of 2 a big batch runs as two halves (batch_split), not through a plan."""
    m = fastrnn.nn.GRU(3, 5, num_layers=2, seed=0)
    x = np.random.default_rng(16).standard_normal((4, 2 * batch_split.MIN_PART_ROWS, 3)).astype(np.float32)
    with fastrnn.no_grad():
        got = m(x)
    assert len(split_halves) == 2                    # both layers split
    _check(got, _training_forward(m, x, None), np.float32)
