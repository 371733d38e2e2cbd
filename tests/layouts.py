"""Test helpers: random cell parameters, and PyTorch <-> book weight layout conversion.

The book stores ``Wx (I, G*H)`` with LSTM column blocks f, g, i, o and GRU blocks
z, r, h̃ where its update is ``h' = (1-z) h + z h̃``; PyTorch stores ``w_ih (G*H, I)``
with i, f, g, o / r, z, n and ``h' = (1-z) n + z h``. So a book GRU equals a PyTorch
(reset_after=False) GRU whose z pre-activation is negated.
"""
import numpy as np

GATES = {"lstm": 4, "gru": 3, "rnn": 1}


def random_params(rng, cell, I, H, dtype, bias=True, scale=None):
    """PyTorch-layout weights drawn like torch's init, U(-1/sqrt(H), 1/sqrt(H)) scaled up a bit."""
    G = GATES[cell]
    k = (scale if scale is not None else 1.5) / np.sqrt(H)
    w_ih = rng.uniform(-k, k, (G * H, I)).astype(dtype)
    w_hh = rng.uniform(-k, k, (G * H, H)).astype(dtype)
    if not bias:
        return w_ih, w_hh, None, None
    return w_ih, w_hh, rng.uniform(-k, k, G * H).astype(dtype), rng.uniform(-k, k, G * H).astype(dtype)


def book_permutation(cell, H):
    """Row indices taking a PyTorch-ordered (G*H, ...) matrix to the book's block order."""
    if cell == "lstm":      # torch i, f, g, o -> book f, g, i, o
        blocks = [1, 2, 0, 3]
    elif cell == "gru":     # torch r, z, n -> book z, r, n
        blocks = [1, 0, 2]
    else:
        blocks = [0]
    return np.concatenate([np.arange(b * H, (b + 1) * H) for b in blocks])


def book_sign(cell, H, dtype):
    """+1/-1 per book column: the book's GRU z is PyTorch's 1 - z, i.e. a negated pre-activation."""
    G = GATES[cell]
    sign = np.ones(G * H, dtype)
    if cell == "gru":
        sign[:H] = -1
    return sign


def torch_to_book(cell, w_ih, w_hh, b):
    """PyTorch-layout (w_ih, w_hh, combined bias) -> book (Wx, Wh, b), C-contiguous."""
    H = w_hh.shape[1]
    perm = book_permutation(cell, H)
    sign = book_sign(cell, H, w_ih.dtype)
    wx = np.ascontiguousarray((w_ih[perm] * sign[:, None]).T)
    wh = np.ascontiguousarray((w_hh[perm] * sign[:, None]).T)
    bb = None if b is None else np.ascontiguousarray(b[perm] * sign)
    return wx, wh, bb


def book_grads_to_torch(cell, dwx, dwh, db):
    """Book-layout gradients -> PyTorch layout (inverse of torch_to_book for gradients)."""
    H = dwh.shape[0]
    inv = np.argsort(book_permutation(cell, H))
    sign = book_sign(cell, H, dwx.dtype)[inv]
    out_x = dwx.T[inv] * sign[:, None]
    out_h = dwh.T[inv] * sign[:, None]
    return out_x, out_h, (None if db is None else db[inv] * sign)


def assert_close(got, want, dtype, what=""):
    """|got - want| <= tol * (1 + max|want|), tol by dtype (float32: 3e-5, float64: 1e-10)."""
    got = np.asarray(got, np.float64)
    want = np.asarray(want, np.float64)
    assert got.shape == want.shape, f"{what}: shape {got.shape} != {want.shape}"
    tol = 3e-5 if np.dtype(dtype) == np.float32 else 1e-10
    scale = 1.0 + (np.abs(want).max() if want.size else 0.0)
    err = np.abs(got - want).max() if want.size else 0.0
    assert err <= tol * scale, f"{what}: max abs error {err:.3g} > {tol * scale:.3g}"
