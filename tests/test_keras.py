"""fastrnn.convert: Keras 3 layers -> fastrnn.nn modules and back, compared on Keras's own outputs."""
import os
import subprocess
import sys

import numpy as np
import pytest

os.environ.setdefault("KERAS_BACKEND", "torch")
keras = pytest.importorskip("keras")

import fastrnn
from fastrnn import _cells
from fastrnn.convert import from_keras, to_keras

pytestmark = pytest.mark.filterwarnings(        # Keras's torch backend, on numpy 2
    "ignore:__array__ implementation doesn't accept a copy keyword:DeprecationWarning")

L = keras.layers
N, T, I, H = 3, 5, 4, 6
ATOL = 1e-5


def randomize(layer, seed):
    """Every weight of a built layer (biases included) drawn from N(0, 0.5²)."""
    rng = np.random.default_rng(seed)
    for v in layer.weights:
        v.assign((0.5 * rng.standard_normal(tuple(v.shape))).astype(v.dtype))
    return layer


def built(layer, seed, input_size=I):
    layer.build((None, None, input_size))
    return randomize(layer, seed)


def keras_run(layer, x, **kwargs):
    y = layer(x, **kwargs)
    if isinstance(y, (list, tuple)):
        return [keras.ops.convert_to_numpy(t) for t in y]
    return keras.ops.convert_to_numpy(y)


def module_states(module, states):
    """A module's final states as Keras's return_state lists them: per direction h (and c)."""
    states = states if isinstance(states, tuple) else (states,)
    D = 2 if module.bidirectional else 1
    return [s[-D + d] for d in range(D) for s in states]


@pytest.fixture(scope="module")
def x():
    return np.random.default_rng(0).standard_normal((N, T, I)).astype(np.float32)


SEQ = {"return_sequences": True, "return_state": True}
CASES = {
    "lstm": lambda: L.LSTM(H, **SEQ),
    "gru": lambda: L.GRU(H, **SEQ),
    "gru-reset_before": lambda: L.GRU(H, reset_after=False, **SEQ),
    "simplernn-tanh": lambda: L.SimpleRNN(H, **SEQ),
    "simplernn-relu": lambda: L.SimpleRNN(H, activation="relu", **SEQ),
    "lstm-no_bias": lambda: L.LSTM(H, use_bias=False, **SEQ),
    "gru-no_bias": lambda: L.GRU(H, use_bias=False, **SEQ),
    "gru-reset_before-no_bias": lambda: L.GRU(H, reset_after=False, use_bias=False, **SEQ),
    "simplernn-no_bias": lambda: L.SimpleRNN(H, use_bias=False, **SEQ),
    "rnn-of-grucell": lambda: L.RNN(L.GRUCell(H), **SEQ),
    "bi-lstm": lambda: L.Bidirectional(L.LSTM(H, **SEQ)),
    "bi-gru-reset_before": lambda: L.Bidirectional(L.GRU(H, reset_after=False, **SEQ)),
    "bi-simplernn-relu": lambda: L.Bidirectional(L.SimpleRNN(H, activation="relu", **SEQ)),
}
EXPECTED = {"lstm": fastrnn.nn.LSTM, "gru": fastrnn.nn.GRU, "simplernn": fastrnn.nn.RNN, "rnn": fastrnn.nn.GRU}


@pytest.fixture(scope="module")
def layers(x):
    """Each case built once with random weights, and Keras's outputs on x."""
    result = {}
    for k, (name, make) in enumerate(CASES.items()):
        layer = built(make(), seed=k + 1)
        result[name] = (layer, keras_run(layer, x))
    return result


@pytest.mark.parametrize("name", list(CASES))
def test_from_keras_matches_keras(name, layers, x):
    layer, (out_k, *states_k) = layers[name]
    module = from_keras(layer)
    bidirectional = name.startswith("bi-")
    assert type(module) is EXPECTED[name.removeprefix("bi-").split("-")[0]]
    assert module.batch_first and module.num_layers == 1 and module.hidden_size == H
    assert module.input_size == I and module.bidirectional == bidirectional
    assert module.bias == ("no_bias" not in name)
    assert module.dtype == np.float32
    if "reset_before" in name:
        assert module.reset_after is False
    if "relu" in name:
        assert module.nonlinearity == "relu"
    out, states = module(x)
    np.testing.assert_allclose(out, out_k, atol=ATOL, rtol=0)
    mine = module_states(module, states)
    assert len(mine) == len(states_k)
    for a, b in zip(mine, states_k):
        np.testing.assert_allclose(a, b, atol=ATOL, rtol=0)


@pytest.mark.parametrize("name", list(CASES))
def test_round_trip_from_keras(name, layers, x):
    layer, (out_k, *_) = layers[name]
    back = to_keras(from_keras(layer))
    assert type(back) is type(layer) or (name == "rnn-of-grucell" and type(back) is L.GRU)
    inner = back.forward_layer if isinstance(back, L.Bidirectional) else back
    orig = layer.forward_layer if isinstance(layer, L.Bidirectional) else layer
    assert inner.cell.units == H and inner.cell.use_bias == orig.cell.use_bias and inner.return_sequences
    assert inner.cell.activation is orig.cell.activation
    if isinstance(orig.cell, L.GRUCell):
        assert inner.cell.reset_after == orig.cell.reset_after
    # Keras's own layout survives exactly: the bias of a one-bias layer comes back as b + 0
    got, want = back.get_weights(), layer.get_weights()
    assert [w.shape for w in got] == [w.shape for w in want]
    for a, b in zip(got, want):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_allclose(keras_run(back, x), out_k, atol=ATOL, rtol=0)


def test_keras_gru_blend_is_torchs(layers, x):
    """Keras's h = z h + (1 - z) hh is blend='torch': the same weights with blend='book' differ."""
    layer, (out_k, _) = layers["gru"]
    module = from_keras(layer)
    book = fastrnn.nn.GRU(I, H, batch_first=True, blend="book")
    book.load_state_dict(module.state_dict())
    assert np.abs(book(x)[0] - out_k).max() > 1e-2
    np.testing.assert_allclose(module(x)[0], out_k, atol=ATOL, rtol=0)


# --- stacks --------------------------------------------------------------------------------------
def test_sequential_lstm_stack_with_dropout(x):
    seq = keras.Sequential([keras.Input((None, I)), L.LSTM(H, return_sequences=True), L.Dropout(0.25),
                            L.LSTM(H, return_sequences=True)])
    randomize(seq, 20)
    module = from_keras(seq)
    assert type(module) is fastrnn.nn.LSTM
    assert (module.num_layers, module.dropout, module.bidirectional) == (2, 0.25, False)
    out, (h_n, c_n) = module.eval()(x)
    assert h_n.shape == c_n.shape == (2, N, H)
    np.testing.assert_allclose(out, keras_run(seq, x), atol=ATOL, rtol=0)
    back = to_keras(module)
    assert isinstance(back, keras.Sequential)
    assert [type(l) for l in back.layers] == [L.LSTM, L.Dropout, L.LSTM]
    assert back.layers[1].rate == 0.25
    for a, b in zip(back.get_weights(), seq.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_stack_of_bidirectional_grus_from_a_list(x):
    first = built(L.Bidirectional(L.GRU(H, return_sequences=True)), 21)
    second = built(L.Bidirectional(L.GRU(H, return_sequences=True)), 22, input_size=2 * H)
    module = from_keras([first, second])
    assert (module.num_layers, module.bidirectional, module.dropout) == (2, True, 0.0)
    out, h_n = module(x)
    assert h_n.shape == (4, N, H)
    want = keras_run(second, keras_run(first, x))
    np.testing.assert_allclose(out, want, atol=ATOL, rtol=0)
    back = to_keras(module)
    assert [type(l) for l in back.layers] == [L.Bidirectional, L.Bidirectional]
    np.testing.assert_allclose(keras_run(back, x), want, atol=ATOL, rtol=0)


# --- fastrnn -> Keras -> fastrnn ---------------------------------------------------------------------
MODULES = {
    "lstm": lambda: fastrnn.nn.LSTM(I, H, batch_first=True),
    "gru": lambda: fastrnn.nn.GRU(I, H, batch_first=True),
    "gru-reset_before": lambda: fastrnn.nn.GRU(I, H, batch_first=True, reset_after=False),
    "gru-book": lambda: fastrnn.nn.GRU(I, H, batch_first=True, blend="book"),
    "gru-reset_before-book": lambda: fastrnn.nn.GRU(I, H, batch_first=True, reset_after=False, blend="book"),
    "rnn-relu": lambda: fastrnn.nn.RNN(I, H, nonlinearity="relu", batch_first=True),
    "gru-no_bias": lambda: fastrnn.nn.GRU(I, H, bias=False, batch_first=True),
    "bi-lstm-2-layers": lambda: fastrnn.nn.LSTM(I, H, num_layers=2, bidirectional=True, dropout=0.5,
                                                 batch_first=True),
    "recurrent-rnn-float64": lambda: fastrnn.nn.Recurrent("rnn", I, H, batch_first=True, dtype=np.float64),
    "time-major-gru": lambda: fastrnn.nn.GRU(I, H),
}


@pytest.mark.parametrize("name", list(MODULES))
def test_round_trip_from_fastrnn(name, x):
    module = MODULES[name]()
    rng = np.random.default_rng(sorted(MODULES).index(name))
    for p in module.params.values():             # both biases nonzero: to_keras must fold them
        p[...] = 0.5 * rng.standard_normal(p.shape)
    module.eval()
    xm = x if module.batch_first else x.transpose(1, 0, 2)
    out = module(xm)[0]
    out = out if module.batch_first else out.transpose(1, 0, 2)
    layer = to_keras(module)
    kept = [v.dtype for v in layer.weights]
    assert set(kept) == {np.dtype(module.dtype).name}
    np.testing.assert_allclose(keras_run(layer, x), out, atol=ATOL, rtol=0)

    again = from_keras(layer).eval()
    assert type(again) is type(module) or (type(module) is fastrnn.nn.Recurrent and type(again) is fastrnn.nn.RNN)
    assert again.dtype == module.dtype
    assert (again.num_layers, again.bidirectional, again.bias) == (module.num_layers, module.bidirectional,
                                                                   module.bias)
    assert again.dropout == (module.dropout if module.num_layers > 1 else 0.0)
    np.testing.assert_allclose(again(x)[0], out, atol=ATOL, rtol=0)
    two_biases = getattr(module, "reset_after", False)       # Keras's GRU bias (2, 3H)
    if getattr(module, "blend", "torch") == "torch":        # the weights come back as they were
        for key in module.params:
            if key.startswith("weight") or (two_biases and key.startswith("bias")):
                np.testing.assert_array_equal(again.params[key], module.params[key], err_msg=key)
        if module.bias and not two_biases:                  # one Keras bias: b_ih + b_hh, then b_hh = 0
            np.testing.assert_allclose(again.params["bias_ih_l0"],
                                       module.params["bias_ih_l0"] + module.params["bias_hh_l0"], rtol=1e-6)
            assert not again.params["bias_hh_l0"].any()


# --- semantics the docs state ---------------------------------------------------------------------
def test_keras_mask_is_lengths_with_end_padding(layers, x):
    layer, _ = layers["lstm"]
    lengths = np.array([5, 2, 3])
    mask = np.arange(T)[None, :] < lengths[:, None]
    _, h_k, c_k = keras_run(layer, x, mask=mask)
    _, (h_n, c_n) = from_keras(layer)(x, lengths=lengths)
    np.testing.assert_allclose(h_n[0], h_k, atol=ATOL, rtol=0)
    np.testing.assert_allclose(c_n[0], c_k, atol=ATOL, rtol=0)


def test_stateful_layer_converts(x):
    layer = L.GRU(H, stateful=True, return_sequences=True, return_state=True)
    layer.build((N, None, I))
    randomize(layer, 30)
    module = from_keras(layer)
    out1, _ = keras_run(layer, x[:, :2])
    out2, h2 = keras_run(layer, x[:, 2:])           # Keras carries the state; fastrnn takes it as hx
    mine1, state = module(x[:, :2])
    mine2, state = module(x[:, 2:], state)
    np.testing.assert_allclose(np.concatenate([mine1, mine2], 1), np.concatenate([out1, out2], 1),
                               atol=ATOL, rtol=0)
    np.testing.assert_allclose(state[0], h2, atol=ATOL, rtol=0)


def test_dtype_argument(layers, x):
    layer, (out_k, *_) = layers["gru"]
    module = from_keras(layer, dtype=np.float64)
    assert module.dtype == np.float64
    np.testing.assert_allclose(module(x)[0], out_k, atol=ATOL, rtol=0)


# --- refusals ---------------------------------------------------------------------------------------------
def _seq(*layers):
    return keras.Sequential([keras.Input((None, I)), *layers])


ERRORS = {
    "lstm-activation": (lambda: built(L.LSTM(H, activation="relu"), 0), "activation='relu'"),
    "gru-recurrent_activation": (lambda: built(L.GRU(H, recurrent_activation="hard_sigmoid"), 0),
                                 "recurrent_activation='hard_sigmoid'"),
    "simplernn-activation": (lambda: built(L.SimpleRNN(H, activation="sigmoid"), 0), "activation='sigmoid'"),
    "go_backwards": (lambda: built(L.LSTM(H, go_backwards=True), 0), "go_backwards=True"),
    "merge_mode": (lambda: built(L.Bidirectional(L.GRU(H), merge_mode="sum"), 0), "merge_mode='sum'"),
    "unbuilt": (lambda: L.LSTM(H), "not built"),
    "dense": (lambda: built(L.Dense(H), 0), "Dense 'dense"),
    "sequential-dense": (lambda: _seq(L.LSTM(H, return_sequences=True), L.Dense(2)),
                         r"layer 1 \(Dense .*not a recurrent layer"),
    "sequential-units": (lambda: _seq(L.GRU(H, return_sequences=True), L.GRU(H + 1)),
                         "layer 1 .*units=7 differs from layer 0's units=6"),
    "sequential-types": (lambda: _seq(L.LSTM(H, return_sequences=True), L.GRU(H)),
                         "layer 1 .*layer type='GRU' differs from layer 0's layer type='LSTM'"),
    "sequential-reset_after": (lambda: _seq(L.GRU(H, return_sequences=True), L.GRU(H, reset_after=False)),
                               "reset_after=False differs from layer 0's reset_after=True"),
    "sequential-bidirectional": (lambda: _seq(L.Bidirectional(L.LSTM(H, return_sequences=True)), L.LSTM(H)),
                                 "bidirectional=False differs"),
    "sequential-dropout-last": (lambda: _seq(L.LSTM(H, return_sequences=True), L.Dropout(0.1)),
                                "Dropout converts only between"),
    "sequential-dropout-rates": (lambda: _seq(L.SimpleRNN(H, return_sequences=True), L.Dropout(0.1),
                                              L.SimpleRNN(H, return_sequences=True), L.Dropout(0.2),
                                              L.SimpleRNN(H)),
                                 r"Dropout rates \[0.1, 0.2\] differ"),
    "sequential-dropout-some": (lambda: _seq(L.SimpleRNN(H, return_sequences=True), L.Dropout(0.1),
                                             L.SimpleRNN(H, return_sequences=True), L.SimpleRNN(H)),
                                "some recurrent layers and not others"),
    "list-return_sequences": (lambda: [built(L.LSTM(H), 0), built(L.LSTM(H), 0, input_size=H)],
                              "return_sequences=False"),
    "list-input-size": (lambda: [built(L.LSTM(H, return_sequences=True), 0), built(L.LSTM(H), 0, input_size=2)],
                        "input size 2 differs from the output size 6"),
    "empty": (list, "no recurrent layer"),
}


@pytest.mark.parametrize("name", list(ERRORS))
def test_from_keras_refuses(name):
    make, message = ERRORS[name]
    with pytest.raises(ValueError, match=message):
        from_keras(make())


def test_type_errors():
    with pytest.raises(TypeError, match="expected a Keras layer"):
        from_keras(np.zeros(3))
    with pytest.raises(TypeError, match="expected Keras layers"):
        from_keras([built(L.LSTM(H), 0), "lstm"])
    with pytest.raises(TypeError, match="LSTMCell"):
        to_keras(fastrnn.nn.LSTMCell(I, H))


def test_to_keras_refuses_a_cell_keras_lacks():
    if "mgu" not in _cells.CELLS:         # tests/conftest.py registers the test-only MGU
        pytest.skip("the test-only cell is not registered")
    with pytest.raises(ValueError, match="cell 'mgu' has no Keras layer"):
        to_keras(fastrnn.nn.Recurrent("mgu", I, H))


def test_import_without_keras():
    code = ("import sys\n"
            "import fastrnn.convert as c\n"
            "assert 'keras' not in sys.modules\n"
            "sys.modules['keras'] = None\n"
            "for f in (lambda: c.from_keras(None), lambda: c.to_keras(__import__('fastrnn').nn.GRU(2, 3))):\n"
            "    try:\n"
            "        f()\n"
            "    except ImportError as e:\n"
            "        assert 'pip install keras' in str(e), e\n"
            "    else:\n"
            "        raise AssertionError('no ImportError')\n")
    env = {k: v for k, v in os.environ.items() if k != "KERAS_BACKEND"}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                          timeout=120, check=False)
    assert done.returncode == 0, done.stderr
