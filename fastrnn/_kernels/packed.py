"""Packed sequences: the rows every sequence kernel runs on, and the GEMMs over its rows.

A packed batch holds the rows of every step, step after step (torch's PackedSequence.data):

    x            (R, I)   step t holds b_t = batch_sizes[t] rows, those of the first b_t
                          sequences (sorted by length, longest first); R = Σ_t b_t
    batch_sizes  (T,)     int64, non-increasing, every b_t >= 1
    h0           (N, H)   the initial states, sorted like the sequences; N >= b_0

Only the rows of sequences still running take part in a step: the per-step products and
pointwise passes cover b_t rows, and the input and weight-gradient GEMMs cover the R real
rows (no padding). A padded batch of T steps and N sequences is the packed batch with
every b_t = N, its arrays reshaped (T·N, ·): same memory, same GEMM calls.

The previous state of step t's row n is row n of step t-1 (row n of h0 at t = 0): since
the sequences are sorted, the b_t rows still running are the first b_t of the step before.
"""
import numpy as np
from numba import njit

from .activations import FASTMATH
from .blas import gemm, input_projection, steps_on_one_thread


@njit(cache=True, inline="always")
def step_offsets(batch_sizes):
    """(T + 1,) int64: the first row of each step, then R."""
    T = batch_sizes.shape[0]
    offsets = np.empty(T + 1, np.int64)
    offsets[0] = 0
    for t in range(T):
        offsets[t + 1] = offsets[t] + batch_sizes[t]
    return offsets


@njit(cache=True, inline="always")
def copy_rows(src, src_row, dst, dst_row, count):
    """dst[dst_row + n] = src[src_row + n] for n < count, both (·, H), element by element.

    An array assignment (``dst[a:b] = src[c:d]``) would compile Numba's shape-mismatch error
    path, whose message formatting costs about a second of every cold compile; the callers
    know the shapes agree."""
    for n in range(count):
        d, s = dst[dst_row + n], src[src_row + n]
        for j in range(d.shape[0]):
            d[j] = s[j]


@njit(cache=True, inline="always")
def copy_finished(t, batch_sizes, off, rows, final):
    """After step t: copy the rows of the sequences whose last step it was into final (N, H)."""
    T = batch_sizes.shape[0]
    later = batch_sizes[t + 1] if t + 1 < T else 0
    copy_rows(rows, off + later, final, later, batch_sizes[t] - later)


@njit(cache=True, inline="always")
def copy_unstarted(batch_sizes, initial, final):
    """The sequences with no step (rows b_0..N-1) keep their initial state as final."""
    b0 = batch_sizes[0] if batch_sizes.shape[0] > 0 else 0
    copy_rows(initial, b0, final, b0, initial.shape[0] - b0)


@njit(cache=True, inline="always")
def packing_of(lengths, T):
    """The packing of sequences with ``lengths`` (N,) in a padded (T, N) batch:
    -> order (N,) (longest first, ties in order), batch_sizes (steps,), index (R,) of each
    row in the padded array flattened (t·N + n)."""
    N = lengths.shape[0]
    order = np.argsort(-lengths, kind="mergesort")
    steps = lengths[order[0]] if N > 0 else 0
    batch_sizes = np.zeros(steps, np.int64)
    for n in range(N):
        for t in range(lengths[n]):
            batch_sizes[t] += 1
    index = np.empty(lengths.sum(), np.int64)
    r = 0
    for t in range(steps):
        for k in range(batch_sizes[t]):
            index[r] = t * N + order[k]
            r += 1
    return order, batch_sizes, index


@njit(cache=True, error_model="numpy", fastmath=FASTMATH, inline="always")
def start_chunk(t0, chunk_steps, batch_sizes, offsets, x, w_x, torch_layout, scratch, gates):
    """Before the steps t0..t1-1 of a forward's chunk: their input projection into the first
    rows of ``gates`` (on the threads the caller set), then OpenBLAS to one thread for the
    steps -> (t1, r0 = the chunk's first row, the thread count to restore after them)."""
    t1 = min(batch_sizes.shape[0], t0 + chunk_steps)
    r0 = offsets[t0]
    input_projection(x[r0:offsets[t1]], w_x, torch_layout, scratch, gates[:offsets[t1] - r0])
    return t1, r0, steps_on_one_thread()


@njit(cache=True, error_model="numpy", fastmath=FASTMATH, inline="always")
def _prev_gemm(torch_layout, K, rows, d, ld_d, prev, H, beta, dw, ld_w):
    """dw (+)= d[:rows, :K]ᵀ prev[:rows]: torch layout dw (K, H); the book's (H, K) transposed."""
    if torch_layout:
        gemm(True, False, K, H, rows, 1.0, d, ld_d, prev, H, beta, dw, ld_w)
    else:
        gemm(True, False, H, K, rows, 1.0, prev, H, d, ld_d, beta, dw, ld_w)


@njit(cache=True, error_model="numpy", fastmath=FASTMATH, inline="always")
def grads_against_prev(torch_layout, K, d, ld_d, h0, out, batch_sizes, offsets, beta, dw, ld_w):
    """dw (+)= Σ over rows of d[row, :K]ᵀ h_prev[row]: the recurrent weight's gradient.

    d (R, ≥K) with row stride ld_d, out (R, H): the states after each step. Each run of
    steps with one batch size costs two GEMMs: its steps after the first against the
    outputs of the steps before them (contiguous, b rows a step), and its first step
    against h0 or the first rows of the step before. ``beta`` applies to the first call.
    """
    H = h0.shape[1]
    T = batch_sizes.shape[0]
    scale = beta
    t0 = 0
    while t0 < T:
        b = batch_sizes[t0]
        t1 = t0
        while t1 + 1 < T and batch_sizes[t1 + 1] == b:
            t1 += 1
        if t1 > t0:
            _prev_gemm(torch_layout, K, (t1 - t0) * b, d[offsets[t0 + 1]:], ld_d, out[offsets[t0]:], H,
                       scale, dw, ld_w)
            scale = 1.0
        prev = h0 if t0 == 0 else out[offsets[t0 - 1]:]
        _prev_gemm(torch_layout, K, b, d[offsets[t0]:], ld_d, prev, H, scale, dw, ld_w)
        scale = 1.0
        t0 = t1 + 1


@njit(cache=True, error_model="numpy", fastmath=FASTMATH, inline="always")
def input_grads(x, w_x, torch_layout, d, dx, dw_x, accumulate):
    """dx (R, I) = d w_x, dw_x (+)= the input weight's gradient, over all R rows of d (R, G)."""
    R, I = x.shape
    G = d.shape[1]
    beta = 1.0 if accumulate else 0.0
    if torch_layout:
        gemm(False, False, R, I, G, 1.0, d, G, w_x, I, 0.0, dx, I)
        gemm(True, False, G, I, R, 1.0, d, G, x, I, beta, dw_x, I)
    else:
        gemm(False, True, R, I, G, 1.0, d, G, w_x, G, 0.0, dx, I)
        gemm(True, False, I, G, R, 1.0, x, I, d, G, beta, dw_x, G)


@njit(cache=True, error_model="numpy", fastmath=FASTMATH, inline="always")
def column_sums_into(rows, out, accumulate):
    """out (C,) = Σ_r rows[r, :] (or += when accumulate), accumulated in float64."""
    total = np.zeros(rows.shape[1], np.float64)
    for r in range(rows.shape[0]):
        row = rows[r]
        for k in range(rows.shape[1]):
            total[k] += row[k]
    write_sums(total, out, accumulate)


@njit(cache=True, inline="always")
def write_sums(total, out, accumulate):
    """out (C,) = total (C,) (float64 sums, rounded to out's dtype), or += when accumulate."""
    for k in range(out.shape[0]):
        out[k] = (out[k] + total[k]) if accumulate else total[k]


@njit(cache=True, error_model="numpy", fastmath=FASTMATH, inline="always")
def weight_grads(x, h0, w_x, torch_layout, d, out, batch_sizes, offsets, dx, dw_x, dw_h, db, accumulate):
    """After the time loop, for cells whose recurrent product sees the whole dA (LSTM, RNN):
    dx, dw_x and dw_h as GEMMs over the R rows, db as a column sum (size 0: no bias)."""
    G = d.shape[1]
    input_grads(x, w_x, torch_layout, d, dx, dw_x, accumulate)
    grads_against_prev(torch_layout, G, d, G, h0, out, batch_sizes, offsets,
                       1.0 if accumulate else 0.0, dw_h, recurrent_ld(torch_layout, h0.shape[1], G))
    if db.shape[0] > 0:
        column_sums_into(d, db, accumulate)


@njit(cache=True, inline="always")
def recurrent_ld(torch_layout, H, G):
    """The row stride of the recurrent weight's gradient: torch's (G, H) or the book's (H, G)."""
    return H if torch_layout else G
