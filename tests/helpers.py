"""Helpers shared by the tests: finite differences, random parameters, tolerances, and the
weight layout conversion between PyTorch and the book ("Deep Learning from Scratch 2").

Layouts. PyTorch stores ``w_ih (G*H, I)``, ``w_hh (G*H, H)`` and two biases, gate rows in
the order LSTM i, f, g, o / GRU r, z, n / RNN one block. The book stores ``Wx (I, G*H)``,
``Wh (H, G*H)`` and one bias ``b (G*H,)``, column blocks LSTM f, g, i, o / GRU z, r, n. The
conversion is a pure block permutation and transpose, described by ``blocks``: ``blocks[k]``
is the book column block holding PyTorch gate k (the registry's ``cell.layouts['book'].blocks``). The book's LSTM and RNN are
then the oracle's with ``b_ih = b``, ``b_hh = 0``; its GRU is the oracle GRU with
``reset_after=False, blend="book"`` and ``b_hh = 0`` (no sign flip of any gate).
``book_forward`` / ``book_backward`` run the book's Time layers that way (float64, batch-major).
"""
import contextlib

import numpy as np
from threadpoolctl import threadpool_limits

from fastrnn import _cells


# |got - want| <= TOL[dtype] * (1 + max|want|): a fused kernel against the float64-exact oracle
TOL = {np.dtype(np.float32): 3e-5, np.dtype(np.float64): 1e-10}


# --------------------------------------------------------------------------- finite differences
def _central_difference(f, array, where, step, eps):
    """(f(array[where] + eps·step) − f(array[where] − eps·step)) / 2eps, array restored."""
    saved = np.copy(array[where])
    array[where] = saved + eps * step
    up = f()
    array[where] = saved - eps * step
    down = f()
    array[where] = saved
    return (up - down) / (2 * eps)


def _check_float64(array):
    if not (isinstance(array, np.ndarray) and array.dtype == np.float64):
        got = getattr(array, "dtype", type(array).__name__)
        raise TypeError(f"finite differences need a float64 numpy array, got {got}")


def numeric_grad(f, array, eps=1e-6):
    """Central differences of the scalar ``f()`` w.r.t. every entry of the float64 ``array``
    (perturbed in place, restored); float64, same shape as ``array``."""
    _check_float64(array)
    grad = np.zeros(array.shape, np.float64)
    for k in np.ndindex(array.shape):
        grad[k] = _central_difference(f, array, k, 1.0, eps)
    return grad


def numeric_directional(f, array, direction, eps=1e-6):
    """Central difference of the scalar ``f()`` along ``direction`` (same shape as the float64
    ``array``, perturbed in place and restored): ≈ Σ grad·direction."""
    _check_float64(array)
    return _central_difference(f, array, ..., np.asarray(direction, np.float64), eps)


# --------------------------------------------------------------------------- random parameters
def random_params(rng, cell, I, H, dtype, bias=True, scale=None, proj_size=None):
    """PyTorch-layout ``(w_ih, w_hh, b_ih, b_hh)`` for ``cell`` ("lstm"/"gru"/"rnn" or the number of
    gate blocks G), drawn like torch's init U(-k, k) with k = scale/sqrt(H) (scale 1.5 by default);
    biases None without bias. ``proj_size`` P: w_hh is (G*H, P)."""
    G = cell if isinstance(cell, int) else _cells.get(cell).gates
    k = (scale if scale is not None else 1.5) / np.sqrt(H)
    w_ih = rng.uniform(-k, k, (G * H, I)).astype(dtype)
    w_hh = rng.uniform(-k, k, (G * H, proj_size or H)).astype(dtype)
    if not bias:
        return w_ih, w_hh, None, None
    return w_ih, w_hh, rng.uniform(-k, k, G * H).astype(dtype), rng.uniform(-k, k, G * H).astype(dtype)


def problem_proj_size(cell, I, H):
    """A projection size for a random problem of ``cell`` (None for a cell without one): varied,
    unrelated to H (the kernels take any P >= 1; the faces want P < H)."""
    return 1 + (I + 2 * H) % 9 if cell.projects else None


def module_proj_size(cell, H):
    """``proj_size`` for a module of the registry ``cell`` with hidden size H >= 2 (0 for a cell
    without a projection)."""
    return max(1, H // 2) if _cells.get(cell).projects else 0


def layer_problem(cell, shape, dtype, rng, layout="torch", bias=True):
    """One layer's random problem for a registry ``cell``: -> (params in ``layout``, the same
    weights in torch's layout for the oracle, x (T, N, I), initial states, dout (T, N, out),
    final-state gradients). The book layout has one bias, which the oracle takes as b_ih
    (b_hh = 0). A cell's parameters after the biases (peepholes, projection) are drawn like
    the weights, and are the same arrays in both layouts; a projecting cell gets P from
    :func:`problem_proj_size`."""
    T, N, I, H = shape
    P = problem_proj_size(cell, I, H)
    if tuple(p.name for p in cell.params("torch")[:4]) != STANDARD_NAMES:
        params = generic_params(rng, cell, I, H, dtype, bias, P)
        # the oracle's copy in float64: the oracle then computes in float64 whatever dtype
        # (a layer-normalised cell's float32 NumPy is less exact than its fused kernel)
        reference = tuple(None if p is None else p.astype(np.float64) for p in params)
        return (params, reference) + _sequences(rng, cell, T, N, I, H, P, dtype)
    w_ih, w_hh, b_ih, b_hh = random_params(rng, cell.gates, I, H, dtype, bias, proj_size=P)
    k = 1.5 / np.sqrt(H)
    extra = tuple(rng.uniform(-k, k, p.shape(I, H, cell.gates, P)).astype(dtype)
                  for p in cell.params("torch")[4:])
    if layout == "torch":
        params = reference = (w_ih, w_hh, b_ih, b_hh) + extra
    else:
        params = (np.ascontiguousarray(w_ih.T), np.ascontiguousarray(w_hh.T), b_ih) + extra
        reference = book_to_torch(cell.layouts["book"].blocks, *params[:3]) + extra
    return (params, reference) + _sequences(rng, cell, T, N, I, H, P, dtype)


def _sequences(rng, cell, T, N, I, H, P, dtype):
    """x (T, N, I), initial states, dout (T, N, out), final-state gradients."""
    sizes = cell.state_sizes(H, P)
    x = rng.standard_normal((T, N, I)).astype(dtype)
    states = tuple(rng.standard_normal((N, size)).astype(dtype) for size in sizes)
    dout = rng.standard_normal((T, N, sizes[0])).astype(dtype)
    dstates = tuple(rng.standard_normal((N, size)).astype(dtype) for size in sizes)
    return x, states, dout, dstates


STANDARD_NAMES = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")


def generic_params(rng, cell, I, H, dtype, bias=True, proj_size=None):
    """torch-layout parameters of any registry ``cell``, aligned with ``cell.params("torch")``
    (None for a bias left out): each drawn U(−k, k) with k = 1.5/√H, a gain (``init="ones"``)
    as 1 + U(−0.5, 0.5)."""
    k = 1.5 / np.sqrt(H)
    params = []
    for p in cell.params("torch"):
        if p.bias and not bias:
            params.append(None)
            continue
        shape = p.shape(I, H, cell.gates, proj_size)
        drawn = rng.uniform(-k, k, shape) if p.init != "ones" else 1 + rng.uniform(-0.5, 0.5, shape)
        params.append(drawn.astype(dtype))
    return tuple(params)


# --------------------------------------------------------------------------- tolerances
def oracle_results(cell, x, states, reference, options, dout, dstates, lengths=None):
    """The oracle's (out, finals, dx, d0, grads) of one layer problem (float64 for float64 inputs)."""
    out, finals, cache = cell.oracle_forward(x, states, reference, options, lengths)
    dx, d0, grads = cell.oracle_backward(cache, dout, dstates)
    return out, finals, dx, d0, grads


def result_labels(cell):
    """The labels of oracle_results' arrays, flattened: out, h_n, ..., dx, dh0, ..., dweight_ih, ..."""
    return (["out"] + [f"{n}_n" for n in cell.state_names] + ["dx"] + [f"d{n}0" for n in cell.state_names]
            + [f"d{p.name}" for p in cell.params("torch")])


def flat_results(results):
    """oracle_results' (out, finals, dx, d0, grads) as one list, in result_labels' order."""
    out, finals, dx, d0, grads = results
    return [out, *finals, dx, *d0, *grads]


def float32_sensitivity(cell, x, states, reference, options, dout, dstates, want, rng, lengths=None):
    """{label: how far the float64 oracle's result moves when every input and weight moves by
    one float32 rounding (a random relative 2^-24; the larger of two nudges)}: the part of a
    float32 kernel's error the problem itself makes unavoidable. The plain cells stay far
    under the fixed tolerance; a layer-normalised cell normalising nearly constant rows (H
    or I of 1 to 3) or carrying an unnormalised c through many steps amplifies rounding far
    beyond it. ``want``: oracle_results of the problem as given."""
    def nudge(a):
        if a is None:
            return None
        a = np.asarray(a, np.float64)
        return a * (1 + rng.choice([-1.0, 1.0], a.shape) * 2.0 ** -24)

    moves = {}
    for _ in range(2):
        moved = oracle_results(cell, nudge(x), tuple(map(nudge, states)), tuple(map(nudge, reference)), options,
                               nudge(dout), tuple(map(nudge, dstates)), lengths)
        for label, m, w in zip(result_labels(cell), flat_results(moved), flat_results(want)):
            if w is not None:
                moves[label] = max(moves.get(label, 0.0), np.abs(np.asarray(m, np.float64) - w).max(initial=0.0))
    return moves


def assert_close(got, want, dtype, what="", slack=0.0):
    """|got - want| <= TOL[dtype] * (1 + max|want|) + slack, compared in float64, shapes equal
    (``slack``: an error the problem's own conditioning makes unavoidable, see
    tests/test_kernels.py float32_sensitivity)."""
    got = np.asarray(got, np.float64)
    want = np.asarray(want, np.float64)
    assert got.shape == want.shape, f"{what}: shape {got.shape} != {want.shape}"
    tol = TOL[np.dtype(dtype)]
    scale = 1.0 + (np.abs(want).max() if want.size else 0.0)
    err = np.abs(got - want).max() if want.size else 0.0
    assert err <= tol * scale + slack, f"{what}: max abs error {err:.3g} > {tol * scale + slack:.3g}"


def assert_equal_but_rounding(got, want, what=""):
    """Equal but for the last bits: for two calls of the same kernels on arrays at other
    addresses (another module with the same parameters, a stream and a module's own call).
    Which of LLVM's vectorised and scalar copies of a loop runs depends on where the arrays
    lie, and the two may round differently (docs/design.md, "Rounding"): 8 units in the
    last place of the dtype, relative to the largest value; shapes and dtypes equal."""
    got, want = np.asarray(got), np.asarray(want)
    assert got.shape == want.shape, f"{what}: shape {got.shape} != {want.shape}"
    assert got.dtype == want.dtype, f"{what}: dtype {got.dtype} != {want.dtype}"
    eps = np.finfo(want.dtype).eps
    scale = max(1.0, float(np.abs(want).max())) if want.size else 1.0
    err = float(np.abs(got.astype(np.float64) - want).max()) if want.size else 0.0
    assert err <= 8 * eps * scale, f"{what}: max abs difference {err:.3g} > 8 ulp ({8 * eps * scale:.3g})"


# --------------------------------------------------------------------------- layouts
def book_permutation(blocks, H):
    """Row indices ``p`` taking a PyTorch-ordered ``(G*H, ...)`` array to the book's block order:
    ``book = torch[p]``. ``blocks[k]`` is the book block holding PyTorch gate k."""
    blocks = tuple(blocks)
    if sorted(blocks) != list(range(len(blocks))):
        raise ValueError(f"blocks must be a permutation of 0..{len(blocks) - 1}, got {blocks}")
    gate_in_book_block = np.argsort(blocks)
    return np.concatenate([np.arange(k * H, (k + 1) * H) for k in gate_in_book_block])


def torch_to_book(blocks, w_ih, w_hh, b):
    """PyTorch-layout ``(w_ih, w_hh, b)`` (b the combined bias or None) -> book
    ``(Wx (I, G*H), Wh (H, G*H), b)``, C-contiguous. Also converts gradients that way."""
    perm = book_permutation(blocks, w_hh.shape[1])
    wx = np.ascontiguousarray(w_ih[perm].T)
    wh = np.ascontiguousarray(w_hh[perm].T)
    return wx, wh, (None if b is None else np.ascontiguousarray(b[perm]))


def book_to_torch(blocks, Wx, Wh, b):
    """Book ``(Wx, Wh, b)`` -> PyTorch ``(w_ih, w_hh, b_ih, b_hh)``: ``b_ih`` is the book's single
    bias, ``b_hh`` zeros (both None without bias), C-contiguous."""
    w_ih, w_hh, b_ih = book_grads_to_torch(blocks, Wx, Wh, b)
    return w_ih, w_hh, b_ih, (None if b_ih is None else np.zeros_like(b_ih))


def torch_grads_to_book(blocks, dw_ih, dw_hh, db):
    """PyTorch-layout gradients ``(dw_ih, dw_hh, db)`` -> book ``(dWx, dWh, db)``. ``db`` is the
    gradient of the book's single bias, i.e. the oracle's ``db_ih`` (with ``b_hh`` fixed)."""
    return torch_to_book(blocks, dw_ih, dw_hh, db)


def book_grads_to_torch(blocks, dWx, dWh, db):
    """Book-layout gradients ``(dWx, dWh, db)`` -> PyTorch ``(dw_ih, dw_hh, db)`` (inverse of
    :func:`torch_grads_to_book`), C-contiguous."""
    inv = np.argsort(book_permutation(blocks, dWh.shape[0]))
    out_x = np.ascontiguousarray(dWx.T[inv])
    out_h = np.ascontiguousarray(dWh.T[inv])
    return out_x, out_h, (None if db is None else np.ascontiguousarray(db[inv]))


# --------------------------------------------------------------------------- the book's layers, by the oracle
def book_forward(cell, xs, Wx, Wh, b=None, h0=None, c0=None):
    """The book's Time layer of a registry cell ("lstm"/"gru"/"rnn"/...) computed by its oracle
    in float64, with the options the book's layout fixes (the GRU: reset_after=False,
    blend="book").

    xs (N, T, D) batch-major, book-layout weights (b None: no bias), initial states None for
    zeros. -> hs (N, T, H), h (N, H), c (N, H) for a cell with a second state else None,
    cache for book_backward.
    """
    cell = _cells.get(cell)
    xs, Wx, Wh = (np.asarray(a, np.float64) for a in (xs, Wx, Wh))
    b = None if b is None else np.asarray(b, np.float64)
    N, H = xs.shape[0], Wh.shape[0]
    given = (h0, c0)[:len(cell.state_names)]
    states = tuple(np.zeros((N, H)) if s is None else np.asarray(s, np.float64) for s in given)
    params = book_to_torch(cell.layouts["book"].blocks, Wx, Wh, b)
    out, finals, cache = cell.oracle_forward(xs.transpose(1, 0, 2), states, params, cell.check_options(layout="book"))
    c = finals[1] if len(finals) > 1 else None
    return out.transpose(1, 0, 2), finals[0], c, (cell, cache)


def book_backward(cache, dhs, dh_n=None, dc_n=None):
    """Backward of :func:`book_forward`: dhs (N, T, H); dh_n, dc_n the final states' gradients
    (None: zeros, as the book's Time layers start). -> dxs (N, T, D), dh0, dc0 (LSTM, else None),
    the book-layout weight gradients [dWx, dWh] (+ [db] with bias)."""
    cell, cache = cache
    dout = np.asarray(dhs, np.float64).transpose(1, 0, 2)
    dstates = tuple(None if d is None else np.asarray(d, np.float64) for d in (dh_n, dc_n))
    dx, d0, grads = cell.oracle_backward(cache, dout, dstates[:len(cell.state_names)])
    dw_ih, dw_hh, db_ih, _ = grads          # b_hh is fixed at 0: the book's b is b_ih
    dWx, dWh, db = torch_grads_to_book(cell.layouts["book"].blocks, dw_ih, dw_hh, db_ih)
    dc0 = d0[1] if len(d0) > 1 else None
    return dx.transpose(1, 0, 2), d0[0], dc0, [dWx, dWh] + ([] if db is None else [db])


# --------------------------------------------------------------------------- zoneout
def keep_weights(mode, T, N, H, dtype, rng):
    """Padded zoneout keep weights: None ("none"), (H,) in [0, 1] ("eval") or a (T, N, H)
    Bernoulli(0.4) 0/1 mask ("mask")."""
    if mode == "none":
        return None
    if mode == "eval":
        return rng.uniform(0, 1, H).astype(dtype)
    return (rng.uniform(0, 1, (T, N, H)) < 0.4).astype(dtype)


def kernel_options(keep, packing):
    """The kernels' zoneout options for padded ``keep``: a per-row mask packed like the rows."""
    if keep is None:
        return {}
    if keep.ndim == 3 and packing is not None:
        return {"zoneout": packing.pack(keep)}
    return {"zoneout": keep}


def run_in_threads(target, args_list):
    """Run ``target(*args)`` for each args of ``args_list``, each in its own thread, at once;
    return when all have ended."""
    import threading
    threads = [threading.Thread(target=target, args=args) for args in args_list]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


# --------------------------------------------------------------------------- threads
@contextlib.contextmanager
def thread_budget(n):
    """fastrnn's budget at ``n`` and the BLAS allowed ``n`` threads, whatever the environment
    says (OMP_NUM_THREADS=1 / OPENBLAS_NUM_THREADS=1 limit the BLAS pool, which fastrnn
    respects: a test of the split sets the two threads it needs); both restored after."""
    import fastrnn
    before = fastrnn.get_num_threads()
    with threadpool_limits(limits=n, user_api="blas"):
        fastrnn.set_num_threads(n)
        try:
            yield
        finally:
            fastrnn.set_num_threads(before)
