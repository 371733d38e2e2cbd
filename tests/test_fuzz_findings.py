"""The seven findings of the fuzz pass over streams, no_grad, lengths, ONNX, Keras and threads
(issue 26), one regression test each, and the properties behind them as hypothesis tests:

- an option changed after construction is honoured everywhere (forward, forward-only plans,
  streams, repr; export in test_onnx_options below) or refused;
- a failed call changes nothing: the next backward is the one without it;
- export checks the parameters as the forward does (same error, same message).
"""
import copy

import numpy as np
import pytest
from hypothesis import given, strategies as st

import fastrnn
import fastrnn.layers as L
import fastrnn.models as M
from fastrnn import nn
from fastrnn._grad_mode import NOT_SAVED
from helpers import assert_equal_but_rounding

I, H = 3, 4


def _twin(module):
    """A module of the same class and constructor settings with the same parameters."""
    return copy.deepcopy(module)


def _forward_all(module, x, lengths=None):
    """(out, finals...) of a forward, as a flat tuple of arrays."""
    out, finals = module(x, lengths=lengths)
    return (out,) + (finals if isinstance(finals, tuple) else (finals,))


def _assert_same(got, want):
    assert len(got) == len(want)
    for g, w in zip(got, want):
        np.testing.assert_array_equal(g, w)


def _assert_same_rounding_aside(got, want):
    """Equal but for the last bits: two modules run on arrays at other addresses."""
    assert len(got) == len(want)
    for g, w in zip(got, want):
        assert_equal_but_rounding(g, w)


# --- 1. options changed after construction ------------------------------------------------------

# (constructor, option, value before, value after)
CHANGES = [
    (lambda **kw: nn.GRU(I, H, **kw), "reset_after", True, False),
    (lambda **kw: nn.GRU(I, H, **kw), "blend", "torch", "book"),
    (lambda **kw: nn.RNN(I, H, **kw), "nonlinearity", "tanh", "relu"),
    (lambda **kw: nn.LSTM(I, H, **kw), "zoneout", 0.0, 0.3),
    (lambda **kw: nn.GRU(I, H, num_layers=2, **kw), "batch_first", False, True),
    (lambda **kw: nn.GRUCell(I, H, **kw), "reset_after", True, False),
    (lambda **kw: nn.RNNCell(I, H, **kw), "nonlinearity", "tanh", "relu"),
]
CHANGE_IDS = [f"{make().__class__.__name__}-{name}" for make, name, _, _ in CHANGES]


def _input_for(module, rng):
    if isinstance(module, nn.RecurrentCell):
        return rng.standard_normal((2, I)).astype(np.float32)
    return rng.standard_normal((5, 2, I)).astype(np.float32)


@pytest.mark.parametrize("make, option, before, after", CHANGES, ids=CHANGE_IDS)
def test_an_option_changed_after_construction_is_honoured_everywhere(make, option, before, after):
    rng = np.random.default_rng(0)
    changed = make(seed=1, **{option: before}).eval()
    built = make(seed=2, **{option: after}).eval()
    built.load_state_dict(changed.state_dict())
    x = _input_for(changed, rng)
    with fastrnn.no_grad():                 # a forward-only plan made with the old value
        old = changed(x)
    setattr(changed, option, after)
    assert getattr(changed, option) == after
    assert repr(changed) == repr(built)
    want = built(x)
    with fastrnn.no_grad():
        _assert_same_rounding_aside(_as_tuple(changed(x)), _as_tuple(built(x)))
    _assert_same_rounding_aside(_as_tuple(changed(x)), _as_tuple(want))
    # it mattered: the old value gives other numbers, far beyond rounding
    assert any(a.shape != b.shape or np.abs(a - b).max() > 1e-3 for a, b in zip(_as_tuple(old), _as_tuple(want)))
    if isinstance(changed, nn.Recurrent) and not changed.batch_first:
        stream, twin = changed.stream(batch_size=2), built.stream(batch_size=2)
        for t in range(3):
            _assert_same_rounding_aside((stream.step(x[t]),), (twin.step(x[t]),))


def _as_tuple(result):
    if isinstance(result, tuple):
        out, rest = result[0], result[1:]
        flat = [out]
        for r in rest:
            flat += list(r) if isinstance(r, tuple) else [r]
        return tuple(flat)
    return (result,)


def test_a_stream_made_before_an_option_change_follows_it():
    rng = np.random.default_rng(3)
    g = nn.GRU(I, H, seed=4).eval()
    stream = g.stream(batch_size=2)
    x = rng.standard_normal((2, I)).astype(np.float32)
    stream.step(x)
    g.reset_after = False
    state = stream.state
    np.testing.assert_array_equal(stream.step(x), g(x[None], state)[0][0])


@pytest.mark.parametrize("name, value", [("hidden_size", 5), ("input_size", 2), ("num_layers", 2), ("bias", False),
                                         ("bidirectional", True), ("dtype", np.float64), ("proj_size", 1)])
def test_the_arguments_that_shape_the_parameters_are_read_only(name, value):
    m = nn.LSTM(I, H, seed=5)
    before = getattr(m, name)
    with pytest.raises(AttributeError, match=rf"{name}: read-only after construction"):
        setattr(m, name, value)
    assert getattr(m, name) == before
    m(np.zeros((2, 1, I), np.float32))          # still runs


def test_peephole_is_read_only_and_a_cell_option_is_checked_when_set():
    m = nn.LSTM(I, H, peephole=True)
    with pytest.raises(AttributeError, match="peephole: read-only"):
        m.peephole = False
    g = nn.GRU(I, H)
    for option, bad, error in [("blend", "average", ValueError), ("reset_after", "yes", TypeError),
                               ("dropout", 1.5, ValueError), ("batch_first", 1, TypeError)]:
        before = getattr(g, option)
        with pytest.raises(error, match=option):
            setattr(g, option, bad)
        assert getattr(g, option) == before
    with pytest.raises(ValueError, match=r"zoneout: the RNN cell .* has no zoneout"):
        nn.RNN(I, H).zoneout = 0.5


@given(st.sampled_from(["gru", "rnn"]), st.booleans(), st.booleans(), st.booleans(), st.integers(1, 2))
def test_an_option_changed_after_construction_is_exported_as_forward_runs_it(cell, first, second, bidirectional,
                                                                               layers):
    """Property: after any change of the cell's options, ONNX Runtime computes what forward does
    (the finding: export read the attribute, forward the constructor's value)."""
    pytest.importorskip("onnx")
    ort = pytest.importorskip("onnxruntime")
    import fastrnn.onnx
    values = {"gru": [("reset_after", (True, False)), ("blend", ("torch", "book"))],
              "rnn": [("nonlinearity", ("tanh", "relu"))]}[cell]
    m = nn.Recurrent(cell, I, H, num_layers=layers, bidirectional=bidirectional, seed=21).eval()
    for (option, choices), pick in zip(values, (first, second)):
        setattr(m, option, choices[int(pick)])
    x = np.random.default_rng(22).standard_normal((4, 2, I)).astype(np.float32)
    session = ort.InferenceSession(fastrnn.onnx.export(m, initial_states=False).SerializeToString(),
                                   providers=["CPUExecutionProvider"])
    for got, want in zip(session.run(None, {"x": x}), _forward_all(m, x)):
        np.testing.assert_allclose(got, want, atol=1e-5)


# --- 2. export checks the parameters as forward does ---------------------------------------------

# (parameter, replacement) for a GRU(3, 5)
BAD_PARAMS = [
    ("weight_ih_l0", lambda: np.zeros((18, 3), np.float32)),       # extra rows (used to be dropped)
    ("weight_hh_l0", lambda: np.zeros((15, 6), np.float32)),       # passed the checker, failed in ORT
    ("weight_hh_l0", lambda: [[0.0] * 5] * 15),                     # a list (used to be an obscure TypeError)
    ("bias_ih_l0", lambda: np.zeros(15, np.float64)),              # float64 (used to be cast silently)
    ("bias_hh_l0", lambda: None),
]


def _error_of(call):
    try:
        call()
    except (TypeError, ValueError) as exc:
        return type(exc), str(exc)
    return None


@pytest.mark.parametrize("name, bad", BAD_PARAMS, ids=[f"{n}-{i}" for i, (n, _) in enumerate(BAD_PARAMS)])
def test_export_refuses_a_bad_parameter_with_the_forwards_error(name, bad):
    pytest.importorskip("onnx")
    import fastrnn.onnx
    g = nn.GRU(3, 5, seed=6).eval()
    g.params[name] = bad()
    forward_error = _error_of(lambda: g(np.zeros((2, 1, 3), np.float32)))
    assert forward_error is not None and name in forward_error[1]
    assert _error_of(lambda: fastrnn.onnx.export(g)) == forward_error


@given(st.sampled_from(["weight_ih_l0", "weight_hh_l1", "bias_ih_l0_reverse", "bias_hh_l1_reverse"]),
       st.sampled_from(["rows", "columns", "float64", "int32", "list", "none", "scalar"]))
def test_export_errors_are_forward_errors(name, mutation):
    """Property: whatever replaces a parameter, export raises exactly what forward raises."""
    pytest.importorskip("onnx")
    import fastrnn.onnx
    m = nn.LSTM(3, 4, num_layers=2, bidirectional=True, seed=7).eval()
    p = m.params[name]
    m.params[name] = {"rows": lambda: np.zeros((p.shape[0] + 1,) + p.shape[1:], p.dtype),
                      "columns": lambda: np.zeros(p.shape[:-1] + (p.shape[-1] + 1,), p.dtype),
                      "float64": lambda: p.astype(np.float64), "int32": lambda: p.astype(np.int32),
                      "list": p.tolist, "none": lambda: None, "scalar": lambda: 1.0}[mutation]()
    forward_error = _error_of(lambda: m(np.zeros((2, 1, 3), np.float32)))
    assert forward_error is not None
    assert _error_of(lambda: fastrnn.onnx.export(m)) == forward_error


# --- 3. float64 export with lengths ----------------------------------------------------------------

def test_float64_export_with_lengths_warns_and_is_the_float32_graph():
    """ReferenceEvaluator (the float64 runtime) ignores sequence_lens, ONNX Runtime runs float32
    only: export warns, and the float64 graph is the float32 one, which ONNX Runtime (a runtime
    that honours sequence_lens) runs with the packed semantics."""
    onnx = pytest.importorskip("onnx")
    ort = pytest.importorskip("onnxruntime")
    import fastrnn.onnx
    m = nn.GRU(I, H, num_layers=2, bidirectional=True, dtype=np.float64, seed=8).eval()
    with pytest.warns(UserWarning, match="ignores sequence_lens"):
        wide = fastrnn.onnx.export(m, dtype=np.float64, lengths=True, initial_states=False)
    narrow = fastrnn.onnx.export(m, dtype=np.float32, lengths=True, initial_states=False)
    assert [(n.op_type, list(n.input), list(n.output)) for n in wide.graph.node] == \
        [(n.op_type, list(n.input), list(n.output)) for n in narrow.graph.node]
    for a, b in zip(wide.graph.initializer, narrow.graph.initializer):
        np.testing.assert_array_equal(onnx.numpy_helper.to_array(a).astype(np.float32),
                                      onnx.numpy_helper.to_array(b))
    rng = np.random.default_rng(9)
    x, lengths = rng.standard_normal((6, 3, I)), np.array([6, 2, 0])
    session = ort.InferenceSession(narrow.SerializeToString(), providers=["CPUExecutionProvider"])
    got = session.run(None, {"x": x.astype(np.float32), "lengths": lengths.astype(np.int32)})
    want = _forward_all(m, x, lengths)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, atol=1e-5)
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fastrnn.onnx.export(m, dtype=np.float64, lengths=False)         # no lengths: no warning


# --- 4. a failed call changes nothing ----------------------------------------------------------------

def _book_lstm_params(rng, D=I, scale=0.5):
    return [(scale * rng.standard_normal(shape)).astype(np.float32) for shape in ((D, 4 * H), (H, 4 * H), (4 * H,))]


def test_a_failed_time_bilstm_forward_leaves_the_next_backward_alone():
    """The finding: new lengths stored and the forward direction run before the backward
    direction's check failed; dx was then off by up to 1.21."""
    rng = np.random.default_rng(10)
    params = _book_lstm_params(rng) + _book_lstm_params(rng)
    layer, twin = L.TimeBiLSTM(*params), L.TimeBiLSTM(*[p.copy() for p in params])
    xs = rng.standard_normal((3, 5, I)).astype(np.float32)
    dhs = rng.standard_normal((3, 5, 2 * H)).astype(np.float32)
    for m in (layer, twin):
        m.forward(xs, np.array([5, 3, 1]))
    good = layer.backward_layer.params[0]
    layer.backward_layer.params[0] = np.zeros((I + 1, 4 * H), np.float32)      # only the backward layer fails
    with pytest.raises(ValueError, match=r"xs must have shape \(N, T, D=4\)"):
        layer.forward(rng.standard_normal((3, 4, I)).astype(np.float32), np.array([4, 4, 4]))
    layer.backward_layer.params[0] = good
    _assert_same([layer.backward(dhs)] + layer.grads, [twin.backward(dhs)] + twin.grads)


def _failing_calls(rng):
    """(name, make the layer or module, its good call, its backward, a failing call) for every
    stateful layer and module face."""
    x_book = rng.standard_normal((2, 5, I)).astype(np.float32)
    dhs = rng.standard_normal((2, 5, H)).astype(np.float32)
    x_nn = rng.standard_normal((5, 2, I)).astype(np.float32)
    dout = rng.standard_normal((5, 2, 2 * H)).astype(np.float32)
    ids = rng.integers(0, 10, (2, 5))
    bi_params = _book_lstm_params(rng) + _book_lstm_params(rng)
    lstm_params = _book_lstm_params(rng)

    def bad_param(layer, index, replacement):
        def call():
            saved = layer.params[index]
            layer.params[index] = replacement
            try:
                layer.forward(x_book)
            finally:
                layer.params[index] = saved
        return call

    def bad_nn_param(module, name):
        def call():
            saved = module.params[name]
            module.params[name] = saved[:-1]
            try:
                module(x_nn)
            finally:
                module.params[name] = saved
        return call

    return {
        "TimeLSTM-stateful-bad-xs": (
            lambda: L.TimeLSTM(*[p.copy() for p in lstm_params], stateful=True),
            lambda m: m.forward(x_book), lambda m: [m.backward(dhs), m.h, m.c] + m.grads,
            lambda m: m.forward(x_book[:1])),                                    # the kept h has N=2
        "TimeLSTM-float64-params": (
            lambda: L.TimeLSTM(*[p.copy() for p in lstm_params]),
            lambda m: m.forward(x_book), lambda m: [m.backward(dhs)] + m.grads,
            lambda m: (m.params.__setitem__(0, m.params[0].astype(np.float64)),
                       m.forward(x_book[..., :2]))),
        "TimeBiLSTM-bad-backward-layer": (
            lambda: L.TimeBiLSTM(*[p.copy() for p in bi_params]),
            lambda m: m.forward(x_book, np.array([5, 2])),
            lambda m: [m.backward(np.concatenate([dhs, dhs], axis=2))] + m.grads,
            lambda m: (bad_param(m.backward_layer, 1, np.zeros((H + 1, 4 * H), np.float32))(),)),
        "nn.LSTM-bad-second-layer": (
            lambda: nn.LSTM(I, H, num_layers=2, bidirectional=True, zoneout=0.3, seed=11),
            lambda m: m(x_nn), lambda m: list(m.backward(dout)[0:1]) + list(m.grads.values()) + [m(x_nn)[0]],
            lambda m: bad_nn_param(m, "weight_hh_l1_reverse")()),
        "nn.GRU-bad-lengths": (
            lambda: nn.GRU(I, H, bidirectional=True, seed=12),
            lambda m: m(x_nn, lengths=[5, 3]), lambda m: [m.backward(dout)[0]] + list(m.grads.values()),
            lambda m: m(x_nn, lengths=[6, 3])),
        "Rnnlm-bad-ts": (
            lambda: M.Rnnlm(10, 4, H, seed=17),
            lambda m: m.forward(ids, ids), lambda m: [m.backward(), m.lstm_layer.h, m.lstm_layer.c] + m.grads,
            lambda m: m.forward(ids, ids + 10)),
        "Seq2seq-bad-ts": (
            lambda: M.Seq2seq(10, 4, H, seed=18),
            lambda m: m.forward(ids, ids), lambda m: [m.backward()] + m.grads,
            lambda m: m.forward(ids, np.concatenate([ids, ids])) if rng.random() < 0.5 else
            m.forward(ids, np.where(ids == 2, 12, ids))),
        "SequenceClassifier-bad-ts": (
            lambda: M.SequenceClassifier(10, 4, H, num_classes=3, seed=19),
            lambda m: m.forward(ids, np.array([0, 2])), lambda m: [m.backward()] + m.grads,
            lambda m: m.forward(ids[:, ::-1], np.array([0, 3]))),
        "SequenceRegressor-bad-lengths": (
            lambda: M.SequenceRegressor(I, H, 2, cell="gru", many_to_many=True, seed=20),
            lambda m: m.forward(x_book, np.ones((2, 5, 2))), lambda m: [m.backward()] + m.grads,
            lambda m: m.forward(x_book, np.ones((2, 5, 2)), lengths=[0, 5]) if rng.random() < 0.5 else
            m.forward(x_book, np.ones((2, 5, 1)))),
        "nn.LSTMCell-bad-state": (
            lambda: nn.LSTMCell(I, H, seed=13),
            lambda m: m(x_nn[0]), lambda m: list(m.backward(dout[0, :, :H])[:1]) + list(m.grads.values()),
            lambda m: m(x_nn[0], (np.zeros((2, H + 1), np.float32), None))),
    }


FAILING = ["TimeLSTM-stateful-bad-xs", "TimeLSTM-float64-params", "TimeBiLSTM-bad-backward-layer",
           "nn.LSTM-bad-second-layer", "nn.GRU-bad-lengths", "nn.LSTMCell-bad-state", "Rnnlm-bad-ts",
           "Seq2seq-bad-ts", "SequenceClassifier-bad-ts", "SequenceRegressor-bad-lengths"]


@pytest.mark.parametrize("name", FAILING)
@given(failures=st.integers(1, 3))
def test_a_failed_call_leaves_the_next_backward_unchanged(name, failures):
    """Property: forward, then ``failures`` failing calls, then backward (and the next forward)
    give what forward then backward give without the failing calls."""
    rng = np.random.default_rng(14)
    make, good, backward, failing = _failing_calls(rng)[name]
    subject, twin = make(), make()
    for m in (subject, twin):
        good(m)
    params_before = [p.copy() for p in (subject.params.values() if isinstance(subject.params, dict)
                                        else subject.params)]
    for _ in range(failures):
        with pytest.raises((TypeError, ValueError)):
            failing(subject)
    if name == "TimeLSTM-float64-params":
        subject.params[0] = subject.params[0].astype(np.float32)
    params_after = list(subject.params.values() if isinstance(subject.params, dict) else subject.params)
    _assert_same(params_after, params_before)
    _assert_same(backward(subject), backward(twin))


# --- 5. size inference names the parameter it read ---------------------------------------------------

def test_a_bad_wh_is_named_not_the_wx_checked_against_it():
    rng = np.random.default_rng(15)
    Wx, Wh, b = (rng.standard_normal(s).astype(np.float32) for s in ((3, 16), (4, 16), (16,)))
    layer = L.TimeLSTM(Wx, Wh, b)
    layer.params[1] = rng.standard_normal((5, 16)).astype(np.float32)
    with pytest.raises(ValueError, match=r"Wh must have shape \(H=5, 4\*H=20\), got \(5, 16\)"):
        layer.forward(rng.standard_normal((2, 3, 3)).astype(np.float32))
    with pytest.raises(ValueError, match=r"Wx must have shape \(D, 4\*H=16\), got \(3, 20\) \(H=4 is read off Wh, params\[1\]\)"):
        L.TimeLSTM(rng.standard_normal((3, 20)).astype(np.float32), Wh, b)


def test_functional_names_the_array_hidden_size_is_read_off():
    from fastrnn import functional as F
    x = np.zeros((2, 1, 3), np.float32)
    with pytest.raises(ValueError, match=r"^w_hh: expected a 2-D array \(4\*hidden_size, hidden_size\)"):
        F.lstm_forward(x, None, None, np.zeros((16, 3), np.float32), np.zeros((16, 5), np.float32))
    with pytest.raises(ValueError, match=r"^w_ih: expected a 2-D array \(4\*hidden_size=16, input_size\)"):
        F.lstm_forward(x, None, None, np.zeros((20, 3), np.float32), np.zeros((16, 4), np.float32))


# --- 6. no_grad on a generator function ---------------------------------------------------------------

def test_no_grad_on_a_generator_covers_its_body_and_not_the_caller():
    lstm = nn.LSTM(I, H, seed=16)

    @fastrnn.no_grad()
    def predict(batches):
        for x in batches:
            seen = fastrnn.is_grad_enabled()
            out, _ = lstm(x)
            got = yield out, seen, lstm._ctx is NOT_SAVED
            if got is not None:
                yield got

    batches = [np.zeros((2, 1, I), np.float32)] * 3
    gen = predict(batches)
    for _, seen, not_saved in [next(gen), next(gen)]:
        assert not seen and not_saved
        assert fastrnn.is_grad_enabled()          # the caller's mode between resumptions
    assert gen.send("echo") == "echo"
    with fastrnn.no_grad():
        with fastrnn.enable_grad():
            _, seen, _ = next(gen)                 # the decorator's mode inside, whatever the caller's
            assert not seen and fastrnn.is_grad_enabled()
    gen.close()
    assert fastrnn.is_grad_enabled()

    @fastrnn.enable_grad()
    def inner():
        yield fastrnn.is_grad_enabled()
        return "done"

    with fastrnn.no_grad():
        g = inner()
        assert next(g) is True and not fastrnn.is_grad_enabled()
        with pytest.raises(StopIteration) as stop:
            next(g)
    assert stop.value.value == "done"


def test_an_exception_thrown_into_a_no_grad_generator_runs_in_its_mode():
    @fastrnn.no_grad()
    def gen():
        try:
            yield 1
        except KeyError:
            yield fastrnn.is_grad_enabled()

    g = gen()
    next(g)
    assert g.throw(KeyError("x")) is False
    assert fastrnn.is_grad_enabled()


# --- 7. Stream of something that is not a recurrent module -----------------------------------------------

@pytest.mark.parametrize("module", [nn.LSTMCell(I, H), nn.Linear(I, H), "lstm", None],
                         ids=["LSTMCell", "Linear", "str", "None"])
def test_stream_of_a_non_recurrent_object_is_a_type_error_naming_module(module):
    with pytest.raises(TypeError, match=r"^module: expected a fastrnn.nn recurrent module .*got "):
        nn.Stream(module)


def test_stream_of_a_fastrnn_torch_module_is_a_type_error():
    pytest.importorskip("torch")
    import fastrnn.torch as ft
    with pytest.raises(TypeError, match=r"^module: expected a fastrnn.nn recurrent module .*got fastrnn.torch"):
        nn.Stream(ft.LSTM(I, H))
