"""fastrnn.onnx.export: the ONNX Runtime session of an exported module computes what the
module's (evaluation-mode) forward computes, for every cell option, stacked and
bidirectional layers, batch_first, no bias, dynamic shapes, initial states and lengths."""
import os
import subprocess
import sys

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

import fastrnn.onnx  # noqa: E402
from fastrnn import nn  # noqa: E402

I, H = 3, 4
ATOL = 1e-5

CELLS = {
    "lstm": lambda **kw: nn.LSTM(I, H, **kw),
    "gru": lambda **kw: nn.GRU(I, H, **kw),
    "gru-before": lambda **kw: nn.GRU(I, H, reset_after=False, **kw),
    "gru-book": lambda **kw: nn.GRU(I, H, blend="book", **kw),
    "gru-before-book": lambda **kw: nn.GRU(I, H, reset_after=False, blend="book", **kw),
    "rnn-tanh": lambda **kw: nn.RNN(I, H, nonlinearity="tanh", **kw),
    "rnn-relu": lambda **kw: nn.RNN(I, H, nonlinearity="relu", **kw),
}


def session(model):
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    return ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])


def states_of(module, rng, N, scale=1.0):
    """Random initial states: (h0,) or (h0, c0), each (L*D, N, H) float32."""
    LD = module.num_layers * (2 if module.bidirectional else 1)
    return tuple((scale * rng.standard_normal((LD, N, H))).astype(np.float32)
                 for _ in module.cell.state_names)


def reference(module, x, states=None, lengths=None):
    """The module's forward as the tuple (output, h_n[, c_n])."""
    hx = None if states is None else (states if len(states) == 2 else states[0])
    out, finals = module(x, hx, lengths=lengths)
    return (out,) + (finals if isinstance(finals, tuple) else (finals,))


def feed(module, x, states=None, lengths=None):
    f = {"x": x}
    if states is not None:
        f.update({f"{name}0": s for name, s in zip(module.cell.state_names, states)})
    if lengths is not None:
        f["lengths"] = np.asarray(lengths, np.int32)
    return f


def assert_same(got, want, atol=ATOL):
    assert len(got) == len(want)
    for name, g, w in zip(("output", "h_n", "c_n"), got, want):
        assert g.shape == w.shape, name
        np.testing.assert_allclose(g, w, rtol=atol, atol=atol, err_msg=name)


def make_x(module, rng, T, N):
    shape = (N, T, I) if module.batch_first else (T, N, I)
    return rng.standard_normal(shape).astype(np.float32)


# --- every cell option: two bidirectional layers, initial states, lengths ---------------------

@pytest.mark.parametrize("cell", list(CELLS))
def test_cells_match_forward(cell):
    rng = np.random.default_rng(1)
    module = CELLS[cell](num_layers=2, bidirectional=True, seed=2).eval()
    model = fastrnn.onnx.export(module, lengths=True)
    op_types = [n.op_type for n in model.graph.node if n.op_type in ("LSTM", "GRU", "RNN")]
    assert op_types == [module.cell.name.upper()] * 2
    s = session(model)
    T, N = 5, 4
    x, states = make_x(module, rng, T, N), states_of(module, rng, N)
    for lengths in ([5, 0, 2, 3], [5, 5, 5, 5]):
        assert_same(s.run(None, feed(module, x, states, lengths)), reference(module, x, states, lengths))


# --- the graph's structure: layers, directions, batch_first, bias -----------------------------

@pytest.mark.parametrize("cell, num_layers, bidirectional, batch_first, bias", [
    ("lstm", 1, False, False, True),
    ("lstm", 1, True, True, False),
    ("lstm", 2, False, True, True),
    ("lstm", 3, True, False, True),
    ("gru", 1, False, True, False),
    ("gru", 2, True, True, True),
    ("rnn-tanh", 2, True, False, False),
    ("rnn-relu", 1, False, True, True),
])
def test_structure_matches_forward(cell, num_layers, bidirectional, batch_first, bias):
    rng = np.random.default_rng(3)
    module = CELLS[cell](num_layers=num_layers, bidirectional=bidirectional, batch_first=batch_first,
                         bias=bias, seed=4)
    model = fastrnn.onnx.export(module)
    if not bias:
        assert not any(i.name.startswith("B_") for i in model.graph.initializer)
    s = session(model)
    x, states = make_x(module, rng, 6, 3), states_of(module, rng, 3)
    assert_same(s.run(None, feed(module, x, states)), reference(module, x, states))
    lengths = [0, 6, 4]
    with_lengths = session(fastrnn.onnx.export(module, lengths=True))
    assert_same(with_lengths.run(None, feed(module, x, states, lengths)), reference(module, x, states, lengths))


def test_dynamic_shapes_one_model_two_sizes():
    rng = np.random.default_rng(5)
    module = nn.LSTM(I, H, num_layers=2, bidirectional=True, batch_first=True, seed=6)
    model = fastrnn.onnx.export(module, lengths=True)
    dims = [[d.dim_param or d.dim_value for d in v.type.tensor_type.shape.dim] for v in model.graph.input]
    assert dims == [["N", "T", I], [4, "N", H], [4, "N", H], ["N"]]
    s = session(model)
    for T, N, lengths in ((7, 2, [7, 3]), (3, 5, [1, 3, 0, 2, 3])):
        x, states = make_x(module, rng, T, N), states_of(module, rng, N)
        got = s.run(None, feed(module, x, states, lengths))
        assert got[0].shape == (N, T, 2 * H)
        assert_same(got, reference(module, x, states, lengths))


def test_fixed_shapes():
    module = nn.GRU(I, H, seed=0)
    model = fastrnn.onnx.export(module, seq_len=5, batch_size=2)
    dims = {v.name: [d.dim_param or d.dim_value for d in v.type.tensor_type.shape.dim]
            for v in list(model.graph.input) + list(model.graph.output)}
    assert dims == {"x": [5, 2, I], "h0": [1, 2, H], "output": [5, 2, H], "h_n": [1, 2, H]}
    rng = np.random.default_rng(0)
    x, states = make_x(module, rng, 5, 2), states_of(module, rng, 2)
    assert_same(session(model).run(None, feed(module, x, states)), reference(module, x, states))


# --- initial states ---------------------------------------------------------------------------

@pytest.mark.parametrize("lengths, batch_first", [(None, False), ([4, 0, 2], True)])
def test_initial_states_modes(lengths, batch_first):
    rng = np.random.default_rng(7)
    module = nn.LSTM(I, H, num_layers=2, bidirectional=True, batch_first=batch_first, seed=8)
    x, states = make_x(module, rng, 4, 3), states_of(module, rng, 3)
    use_lengths = lengths is not None
    zero_start = reference(module, x, None, lengths)

    required = session(fastrnn.onnx.export(module, lengths=use_lengths))
    assert [i.name for i in required.get_inputs()] == ["x", "h0", "c0"] + ["lengths"] * use_lengths
    assert_same(required.run(None, feed(module, x, states, lengths)), reference(module, x, states, lengths))

    optional = session(fastrnn.onnx.export(module, lengths=use_lengths, initial_states="optional"))
    assert [i.name for i in optional.get_inputs()] == ["x"] + ["lengths"] * use_lengths
    assert sorted(i.name for i in optional.get_overridable_initializers()) == ["c0", "h0"]
    assert_same(optional.run(None, feed(module, x, None, lengths)), zero_start)
    assert_same(optional.run(None, feed(module, x, states, lengths)), reference(module, x, states, lengths))

    none = session(fastrnn.onnx.export(module, lengths=use_lengths, initial_states=False))
    assert [i.name for i in none.get_inputs()] == ["x"] + ["lengths"] * use_lengths
    assert_same(none.run(None, feed(module, x, None, lengths)), zero_start)


def test_length_zero_keeps_the_initial_states():
    """ONNX Runtime returns zero final states for a length-0 sequence; the graph restores h0."""
    rng = np.random.default_rng(9)
    module = nn.GRU(I, H, bidirectional=True, seed=10)
    x, states = make_x(module, rng, 3, 2), states_of(module, rng, 2, scale=3.0)
    out, h_n = session(fastrnn.onnx.export(module, lengths=True)).run(None, feed(module, x, states, [0, 3]))
    np.testing.assert_array_equal(h_n[:, 0], states[0][:, 0])
    np.testing.assert_array_equal(out[:, 0], 0)
    assert np.all(out[:, 1] != 0)


# --- evaluation mode, dtype, weights, files ---------------------------------------------------

def test_exports_the_evaluation_mode_graph():
    rng = np.random.default_rng(11)
    module = nn.GRU(I, H, num_layers=2, dropout=0.5, seed=12)
    assert module.training
    model = fastrnn.onnx.export(module, initial_states=False)
    x = make_x(module, rng, 4, 2)
    got = session(model).run(None, {"x": x})
    assert module.training
    assert_same(got, reference(module.eval(), x))


def test_float64_module():
    """float64: no compile of float64 kernels, the reference is fastrnn.oracle (NumPy)."""
    from fastrnn import oracle
    rng = np.random.default_rng(13)
    module = nn.LSTM(I, H, dtype=np.float64, seed=14)
    with pytest.raises(ValueError, match=r"dtype: .*float64.*dtype=np.float32"):
        fastrnn.onnx.export(module)
    x = rng.standard_normal((4, 2, I))
    states = tuple(rng.standard_normal((1, 2, H)) for _ in range(2))
    p = module.params
    out, h_n, c_n, _ = oracle.lstm_forward(x, states[0][0], states[1][0], p["weight_ih_l0"], p["weight_hh_l0"],
                                           p["bias_ih_l0"], p["bias_hh_l0"])
    want = (out, h_n[None], c_n[None])

    model = fastrnn.onnx.export(module, dtype=np.float32)
    assert model.graph.input[0].type.tensor_type.elem_type == onnx.TensorProto.FLOAT
    got = session(model).run(None, feed(module, x.astype(np.float32), tuple(s.astype(np.float32) for s in states)))
    assert_same(got, want)

    from onnx.reference import ReferenceEvaluator        # ORT's CPU kernels have no float64
    model = fastrnn.onnx.export(module, dtype=np.float64)
    assert all(i.data_type == onnx.TensorProto.DOUBLE for i in model.graph.initializer if i.name[0] in "WRB")
    assert_same(ReferenceEvaluator(model).run(None, feed(module, x, states)), want, atol=1e-12)


def test_weight_layout():
    module = nn.GRU(I, H, blend="book", bidirectional=True, seed=15)
    weights = {i.name: onnx.numpy_helper.to_array(i) for i in fastrnn.onnx.export(module).graph.initializer}
    r, z, n = np.split(module.params["weight_ih_l0_reverse"], 3)
    np.testing.assert_array_equal(weights["W_l0"][1], np.concatenate([-z, r, n]))
    b_ih, b_hh = (np.split(module.params[f"bias_{k}_l0"], 3) for k in ("ih", "hh"))
    np.testing.assert_array_equal(weights["B_l0"][0], np.concatenate([-b_ih[1], b_ih[0], b_ih[2],
                                                                       -b_hh[1], b_hh[0], b_hh[2]]))
    lstm = nn.LSTM(I, H, seed=16)
    w = {i.name: onnx.numpy_helper.to_array(i) for i in fastrnn.onnx.export(lstm).graph.initializer}
    i, f, g, o = np.split(lstm.params["weight_hh_l0"], 4)
    np.testing.assert_array_equal(w["R_l0"][0], np.concatenate([i, o, f, g]))


def test_writes_path(tmp_path):
    module = nn.RNN(I, H, seed=17)
    path = tmp_path / "rnn.onnx"
    model = fastrnn.onnx.export(module, path)
    assert onnx.load(str(path)) == model
    model2 = fastrnn.onnx.export(module, str(tmp_path / "rnn2.onnx"), opset=14)
    assert model2.opset_import[0].version == 14 and os.path.exists(tmp_path / "rnn2.onnx")


# --- errors -----------------------------------------------------------------------------------

@pytest.mark.parametrize("kwargs, error, match", [
    ({"opset": 13}, ValueError, r"opset: expected an int in \[14, "),
    ({"opset": 10 ** 6}, ValueError, r"opset: expected an int in \[14, \d+\] .*got 1000000"),
    ({"opset": "17"}, TypeError, r"opset: expected an int .*got str '17'"),
    ({"opset": True}, TypeError, r"opset: expected an int .*got bool True"),
    ({"dtype": np.float16}, TypeError, r"dtype: expected float32 or float64"),
    ({"lengths": "yes"}, TypeError, r"lengths: expected a bool"),
    ({"initial_states": "sometimes"}, ValueError, r"initial_states: expected True, False or 'optional'"),
    ({"seq_len": 0}, ValueError, r"seq_len: expected an int >= 1"),
    ({"batch_size": 2.0}, TypeError, r"batch_size: expected an int"),
    ({"path": 3}, TypeError, r"path: expected None, a str or a path-like"),
])
def test_bad_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        fastrnn.onnx.export(nn.GRU(I, H, seed=0), **kwargs)


def test_bad_modules():
    with pytest.raises(TypeError, match=r"module: expected a fastrnn.nn LSTM, GRU, RNN or Recurrent module, "
                                        r"got fastrnn\..*LSTMCell"):
        fastrnn.onnx.export(nn.LSTMCell(I, H))
    with pytest.raises(TypeError, match=r"module: expected .* got str"):
        fastrnn.onnx.export("lstm.onnx")
    with pytest.raises(ValueError, match=r"module: cannot export its 'mgu' cell to ONNX: "
                                         r".*'lstm', 'gru', 'rnn', 'lstm_peephole' cells only"):
        fastrnn.onnx.export(nn.Recurrent("mgu", I, H))      # the test-only cell (tests/conftest.py)


def test_import_without_onnx():
    code = ("import sys; sys.modules['onnx'] = None\n"
            "import fastrnn.onnx, fastrnn.nn\n"
            "try:\n    fastrnn.onnx.export(fastrnn.nn.GRU(2, 3))\n"
            "except ImportError as e:\n    print(e)\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert 'pip install "fastrnn[onnx]"' in result.stdout
