"""fastrnn.optim against the book's update formulas (transcribed in bench/reference/book_optim.py)."""
import numpy as np
import pytest

from fastrnn import optim
from bench.reference.book_optim import (BookAdaGrad, BookAdam, BookMomentum, BookNesterov, BookRMSprop,
                                        BookSGD, book_clip_grads)

PAIRS = [
    (optim.SGD, BookSGD, {}),
    (optim.SGD, BookSGD, {"lr": 0.3}),
    (optim.Momentum, BookMomentum, {}),
    (optim.Momentum, BookMomentum, {"lr": 0.05, "momentum": 0.5}),
    (optim.Nesterov, BookNesterov, {}),
    (optim.Nesterov, BookNesterov, {"lr": 0.02, "momentum": 0.8}),
    (optim.AdaGrad, BookAdaGrad, {}),
    (optim.AdaGrad, BookAdaGrad, {"lr": 0.5}),
    (optim.RMSprop, BookRMSprop, {}),
    (optim.RMSprop, BookRMSprop, {"lr": 0.001, "decay_rate": 0.9}),
    (optim.Adam, BookAdam, {}),
    (optim.Adam, BookAdam, {"lr": 0.01, "beta1": 0.8, "beta2": 0.99}),
]
SHAPES = [(3, 4), (5,), (2, 3, 2), ()]


def _params(rng, dtype):
    return [rng.standard_normal(s).astype(dtype) if s else np.array(rng.standard_normal(), dtype) for s in SHAPES]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("ours_cls, book_cls, kwargs", PAIRS, ids=lambda v: getattr(v, "__name__", str(v)))
def test_matches_book_formula(ours_cls, book_cls, kwargs, dtype):
    rng = np.random.default_rng(0)
    params = _params(rng, dtype)
    book_params = [p.copy() for p in params]
    objects = [id(p) for p in params]
    ours, book = ours_cls(**kwargs), book_cls(**kwargs)
    tol = dict(rtol=1e-12, atol=1e-14) if dtype == np.float64 else dict(rtol=2e-5, atol=2e-6)
    for _ in range(6):
        grads = [rng.standard_normal(p.shape).astype(dtype) for p in params]
        grads[1][0] = 0.0                       # a zero gradient (Adam/AdaGrad epsilon path)
        grads_copy = [g.copy() for g in grads]
        ours.update(params, grads)
        book.update(book_params, [g.copy() for g in grads])
        for g, gc in zip(grads, grads_copy):
            np.testing.assert_array_equal(g, gc)    # grads are not modified
        for p, q in zip(params, book_params):
            assert p.dtype == dtype
            np.testing.assert_allclose(p, q, **tol)
    assert [id(p) for p in params] == objects      # updated in place


def test_defaults_are_the_books():
    assert optim.SGD().lr == 0.01
    assert (optim.Momentum().lr, optim.Momentum().momentum) == (0.01, 0.9)
    assert (optim.Nesterov().lr, optim.Nesterov().momentum) == (0.01, 0.9)
    assert optim.AdaGrad().lr == 0.01
    assert (optim.RMSprop().lr, optim.RMSprop().decay_rate) == (0.01, 0.99)
    a = optim.Adam()
    assert (a.lr, a.beta1, a.beta2) == (0.001, 0.9, 0.999)


def test_adam_first_step_is_lr_times_sign():
    # After one step m = (1-b1) g, v = (1-b2) g^2, lr_t = lr sqrt(1-b2) / (1-b1), so the step is
    # lr sqrt(1-b2) g / (sqrt(1-b2) |g| + 1e-7): lr * sign(g) for |g| >> 1e-7 / sqrt(1-b2).
    p = np.zeros(4)
    g = np.array([3.0, -0.5, 2e-3, -7.0])
    optim.Adam(lr=0.1).update([p], [g])
    s = np.sqrt(0.001)
    np.testing.assert_allclose(p, -0.1 * s * g / (s * np.abs(g) + 1e-7), rtol=1e-12)
    np.testing.assert_allclose(p[[0, 1, 3]], -0.1 * np.sign(g[[0, 1, 3]]), rtol=1e-4)


def test_state_is_per_position():
    rng = np.random.default_rng(1)
    a, b = rng.standard_normal(3), rng.standard_normal(3)
    ga, gb = rng.standard_normal(3), rng.standard_normal(3)
    opt = optim.Momentum()
    opt.update([a, b], [ga, gb])
    a1, b1 = a.copy(), b.copy()
    opt.update([a, b], [ga, gb])
    # second step: v = 0.9 * (-lr g) - lr g
    np.testing.assert_allclose(a - a1, (0.9 * -0.01 - 0.01) * ga)
    np.testing.assert_allclose(b - b1, (0.9 * -0.01 - 0.01) * gb)


def test_bad_input_is_rejected_before_any_change():
    p = [np.ones(3), np.ones((2, 2))]
    opt = optim.Adam()
    with pytest.raises(ValueError, match="grads"):
        opt.update(p, [np.ones(3)])
    with pytest.raises(ValueError, match=r"grads\[1\].*\(2, 2\)"):
        opt.update(p, [np.ones(3), np.ones(4)])
    np.testing.assert_array_equal(p[0], 1.0)
    assert opt.iter == 0
    opt.update(p, [np.ones(3), np.ones((2, 2))])
    with pytest.raises(ValueError, match="params"):
        opt.update([np.ones(5)], [np.ones(5)])
    with pytest.raises(TypeError, match=r"params\[0\]"):
        optim.SGD().update([np.ones(3, int)], [np.ones(3)])
    with pytest.raises(ValueError, match="lr"):
        optim.SGD(lr=-1)
    with pytest.raises(ValueError, match="beta2"):
        optim.Adam(beta2=1.0)
    with pytest.raises(TypeError, match="momentum"):
        optim.Momentum(momentum="0.9")


def test_nan_gradient_propagates():
    p = [np.zeros(3)]
    optim.Adam().update(p, [np.array([np.nan, 1.0, 2.0])])
    assert np.isnan(p[0][0]) and np.isfinite(p[0][1:]).all()


# --- clipping ----------------------------------------------------------------------------------

@pytest.mark.parametrize("max_norm", [0.5, 3.0, 1e3])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_clip_grads_matches_book(max_norm, dtype):
    rng = np.random.default_rng(2)
    grads = [rng.standard_normal(s).astype(dtype) for s in [(4, 3), (7,), (2, 2, 2)]]
    expected = [g.copy() for g in grads]
    book_clip_grads(expected, max_norm)
    ids = [id(g) for g in grads]
    assert optim.clip_grads(grads, max_norm) is None
    assert [id(g) for g in grads] == ids
    for g, e in zip(grads, expected):
        np.testing.assert_allclose(g, e, rtol=1e-6 if dtype == np.float32 else 1e-12)


def test_reexports():
    import fastrnn.clip
    assert optim.clip_grad_norm_ is fastrnn.clip.clip_grad_norm_
    assert optim.clip_grad_value_ is fastrnn.clip.clip_grad_value_
