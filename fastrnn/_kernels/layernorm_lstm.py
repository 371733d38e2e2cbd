"""Fused layer-normalised LSTM sequence kernels (Ba, Kiros and Hinton, 2016).

Layout (one layer, one direction, PyTorch's weights and gate order i, f, g, o; a packed
batch, see packed.py; four gate blocks of width H):

    x      (R, I)     input rows
    xs     (R, 4H)    forward: x w_ihᵀ, one GEMM over all rows, normalised in place row by
                      row in the step's pass (x̂_x); backward: overwritten with dv_x, the
                      gradient of x w_ihᵀ. Forward only: the rows of ``chunk_steps`` steps.
    hs     (R, 4H)    forward: each step's h_{t−1} w_hhᵀ, normalised in place (x̂_h);
                      backward: dv_h, the gradient of h_{t−1} w_hhᵀ. Forward only: (N, 4H).
    gates  (R, 4H)    the activated gates i, f, g, o; backward: dA, the gradient of the
                      pre-activations. Forward only: (N, 4H), one step's.
    cs     (R, H)     c' after each step (forward only: (2N, H), the running c in two halves)
    chat   (R, H)     ĉ = LN(c') before its gain and shift (forward only: (1, H))
    stats  (R, 3)     float64: each row's rstd of x w_ihᵀ, of h w_hhᵀ and of c' (forward
                      only: (1, 3))
    out    (R, H)     h after each step (h_{t−1} of the next step)

Kept for the backward, per row: 14H values of the dtype (xs, hs, gates; cs, chat) and 3
float64, besides out's H (the plain LSTM keeps 5H).

w_ih (4H, I), w_hh (4H, H) (torch's weight_ih, weight_hh), b (4H,) (zeros for none),
ln_ih, ln_hh (4H,) and ln_c (H,) the gains, ln_c_bias (H,) the cell state's shift.
``scratch`` (5H·N elements) is the per-step product's workspace, ``small_kernels``
(blas.SMALL_KERNELS) picks how it calls OpenBLAS.

Equations (fastrnn/oracle/layernorm_lstm.py states them in NumPy; LN over each row's
features, float64 statistics, see layer_norm.py):
    a = γ_ih x̂_x + γ_hh x̂_h + b;  i, f, o = σ(a_i, a_f, a_o);  g = tanh(a_g)
    c' = f c + i g;  h' = o tanh(γ_c ĉ + β_c)  with ĉ = LN(c')

Zoneout (zoneout.py): ``keep`` (K, H), h_t = keep ⊙ h_{t−1} + (1 − keep) ⊙ h'_t with K = 0
(none), 1 (one row for every row) or R (one per row); c is not zoned out.
The time loop is loop.py's; this file holds the cell's steps, bound into it.
"""
import numpy as np
from numba import njit

from .activations import FASTMATH_LOOP, fast_sigmoid, fast_tanh
from .borrowed import borrow
from .layer_norm import normalize_row, normalize_row_backward
from .loop import nothing_to_start, sequence_backward, sequence_forward, the_recurrent_weight
from .lstm import c_finish, c_offsets, c_start
from .panels import step_add, step_grad
from .packed import copy_rows, grads_against_prev, input_grads, write_sums
from .template import instantiate
from .zoneout import add_carried, zone_out_grads, zone_out_rows


# --- forward: the loop's gates are xs; cell = (c0, cs, c_n, b, ln_ih, ln_hh, ln_c, ln_c_bias, hs,
#              gates, chat, stats, save_rows) ------------------------------------------------------

@njit(cache=True, inline="always")
def _product(cell, h_prev, w_hh, panels, scratch, xs, out, g_off, off, b, small_kernels):
    """hs rows = h_prev w_hhᵀ (normalised by the step)."""
    hs, save_rows = cell[8], cell[12]
    h_off = off if save_rows else 0          # forward only, hs holds one step's rows
    step_add(h_prev, w_hh, panels, scratch, hs[h_off:h_off + b], False, small_kernels)


@njit(cache=True, error_model="numpy", fastmath=FASTMATH_LOOP, inline="always")
def _step(cell, t, off, g_off, prev, b_t, h_prev, xs, out, save_rows):
    c0, cs, c_n, b, ln_ih, ln_hh, ln_c, ln_c_bias, hs, gates, chat, stats, _ = cell
    H = c0.shape[1]
    b_i, b_f, b_g, b_o = b[:H], b[H:2 * H], b[2 * H:3 * H], b[3 * H:]
    gx_i, gx_f, gx_g, gx_o = ln_ih[:H], ln_ih[H:2 * H], ln_ih[2 * H:3 * H], ln_ih[3 * H:]
    gh_i, gh_f, gh_g, gh_o = ln_hh[:H], ln_hh[H:2 * H], ln_hh[2 * H:3 * H], ln_hh[3 * H:]
    c_off, c_prev = c_offsets(t, off, prev, c0.shape[0], save_rows)
    h_off = off if save_rows else 0
    for n in range(b_t):
        r = off + n
        x_row = xs[g_off + n]
        h_row = hs[h_off + n]
        st = stats[r] if save_rows else stats[0]
        st[0] = normalize_row(x_row, x_row)
        st[1] = normalize_row(h_row, h_row)
        g_row = gates[r] if save_rows else gates[n]     # never x_row: LLVM vectorises disjoint rows only
        # per-gate slice views indexed by the loop counter alone: LLVM vectorises
        x_i, x_f, x_g, x_o = x_row[:H], x_row[H:2 * H], x_row[2 * H:3 * H], x_row[3 * H:]
        h_i, h_f, h_g, h_o = h_row[:H], h_row[H:2 * H], h_row[2 * H:3 * H], h_row[3 * H:]
        a_i, a_f, a_g, a_o = g_row[:H], g_row[H:2 * H], g_row[2 * H:3 * H], g_row[3 * H:]
        cp = c0[n] if t == 0 else cs[c_prev + n]
        c_row = cs[c_off + n]
        for j in range(H):
            i = fast_sigmoid(gx_i[j] * x_i[j] + gh_i[j] * h_i[j] + b_i[j])
            f = fast_sigmoid(gx_f[j] * x_f[j] + gh_f[j] * h_f[j] + b_f[j])
            g = fast_tanh(gx_g[j] * x_g[j] + gh_g[j] * h_g[j] + b_g[j])
            o = fast_sigmoid(gx_o[j] * x_o[j] + gh_o[j] * h_o[j] + b_o[j])
            c_row[j] = f * cp[j] + i * g
            a_i[j] = i
            a_f[j] = f
            a_g[j] = g
            a_o[j] = o
        c_hat = chat[r] if save_rows else chat[0]
        st[2] = normalize_row(c_row, c_hat)
        o_row = out[r]
        for j in range(H):
            o_row[j] = a_o[j] * fast_tanh(ln_c[j] * c_hat[j] + ln_c_bias[j])


_forward_loop = instantiate(sequence_forward, "layernorm_lstm_forward_loop", inline="always",
                            product_weight=the_recurrent_weight, product=_product, step=_step, start=c_start,
                            finish=c_finish, zone_out=zone_out_rows)


@njit(cache=True, error_model="numpy", fastmath=FASTMATH_LOOP, nogil=True)
def layernorm_lstm_forward(x, batch_sizes, h0, c0, w_ih, w_hh, b, ln_ih, ln_hh, ln_c, ln_c_bias, chunk_steps,
                           save_rows, xs, hs, gates, cs, chat, stats, scratch, out, h_n, c_n, keep, small_kernels):
    """Run the sequence; fill out and each sequence's final h_n, c_n (N, H).

    Training (``save_rows``, chunk_steps >= T): xs, hs, gates, cs, chat and stats end
    holding what layernorm_lstm_backward reads. Forward only: the workspaces of the layout
    above, so memory does not grow with T.
    """
    # views of borrowed arrays cost no atomic reference counts (borrowed.py)
    (x, h0, c0, w_ih, w_hh, b, ln_ih, ln_hh, ln_c, ln_c_bias, xs, hs, gates, cs, chat, stats, scratch, out, h_n,
     c_n, keep) = borrow(
        x, h0, c0, w_ih, w_hh, b, ln_ih, ln_hh, ln_c, ln_c_bias, xs, hs, gates, cs, chat, stats, scratch, out,
        h_n, c_n, keep)
    cell = (c0, cs, c_n, b, ln_ih, ln_hh, ln_c, ln_c_bias, hs, gates, chat, stats, save_rows)
    _forward_loop(x, batch_sizes, h0, w_ih, w_hh, True, cell, xs, scratch, out, h_n, keep, chunk_steps, save_rows,
                  small_kernels)


# --- backward: the loop's dgates are gates (dA); cell = (c0, cs, dc0, ln_ih, ln_hh, ln_c, ln_c_bias, xs,
#               hs, chat, stats, work, d_hats, sums, dlns) with sums = (t_ih, t_hh, t_b, t_c, t_cb)
#               float64 and dlns = (dln_ih, dln_hh, dln_c, dln_c_bias) -----------------------------------

@njit(cache=True, error_model="numpy", fastmath=FASTMATH_LOOP, inline="always")
def _grad_step(cell, t, off, prev, b_t, d_out, dh, gates):
    c0, cs, dc0, ln_ih, ln_hh, ln_c, ln_c_bias, xs, hs, chat, stats, work, d_hats, sums, _ = cell
    t_ih, t_hh, t_b, t_c, t_cb = sums
    H = c0.shape[1]
    G = 4 * H
    for n in range(b_t):
        r = off + n
        g_row, x_row, h_row = gates[r], xs[r], hs[r]
        a_i, a_f, a_g, a_o = g_row[:H], g_row[H:2 * H], g_row[2 * H:3 * H], g_row[3 * H:]
        cp = c0[n] if t == 0 else cs[prev + n]
        c_hat = chat[r]
        o_row = d_out[n]
        dh_row, dc_row = dh[n], dc0[n]
        # h' = o tanh(y), y = γ_c ĉ + β_c with dh = dout + the carried dh: dA_o, and dĉ = dy γ_c
        for j in range(H):
            d = o_row[j] + dh_row[j]
            ty = fast_tanh(ln_c[j] * c_hat[j] + ln_c_bias[j])
            o = a_o[j]
            a_o[j] = d * ty * o * (1 - o)
            dy = d * o * (1 - ty * ty)
            work[j] = dy * ln_c[j]
            t_c[j] += dy * c_hat[j]
            t_cb[j] += dy
        st = stats[r]
        normalize_row_backward(work, c_hat, st[2], work)       # work <- the gradient of c'
        # c' = f c + i g: dA_i, dA_f, dA_g, dc_{t−1}
        for j in range(H):
            dc = dc_row[j] + work[j]
            i = a_i[j]
            f = a_f[j]
            g = a_g[j]
            a_i[j] = dc * g * i * (1 - i)
            a_f[j] = dc * cp[j] * f * (1 - f)
            a_g[j] = dc * i * (1 - g * g)
            dc_row[j] = dc * f
        # both products' LN backward over the row's 4H (the gains' and bias's sums first)
        d_hh, d_ih = d_hats[0], d_hats[1]
        for k in range(G):
            d = g_row[k]
            t_hh[k] += d * h_row[k]
            t_ih[k] += d * x_row[k]
            t_b[k] += d
            d_hh[k] = d * ln_hh[k]
            d_ih[k] = d * ln_ih[k]
        normalize_row_backward(d_hh, h_row, st[1], h_row)     # dv_h over x̂_h
        normalize_row_backward(d_ih, x_row, st[0], x_row)     # dv_x over x̂_x


@njit(cache=True, inline="always")
def _grad_product(cell, t, off, prev, b, w_hh, panels, gates, dh, small_kernels):
    """dh_{t−1} = dv_h w_hh: the rows still running."""
    hs = cell[8]
    step_grad(hs[off:off + b], w_hh, panels, 0.0, dh[:b], small_kernels)


@njit(cache=True, inline="always")
def _weight_grads(cell, x, h0, w_ih, torch_layout, gates, out, batch_sizes, offsets, dx, dw_ih, dw_hh, db,
                  accumulate):
    """dx, dW_ih, dW_hh as GEMMs over all rows; the gains' and the bias's sums."""
    xs, hs, (t_ih, t_hh, t_b, t_c, t_cb) = cell[7], cell[8], cell[13]
    dln_ih, dln_hh, dln_c, dln_c_bias = cell[14]
    G = hs.shape[1]
    input_grads(x, w_ih, True, xs, dx, dw_ih, accumulate)
    grads_against_prev(True, G, hs, G, h0, out, batch_sizes, offsets, 1.0 if accumulate else 0.0, dw_hh,
                       h0.shape[1])
    write_sums(t_ih, dln_ih, accumulate)
    write_sums(t_hh, dln_hh, accumulate)
    write_sums(t_c, dln_c, accumulate)
    write_sums(t_cb, dln_c_bias, accumulate)
    if db.shape[0] > 0:
        write_sums(t_b, db, accumulate)


_backward_loop = instantiate(sequence_backward, "layernorm_lstm_backward_loop", inline="always",
                             grad_step=_grad_step, grad_product=_grad_product, weight_grads=_weight_grads,
                             start_backward=nothing_to_start, zone_out_grads=zone_out_grads,
                             add_carried=add_carried)


@njit(cache=True, error_model="numpy", fastmath=FASTMATH_LOOP, nogil=True)
def layernorm_lstm_backward(x, batch_sizes, h0, c0, w_ih, w_hh, ln_ih, ln_hh, ln_c, ln_c_bias, xs, hs, gates, cs,
                            chat, stats, out, dout, dh_n, dc_n, dx, dh0, dc0, dw_ih, dw_hh, db, dln_ih, dln_hh,
                            dln_c, dln_c_bias, accumulate, keep, zone_work, small_kernels):
    """Backward through the sequence saved by layernorm_lstm_forward.

    dout (R, H), dh_n, dc_n (N, H) in (row n's final-state gradient enters at its last
    step); dx (R, I), dh0, dc0 (N, H) out; dw_ih, dw_hh, db (4H,) (size 0: no bias),
    dln_ih, dln_hh (4H,), dln_c, dln_c_bias (H,) written, or added to when ``accumulate``.
    xs, hs and gates are overwritten with dv_x, dv_h and dA; zone_work (2N, H) is zoneout's
    workspace (zoneout.py).

    Per step, one pass per row: LN(c')'s backward, the gates' gradients dA, then both
    products' LN backward (dv_h feeds the step's dh_{t−1} = dv_h w_hh; dv_x is row-wise and
    done while the row is at hand); the gains' and the bias's column sums accumulate in
    float64. After the loop: dx, dW_ih, dW_hh as GEMMs over all rows.
    """
    # views of borrowed arrays cost no atomic reference counts (borrowed.py)
    (x, h0, c0, w_ih, w_hh, ln_ih, ln_hh, ln_c, ln_c_bias, xs, hs, gates, cs, chat, stats, out, dout, dh_n, dc_n,
     dx, dh0, dc0, dw_ih, dw_hh, db, dln_ih, dln_hh, dln_c, dln_c_bias, keep, zone_work) = borrow(
        x, h0, c0, w_ih, w_hh, ln_ih, ln_hh, ln_c, ln_c_bias, xs, hs, gates, cs, chat, stats, out, dout, dh_n,
        dc_n, dx, dh0, dc0, dw_ih, dw_hh, db, dln_ih, dln_hh, dln_c, dln_c_bias, keep, zone_work)
    N, H = h0.shape
    G = 4 * H
    copy_rows(dc_n, 0, dc0, 0, N)          # dc0 carries dc backwards through time
    sums = (np.zeros(G, np.float64), np.zeros(G, np.float64), np.zeros(G, np.float64), np.zeros(H, np.float64),
            np.zeros(H, np.float64))       # t_ih, t_hh, t_b, t_c, t_cb
    cell = (c0, cs, dc0, ln_ih, ln_hh, ln_c, ln_c_bias, xs, hs, chat, stats, np.empty(H, dx.dtype),
            np.empty((2, G), dx.dtype), sums, (dln_ih, dln_hh, dln_c, dln_c_bias))
    _backward_loop(x, batch_sizes, h0, w_ih, w_hh, True, cell, out, dout, dh_n, dx, dh0, gates, dw_ih, dw_hh, db,
                   accumulate, keep, zone_work, small_kernels)
