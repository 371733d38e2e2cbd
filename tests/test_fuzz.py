"""Fuzzing the public API with the inputs that used to crash, hang or return garbage.

The risky cases (a user's array put into a module's ``params``/``grads``, which the kernels
read or write) run in a process of their own (tests/fuzz_child.py), so that a crash is a
failed test naming the case. Each case replaces one entry by an array of another shape,
dtype or memory order, a read-only array, None or a list. Either the call gives the same
result as with the original entry (a same-valued entry in another memory order) and writes
nothing outside the arrays handed in, or it raises a TypeError/ValueError naming the entry.
"""
import itertools
import json
import math
import os
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, strategies as st

import fastrnn
from fastrnn.datasets import load_sequence

HERE = os.path.dirname(os.path.abspath(__file__))

NN_KEYS = {"LSTM": ["weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l1_reverse"],
           "GRU": ["weight_hh_l0", "bias_hh_l0", "weight_ih_l1"], "RNN": ["weight_ih_l0", "bias_ih_l0"],
           "LSTMCell": ["weight_hh", "bias_ih"], "GRUCell": ["weight_ih"], "RNNCell": ["bias_hh"]}
BOOK = {"TimeLSTM": 3, "TimeGRU": 3, "TimeRNN": 3, "LSTM": 3, "GRU": 3, "RNN": 3, "TimeEmbedding": 1,
        "Affine": 2, "TimeAffine": 2, "MatMul": 1}
MUTATIONS = [   # (dtype, shape: None = the entry's, order)
    ("same", None, "F"), ("same", None, "strided"), ("same", None, "readonly"), ("same", None, "C"),
    ("same", "smaller", "C"), ("same", "larger", "C"), ("same", "1x1", "C"),
    ("float64", None, "C"), ("float16", None, "C"), ("int64", None, "C"), ("none", None, "C"), ("list", None, "C"),
]


def cases():
    """Every (module, params/grads, entry, mutation) combination, with the shapes made concrete
    by the child (None: the entry's own)."""
    out = []
    seed = 0
    for (face, names), kind, mutation in itertools.product(
            [("nn", NN_KEYS), ("book", BOOK)], ["params", "grads"], MUTATIONS):
        for cls, keys in names.items():
            keys = keys if face == "nn" else range(keys)
            for key in keys:
                dtype, shape, order = mutation
                seed += 1
                out.append({"face": face, "cls": cls, "kind": kind, "key": key, "seed": seed, "layers": 2,
                            "bidir": True, "mutation": {"dtype": dtype, "shape": shape, "order": order}})
    return out


def concrete(case):
    """The mutation's dtype and shape, from the module's own entry (built here, in this process)."""
    import fuzz_child
    layer = fuzz_child.build(case)
    table = getattr(layer, case["kind"])
    key = case["key"] if case["face"] == "nn" else case["key"] % len(table)
    original = table[key]
    m = dict(case["mutation"])
    m["dtype"] = str(original.dtype) if m["dtype"] == "same" else m["dtype"]
    shape = original.shape
    m["shape"] = {None: None, "smaller": (shape[0] - 1,) + shape[1:], "larger": (shape[0] + 3,) + shape[1:],
                  "1x1": (1,) * len(shape)}[m["shape"]]
    return dict(case, mutation=m, original_dtype=str(original.dtype))


def expectation(case):
    """'same' (must run and give the reference result), 'error' (must raise naming the entry) or
    'no crash' (may run or raise: a float dtype the book layers convert)."""
    m = case["mutation"]
    if m["dtype"] in ("none", "list", "int64") or m["shape"] is not None:
        return "error"
    if m["order"] == "readonly" and case["kind"] == "grads":
        return "error"
    if m["dtype"] == case["original_dtype"]:
        return "same"
    return "error" if case["face"] == "nn" else "no crash"


@pytest.fixture(scope="module")
def fuzz_results():
    sys.path.insert(0, HERE)
    all_cases = [concrete(c) for c in cases()]
    proc = subprocess.run([sys.executable, os.path.join(HERE, "fuzz_child.py")], input=json.dumps(all_cases),
                          capture_output=True, text=True, timeout=600, cwd=os.path.dirname(HERE))
    lines = proc.stdout.splitlines()
    results = {}
    started = None
    for line in lines:
        if line.startswith("START "):
            started = int(line.split()[1])
        else:
            r = json.loads(line)
            results[r["i"]] = r
    crashed = None if proc.returncode == 0 else (started, all_cases[started] if started is not None else None)
    return all_cases, results, crashed, proc


def test_no_case_crashes_the_process(fuzz_results):
    all_cases, results, crashed, proc = fuzz_results
    assert crashed is None, f"the process died (exit {proc.returncode}) in case {crashed}: {proc.stderr[-2000:]}"
    assert len(results) == len(all_cases) >= 800


def test_each_case_is_the_same_result_or_a_named_error(fuzz_results):
    all_cases, results, _, _ = fuzz_results
    wrong = []
    for i, case in enumerate(all_cases):
        r, want = results.get(i), expectation(case)
        if r is None:
            continue                     # reported by the crash test
        key = case["key"]
        names = [f"{case['kind']}[{key!r}]"] if case["face"] == "nn" else \
            [f"{case['kind']}[{key}]", "Wx", "Wh", " b ", "b must", "W,", "W a 2-D", "params must", "grads must",
             "vocabulary of W", "grads[0] must have the shape of W", "x must have shape",
             "(b) must have shape"]
        if r["outcome"] == "error":
            named = r["type"] in ("TypeError", "ValueError") and any(n in r["message"] for n in names)
            if want == "same" or not named:
                wrong.append((case, r))
        elif want == "error" or (want == "same" and not (r["same"] and r["outside"])) or not r["outside"]:
            wrong.append((case, r))
    assert not wrong, f"{len(wrong)} of {len(all_cases)} cases: " + "; ".join(
        f"{c['face']} {c['cls']} {c['kind']}[{c['key']!r}] {c['mutation']} -> {r}" for c, r in wrong[:8])


# --- in-process properties: clipping, data set sizes, sampling ----------------------------------
finite = st.floats(min_value=-1e300, max_value=1e300, allow_nan=False, allow_subnormal=False)


@given(values=st.lists(st.lists(finite, min_size=1, max_size=5), min_size=1, max_size=4),
       norm_type=st.sampled_from([1.0, 2.0, 3.0, math.inf, -math.inf]), dtype=st.sampled_from(["f4", "f8"]))
def test_clip_grad_norm_is_exact_at_any_scale(values, norm_type, dtype):
    grads = [np.array(v, dtype) for v in values]
    if not all(np.isfinite(g).all() for g in grads):
        return                                    # a float32 overflow at construction
    flat = np.concatenate([g.astype(np.float64) for g in grads])
    a = np.abs(flat)
    if math.isinf(norm_type):
        want = a.max() if norm_type > 0 else a.min()
    else:
        m = a.max()
        want = 0.0 if m == 0 else m * float(np.sum((a / m) ** norm_type)) ** (1 / norm_type)
    got = fastrnn.clip_grad_norm_([g.copy() for g in grads], 1.0, norm_type=norm_type)
    assert math.isfinite(got)
    assert got == pytest.approx(want, rel=1e-12, abs=0)


def test_clip_grad_norm_named_errors():
    for bad in (-1.0, float("nan")):
        g = np.ones(3)
        with pytest.raises(ValueError, match="max_norm"):
            fastrnn.clip_grad_norm_([g], bad)
        assert (g == 1).all()


@pytest.mark.parametrize("name,size", [("addition", 500501), ("date", 900000), ("addition", 0), ("date", -3)])
def test_impossible_data_set_sizes_fail_at_once(name, size):
    with pytest.raises(ValueError, match="size: expected 1 to"):
        load_sequence(name, size=size)


def test_generation_that_cannot_sample_fails_at_once():
    from fastrnn.models import RnnlmGen
    m = RnnlmGen(5, 4, 4, seed=0)
    m.params[-1][...] = np.array([0, 0, 0, 0, 1e6], np.float32)    # affine bias: only id 4 is possible
    with pytest.raises(ValueError, match="skip_ids: every id that is not skipped has probability 0"):
        m.generate(0, skip_ids=[4], sample_size=5)
    with pytest.raises(ValueError, match="sample_size"):
        m.generate(0, sample_size=0)
