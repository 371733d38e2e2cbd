"""Every fused kernel equals the NumPy oracle: outputs, final states, every gradient.

Random shapes (T, N, I, H from 1 to 33), both dtypes, both weight layouts (PyTorch and
the book's), random initial states, with and without bias, and gradient accumulation.
The kernels are called through fastrnn._sequence, the layer every public API uses.
"""
import numpy as np
import pytest
from hypothesis import example, given, strategies as st

from fastrnn import _sequence as seq
from fastrnn import oracle
from layouts import (assert_close, book_grads_to_torch, random_params, torch_to_book)

dims = st.integers(1, 33)
shapes = st.tuples(dims, dims, dims, dims)
dtypes = st.sampled_from([np.float32, np.float64])
seeds = st.integers(0, 2**32 - 1)

# Shapes that always run, whatever hypothesis draws: each per-step recurrent product path of
# blas.recurrent_add (compiled loops; GEMM with hᵀ copied, N <= 16; GEMM on h, N > 16) with
# gate widths that are not a multiple of its 16-column add blocks.
PATH_SHAPES = [(3, 1, 4, 5), (3, 8, 5, 40), (2, 20, 7, 37)]


def _inputs(rng, T, N, I, H, dtype):
    x = rng.standard_normal((T, N, I)).astype(dtype)
    h0 = rng.standard_normal((N, H)).astype(dtype)
    c0 = rng.standard_normal((N, H)).astype(dtype)
    dout = rng.standard_normal((T, N, H)).astype(dtype)
    dh_n = rng.standard_normal((N, H)).astype(dtype)
    dc_n = rng.standard_normal((N, H)).astype(dtype)
    return x, h0, c0, dout, dh_n, dc_n


def _grad_buffers(rng, shapes_, dtype, accumulate):
    """Grad arrays: random (accumulate=True: the kernel must add to them) or garbage."""
    bufs = [None if s is None else rng.standard_normal(s).astype(dtype) for s in shapes_]
    start = [None if b is None else b.copy() for b in bufs]
    return bufs, start


def _check_grads(got, start, want, dtype, accumulate, names):
    for g, s, w, name in zip(got, start, want, names):
        if w is None:
            continue
        expected = w + s if accumulate else w
        assert_close(g, expected, dtype, name)


@given(shape=shapes, dtype=dtypes, bias=st.booleans(), layout=st.sampled_from(["torch", "book"]),
       accumulate=st.booleans(), seed=seeds)
@example(shape=PATH_SHAPES[0], dtype=np.float32, bias=True, layout="book", accumulate=False, seed=1)
@example(shape=PATH_SHAPES[1], dtype=np.float32, bias=True, layout="book", accumulate=True, seed=2)
@example(shape=PATH_SHAPES[2], dtype=np.float64, bias=False, layout="torch", accumulate=False, seed=3)
def test_lstm_matches_oracle(shape, dtype, bias, layout, accumulate, seed):
    T, N, I, H = shape
    rng = np.random.default_rng(seed)
    w_ih, w_hh, b_ih, b_hh = random_params(rng, "lstm", I, H, dtype, bias)
    x, h0, c0, dout, dh_n, dc_n = _inputs(rng, T, N, I, H, dtype)
    out, h_n, c_n, cache = oracle.lstm_forward(x, h0, c0, w_ih, w_hh, b_ih, b_hh)
    dx, dh0, dc0, (dw_ih, dw_hh, db_ih, _) = oracle.lstm_backward(dout, dh_n, dc_n, cache)

    b = None if b_ih is None else b_ih + b_hh
    wx, wh, bk = (w_ih, w_hh, b) if layout == "torch" else torch_to_book("lstm", w_ih, w_hh, b)
    k_out, k_hn, k_cn, k_cache = seq.lstm_seq_forward(x, h0, c0, wx, wh, bk, layout)
    for got, want, name in ((k_out, out, "out"), (k_hn, h_n, "h_n"), (k_cn, c_n, "c_n")):
        assert_close(got, want, dtype, name)

    (gx, gh, gb), start = _grad_buffers(rng, [wx.shape, wh.shape, None if b is None else b.shape],
                                        dtype, accumulate)
    k_dx, k_dh0, k_dc0 = seq.lstm_seq_backward(k_cache, dout, dh_n, dc_n, gx, gh, gb, accumulate)
    for got, want, name in ((k_dx, dx, "dx"), (k_dh0, dh0, "dh0"), (k_dc0, dc0, "dc0")):
        assert_close(got, want, dtype, name)
    if layout == "book":
        gx, gh, gb = book_grads_to_torch("lstm", gx, gh, gb)
        start = list(book_grads_to_torch("lstm", *start)) if accumulate else start
    _check_grads([gx, gh, gb], start, [dw_ih, dw_hh, db_ih], dtype, accumulate,
                 ["dw_ih", "dw_hh", "db"])


@given(shape=shapes, dtype=dtypes, bias=st.booleans(),
       variant=st.sampled_from([("torch", True), ("torch", False), ("book", False)]),
       accumulate=st.booleans(), seed=seeds)
@example(shape=PATH_SHAPES[1], dtype=np.float32, bias=True, variant=("book", False), accumulate=False, seed=4)
@example(shape=PATH_SHAPES[2], dtype=np.float32, bias=True, variant=("torch", True), accumulate=True, seed=5)
@example(shape=PATH_SHAPES[2], dtype=np.float64, bias=True, variant=("torch", False), accumulate=False, seed=6)
def test_gru_matches_oracle(shape, dtype, bias, variant, accumulate, seed):
    layout, reset_after = variant
    T, N, I, H = shape
    rng = np.random.default_rng(seed)
    w_ih, w_hh, b_ih, b_hh = random_params(rng, "gru", I, H, dtype, bias)
    if layout == "book" and bias:
        b_hh = np.zeros_like(b_hh)         # the book's GRU has a single bias
    x, h0, _, dout, dh_n, _ = _inputs(rng, T, N, I, H, dtype)
    out, h_n, cache = oracle.gru_forward(x, h0, w_ih, w_hh, b_ih, b_hh, reset_after)
    dx, dh0, (dw_ih, dw_hh, db_ih, db_hh) = oracle.gru_backward(dout, dh_n, cache)

    if layout == "torch":
        wx, wh, bx, bh = w_ih, w_hh, b_ih, b_hh
    else:
        wx, wh, bx = torch_to_book("gru", w_ih, w_hh, b_ih)
        bh = None
    k_out, k_hn, k_cache = seq.gru_seq_forward(x, h0, wx, wh, bx, bh, layout, reset_after)
    assert_close(k_out, out, dtype, "out")
    assert_close(k_hn, h_n, dtype, "h_n")

    grad_shapes = [wx.shape, wh.shape, None if bx is None else bx.shape,
                   None if bh is None else bh.shape]
    (gx, gh, gbx, gbh), start = _grad_buffers(rng, grad_shapes, dtype, accumulate)
    k_dx, k_dh0 = seq.gru_seq_backward(k_cache, dout, dh_n, gx, gh, gbx, gbh, accumulate)
    assert_close(k_dx, dx, dtype, "dx")
    assert_close(k_dh0, dh0, dtype, "dh0")
    if layout == "book":
        gx, gh, gbx = book_grads_to_torch("gru", gx, gh, gbx)
        if accumulate:
            start = list(book_grads_to_torch("gru", *start[:3])) + [None]
        db_hh = None
    _check_grads([gx, gh, gbx, gbh], start, [dw_ih, dw_hh, db_ih, db_hh], dtype, accumulate,
                 ["dw_ih", "dw_hh", "db_ih", "db_hh"])


@given(shape=shapes, dtype=dtypes, bias=st.booleans(), layout=st.sampled_from(["torch", "book"]),
       nonlinearity=st.sampled_from(["tanh", "relu"]), accumulate=st.booleans(), seed=seeds)
@example(shape=PATH_SHAPES[1], dtype=np.float32, bias=True, layout="book", nonlinearity="tanh",
         accumulate=False, seed=7)
@example(shape=PATH_SHAPES[2], dtype=np.float64, bias=True, layout="torch", nonlinearity="relu",
         accumulate=True, seed=8)
def test_rnn_matches_oracle(shape, dtype, bias, layout, nonlinearity, accumulate, seed):
    T, N, I, H = shape
    rng = np.random.default_rng(seed)
    w_ih, w_hh, b_ih, b_hh = random_params(rng, "rnn", I, H, dtype, bias)
    x, h0, _, dout, dh_n, _ = _inputs(rng, T, N, I, H, dtype)
    out, h_n, cache = oracle.rnn_forward(x, h0, w_ih, w_hh, b_ih, b_hh, nonlinearity)
    dx, dh0, (dw_ih, dw_hh, db_ih, _) = oracle.rnn_backward(dout, dh_n, cache)

    b = None if b_ih is None else b_ih + b_hh
    wx, wh, bk = (w_ih, w_hh, b) if layout == "torch" else torch_to_book("rnn", w_ih, w_hh, b)
    k_out, k_hn, k_cache = seq.rnn_seq_forward(x, h0, wx, wh, bk, layout, nonlinearity)
    assert_close(k_out, out, dtype, "out")
    assert_close(k_hn, h_n, dtype, "h_n")
    (gx, gh, gb), start = _grad_buffers(rng, [wx.shape, wh.shape, None if b is None else b.shape],
                                        dtype, accumulate)
    k_dx, k_dh0 = seq.rnn_seq_backward(k_cache, dout, dh_n, gx, gh, gb, accumulate)
    assert_close(k_dx, dx, dtype, "dx")
    assert_close(k_dh0, dh0, dtype, "dh0")
    if layout == "book":
        gx, gh, gb = book_grads_to_torch("rnn", gx, gh, gb)
        start = list(book_grads_to_torch("rnn", *start)) if accumulate else start
    _check_grads([gx, gh, gb], start, [dw_ih, dw_hh, db_ih], dtype, accumulate,
                 ["dw_ih", "dw_hh", "db"])


def test_backward_consumes_the_cache():
    rng = np.random.default_rng(0)
    w_ih, w_hh, b_ih, b_hh = random_params(rng, "lstm", 3, 4, np.float64)
    x, h0, c0, dout, _, _ = _inputs(rng, 2, 1, 3, 4, np.float64)
    _, _, _, cache = seq.lstm_seq_forward(x, h0, c0, w_ih, w_hh, b_ih + b_hh, "torch")
    grads = [np.zeros_like(w_ih), np.zeros_like(w_hh), np.zeros(16)]
    seq.lstm_seq_backward(cache, dout, None, None, *grads, False)
    with pytest.raises(RuntimeError, match="backward called twice"):
        seq.lstm_seq_backward(cache, dout, None, None, *grads, False)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
def test_nan_input_propagates_without_crashing(cell, dtype):
    rng = np.random.default_rng(1)
    T, N, I, H = 4, 3, 5, 6
    w_ih, w_hh, b_ih, b_hh = random_params(rng, cell, I, H, dtype)
    x, h0, c0, dout, _, _ = _inputs(rng, T, N, I, H, dtype)
    x[1, 0, 2] = np.nan                       # batch row 0 at step 1
    if cell == "lstm":
        out, _, _, cache = seq.lstm_seq_forward(x, h0, c0, w_ih, w_hh, b_ih + b_hh, "torch")
    elif cell == "gru":
        out, _, cache = seq.gru_seq_forward(x, h0, w_ih, w_hh, b_ih, b_hh, "torch", True)
    else:
        out, _, cache = seq.rnn_seq_forward(x, h0, w_ih, w_hh, b_ih + b_hh, "torch", "tanh")
    assert np.isnan(out[1:, 0]).all(), "NaN must reach every later output of its batch row"
    assert np.isfinite(out[:1]).all() and np.isfinite(out[:, 1:]).all(), "other rows stay finite"


@pytest.mark.parametrize("small_kernels", [True, False])
@pytest.mark.parametrize("shape", PATH_SHAPES)
def test_both_blas_strategies_match_oracle(monkeypatch, small_kernels, shape):
    """The per-step products' two OpenBLAS strategies (blas.SMALL_KERNELS), whichever this
    machine's OpenBLAS picks, through every cell and layout."""
    monkeypatch.setattr(seq._blas, "SMALL_KERNELS", small_kernels)
    for layout in ("torch", "book"):
        test_lstm_matches_oracle.hypothesis.inner_test(shape, np.float32, True, layout, True, 11)
        test_rnn_matches_oracle.hypothesis.inner_test(shape, np.float64, True, layout, "tanh", False, 12)
    for variant in (("torch", True), ("torch", False), ("book", False)):
        test_gru_matches_oracle.hypothesis.inner_test(shape, np.float32, True, variant, True, 13)
