"""Fused LSTM sequence kernels.

Layout (one layer, one direction; a packed batch, see packed.py; G = 4 gate blocks of width H):

    x      (R, I)      input rows, C-contiguous; step t is rows offsets[t]:offsets[t+1]
    gates  (R, 4H)     workspace: forward writes x w_x into it with one GEMM, adds the
                       recurrent GEMM per step, then overwrites it with the activated
                       gates (i, f, g, o) that backward needs; backward overwrites it
                       again with the pre-activation gradients dA. Forward only: the
                       rows of ``chunk_steps`` steps, reused chunk after chunk, left
                       holding pre-activations (no activated gates are stored).
    cs     (R, H)      cell state after each step (forward only: (2N, H), the running c)
    out    (R, H)      hidden state after each step (also h_prev of the next step)

``torch_layout`` selects the input weight's storage: True -> w_x (4H, I) used transposed
(PyTorch); False -> w_x (I, 4H) (the book). The recurrent weight always arrives as
w_rec (4H, H), PyTorch's weight_hh layout (the book's (H, 4H) w_h as a transposed copy),
the orientation in which both per-step products run fastest. The per-step products run on
the weight packed once per call (panels.py) where that pays, else through OpenBLAS
(blas.recurrent_add / recurrent_grad);
``scratch`` (5H·N elements) is the per-step workspace of the forward product, and
``small_kernels`` (blas.SMALL_KERNELS) picks how the per-step products call OpenBLAS.
The time loop is loop.py's; this file holds the LSTM's steps, bound into it.
``blocks`` gives the column block of each gate as (i, f, g, o): (0, 1, 2, 3) for PyTorch,
(2, 0, 1, 3) for the book's f, g, i, o.

Equations (the oracle, fastrnn/oracle/lstm.py, states them in NumPy):
    a = x w_x + h w_h + bias;  i, f, o = σ(a_i, a_f, a_o);  g = tanh(a_g)
    c' = f c + i g;  h' = o tanh(c')

Zoneout (fastrnn/oracle/_common.py, zoneout_blend): ``keep`` (K, H) holds the weight of the
previous h, h_t = keep ⊙ h_{t−1} + (1 − keep) ⊙ h'_t, with K = 0 (none), 1 (one row for
every row) or R (one per row); c is not zoned out. See zoneout.py for the two passes.
"""
from numba import njit

from .activations import FASTMATH, FASTMATH_LOOP, fast_sigmoid, fast_tanh
from .borrowed import borrow
from .loop import (add_into_gates, all_weight_grads, grads_through_w_rec, nothing_to_start, sequence_backward,
                   sequence_forward, the_recurrent_weight)
from .packed import copy_rows, copy_finished, copy_unstarted
from .template import instantiate
from .zoneout import add_carried, zone_out_grads, zone_out_rows


@njit(cache=True, error_model="numpy", fastmath=FASTMATH, inline="always")
def lstm_row(a_i, a_f, a_g, a_o, bx_i, bx_f, bx_g, bx_o, bh_i, bh_f, bh_g, bh_o, c_prev, c_row, h_row, save_gates):
    """One row's step from its pre-activations a_* (H,) less the biases: c_row and h_row (H,)
    written; with ``save_gates`` the activated gates over a_* (what lstm_backward reads)."""
    for j in range(a_i.shape[0]):
        i = fast_sigmoid(a_i[j] + bx_i[j] + bh_i[j])
        f = fast_sigmoid(a_f[j] + bx_f[j] + bh_f[j])
        g = fast_tanh(a_g[j] + bx_g[j] + bh_g[j])
        o = fast_sigmoid(a_o[j] + bx_o[j] + bh_o[j])
        c = f * c_prev[j] + i * g
        c_row[j] = c
        h_row[j] = o * fast_tanh(c)
        if save_gates:
            a_i[j] = i
            a_f[j] = f
            a_g[j] = g
            a_o[j] = o


@njit(cache=True, error_model="numpy", fastmath=FASTMATH, inline="always")
def lstm_row_grad(a_i, a_f, a_g, a_o, c_prev, c_row, d_out, dh_row, dc_row):
    """One row's gradient step: a_* (H,) the activated gates in, dA out; dc_row (H,) the
    carried dc in, dc_{t-1} out; d_out, dh_row (H,) the output's and the carried dh in."""
    for j in range(a_i.shape[0]):
        i = a_i[j]
        f = a_f[j]
        g = a_g[j]
        o = a_o[j]
        tc = fast_tanh(c_row[j])
        dh = d_out[j] + dh_row[j]
        dc = dc_row[j] + dh * o * (1 - tc * tc)
        dc_row[j] = dc * f
        a_i[j] = dc * g * i * (1 - i)
        a_f[j] = dc * c_prev[j] * f * (1 - f)
        a_g[j] = dc * i * (1 - g * g)
        a_o[j] = dh * tc * o * (1 - o)


# --- forward: cell = (c0, cs, c_n, gate offsets (oi, of, og, oo), b_x, b_h) ------------------------

@njit(cache=True, inline="always")
def c_offsets(t, off, prev, N, save_rows):
    """The rows of cs holding c_t and c_{t-1}: per row in training; forward only, c alternates
    between two (N, H) halves of cs (reading c_{t-1} from the array c_t is written to would
    stop LLVM vectorising the pass)."""
    if save_rows:
        return off, prev
    return (t % 2) * N, ((t - 1) % 2) * N


@njit(cache=True, error_model="numpy", fastmath=FASTMATH_LOOP, inline="always")
def _step(cell, t, off, g_off, prev, b, h_prev, gates, out, save_rows):
    c0, cs, c_n, (oi, of, og, oo), b_x, b_h = cell
    H = out.shape[1]
    bx_i, bx_f, bx_g, bx_o = b_x[oi:oi + H], b_x[of:of + H], b_x[og:og + H], b_x[oo:oo + H]
    bh_i, bh_f, bh_g, bh_o = b_h[oi:oi + H], b_h[of:of + H], b_h[og:og + H], b_h[oo:oo + H]
    c_off, c_prev = c_offsets(t, off, prev, c0.shape[0], save_rows)
    for n in range(b):
        # per-gate slice views: indexing them with the loop counter alone lets LLVM
        # vectorise (a runtime offset inside the index adds wraparound checks)
        row = gates[g_off + n]
        a_i, a_f, a_g, a_o = row[oi:oi + H], row[of:of + H], row[og:og + H], row[oo:oo + H]
        cp = c0[n] if t == 0 else cs[c_prev + n]
        # a constant last argument in each call: the inlined copy for forward only
        # stores no activated gates (a tiny forward 10 % faster)
        if save_rows:
            lstm_row(a_i, a_f, a_g, a_o, bx_i, bx_f, bx_g, bx_o, bh_i, bh_f, bh_g, bh_o, cp, cs[c_off + n],
                     out[off + n], True)
        else:
            lstm_row(a_i, a_f, a_g, a_o, bx_i, bx_f, bx_g, bx_o, bh_i, bh_f, bh_g, bh_o, cp, cs[c_off + n],
                     out[off + n], False)


@njit(cache=True, inline="always")
def c_start(cell, batch_sizes):
    """``start`` of the LSTM cells (cell = (c0, cs, c_n, ...)): the unstarted rows keep c0."""
    copy_unstarted(batch_sizes, cell[0], cell[2])


@njit(cache=True, inline="always")
def c_finish(cell, t, batch_sizes, off, save_rows):
    """``finish`` of the LSTM cells: the rows that end at step t copy their c into c_n."""
    c0, cs, c_n = cell[0], cell[1], cell[2]
    copy_finished(t, batch_sizes, c_offsets(t, off, 0, c0.shape[0], save_rows)[0], cs, c_n)


_forward_loop = instantiate(sequence_forward, "lstm_forward_loop", inline="always",
                            product_weight=the_recurrent_weight, product=add_into_gates, step=_step,
                            start=c_start, finish=c_finish, zone_out=zone_out_rows)


@njit(cache=True, error_model="numpy", fastmath=FASTMATH_LOOP, nogil=True)
def lstm_forward(x, batch_sizes, h0, c0, w_x, w_rec, b_x, b_h, torch_layout, blocks, chunk_steps, save_rows,
                 gates, scratch, cs, out, h_n, c_n, keep, small_kernels):
    """Run the sequence; fill out and each sequence's final h_n, c_n (N, H).

    Training (``save_rows``, chunk_steps >= T): gates (R, 4H) ends holding the activated
    gates and cs (R, H) every step's c, what lstm_backward reads. Forward only: gates is a
    workspace of the rows of ``chunk_steps`` steps (the input projection runs a chunk at a
    time) and cs (2N, H) the running c (two halves, one step's c in each in turn), so
    memory does not grow with T.
    b_x, b_h (4H,) are added to the pre-activations (zeros for none); ``keep`` (K, H): zoneout.
    """
    # views of borrowed arrays cost no atomic reference counts (borrowed.py)
    (x, h0, c0, w_x, w_rec, b_x, b_h, gates, scratch, cs, out, h_n, c_n, keep) = borrow(
        x, h0, c0, w_x, w_rec, b_x, b_h, gates, scratch, cs, out, h_n, c_n, keep)
    H = h0.shape[1]
    offsets = (blocks[0] * H, blocks[1] * H, blocks[2] * H, blocks[3] * H)
    _forward_loop(x, batch_sizes, h0, w_x, w_rec, torch_layout, (c0, cs, c_n, offsets, b_x, b_h), gates, scratch,
                  out, h_n, keep, chunk_steps, save_rows, small_kernels)


# --- backward: cell = (gate offsets, c0, cs, dc0, gates) ----------------------------------------

@njit(cache=True, error_model="numpy", fastmath=FASTMATH_LOOP, inline="always")
def _grad_step(cell, t, off, prev, b, d_out, dh, dgates):
    (oi, of, og, oo), c0, cs, dc0 = cell
    H = c0.shape[1]
    for n in range(b):
        row = dgates[off + n]           # the activated gates, overwritten with dA
        cp = c0[n] if t == 0 else cs[prev + n]
        lstm_row_grad(row[oi:oi + H], row[of:of + H], row[og:og + H], row[oo:oo + H], cp, cs[off + n], d_out[n],
                      dh[n], dc0[n])


_backward_loop = instantiate(sequence_backward, "lstm_backward_loop", inline="always",
                             grad_step=_grad_step, grad_product=grads_through_w_rec,
                             weight_grads=all_weight_grads, start_backward=nothing_to_start,
                             zone_out_grads=zone_out_grads, add_carried=add_carried)


@njit(cache=True, error_model="numpy", fastmath=FASTMATH_LOOP, nogil=True)
def lstm_backward(x, batch_sizes, h0, c0, w_x, w_rec, torch_layout, blocks, gates, cs, out,
                  dout, dh_n, dc_n, dx, dh0, dc0, dw_x, dw_h, db, accumulate, keep, zone_work, small_kernels):
    """Backward through the sequence saved by lstm_forward.

    dout (R, H), dh_n, dc_n (N, H) in (row n's final-state gradient enters at its last
    step); dx (R, I), dh0, dc0 (N, H) out; dw_x, dw_h shaped like w_x and the layout's w_h,
    and db (4H,) (size 0 for no bias) written, or added to when ``accumulate``. ``gates``
    is overwritten with dA. ``keep`` (K, H) the forward's zoneout, zone_work (2N, H) its
    workspace when K > 0.
    """
    # views of borrowed arrays cost no atomic reference counts (borrowed.py)
    (x, h0, c0, w_x, w_rec, gates, cs, out, dout, dh_n, dc_n, dx, dh0, dc0, dw_x, dw_h, db, keep, zone_work) = borrow(
        x, h0, c0, w_x, w_rec, gates, cs, out, dout, dh_n, dc_n, dx, dh0, dc0, dw_x, dw_h, db, keep,
        zone_work)
    H = h0.shape[1]
    copy_rows(dc_n, 0, dc0, 0, dc_n.shape[0])          # dc0 carries dc backwards through time
    offsets = (blocks[0] * H, blocks[1] * H, blocks[2] * H, blocks[3] * H)
    _backward_loop(x, batch_sizes, h0, w_x, w_rec, torch_layout, (offsets, c0, cs, dc0), out, dout, dh_n, dx, dh0,
                   gates, dw_x, dw_h, db, accumulate, keep, zone_work, small_kernels)
