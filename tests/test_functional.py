"""fastrnn.functional against fastrnn.oracle: values, gradients, conversions and errors."""
import numpy as np
import pytest
from hypothesis import given, strategies as st

import fastrnn.functional as F
import fastrnn.oracle as O
from fastrnn import _cells
from helpers import problem_proj_size

GATES = {"lstm": 4, "gru": 3, "rnn": 1}
TOL = {np.float32: dict(rtol=1e-4, atol=2e-5), np.float64: dict(rtol=1e-9, atol=1e-11)}


def make_problem(kind, T=5, N=3, I=4, H=6, dtype=np.float64, bias=True, seed=0):
    """Weights, inputs, states and output gradients for one layer."""
    rng = np.random.default_rng(seed)
    G = GATES[kind]

    def u(*shape):
        return rng.uniform(-0.7, 0.7, shape).astype(dtype)

    w = dict(w_ih=u(G * H, I), w_hh=u(G * H, H), b_ih=u(G * H) if bias else None,
             b_hh=u(G * H) if bias else None)
    n_states = 2 if kind == "lstm" else 1
    return dict(w=w, x=rng.standard_normal((T, N, I)).astype(dtype),
                states=tuple(u(N, H) for _ in range(n_states)),
                dout=rng.standard_normal((T, N, H)).astype(dtype),
                dstates=tuple(rng.standard_normal((N, H)).astype(dtype) for _ in range(n_states)))


def option_kwargs(kind, option):
    if kind == "gru":
        return {"reset_after": option}
    if kind == "rnn":
        return {"nonlinearity": option}
    return {}


def run_seq(mod, kind, x, states, w, option, dout, dstates):
    """Forward + backward of a whole sequence through ``mod`` (fastrnn.functional or the oracle)."""
    kw = option_kwargs(kind, option)
    fwd, bwd = getattr(mod, f"{kind}_forward"), getattr(mod, f"{kind}_backward")
    res = fwd(x, *states, w["w_ih"], w["w_hh"], w["b_ih"], w["b_hh"], **kw)
    forward, cache = res[:-1], res[-1]
    back = bwd(dout, *dstates, cache)
    return forward, back[:-1], back[-1]


def run_cell(mod, kind, x, states, w, option, dstates):
    kw = option_kwargs(kind, option)
    fwd, bwd = getattr(mod, f"{kind}_cell_forward"), getattr(mod, f"{kind}_cell_backward")
    res = fwd(x, *states, w["w_ih"], w["w_hh"], w["b_ih"], w["b_hh"], **kw)
    forward, cache = res[:-1], res[-1]
    back = bwd(*dstates, cache)
    return forward, back[:-1], back[-1]


def as64(tree):
    if tree is None:
        return None
    if isinstance(tree, dict):
        return {k: as64(v) for k, v in tree.items()}
    if isinstance(tree, (tuple, list)):
        return type(tree)(as64(v) for v in tree)
    return np.asarray(tree, np.float64)


def assert_trees_close(got, want, dtype, what):
    assert len(got) == len(want), what
    for i, (g, w) in enumerate(zip(got, want)):
        if w is None:
            assert g is None, f"{what}[{i}]"
            continue
        assert g.dtype == np.dtype(dtype), f"{what}[{i}] dtype {g.dtype}"
        assert g.shape == w.shape, f"{what}[{i}] shape {g.shape} != {w.shape}"
        np.testing.assert_allclose(g, w, err_msg=f"{what}[{i}]", **TOL[dtype])


CASES = [  # kind, option, dtype, bias
    ("lstm", None, np.float64, True), ("lstm", None, np.float32, False),
    ("gru", True, np.float64, True), ("gru", False, np.float64, True), ("gru", True, np.float32, False),
    ("rnn", "tanh", np.float64, True), ("rnn", "relu", np.float64, False), ("rnn", "tanh", np.float32, True),
]


@pytest.mark.parametrize("kind,option,dtype,bias", CASES)
def test_sequence_matches_oracle(kind, option, dtype, bias):
    p = make_problem(kind, dtype=dtype, bias=bias)
    got = run_seq(F, kind, p["x"], p["states"], p["w"], option, p["dout"], p["dstates"])
    want = run_seq(O, kind, *as64((p["x"], p["states"], p["w"])), option, *as64((p["dout"], p["dstates"])))
    for name, g, w in zip(("forward", "input/state grads", "weight grads"), got, want):
        assert_trees_close(g, w, dtype, f"{kind} {name}")


@pytest.mark.parametrize("kind,option,dtype,bias", [c for c in CASES if c[2] == np.float64])
def test_cell_matches_oracle(kind, option, dtype, bias):
    p = make_problem(kind, T=1, dtype=dtype, bias=bias, seed=1)
    x = p["x"][0]
    got = run_cell(F, kind, x, p["states"], p["w"], option, p["dstates"])
    want = run_cell(O, kind, x, p["states"], p["w"], option, p["dstates"])
    for name, g, w in zip(("forward", "input/state grads", "weight grads"), got, want):
        assert_trees_close(g, w, dtype, f"{kind} cell {name}")


@pytest.mark.parametrize("kind,option", [("lstm", None), ("gru", True), ("rnn", "tanh")])
def test_none_states_and_gradients_mean_zeros(kind, option):
    p = make_problem(kind, seed=2)
    zeros = tuple(np.zeros_like(s) for s in p["states"])
    none = (None,) * len(zeros)
    got = run_seq(F, kind, p["x"], none, p["w"], option, None, none)
    want = run_seq(O, kind, p["x"], zeros, p["w"], option, np.zeros_like(p["dout"]), zeros)
    for g, w in zip(got, want):
        assert_trees_close(g, w, np.float64, kind)
    # dout None but a final-state gradient given
    got = run_seq(F, kind, p["x"], none, p["w"], option, None, p["dstates"])
    want = run_seq(O, kind, p["x"], zeros, p["w"], option, np.zeros_like(p["dout"]), p["dstates"])
    for g, w in zip(got, want):
        assert_trees_close(g, w, np.float64, kind)


@pytest.mark.parametrize("kind,option", [("lstm", None), ("rnn", "tanh")])
def test_combined_bias_gives_two_equal_bias_grads(kind, option):
    p = make_problem(kind, seed=3)
    _, _, (dw_ih, dw_hh, db_ih, db_hh) = run_seq(F, kind, p["x"], p["states"], p["w"], option, p["dout"],
                                                 p["dstates"])
    assert db_ih is not db_hh
    np.testing.assert_array_equal(db_ih, db_hh)


def test_dtype_follows_weights_and_inputs_are_converted():
    p = make_problem("gru", dtype=np.float32, seed=4)
    x64 = p["x"].astype(np.float64)
    out, h_n, cache = F.gru_forward(x64, p["states"][0].astype(np.float64), **p["w"])
    assert out.dtype == np.float32 and h_n.dtype == np.float32
    ref, ref_h, _ = F.gru_forward(p["x"], p["states"][0], **p["w"])
    np.testing.assert_array_equal(out, ref)
    dx, dh0, grads = F.gru_backward(p["dout"].astype(np.float64), None, cache)
    assert dx.dtype == np.float32 and all(g.dtype == np.float32 for g in grads)


def variants(a):
    """Equal-valued arrays in awkward memory layouts / dtypes (name, array)."""
    rev = np.ascontiguousarray(a[::-1])[::-1]                 # negative strides on axis 0
    big = np.zeros(a.shape[:-1] + (2 * a.shape[-1],), a.dtype)
    big[..., ::2] = a
    return [("non-contiguous", big[..., ::2]), ("reversed", rev), ("fortran", np.asfortranarray(a))]


@pytest.mark.parametrize("kind,option", [("lstm", None), ("gru", True), ("rnn", "relu")])
def test_awkward_layouts_give_the_contiguous_result(kind, option):
    p = make_problem(kind, seed=5)
    want = run_seq(F, kind, p["x"], p["states"], p["w"], option, p["dout"], p["dstates"])
    for i in range(3):
        for label, v in variants(p["x"]):
            x_v, st_v = v, tuple(variants(s)[i][1] for s in p["states"])
            w_v = {k: (None if a is None else variants(a)[i][1]) for k, a in p["w"].items()}
            d_v = variants(p["dout"])[i][1]
            ds_v = tuple(variants(s)[i][1] for s in p["dstates"])
            got = run_seq(F, kind, x_v, st_v, w_v, option, d_v, ds_v)
            for g, w in zip(got, want):
                assert_trees_close(g, w, np.float64, f"{kind} {label}")


def test_integer_and_float16_inputs_equal_their_float_copies():
    p = make_problem("lstm", dtype=np.float32, seed=6)
    x_int = np.arange(5 * 3 * 4).reshape(5, 3, 4) % 5 - 2
    for x in (x_int, x_int.astype(np.int8), x_int.astype(np.uint16), p["x"].astype(np.float16)):
        got = F.lstm_forward(x, *p["states"], **p["w"])
        want = F.lstm_forward(x.astype(np.float32), *p["states"], **p["w"])
        for g, w in zip(got[:3], want[:3]):
            assert g.dtype == np.float32
            np.testing.assert_array_equal(g, w)
    # lists are arrays too; an int h0 is converted
    got = F.lstm_forward(x_int.tolist(), np.ones((3, 6), np.int64), None, **p["w"])
    want = F.lstm_forward(x_int.astype(np.float32), np.ones((3, 6), np.float32), None, **p["w"])
    np.testing.assert_array_equal(got[0], want[0])


@pytest.mark.parametrize("kind,option", [("lstm", None), ("gru", False), ("rnn", "tanh")])
def test_caller_arrays_unchanged(kind, option):
    p = make_problem(kind, seed=7)
    before = as64(p)  # deep copies
    run_seq(F, kind, p["x"], p["states"], p["w"], option, p["dout"], p["dstates"])
    run_cell(F, kind, p["x"][0], p["states"], p["w"], option, p["dstates"])
    for key in ("x", "dout"):
        np.testing.assert_array_equal(p[key], before[key])
    for a, b in zip(p["states"] + p["dstates"], before["states"] + before["dstates"]):
        np.testing.assert_array_equal(a, b)
    for k in p["w"]:
        np.testing.assert_array_equal(p["w"][k], before["w"][k])


def test_nan_propagates():
    p = make_problem("gru", seed=8)
    x = p["x"].copy()
    x[2, 1, 0] = np.nan
    out, h_n, cache = F.gru_forward(x, p["states"][0], **p["w"])
    assert np.isnan(out[2:, 1]).all() and np.isfinite(out[:, [0, 2]]).all() and np.isfinite(out[:2]).all()
    assert np.isnan(h_n[1]).all()
    dx, dh0, grads = F.gru_backward(p["dout"], None, cache)
    assert np.isnan(dx[:3, 1]).any() and np.isnan(grads[0]).any()
    out, h_n, c_n, _ = F.lstm_forward(np.full((2, 1, 4), np.inf), None, None, **make_problem("lstm")["w"])
    assert out.shape == (2, 1, 6)


def test_backward_twice_and_wrong_cache():
    p = make_problem("lstm", seed=9)
    out, h, c, cache = F.lstm_forward(p["x"], *p["states"], **p["w"])
    with pytest.raises(ValueError, match=r"dout: expected a 3-D array \(T=5, N=3, hidden_size=6\), got shape \(5, 3, 7\)"):
        F.lstm_backward(np.zeros((5, 3, 7)), None, None, cache)
    first = F.lstm_backward(p["dout"], None, None, cache)     # the failed call consumed nothing
    with pytest.raises(RuntimeError, match="already used"):
        F.lstm_backward(p["dout"], None, None, cache)
    gp = make_problem("gru")
    _, _, gcache = F.gru_forward(gp["x"], None, **gp["w"])
    with pytest.raises(TypeError, match="cache: expected the cache returned by lstm_forward, got gru_forward"):
        F.lstm_backward(None, None, None, gcache)
    with pytest.raises(TypeError, match="cache: expected the cache returned by gru_cell_forward"):
        F.gru_cell_backward(None, gcache)
    with pytest.raises(TypeError, match="cache"):
        F.gru_backward(None, None, {"steps": []})
    assert first[0].shape == p["x"].shape


def test_errors_name_the_argument():
    p = make_problem("lstm", seed=10)
    w, x, (h0, c0) = p["w"], p["x"], p["states"]
    cases = [
        (ValueError, r"x: expected a 3-D array \(T, N, input_size=4\), got shape \(5, 3, 7\)",
         dict(x=np.zeros((5, 3, 7)))),
        (ValueError, r"x: expected a 3-D array \(T, N, input_size=4\), got shape \(3, 4\)", dict(x=np.zeros((3, 4)))),
        (ValueError, r"x: expected a sequence of length T >= 1", dict(x=np.zeros((0, 3, 4)))),
        (ValueError, r"h0: expected a 2-D array \(N=3, hidden_size=6\), got shape \(2, 6\)", dict(h0=np.zeros((2, 6)))),
        (ValueError, r"c0: expected a 2-D array \(N=3, hidden_size=6\), got shape \(3, 5\)", dict(c0=np.zeros((3, 5)))),
        (TypeError, r"x: expected a real floating-point or integer array, got dtype complex128",
         dict(x=x.astype(complex))),
        (TypeError, r"x: expected a real .* got dtype object", dict(x=x.astype(object))),
        (TypeError, r"x: expected a real .* got dtype bool", dict(x=x > 0)),
        (TypeError, r"h0: expected a real .* got dtype <U1", dict(h0=np.full((3, 6), "a"))),
        (TypeError, r"x: expected an array, got None", dict(x=None)),
        (TypeError, r"w_ih: expected a float32 or float64 array, got dtype int64",
         dict(w_ih=w["w_ih"].astype(np.int64))),
        (TypeError, r"w_ih: expected a float32 or float64 array, got dtype float16",
         dict(w_ih=w["w_ih"].astype(np.float16))),
        (TypeError, r"w_hh: expected dtype float64 \(the dtype of w_ih\), got float32",
         dict(w_hh=w["w_hh"].astype(np.float32))),
        (ValueError, r"w_hh: expected a 2-D array \(4\*hidden_size, hidden_size\), got shape \(18, 6\)",
         dict(w_hh=np.zeros((18, 6)))),
        (ValueError, r"w_ih: expected a 2-D array \(4\*hidden_size=24, input_size\), got shape \(20, 4\)",
         dict(w_ih=np.zeros((20, 4)))),
        (ValueError, r"b_ih: expected a 1-D array \(4\*hidden_size=24,\), got shape \(12,\)", dict(b_ih=np.zeros(12))),
        (ValueError, r"b_hh: expected an array since b_ih is given", dict(b_hh=None)),
    ]
    for exc, match, change in cases:
        args = dict(x=x, h0=h0, c0=c0, **w)
        args.update(change)
        with pytest.raises(exc, match=match):
            F.lstm_forward(**args)
    with pytest.raises(ValueError, match=r"nonlinearity: expected one of 'tanh', 'relu', got 'sigmoid'"):
        F.rnn_forward(x, None, np.zeros((6, 4)), np.zeros((6, 6)), nonlinearity="sigmoid")
    with pytest.raises(ValueError, match=r"w_hh: expected a 2-D array \(3\*hidden_size, hidden_size\)"):
        F.gru_forward(x, None, np.zeros((18, 4)), np.zeros((24, 6)))
    with pytest.raises(ValueError, match=r"x: expected a 2-D array \(N, input_size=4\), got shape \(5, 3, 4\)"):
        F.rnn_cell_forward(x, None, np.zeros((6, 4)), np.zeros((6, 6)))
    with pytest.raises(TypeError, match="reset_after: expected a bool"):
        F.gru_forward(x, None, np.zeros((18, 4)), np.zeros((18, 6)), reset_after="yes")
    _, cache = F.rnn_cell_forward(x[0], None, np.zeros((6, 4)), np.zeros((6, 6)))
    with pytest.raises(ValueError, match=r"dh1: expected a 2-D array \(N=3, hidden_size=6\), got shape \(6,\)"):
        F.rnn_cell_backward(np.zeros(6), cache)
    _, _, _, cache = F.lstm_forward(x, None, None, **w)
    with pytest.raises(ValueError, match=r"dc_n: expected a 2-D array \(N=3, hidden_size=6\), got shape \(1, 3, 6\)"):
        F.lstm_backward(None, None, np.zeros((1, 3, 6)), cache)


@given(kind=st.sampled_from(["lstm", "gru", "rnn"]), T=st.integers(1, 6), N=st.integers(1, 4),
       I=st.integers(1, 5), H=st.integers(1, 7), bias=st.booleans(), option=st.booleans(),
       give=st.booleans(), seed=st.integers(0, 2**16))
def test_property_any_shape_matches_oracle(kind, T, N, I, H, bias, option, give, seed):
    opt = {"lstm": None, "gru": option, "rnn": "tanh" if option else "relu"}[kind]
    p = make_problem(kind, T, N, I, H, np.float64, bias, seed)
    states = p["states"] if give else (None,) * len(p["states"])
    zeros = tuple(np.zeros_like(s) for s in p["states"])
    dstates = p["dstates"] if give else (None,) * len(p["states"])
    dout = p["dout"] if not give else None
    got = run_seq(F, kind, p["x"], states, p["w"], opt, dout, dstates)
    want = run_seq(O, kind, p["x"], p["states"] if give else zeros, p["w"], opt,
                   np.zeros_like(p["dout"]) if dout is None else dout, p["dstates"] if give else zeros)
    for name, g, w in zip(("forward", "input/state grads", "weight grads"), got, want):
        assert_trees_close(g, w, np.float64, f"{kind} {name}")


# --- any registered cell by name -------------------------------------------------------------
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", list(_cells.CELLS))
def test_by_name_calls_match_the_oracle_for_every_registered_cell(name, dtype):
    """sequence_forward/backward and cell_forward/backward of every registry cell (default
    options, then each other option value) against the cell's oracle; None states are zeros."""
    cell = _cells.get(name)
    rng = np.random.default_rng(90)
    T, N, I, H = 4, 3, 5, 6
    P = problem_proj_size(cell, I, H)
    sizes = cell.state_sizes(H, P)
    params = tuple(rng.uniform(-0.7, 0.7, shape).astype(dtype)
                   for _, shape in cell.param_shapes("torch", I, H, True, P))
    x = rng.standard_normal((T, N, I)).astype(dtype)
    states = tuple(rng.uniform(-1, 1, (N, size)).astype(dtype) for size in sizes)
    dout = rng.standard_normal((T, N, sizes[0])).astype(dtype)
    dstates = tuple(rng.standard_normal((N, size)).astype(dtype) for size in sizes)
    variants = [{}] + [{o.name: v} for o in cell.options for v in o.choices if v != o.default]
    for options in variants:
        full = cell.check_options(options)
        want_out, want_fin, cache = cell.oracle_forward(x, states, params, full)
        want_dx, want_d0, want_grads = cell.oracle_backward(cache, dout, dstates)
        out, fin, fcache = F.sequence_forward(name, x, states, params, **options)
        dx, d0, grads = F.sequence_backward(fcache, dout, dstates)
        for got, want in zip((out, *fin, dx, *d0, *grads), (want_out, *want_fin, want_dx, *want_d0, *want_grads)):
            np.testing.assert_allclose(got, want, **TOL[dtype])
        # one step, zero states given as None
        zeros = tuple(np.zeros_like(s) for s in states)
        want_out, want_fin, cache = cell.oracle_forward(x[:1], zeros, params, full)
        want_dx, want_d0, want_grads = cell.oracle_backward(cache, None, dstates)
        fin, ccache = F.cell_forward(name, x[0], (None,) * len(states), params, **options)
        dx, d0, grads = F.cell_backward(ccache, dstates)
        for got, want in zip((*fin, dx, *d0, *grads), (*want_fin, want_dx[0], *want_d0, *want_grads)):
            np.testing.assert_allclose(got, want, **TOL[dtype])


def test_by_name_errors():
    p = make_problem("gru", seed=91)
    w = tuple(p["w"].values())
    with pytest.raises(ValueError, match="cell: expected one of 'lstm', 'gru', 'rnn'.*, got 'lstn'"):
        F.sequence_forward("lstn", p["x"], p["states"], w)
    with pytest.raises(TypeError, match="no_such: not an option of the GRU cell"):
        F.sequence_forward("gru", p["x"], p["states"], w, no_such=1)
    with pytest.raises(TypeError, match=r"states: expected 1 arrays \(h0\), got 2"):
        F.sequence_forward("gru", p["x"], p["states"] * 2, w)
    with pytest.raises(TypeError, match=r"params: expected 4 arrays \(w_ih, w_hh, b_ih, b_hh\), got 2"):
        F.sequence_forward("gru", p["x"], p["states"], w[:2])
    _, cache = F.cell_forward("gru", p["x"][0], p["states"], w)
    with pytest.raises(TypeError, match="cache: expected the cache returned by sequence_forward, got gru_cell_forward"):
        F.sequence_backward(cache, None, (None,))
