"""clip_grad_norm_ / clip_grad_value_: properties, agreement with the oracle, errors."""
import math

import numpy as np
import pytest
from hypothesis import given, strategies as st
from hypothesis.extra.numpy import arrays

import fastrnn
from fastrnn import oracle

floats = st.floats(-1e3, 1e3, allow_nan=False, width=32)
grad_lists = st.lists(
    st.tuples(st.sampled_from([np.float32, np.float64]),
              st.lists(st.integers(1, 6), min_size=1, max_size=3)),
    min_size=1, max_size=4)


def _make(spec, seed, scale):
    rng = np.random.default_rng(seed)
    return [(rng.standard_normal(shape) * scale).astype(dtype) for dtype, shape in spec]


def _norm(grads, p):
    flat = np.concatenate([g.astype(np.float64).ravel() for g in grads])
    return np.abs(flat).max() if math.isinf(p) else (np.abs(flat) ** p).sum() ** (1 / p)


@given(spec=grad_lists, seed=st.integers(0, 2**32 - 1), scale=st.floats(1e-3, 1e3),
       max_norm=st.floats(1e-3, 1e3), p=st.sampled_from([1.0, 2.0, 3.0, math.inf]))
def test_clip_grad_norm_properties(spec, seed, scale, max_norm, p):
    grads = _make(spec, seed, scale)
    before = [g.copy() for g in grads]
    total = fastrnn.clip_grad_norm_(grads, max_norm, norm_type=p)
    assert total == pytest.approx(_norm(before, p), rel=1e-6)
    after = _norm(grads, p)
    assert after <= max_norm * (1 + 1e-6) + 1e-12
    if total <= max_norm:                        # below the threshold: a no-op
        for g, b in zip(grads, before):
            np.testing.assert_array_equal(g, b)
    else:                                        # direction kept: one common factor
        coef = max_norm / (total + 1e-6)
        for g, b in zip(grads, before):
            np.testing.assert_allclose(g, b * coef, rtol=2e-6 if g.dtype == np.float32 else 1e-12)
    # and the oracle (plain NumPy) agrees on the result
    ref = [b.copy() for b in before]
    oracle.clip_grad_norm_(ref, max_norm, norm_type=p)
    for g, r in zip(grads, ref):
        np.testing.assert_allclose(g, r, rtol=1e-5)


def test_accepts_module_grads_values_and_fortran_and_strided():
    base = np.arange(24, dtype=np.float64).reshape(4, 6)
    fortran = np.asfortranarray(base.copy())
    strided = base.copy()[:, ::2]                 # not contiguous: numpy path, still in place
    grads = {"a": fortran, "b": strided}
    want = [fortran.copy(), strided.copy()]
    total = fastrnn.clip_grad_norm_(grads.values(), 1.0)
    assert total == pytest.approx(_norm(want, 2.0))
    assert _norm([fortran, strided], 2.0) == pytest.approx(1.0, rel=1e-6)


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_error_if_nonfinite_leaves_grads_untouched(bad):
    grads = [np.array([1.0, bad, 3.0]), np.ones(3, np.float32)]
    before = [g.copy() for g in grads]
    with pytest.raises(FloatingPointError, match="non-finite|nan|inf"):
        fastrnn.clip_grad_norm_(grads, 1.0, error_if_nonfinite=True)
    for g, b in zip(grads, before):
        np.testing.assert_array_equal(g, b)


def test_nan_norm_is_reported_without_error_flag():
    grads = [np.array([1.0, np.nan])]
    total = fastrnn.clip_grad_norm_(grads, 1.0)
    assert math.isnan(total)


def test_inf_norm_type():
    grads = [np.array([1.0, -7.0]), np.array([[2.0, 5.0]])]
    total = fastrnn.clip_grad_norm_(grads, 3.5, norm_type=math.inf)
    assert total == 7.0
    assert np.abs(np.concatenate([g.ravel() for g in grads])).max() == pytest.approx(3.5, rel=1e-6)


@given(g=arrays(np.float32, st.integers(1, 50), elements=floats), clip=st.floats(0, 100))
def test_clip_grad_value_clamps_in_place(g, clip):
    want = np.clip(g, -clip, clip)
    same = g
    fastrnn.clip_grad_value_([g], clip)
    assert same is g
    np.testing.assert_array_equal(g, want)


def test_clip_grad_value_keeps_nan():
    g = np.array([np.nan, 5.0, -5.0])
    fastrnn.clip_grad_value_(g, 1.0)
    assert np.isnan(g[0]) and g[1] == 1.0 and g[2] == -1.0


@pytest.mark.parametrize("call,match", [
    (lambda: fastrnn.clip_grad_norm_(5, 1.0), "grads"),
    (lambda: fastrnn.clip_grad_norm_([[1.0, 2.0]], 1.0), r"grads\[0\]"),
    (lambda: fastrnn.clip_grad_norm_([np.ones(3, int)], 1.0), r"grads\[0\].*floating"),
    (lambda: fastrnn.clip_grad_norm_([np.ones(3)], "big"), "max_norm"),
    (lambda: fastrnn.clip_grad_norm_([np.ones(3)], 1.0, norm_type=-1), "norm_type"),
    (lambda: fastrnn.clip_grad_value_([np.ones(3)], -1.0), "clip_value"),
])
def test_errors_name_the_argument(call, match):
    with pytest.raises((TypeError, ValueError), match=match):
        call()


def test_read_only_grads_rejected_before_anything_changes():
    a = np.full(3, 10.0)
    ro = np.full(3, 10.0)
    ro.flags.writeable = False
    with pytest.raises(ValueError, match=r"grads\[1\].*read-only"):
        fastrnn.clip_grad_norm_([a, ro], 1.0)
    np.testing.assert_array_equal(a, np.full(3, 10.0))
