"""fastrnn.nn's streams (fastrnn/nn/stream.py): ``module.stream().step(x_t)`` runs one time step
per call with the state kept. Each step must give what the training forward gives on the
whole sequence so far (and exactly what the module's own one-step calls give, which run the
same kernels), keep its state apart from what it hands out, read the module's parameters as
they are, and refuse what it cannot run with a clear error, changing nothing.
"""
import numpy as np
import pytest

import fastrnn
from fastrnn._cells import batch_split
from helpers import assert_close, assert_equal_but_rounding, run_in_threads

MODULES = {
    "lstm-2-layers": lambda: fastrnn.nn.LSTM(3, 5, num_layers=2, seed=0),
    "gru-3-layers": lambda: fastrnn.nn.GRU(3, 5, num_layers=3, seed=1),
    "rnn-relu": lambda: fastrnn.nn.RNN(3, 5, nonlinearity="relu", seed=2),
    "gru-reset-before-float64": lambda: fastrnn.nn.GRU(3, 5, reset_after=False, dtype=np.float64, seed=3),
    "lstm-no-bias": lambda: fastrnn.nn.LSTM(3, 5, bias=False, seed=4),
    "lstm-zoneout-eval": lambda: fastrnn.nn.LSTM(3, 5, num_layers=2, zoneout=0.3, seed=5).eval(),
    "lstm-proj (no plan)": lambda: fastrnn.nn.LSTM(3, 5, num_layers=2, proj_size=2, seed=6),
    "layernorm-gru (no plan)": lambda: fastrnn.nn.LayerNormGRU(3, 5, num_layers=2, seed=7),
    "peephole (no plan)": lambda: fastrnn.nn.Recurrent("lstm_peephole", 3, 5, seed=8),
}


def _tuple(state):
    return state if isinstance(state, tuple) else (state,)


def _random_state(m, N, rng):
    states = tuple(rng.standard_normal((m.num_layers, N, s)).astype(m.dtype) for s in m._sizes)
    return states[0] if len(states) == 1 else states


@pytest.mark.parametrize("config", list(MODULES))
@pytest.mark.parametrize("N, from_state", [(1, False), (3, True)])
def test_steps_equal_the_forward_of_the_sequence_so_far(config, N, from_state):
    m = MODULES[config]()
    rng = np.random.default_rng(10)
    T = 5
    x = rng.standard_normal((T, N, 3)).astype(m.dtype)
    hx = _random_state(m, N, rng) if from_state else None
    stream = m.stream(hx) if from_state else m.stream(batch_size=N)
    assert stream.batch_size == N
    want_out, want_final = m(x, hx)                  # the training forward, everything saved
    state = hx
    for t in range(T):
        y = stream.step(x[t])
        assert_close(y, want_out[t], m.dtype, f"step {t}")
        with fastrnn.no_grad():
            one, state = m(x[t:t + 1], state)      # the module's own one-step call: the same kernels
        assert_equal_but_rounding(y, one[0], f"step {t}")       # on other arrays
    for got, want in zip(_tuple(stream.state), _tuple(want_final)):
        assert_close(got, want, m.dtype, "final state")


def test_outputs_and_states_handed_out_are_the_callers():
    m = fastrnn.nn.LSTM(3, 4, num_layers=2, seed=0)
    x = np.random.default_rng(1).standard_normal((3, 2, 3)).astype(np.float32)
    stream = m.stream(batch_size=2)
    y0 = stream.step(x[0])
    kept_y0 = y0.copy()
    h, c = stream.state
    kept = h.copy(), c.copy()
    h[...] = 7.0                                     # the caller's copy, not the stream's state
    y1 = stream.step(x[1])
    np.testing.assert_array_equal(y0, kept_y0)       # a later step does not reuse an output
    assert y1 is not y0
    twin = m.stream(kept)
    assert_equal_but_rounding(twin.step(x[1]), y1)


def test_reset_starts_again():
    m = fastrnn.nn.GRU(3, 4, num_layers=2, seed=0)
    x = np.random.default_rng(2).standard_normal((4, 1, 3)).astype(np.float32)
    stream = m.stream()
    first = [stream.step(x[t]) for t in range(4)]
    assert stream.reset() is stream
    np.testing.assert_array_equal(stream.state, np.zeros((2, 1, 4), np.float32))
    again = [stream.step(x[t]) for t in range(4)]
    for a, b in zip(first, again):
        np.testing.assert_array_equal(a, b)
    h = np.random.default_rng(3).standard_normal((2, 1, 4)).astype(np.float32)
    stream.reset(h)
    np.testing.assert_array_equal(stream.state, h)
    with fastrnn.no_grad():
        want, _ = m(x[:1], h)
    assert_equal_but_rounding(stream.step(x[0]), want[0])


def test_inputs_are_converted_like_forward():
    m = fastrnn.nn.RNN(3, 4, seed=0)
    x = np.random.default_rng(4).standard_normal((2, 3))
    want = m.stream(batch_size=2).step(x.astype(np.float32))
    assert_equal_but_rounding(m.stream(batch_size=2).step(x.tolist()), want)      # list of float64
    assert_equal_but_rounding(m.stream(batch_size=2).step(np.asfortranarray(x)), want)


def test_parameters_changed_in_place_or_replaced_are_read_as_they_are():
    m = fastrnn.nn.LSTM(3, 4, num_layers=2, seed=0)
    x = np.random.default_rng(5).standard_normal((1, 2, 3)).astype(np.float32)
    stream = m.stream(batch_size=2)
    stream.step(x[0])
    m.params["weight_hh_l0"] *= 0.5                  # an optimizer's in-place update
    stream.reset()
    with fastrnn.no_grad():
        want, _ = m(x)
    assert_equal_but_rounding(stream.step(x[0]), want[0])
    m.params["weight_ih_l1"] = m.params["weight_ih_l1"] * 2.0      # replaced by another array
    stream.reset()
    with fastrnn.no_grad():
        want, _ = m(x)
    assert_equal_but_rounding(stream.step(x[0]), want[0])


def test_zoneout_changed_after_the_stream_was_made():
    m = fastrnn.nn.GRU(3, 4, zoneout=0.2, seed=0).eval()
    x = np.random.default_rng(6).standard_normal((1, 1, 3)).astype(np.float32)
    stream = m.stream()
    stream.step(x[0])
    m.zoneout = 0.7
    stream.reset()
    with fastrnn.no_grad():
        want, _ = m(x)
    assert_equal_but_rounding(stream.step(x[0]), want[0])


def test_a_stream_leaves_the_modules_saved_forward_alone():
    m = fastrnn.nn.LSTM(3, 4, seed=0)
    x = np.random.default_rng(7).standard_normal((3, 2, 3)).astype(np.float32)
    out, _ = m(x)
    dx_before = m.backward(np.ones_like(out))[0]
    m.zero_grad()
    out, _ = m(x)
    m.stream(batch_size=2).step(x[0])
    np.testing.assert_array_equal(m.backward(np.ones_like(out))[0], dx_before)


def test_steps_split_across_threads_when_the_batch_is_big(split_halves):
    m = fastrnn.nn.GRU(3, 5, num_layers=2, seed=0)
    N = 2 * batch_split.MIN_PART_ROWS
    x = np.random.default_rng(8).standard_normal((2, N, 3)).astype(np.float32)
    stream = m.stream(batch_size=N)
    got = [stream.step(x[t]) for t in range(2)]
    assert len(split_halves) == 4                    # both layers, both steps
    want, final = m(x)
    for t in range(2):
        assert_close(got[t], want[t], np.float32, f"step {t}")
    assert_close(stream.state, final, np.float32, "final state")


def test_one_stream_per_thread_on_a_shared_module():
    m = fastrnn.nn.LSTM(3, 6, num_layers=2, seed=0)
    rng = np.random.default_rng(9)
    xs = [rng.standard_normal((20, 1, 3)).astype(np.float32) for _ in range(4)]
    with fastrnn.no_grad():
        wants = [m(x)[0] for x in xs]
    results = [None] * 4

    def work(i):
        stream = m.stream()
        results[i] = np.stack([stream.step(xs[i][t]) for t in range(20)])

    run_in_threads(work, [(i,) for i in range(4)])
    for got, want in zip(results, wants):
        assert_close(got, want, np.float32, "stream in a thread")


@pytest.mark.parametrize("bad, error, words", [
    (np.zeros((2, 3), np.float32), ValueError, "x"),              # N = 2, the stream's is 1
    (np.zeros((1, 4), np.float32), ValueError, "input_size=3"),
    (np.zeros((1, 1, 3), np.float32), ValueError, "x"),           # a sequence, not one step
    (np.zeros((1, 3), bool), TypeError, "x"),
    ("abc", TypeError, "x"),
])
def test_bad_steps_raise_and_change_nothing(bad, error, words):
    m = fastrnn.nn.LSTM(3, 4, seed=0)
    stream = m.stream()
    stream.step(np.ones((1, 3), np.float32))
    before = stream.state
    with pytest.raises(error, match=words):
        stream.step(bad)
    for a, b in zip(stream.state, before):
        np.testing.assert_array_equal(a, b)


def test_streams_it_cannot_run_are_refused():
    with pytest.raises(ValueError, match="bidirectional"):
        fastrnn.nn.GRU(3, 4, bidirectional=True).stream()
    with pytest.raises(ValueError, match="batch_size"):
        fastrnn.nn.GRU(3, 4).stream(batch_size=0)
    with pytest.raises(ValueError, match="h0"):
        fastrnn.nn.GRU(3, 4, num_layers=2).stream(np.zeros((1, 1, 4), np.float32))     # L = 2
    with pytest.raises(ValueError, match="h0"):
        fastrnn.nn.GRU(3, 4).stream(np.zeros((1, 2, 4), np.float32), batch_size=3)
    with pytest.raises(TypeError, match="hx"):
        fastrnn.nn.LSTM(3, 4).stream(np.zeros((1, 1, 4), np.float32))                  # needs (h0, c0)
    m = fastrnn.nn.LSTM(3, 4, num_layers=2, dropout=0.5, seed=0)
    stream = m.stream()
    with pytest.raises(RuntimeError, match="eval"):
        stream.step(np.zeros((1, 3), np.float32))
    m.eval()
    assert stream.step(np.zeros((1, 3), np.float32)).shape == (1, 4)
