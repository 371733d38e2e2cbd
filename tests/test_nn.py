"""fastrnn.nn modules against a composition of fastrnn.oracle calls, plus their bookkeeping.

The reference below stacks oracle layers the way torch documents it: layer l reads layer
l-1's output (directions concatenated on the feature axis); the reverse direction reads
the time-reversed sequence and its output is reversed back; dropout (eval mode: none)
sits between layers.
"""
import functools
import warnings

import numpy as np
import pytest

import fastrnn
import fastrnn.oracle as O
from fastrnn import _cells
from fastrnn.nn import Recurrent, RecurrentCell

# every registered cell: its named class where fastrnn has one, else the generic module
NAMED = {"lstm": fastrnn.LSTM, "gru": fastrnn.GRU, "rnn": fastrnn.RNN}
# The registered cells but the LSTM variants, whose h/c sizes and extra parameters these
# tests' shapes and names do not know (tests/test_lstm_variants.py and test_lengths.py run them).
PLAIN = [name for name, cell in _cells.CELLS.items() if not cell.variant_of]
CLASSES = {name: NAMED.get(name, functools.partial(Recurrent, name)) for name in PLAIN}
TOL = {np.float32: dict(rtol=2e-4, atol=2e-5), np.float64: dict(rtol=1e-9, atol=1e-11)}


# --- the oracle reference ----------------------------------------------------------------------
def layer_weights(m, k):
    """(w_ih, w_hh, b_ih, b_hh) of layer/direction k as float64 copies (bias None without bias)."""
    D = 2 if m.bidirectional else 1
    sfx = f"_l{k // D}" + ("_reverse" if k % D else "")
    get = lambda n: np.asarray(m.params[n + sfx], np.float64) if n + sfx in m.params else None  # noqa: E731
    return get("weight_ih"), get("weight_hh"), get("bias_ih"), get("bias_hh")


def oracle_forward(kind, options, w, x, states):
    return _cells.get(kind).oracle_forward(x, tuple(states), w, options)


def oracle_backward(kind, dout, dstates, cache):
    return _cells.get(kind).oracle_backward(cache, dout, tuple(dstates))


def reference(m, kind, option, x, states, dout, dstates, masks=None):
    """Float64 oracle composition for time-major batched x (T, N, I), states (L*D, N, H).

    Returns out, final states, dx, initial-state grads, {param name: grad}.
    """
    L, D, H = m.num_layers, 2 if m.bidirectional else 1, m.hidden_size
    layer_in, caches, finals = x, [], []
    for layer in range(L):
        outs = []
        for d in range(D):
            k = layer * D + d
            xin = layer_in if d == 0 else layer_in[::-1]
            out, fin, cache = oracle_forward(kind, option, layer_weights(m, k), xin, [s[k] for s in states])
            outs.append(out if d == 0 else out[::-1])
            caches.append(cache)
            finals.append(fin)
        layer_in = np.concatenate(outs, axis=2)
        if masks is not None and layer < L - 1:
            layer_in = layer_in * masks[layer]
    out = layer_in
    final = [np.stack([f[i] for f in finals]) for i in range(len(states))]
    grads, d0 = {}, [np.zeros_like(s) for s in states]
    dlayer = dout
    for layer in reversed(range(L)):
        if masks is not None and layer < L - 1:
            dlayer = dlayer * masks[layer]
        dx = 0
        for d in range(D):
            k = layer * D + d
            dk = dlayer[:, :, d * H:(d + 1) * H]
            dxk, ds0, g = oracle_backward(kind, dk if d == 0 else dk[::-1], [s[k] for s in dstates], caches[k])
            dx = dx + (dxk if d == 0 else dxk[::-1])
            for i, s in enumerate(ds0):
                d0[i][k] = s
            sfx = f"_l{layer}" + ("_reverse" if d else "")
            for name, gi in zip(("weight_ih", "weight_hh", "bias_ih", "bias_hh"), g):
                if gi is not None:
                    grads[name + sfx] = gi
        dlayer = dx
    return out, final, dlayer, d0, grads


# --- helpers ---------------------------------------------------------------------------------------
def call(m, kind, x, states):
    """m(x, states) with the cell's calling convention (torch's) -> out, list of final states."""
    out, fin = m(x, None if states is None else pack(kind, states))
    return out, unpack(kind, fin)


def back(m, kind, dout, dstates):
    dx, d0 = m.backward(dout, None if dstates is None else pack(kind, dstates))
    return dx, unpack(kind, d0)


def pack(kind, states):
    """A list of states as the module takes them: the array of a one-state cell, else a tuple."""
    return states[0] if n_states(kind) == 1 else tuple(states)


def unpack(kind, value):
    return [value] if n_states(kind) == 1 else list(value)


def n_states(kind):
    return len(_cells.get(kind).state_names)


def option_values(kind):
    """Every non-default value of every option of the cell, as constructor kwargs."""
    return [{o.name: v} for o in _cells.get(kind).options for v in o.choices if v != o.default]


def data(m, kind, T, N, seed, batched=True):
    """x, states, dout, dstates in the module's calling layout (batch_first / unbatched)."""
    rng = np.random.default_rng(seed)
    D = 2 if m.bidirectional else 1
    LD, H = m.num_layers * D, m.hidden_size
    if not batched:
        shapes = (T, m.input_size), (LD, H), (T, D * H)
    elif m.batch_first:
        shapes = (N, T, m.input_size), (LD, N, H), (N, T, D * H)
    else:
        shapes = (T, N, m.input_size), (LD, N, H), (T, N, D * H)
    x = rng.standard_normal(shapes[0]).astype(m.dtype)
    states = [rng.uniform(-1, 1, shapes[1]).astype(m.dtype) for _ in range(n_states(kind))]
    dout = rng.standard_normal(shapes[2]).astype(m.dtype)
    dstates = [rng.standard_normal(shapes[1]).astype(m.dtype) for _ in range(n_states(kind))]
    return x, states, dout, dstates


def to_time_major(m, a, batched):
    if not batched:
        return a[:, None]
    return a.transpose(1, 0, 2) if m.batch_first else a


def states_batched(a, batched):
    return a if batched else a[:, None]


def f64(a):
    return np.asarray(a, np.float64)


def assert_close(got, want, dtype, what):
    assert got.dtype == np.dtype(dtype), f"{what}: dtype {got.dtype}"
    assert got.shape == want.shape, f"{what}: shape {got.shape} != {want.shape}"
    np.testing.assert_allclose(got, want, err_msg=what, **TOL[dtype])


def option_of(kind, m):
    return m._options


def check_against_oracle(m, kind, x, states, dout, dstates, batched=True):
    """One forward + backward of m (grads zeroed first) compared with the oracle composition."""
    m.zero_grad()
    out, fin = call(m, kind, x, states)
    dx, d0 = back(m, kind, dout, dstates)
    N = x.shape[0] if (batched and m.batch_first) else (x.shape[1] if batched else 1)
    LD = m.num_layers * (2 if m.bidirectional else 1)
    st = [f64(states_batched(s, batched)) for s in states] if states is not None else \
        [np.zeros((LD, N, m.hidden_size))] * n_states(kind)
    dst = [f64(states_batched(s, batched)) for s in dstates] if dstates is not None else \
        [np.zeros((LD, N, m.hidden_size))] * n_states(kind)
    dout_tm = f64(to_time_major(m, dout, batched)) if dout is not None else \
        np.zeros(to_time_major(m, out, batched).shape)
    r_out, r_fin, r_dx, r_d0, r_grads = reference(m, kind, option_of(kind, m), f64(to_time_major(m, x, batched)),
                                                  st, dout_tm, dst)
    dt = m.dtype.type
    assert_close(to_time_major(m, out, batched), r_out, dt, "out")
    assert_close(to_time_major(m, dx, batched), r_dx, dt, "dx")
    for i in range(n_states(kind)):
        assert_close(states_batched(fin[i], batched), r_fin[i], dt, f"final state {i}")
        assert_close(states_batched(d0[i], batched), r_d0[i], dt, f"initial state grad {i}")
    assert set(r_grads) == set(m.grads)
    for name, g in r_grads.items():
        assert_close(m.grads[name], g, dt, f"grad {name}")
    return out, fin, dx, d0


# --- module vs oracle ---------------------------------------------------------------------------------
CONFIGS = {   # name: (constructor kwargs, batched, give states, give state grads)
    "2layer-bidir-f64": (dict(num_layers=2, bidirectional=True, dtype=np.float64), True, True, True),
    "batch_first-nobias-f32": (dict(batch_first=True, bias=False), True, True, False),
    "3layer-f64-zero-states": (dict(num_layers=3, dtype=np.float64), True, False, True),
    "unbatched-bidir-f64": (dict(num_layers=2, bidirectional=True, dtype=np.float64), False, True, True),
    "dropout-eval-batch_first-f32": (dict(num_layers=2, dropout=0.4, batch_first=True, bidirectional=True),
                                     True, True, True),
}
@pytest.mark.parametrize("config", list(CONFIGS))
@pytest.mark.parametrize("kind", list(CLASSES))
def test_module_matches_oracle_composition(kind, config):
    kwargs, batched, give_states, give_dstates = CONFIGS[config]
    m = CLASSES[kind](4, 5, seed=11, **kwargs)
    if "dropout" in kwargs:
        m.eval()
    x, states, dout, dstates = data(m, kind, T=6, N=3, seed=1, batched=batched)
    check_against_oracle(m, kind, x, states if give_states else None, dout, dstates if give_dstates else None,
                         batched)


@pytest.mark.parametrize("kind,option", [(k, o) for k in CLASSES for o in option_values(k)], ids=str)
def test_module_options_match_oracle(kind, option):
    m = CLASSES[kind](3, 4, num_layers=2, bidirectional=True, dtype=np.float64, seed=12, **option)
    x, states, dout, dstates = data(m, kind, T=5, N=2, seed=2)
    check_against_oracle(m, kind, x, states, dout, dstates)


@pytest.mark.parametrize("kind", list(CLASSES))
def test_output_gradient_none_means_zeros(kind):
    m = CLASSES[kind](3, 4, num_layers=2, bidirectional=True, dtype=np.float64, seed=13)
    x, states, dout, dstates = data(m, kind, T=4, N=2, seed=3)
    check_against_oracle(m, kind, x, states, None, dstates)
    if n_states(kind) == 2:      # one of (dh_n, dc_n) None
        m.zero_grad()
        m(x)
        dx, (dh0, dc0) = m.backward(dout, (None, dstates[1]))
        ref = check_against_oracle(m, kind, x, None, dout, [np.zeros_like(dstates[0]), dstates[1]])
        np.testing.assert_array_equal(dx, ref[2])


# --- gradient bookkeeping -----------------------------------------------------------------------------
@pytest.mark.parametrize("kind", list(CLASSES))
def test_grads_accumulate_and_zero_grad(kind):
    m = CLASSES[kind](3, 4, num_layers=2, bidirectional=True, dtype=np.float64, seed=14)
    grads_before = {k: id(v) for k, v in m.grads.items()}
    runs = []
    for seed in (4, 5):
        x, states, dout, dstates = data(m, kind, T=4, N=2, seed=seed)
        check_against_oracle(m, kind, x, states, dout, dstates)     # zeroes, then one step
        runs.append(({k: g.copy() for k, g in m.grads.items()}, x, states, dout, dstates))
    m.zero_grad()
    for _, x, states, dout, dstates in runs:
        call(m, kind, x, states)
        back(m, kind, dout, dstates)
    for k, g in m.grads.items():
        np.testing.assert_allclose(g, runs[0][0][k] + runs[1][0][k], rtol=1e-12, atol=1e-13, err_msg=k)
    assert {k: id(v) for k, v in m.grads.items()} == grads_before
    m.zero_grad()
    assert all(not g.any() for g in m.grads.values())
    assert {k: id(v) for k, v in m.grads.items()} == grads_before


def expected_names(L, D, bias, cell=False):
    if cell:
        return ["weight_ih", "weight_hh"] + (["bias_ih", "bias_hh"] if bias else [])
    names = []
    for layer in range(L):
        for d in range(D):
            sfx = f"_l{layer}" + ("_reverse" if d else "")
            names += [f"weight_ih{sfx}", f"weight_hh{sfx}"] + ([f"bias_ih{sfx}", f"bias_hh{sfx}"] if bias else [])
    return names


@pytest.mark.parametrize("kind", list(CLASSES))
def test_parameter_names_shapes_dtype_and_init(kind):
    G = _cells.get(kind).gates
    I, H = 3, 16
    m = CLASSES[kind](I, H, num_layers=2, bidirectional=True, seed=0)
    assert list(m.params) == expected_names(2, 2, True) == list(m.grads)
    for name, p in m.params.items():
        rows = G * H
        want = {"weight_ih_l0": (rows, I), "weight_ih_l1": (rows, 2 * H)}.get(name.replace("_reverse", ""))
        if want is None:
            want = (rows, H) if name.startswith("weight_hh") else (rows,)
        assert p.shape == want and p.dtype == np.float32 and p.flags.c_contiguous, name
        assert m.grads[name].shape == want and m.grads[name].dtype == np.float32
        assert np.abs(p).max() <= 1 / np.sqrt(H) and p.std() > 0.5 / np.sqrt(3 * H), name
    allp = np.concatenate([p.ravel() for p in m.params.values()])
    assert abs(allp.std() - 1 / np.sqrt(3 * H)) < 0.01                 # U(-k, k) has std k/sqrt(3)
    assert list(CLASSES[kind](I, H, bias=False).params) == expected_names(1, 1, False)
    same = CLASSES[kind](I, H, num_layers=2, bidirectional=True, seed=0)
    other = CLASSES[kind](I, H, num_layers=2, bidirectional=True, seed=1)
    assert all(np.array_equal(m.params[k], same.params[k]) for k in m.params)
    assert not any(np.array_equal(m.params[k], other.params[k]) for k in m.params)
    assert CLASSES[kind](I, H, dtype=np.float64).params["weight_hh_l0"].dtype == np.float64


# --- state dicts ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", list(CLASSES))
def test_state_dict_round_trip_keeps_param_identity(kind):
    a = CLASSES[kind](3, 4, num_layers=2, bidirectional=True, dtype=np.float64, seed=20)
    b = CLASSES[kind](3, 4, num_layers=2, bidirectional=True, dtype=np.float64, seed=21)
    sd = a.state_dict()
    assert list(sd) == list(a.params)
    for k in sd:
        assert sd[k] is not a.params[k]
        sd[k] += 1.0                 # a copy: the module does not change
    sd = a.state_dict()
    ids = {k: id(v) for k, v in b.params.items()}
    b.load_state_dict(sd)
    assert {k: id(v) for k, v in b.params.items()} == ids
    x, states, _, _ = data(a, kind, T=4, N=2, seed=6)
    out_a, fin_a = call(a, kind, x, states)
    out_b, fin_b = call(b, kind, x, states)
    np.testing.assert_array_equal(out_a, out_b)
    # array-likes of other dtypes load (converted); a float32 module from a float64 dict
    c = CLASSES[kind](3, 4, num_layers=2, bidirectional=True, seed=22)
    c.load_state_dict({k: v.tolist() for k, v in sd.items()})
    for k in sd:
        np.testing.assert_array_equal(c.params[k], sd[k].astype(np.float32))
        assert c.params[k].dtype == np.float32


def test_load_state_dict_errors_change_nothing():
    m = fastrnn.LSTM(3, 4, num_layers=2, seed=23)
    good = m.state_dict()
    before = m.state_dict()
    cases = [
        (ValueError, r"missing key\(s\) 'bias_hh_l1'", {k: v for k, v in good.items() if k != "bias_hh_l1"}),
        (ValueError, r"unexpected key\(s\) 'weight_ih_l2'", dict(good, weight_ih_l2=np.zeros((16, 4)))),
        (ValueError, r"state_dict\['weight_hh_l1'\]: expected shape \(16, 4\), got shape \(4, 16\)",
         dict(good, weight_hh_l1=np.zeros((4, 16)))),
        (TypeError, r"state_dict\['bias_ih_l0'\]: expected a real .* got dtype complex128",
         dict(good, bias_ih_l0=np.zeros(16, complex))),
        (TypeError, r"state_dict: expected a mapping", list(good.values())),
    ]
    for exc, match, d in cases:
        # put changed values first so a partial load would be visible
        if isinstance(d, dict):
            d = {k: (v + 1 if isinstance(v, np.ndarray) and v.dtype.kind == "f" else v) for k, v in d.items()}
        with pytest.raises(exc, match=match):
            m.load_state_dict(d)
        for k, v in m.params.items():
            np.testing.assert_array_equal(v, before[k], err_msg=k)
    res = m.load_state_dict({k: v for k, v in good.items() if k != "bias_hh_l1"}, strict=False)
    assert res.missing_keys == ["bias_hh_l1"] and res.unexpected_keys == []


# --- dropout ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_dropout_train_mode_reproducible_and_differs_from_eval(kind):
    def make():
        return CLASSES[kind](3, 8, num_layers=3, dropout=0.5, seed=30)
    a, b = make(), make()
    assert a.training and b.training
    x, states, dout, dstates = data(a, kind, T=5, N=4, seed=7)
    runs_a = [call(a, kind, x, states)[0] for _ in range(2)]
    runs_b = [call(b, kind, x, states)[0] for _ in range(2)]
    np.testing.assert_array_equal(runs_a[0], runs_b[0])
    np.testing.assert_array_equal(runs_a[1], runs_b[1])
    assert not np.allclose(runs_a[0], runs_a[1])                 # fresh masks per call
    assert a.eval() is a and not a.training
    out_eval = call(a, kind, x, states)[0]
    assert not np.allclose(out_eval, runs_a[0])
    np.testing.assert_array_equal(out_eval, call(a, kind, x, states)[0])
    check_against_oracle(a, kind, x, states, dout, dstates)      # eval mode = no dropout
    assert a.train() is a and a.training


def test_dropout_one_cuts_the_input_off():
    m = fastrnn.GRU(3, 4, num_layers=2, dropout=1.0, dtype=np.float64, seed=31)
    x, states, dout, dstates = data(m, "gru", T=5, N=2, seed=8)
    out1, h1 = m(x, states[0])
    dx, dh0 = m.backward(dout)            # no gradient reaches x through the dropped layer output
    assert not dx.any() and not dh0[0].any() and dh0[1].any()
    out2, h2 = m(x * 3 + 1, states[0])
    np.testing.assert_array_equal(out1, out2)
    # layer 1 sees zeros: compare with the oracle on a zero input
    ref = O.gru_forward(np.zeros((5, 2, 4)), states[0][1], *layer_weights(m, 1))[0]
    np.testing.assert_allclose(out1, ref, rtol=1e-12, atol=1e-13)


@pytest.mark.parametrize("kind", list(CLASSES))
def test_dropout_train_gradient_matches_finite_differences(kind):
    """With the module's rng rewound, every forward draws the same masks: compare the
    backward with a central difference of sum(out * dout) + sum(h_n * dh_n) along a random
    direction of x and of one weight."""
    m = CLASSES[kind](3, 4, num_layers=2, bidirectional=True, dropout=0.5, dtype=np.float64, seed=32)
    x, states, dout, dstates = data(m, kind, T=4, N=2, seed=9)
    rng_state = m._rng.bit_generator.state

    def loss(xv):
        m._rng.bit_generator.state = rng_state
        out, fin = call(m, kind, xv, states)
        return np.sum(out * dout) + sum(np.sum(f * d) for f, d in zip(fin, dstates))

    m.zero_grad()
    loss(x)
    dx, _ = back(m, kind, dout, dstates)
    v = np.random.default_rng(10).standard_normal(x.shape)
    eps = 1e-6
    fd = (loss(x + eps * v) - loss(x - eps * v)) / (2 * eps)
    np.testing.assert_allclose(np.sum(dx * v), fd, rtol=1e-6, atol=1e-8)
    w = m.params["weight_ih_l1_reverse"]
    gw = m.grads["weight_ih_l1_reverse"].copy()
    vw = np.random.default_rng(11).standard_normal(w.shape)
    w0 = w.copy()
    w[...] = w0 + eps * vw
    up = loss(x)
    w[...] = w0 - eps * vw
    down = loss(x)
    w[...] = w0
    np.testing.assert_allclose(np.sum(gw * vw), (up - down) / (2 * eps), rtol=1e-6, atol=1e-8)


# --- backward protocol and errors ------------------------------------------------------------------------
@pytest.mark.parametrize("kind", list(CLASSES))
def test_backward_before_forward_and_twice(kind):
    m = CLASSES[kind](3, 4, seed=40)
    with pytest.raises(RuntimeError, match=r"backward\(\) called before forward\(\)"):
        m.backward(None)
    x, states, dout, dstates = data(m, kind, T=4, N=2, seed=12)
    call(m, kind, x, states)
    back(m, kind, dout, dstates)
    grads = {k: g.copy() for k, g in m.grads.items()}
    with pytest.raises(RuntimeError, match=r"backward\(\) called twice"):
        back(m, kind, dout, dstates)
    for k in grads:
        np.testing.assert_array_equal(m.grads[k], grads[k])


def snapshot(m):
    return ({k: v.copy() for k, v in m.params.items()}, {k: v.copy() for k, v in m.grads.items()})


def assert_unchanged(m, snap):
    for d, s in zip((m.params, m.grads), snap):
        for k in s:
            np.testing.assert_array_equal(d[k], s[k], err_msg=k)


def test_lstm_errors_name_the_argument_and_change_nothing():
    m = fastrnn.LSTM(4, 5, num_layers=2, seed=41)
    x, (h0, c0), dout, (dh, dc) = data(m, "lstm", T=6, N=3, seed=13)
    z = np.zeros
    forward_cases = [
        (ValueError, r"x: expected a 3-D array \(T, N, input_size=4\) or a 2-D unbatched array "
                     r"\(T, input_size=4\), got shape \(6, 3, 4, 1\)", (x[..., None], None)),
        (ValueError, r"x: expected a 3-D array \(T, N, input_size=4\), got shape \(6, 3, 7\)", (z((6, 3, 7)), None)),
        (ValueError, r"x: expected a 2-D array \(T, input_size=4\), got shape \(6, 3\)", (z((6, 3)), None)),
        (ValueError, r"x: expected a sequence of length T >= 1", (z((0, 3, 4)), None)),
        (ValueError, r"h0: expected a 3-D array \(num_layers\*num_directions=2, N=3, hidden_size=5\), "
                     r"got shape \(2, 4, 5\)", (x, (z((2, 4, 5)), c0))),
        (ValueError, r"c0: expected a 3-D array \(num_layers\*num_directions=2, N=3, hidden_size=5\), "
                     r"got shape \(1, 3, 5\)", (x, (h0, z((1, 3, 5))))),
        (ValueError, r"h0: expected a 2-D array \(num_layers\*num_directions=2, hidden_size=5\), "
                     r"got shape \(2, 1, 5\)", (x[:, 0], (z((2, 1, 5)), z((2, 1, 5))))),
        (ValueError, r"h0: expected a 3-D array .* got shape \(2, 5\)", (x, (z((2, 5)), c0))),
        (TypeError, r"x: expected a real floating-point or integer array, got dtype complex64",
         (x.astype(np.complex64), None)),
        (TypeError, r"x: expected a real .* got dtype object", (x.astype(object), None)),
        (TypeError, r"x: expected a real .* got dtype bool", (x > 0, None)),
        (TypeError, r"h0: expected a real .* got dtype complex64", (x, (h0 * 1j, c0))),
        (TypeError, r"hx: expected a tuple \(h0, c0\) or None, got ndarray", (x, h0)),
        (TypeError, r"hx: expected a tuple \(h0, c0\) or None, got tuple of length 3", (x, (h0, c0, c0))),
        (TypeError, r"x: expected an array, got None", (None, None)),
    ]
    call(m, "lstm", x, [h0, c0])                 # a pending forward that failed calls must not disturb
    snap = snapshot(m)
    x_copy = x.copy()
    for exc, match, args in forward_cases:
        with pytest.raises(exc, match=match):
            m(*args)
        assert_unchanged(m, snap)
    np.testing.assert_array_equal(x, x_copy)
    backward_cases = [
        (ValueError, r"dout: expected a 3-D array \(T=6, N=3, num_directions\*hidden_size=5\), "
                     r"got shape \(6, 3, 10\)", (z((6, 3, 10)), None)),
        (ValueError, r"dout: expected a 3-D array .* got shape \(5, 3, 5\)", (z((5, 3, 5)), None)),
        (ValueError, r"dh_n: expected a 3-D array \(num_layers\*num_directions=2, N=3, hidden_size=5\)",
         (dout, (z((2, 2, 5)), None))),
        (ValueError, r"dc_n: expected a 3-D array", (dout, (None, z(5)))),
        (TypeError, r"dout: expected a real .* got dtype complex64", (dout * 1j, None)),
        (TypeError, r"dhx: expected a tuple \(dh_n, dc_n\) or None, got ndarray", (dout, dh)),
    ]
    for exc, match, args in backward_cases:
        with pytest.raises(exc, match=match):
            m.backward(*args)
        assert_unchanged(m, snap)
    # the pending forward is intact: its backward equals a fresh forward + backward
    dx1, d01 = m.backward(dout, (dh, dc))
    g1 = {k: v.copy() for k, v in m.grads.items()}
    m.zero_grad()
    call(m, "lstm", x, [h0, c0])
    dx2, d02 = m.backward(dout, (dh, dc))
    np.testing.assert_array_equal(dx1, dx2)
    for k in g1:
        np.testing.assert_array_equal(g1[k] - snap[1][k], m.grads[k])


def test_batch_first_and_unbatched_error_messages():
    m = fastrnn.GRU(4, 5, batch_first=True, bidirectional=True, seed=42)
    with pytest.raises(ValueError, match=r"x: expected a 3-D array \(N, T, input_size=4\), got shape \(2, 3, 5\)"):
        m(np.zeros((2, 3, 5)))
    m(np.zeros((2, 3, 4)))
    with pytest.raises(ValueError, match=r"dout: expected a 3-D array \(N=2, T=3, num_directions\*hidden_size=10\)"):
        m.backward(np.zeros((3, 2, 10)))
    with pytest.raises(ValueError, match=r"h0: expected a 3-D array \(num_layers\*num_directions=2, N=2, "):
        m(np.zeros((2, 3, 4)), np.zeros((2, 3, 5)))
    m(np.zeros((3, 4)))
    with pytest.raises(ValueError, match=r"dout: expected a 2-D array \(T=3, num_directions\*hidden_size=10\)"):
        m.backward(np.zeros((3, 1, 10)))
    with pytest.raises(ValueError, match=r"dh_n: expected a 2-D array \(num_layers\*num_directions=2, hidden_size=5\)"):
        m.backward(None, np.zeros((2, 1, 5)))


def test_constructor_errors():
    with pytest.raises(ValueError, match="hidden_size: expected an int >= 1, got 0"):
        fastrnn.LSTM(3, 0)
    with pytest.raises(TypeError, match="input_size: expected an int, got float 3.0"):
        fastrnn.GRU(3.0, 4)
    with pytest.raises(ValueError, match="num_layers: expected an int >= 1, got 0"):
        fastrnn.RNN(3, 4, num_layers=0)
    with pytest.raises(ValueError, match=r"dropout: expected a probability in \[0, 1\], got 1.5"):
        fastrnn.LSTM(3, 4, num_layers=2, dropout=1.5)
    with pytest.raises(TypeError, match="dtype: expected float32 or float64, got <class 'numpy.int32'>"):
        fastrnn.LSTM(3, 4, dtype=np.int32)
    with pytest.raises(TypeError, match="dtype: expected float32 or float64"):
        fastrnn.GRUCell(3, 4, dtype=np.float16)
    with pytest.raises(TypeError, match="dtype: expected float32 or float64, got 'foo'"):
        fastrnn.GRU(3, 4, dtype="foo")
    assert fastrnn.LSTM(3, 4, dtype=None).dtype == np.float32        # torch's default
    assert fastrnn.LSTM(3, 4, dtype="float64").params["weight_ih_l0"].dtype == np.float64
    with pytest.raises(ValueError, match=r"nonlinearity: expected one of 'tanh', 'relu', got 'sigmoid'"):
        fastrnn.RNN(3, 4, nonlinearity="sigmoid")
    with pytest.raises(ValueError, match=r"nonlinearity: expected one of 'tanh', 'relu'"):
        fastrnn.RNNCell(3, 4, nonlinearity="gelu")
    with pytest.raises(TypeError, match="bidirectional: expected a bool"):
        fastrnn.LSTM(3, 4, bidirectional="yes")
    with pytest.warns(UserWarning, match="non-zero dropout expects num_layers greater than 1"):
        fastrnn.LSTM(3, 4, dropout=0.5)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fastrnn.LSTM(3, 4, num_layers=2, dropout=0.5)
    # torch's positional order for RNN: (input_size, hidden_size, num_layers, nonlinearity, bias, ...)
    r = fastrnn.RNN(3, 4, 2, "relu", False)
    assert (r.num_layers, r.nonlinearity, r.bias) == (2, "relu", False)
    assert "num_layers=2" in repr(r) and repr(fastrnn.LSTMCell(3, 4)) == "LSTMCell(3, 4)"


# --- input conversion, caller arrays, NaN ------------------------------------------------------------------
def awkward(a):
    rev = np.ascontiguousarray(a[::-1])[::-1]
    big = np.zeros(a.shape[:-1] + (2 * a.shape[-1],), a.dtype)
    big[..., 1::2] = a
    return {"non-contiguous": big[..., 1::2], "reversed": rev, "fortran": np.asfortranarray(a)}


@pytest.mark.parametrize("kind", list(CLASSES))
def test_awkward_inputs_give_the_contiguous_float_result(kind):
    m = CLASSES[kind](4, 5, num_layers=2, bidirectional=True, batch_first=True, seed=50)
    x, states, dout, dstates = data(m, kind, T=6, N=3, seed=14)
    call(m, kind, x, states)
    want_dx, want_d0 = back(m, kind, dout, dstates)
    want_out = call(m, kind, x, states)[0]
    m.backward(dout)
    for label in ("non-contiguous", "reversed", "fortran"):
        args = (awkward(x)[label], [awkward(s)[label] for s in states])
        originals = [a.copy() for a in (args[0], *args[1])]
        out, _ = call(m, kind, *args)
        dx, d0 = back(m, kind, awkward(dout)[label], [awkward(s)[label] for s in dstates])
        np.testing.assert_array_equal(out, want_out, err_msg=label)
        np.testing.assert_array_equal(dx, want_dx, err_msg=label)
        for a, b in zip(d0, want_d0):
            np.testing.assert_array_equal(a, b, err_msg=label)
        for a, b in zip((args[0], *args[1]), originals):
            np.testing.assert_array_equal(a, b)
    xi = (np.arange(x.size).reshape(x.shape) % 7 - 3)
    for xv in (xi, xi.astype(np.uint8), xi.astype(np.float16), xi.astype(np.float64)):
        out, _ = call(m, kind, xv, None)
        dx, _ = back(m, kind, dout.astype(np.float16), None)
        ref, _ = call(m, kind, xv.astype(np.float32), None)
        ref_dx, _ = back(m, kind, dout.astype(np.float16).astype(np.float32), None)
        assert out.dtype == np.float32 and dx.dtype == np.float32
        np.testing.assert_array_equal(out, ref)
        np.testing.assert_array_equal(dx, ref_dx)


@pytest.mark.parametrize("kind", list(CLASSES))
def test_caller_arrays_unchanged(kind):
    m = CLASSES[kind](4, 5, num_layers=2, bidirectional=True, dtype=np.float64, seed=51)
    x, states, dout, dstates = data(m, kind, T=6, N=3, seed=15)
    copies = [a.copy() for a in (x, *states, dout, *dstates)]
    out, fin = call(m, kind, x, states)
    out_copy = out.copy()
    back(m, kind, dout, dstates)
    for a, b in zip((x, *states, dout, *dstates), copies):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(out, out_copy)


def test_nan_propagates_through_layers():
    m = fastrnn.LSTM(3, 4, num_layers=2, bidirectional=True, dtype=np.float64, seed=52)
    x = np.random.default_rng(16).standard_normal((5, 2, 3))
    x[2, 0, 1] = np.nan
    out, (h, c) = m(x)
    assert np.isnan(out[:, 0]).all() and np.isfinite(out[:, 1]).all()
    assert np.isnan(h[:, 0]).all() and np.isfinite(h[:, 1]).all()
    dx, (dh0, dc0) = m.backward(np.ones_like(out))
    assert np.isnan(dx[:, 0]).any() and np.isfinite(dx[:, 1]).all()
    assert any(np.isnan(g).any() for g in m.grads.values())


def test_empty_batch():
    m = fastrnn.GRU(3, 4, num_layers=2, bidirectional=True, seed=53)
    out, h = m(np.zeros((5, 0, 3)))
    assert out.shape == (5, 0, 8) and h.shape == (4, 0, 4)
    dx, dh0 = m.backward(np.zeros((5, 0, 8)))
    assert dx.shape == (5, 0, 3) and dh0.shape == (4, 0, 4)
    assert all(not g.any() for g in m.grads.values())


# --- cells ----------------------------------------------------------------------------------------------------
NAMED_CELLS = {"lstm": fastrnn.LSTMCell, "gru": fastrnn.GRUCell, "rnn": fastrnn.RNNCell}
CELLS = {name: NAMED_CELLS.get(name, functools.partial(RecurrentCell, name)) for name in PLAIN}


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("kind", list(CELLS))
def test_cells_match_oracle_and_accumulate(kind, dtype):
    """One step of the cell module equals the oracle's sequence call with T = 1."""
    I, H, N = 3, 4, 2
    extra = option_values(kind)[:1] if dtype == np.float64 else []
    cell = CELLS[kind](I, H, dtype=dtype, seed=60, **(extra[0] if extra else {}))
    assert list(cell.params) == expected_names(0, 0, True, cell=True)
    rng = np.random.default_rng(17)
    ns = n_states(kind)
    x = rng.standard_normal((N, I)).astype(dtype)
    st = [rng.uniform(-1, 1, (N, H)).astype(dtype) for _ in range(ns)]
    dst = [rng.standard_normal((N, H)).astype(dtype) for _ in range(ns)]
    w = tuple(np.asarray(cell.params[n], np.float64) for n in expected_names(0, 0, True, cell=True))
    _, r_fin, r_cache = oracle_forward(kind, cell._options, w, np.asarray(x, np.float64)[None],
                                       [np.asarray(s, np.float64) for s in st])
    r_dx, r_d0, r_grads = oracle_backward(kind, None, [np.asarray(s, np.float64) for s in dst], r_cache)
    r_dx = r_dx[0]
    for batched in (True, False):
        cell.zero_grad()
        xs, sts, dsts = (x, st, dst) if batched else (x[0], [s[0] for s in st], [s[0] for s in dst])
        fin = unpack(kind, cell(xs, pack(kind, sts)))
        dx, d0 = cell.backward(*dsts)
        d0 = unpack(kind, d0)
        sel = (lambda a: a) if batched else (lambda a: a[:1])
        unb = (lambda a: a) if batched else (lambda a: a[None])
        assert_close(unb(dx), sel(r_dx), dtype, "cell dx")
        if batched:   # unbatched uses only sample 0: weight grads differ
            for f, rf in zip(fin, r_fin):
                assert_close(f, rf, dtype, "cell state")
            for d, rd in zip(d0, r_d0):
                assert_close(d, rd, dtype, "cell state grad")
            for name, g in zip(expected_names(0, 0, True, cell=True), r_grads):
                assert_close(cell.grads[name], g, dtype, f"cell grad {name}")
        else:
            for f, rf in zip(fin, r_fin):
                assert f.shape == (H,)
                assert_close(f, rf[0], dtype, "unbatched cell state")
            for d, rd in zip(d0, r_d0):
                assert_close(d, rd[0], dtype, "unbatched cell state grad")
    # accumulation over two calls, the state gradients by name, and the protocol errors
    cell.zero_grad()
    for _ in range(2):
        cell(x, pack(kind, st))
        cell.backward(**{f"d{s}1": d for s, d in zip(_cells.get(kind).state_names, dst)})
    for name, g in zip(expected_names(0, 0, True, cell=True), r_grads):
        assert_close(cell.grads[name], 2 * g, dtype, f"accumulated {name}")
    with pytest.raises(RuntimeError, match="called twice"):
        cell.backward(*dst[:1])


@pytest.mark.parametrize("kind", list(CLASSES))
def test_named_classes_are_the_generic_module(kind):
    """fastrnn.LSTM(...) is Recurrent('lstm', ...): same parameters from the same seed, same
    results (and likewise for the cells)."""
    named = CLASSES[kind](3, 4, num_layers=2, bidirectional=True, dtype=np.float64, seed=70)
    generic = Recurrent(kind, 3, 4, num_layers=2, bidirectional=True, dtype=np.float64, seed=70)
    assert list(named.params) == list(generic.params)
    for k in named.params:
        np.testing.assert_array_equal(named.params[k], generic.params[k])
    x, states, _, _ = data(named, kind, T=3, N=2, seed=71)
    np.testing.assert_array_equal(call(named, kind, x, states)[0], call(generic, kind, x, states)[0])
    step, generic_step = CELLS[kind](3, 4, seed=72), RecurrentCell(kind, 3, 4, seed=72)
    for k in step.params:
        np.testing.assert_array_equal(step.params[k], generic_step.params[k])
    with pytest.raises(ValueError, match="cell: expected one of .*, got 'nope'"):
        Recurrent("nope", 3, 4)
    for option in _cells.get(kind).options:
        with pytest.raises((TypeError, ValueError), match=option.name):
            Recurrent(kind, 3, 4, **{option.name: "not a valid value"})
    with pytest.raises(TypeError, match="not an option of the"):
        Recurrent(kind, 3, 4, no_such_option=1)


def test_cell_errors_and_defaults():
    cell = fastrnn.LSTMCell(3, 4, bias=False, seed=61)
    assert list(cell.params) == ["weight_ih", "weight_hh"]
    with pytest.raises(RuntimeError, match=r"LSTMCell.backward\(\) called before forward\(\)"):
        cell.backward()
    with pytest.raises(ValueError, match=r"x: expected a 2-D array \(N, input_size=3\) or a 1-D unbatched array "
                                         r"\(input_size=3,\), got shape \(1, 2, 3\)"):
        cell(np.zeros((1, 2, 3)))
    with pytest.raises(ValueError, match=r"x: expected a 2-D array \(N, input_size=3\), got shape \(2, 4\)"):
        cell(np.zeros((2, 4)))
    with pytest.raises(ValueError, match=r"h0: expected a 2-D array \(N=2, hidden_size=4\), got shape \(3, 4\)"):
        cell(np.zeros((2, 3)), (np.zeros((3, 4)), None))
    with pytest.raises(ValueError, match=r"c0: expected a 1-D array \(hidden_size=4,\), got shape \(1, 4\)"):
        cell(np.zeros(3), (None, np.zeros((1, 4))))
    with pytest.raises(TypeError, match=r"hx: expected a tuple \(h0, c0\)"):
        cell(np.zeros((2, 3)), np.zeros((2, 4)))
    h1, c1 = cell(np.zeros((2, 3)))                 # zero states, zero input, no bias -> zeros
    assert not h1.any() and not c1.any() and h1.dtype == np.float32
    with pytest.raises(ValueError, match=r"dh1: expected a 2-D array \(N=2, hidden_size=4\), got shape \(4,\)"):
        cell.backward(np.zeros(4))
    dx, (dh0, dc0) = cell.backward()
    assert dx.shape == (2, 3) and dh0.shape == (2, 4) and dc0.shape == (2, 4)
    g = fastrnn.GRUCell(3, 4, seed=62)
    with pytest.raises(TypeError, match="h0: expected a real .* got dtype complex128"):
        g(np.zeros(3), np.zeros(4, complex))
    assert g(np.zeros(3)).shape == (4,)


@pytest.mark.parametrize("kind", list(CLASSES))
def test_modifying_returned_arrays_does_not_change_the_backward(kind):
    m = CLASSES[kind](3, 4, num_layers=2, dtype=np.float64, seed=54)
    x, states, dout, dstates = data(m, kind, T=5, N=2, seed=18)
    call(m, kind, x, states)
    want_dx, want_d0 = back(m, kind, dout, dstates)
    want = {k: g.copy() for k, g in m.grads.items()}
    m.zero_grad()
    out, fin = call(m, kind, x, states)
    out[...] = 7.0
    for f in fin:
        f[...] = -3.0
    dx, d0 = back(m, kind, dout, dstates)
    np.testing.assert_array_equal(dx, want_dx)
    for k in want:
        np.testing.assert_array_equal(m.grads[k], want[k])
