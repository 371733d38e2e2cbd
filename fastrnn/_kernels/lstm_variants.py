"""Fused LSTM kernels with peephole connections and, optionally, a projection of h.

The plain LSTM (lstm.py) stays as it is; these kernels serve the variants (the entries of
fastrnn/_cells/lstm_variants.py). Layout (one layer, one direction; a packed batch, see
packed.py; P = the projection size, P = H without a projection):

    x      (R, I)      input rows
    gates  (R, 4H)     as in lstm.py: x w_x, + h_{t-1} w_recᵀ per step, then the activated
                       gates i, f, g, o; backward overwrites it with dA. Forward only: the
                       rows of ``chunk_steps`` steps.
    cs     (R, H)      c after each step (forward only: (2N, H), the running c)
    ms     (R, H)      with a projection: m = o ⊙ tanh(c) after each step, the projection's
                       input (forward only: (N, H)); without one: (0, H), m is h
    out    (R, P)      h after each step (h_{t-1} of the next step)

w_rec (4H, P) is torch's weight_hh (the book's (H, 4H) Wh as a transposed copy), w_hr (P, H)
torch's weight_hr ((0, H): no projection), w_ph (3H,) the peepholes p_i, p_f, p_o (zeros
when the cell has none). ``blocks``, ``torch_layout``, ``scratch`` ((5H + P)·N elements)
and ``small_kernels`` as in lstm.py.

Equations (fastrnn/oracle/lstm.py states them in NumPy):
    a = x w_x + h w_h + bias
    i = σ(a_i + p_i c),  f = σ(a_f + p_f c),  g = tanh(a_g),  c' = f c + i g
    o = σ(a_o + p_o c'),  m = o tanh(c'),  h' = m w_hrᵀ (or m)

Per step the projection is one more product (panels.step_add: (b, H) x (P, H)ᵀ); its
gradient dm = dh w_hr another (panels.step_grad), and dW_hr = Σ dhᵀ m one GEMM over the
R rows after the loop, next to the usual weight gradients (packed.weight_grads) and the
peepholes' column sums. The time loop is loop.py's; this file holds the variants' steps.
"""
import numpy as np
from numba import njit

from .activations import FASTMATH, FASTMATH_LOOP, fast_sigmoid, fast_tanh
from .blas import gemm
from .borrowed import borrow
from .loop import (add_into_gates, grads_through_w_rec, no_carried, no_zoneout, no_zoneout_grads, nothing_to_start,
                   sequence_backward, sequence_forward, the_recurrent_weight)
from .lstm import c_finish, c_offsets, c_start
from .panels import pack_for_steps, step_add, step_grad
from .packed import copy_rows, weight_grads, write_sums
from .template import instantiate


# --- forward: cell = (c0, cs, c_n, gate offsets, b_x, b_h, w_ph, ms, w_hr, p_hr, scratch, small_kernels)

@njit(cache=True, error_model="numpy", fastmath=FASTMATH_LOOP, inline="always")
def _step(cell, t, off, g_off, prev, b, h_prev, gates, out, save_rows):
    c0, cs, c_n, (oi, of, og, oo), b_x, b_h, w_ph, ms, w_hr, p_hr, scratch, small_kernels = cell
    H = c0.shape[1]
    project = w_hr.shape[0] > 0
    bx_i, bx_f, bx_g, bx_o = b_x[oi:oi + H], b_x[of:of + H], b_x[og:og + H], b_x[oo:oo + H]
    bh_i, bh_f, bh_g, bh_o = b_h[oi:oi + H], b_h[of:of + H], b_h[og:og + H], b_h[oo:oo + H]
    p_i, p_f, p_o = w_ph[:H], w_ph[H:2 * H], w_ph[2 * H:]
    c_off, c_prev = c_offsets(t, off, prev, c0.shape[0], save_rows)
    m_off = off if save_rows else 0
    for n in range(b):
        row = gates[g_off + n]
        a_i, a_f, a_g, a_o = row[oi:oi + H], row[of:of + H], row[og:og + H], row[oo:oo + H]
        cp = c0[n] if t == 0 else cs[c_prev + n]
        c_row = cs[c_off + n]
        m_row = ms[m_off + n] if project else out[off + n]
        for j in range(H):
            i = fast_sigmoid(a_i[j] + bx_i[j] + bh_i[j] + p_i[j] * cp[j])
            f = fast_sigmoid(a_f[j] + bx_f[j] + bh_f[j] + p_f[j] * cp[j])
            g = fast_tanh(a_g[j] + bx_g[j] + bh_g[j])
            c = f * cp[j] + i * g
            o = fast_sigmoid(a_o[j] + bx_o[j] + bh_o[j] + p_o[j] * c)
            c_row[j] = c
            m_row[j] = o * fast_tanh(c)
            a_i[j] = i
            a_f[j] = f
            a_g[j] = g
            a_o[j] = o
    if project:          # h_t = m_t w_hrᵀ
        step_add(ms[m_off:m_off + b], w_hr, p_hr, scratch, out[off:off + b], False, small_kernels)


_forward_loop = instantiate(sequence_forward, "lstm_variant_forward_loop", inline="always",
                            product_weight=the_recurrent_weight, product=add_into_gates, step=_step,
                            start=c_start, finish=c_finish, zone_out=no_zoneout)


@njit(cache=True, error_model="numpy", fastmath=FASTMATH_LOOP, nogil=True)
def lstm_variant_forward(x, batch_sizes, h0, c0, w_x, w_rec, w_hr, w_ph, b_x, b_h, torch_layout, blocks,
                         chunk_steps, save_rows, gates, scratch, cs, ms, out, h_n, c_n, small_kernels):
    """Run the sequence; fill out (R, P) and each sequence's final h_n (N, P), c_n (N, H).

    Training (``save_rows``, chunk_steps >= T): gates, cs and ms end holding what
    lstm_variant_backward reads. Forward only: the workspaces of lstm.lstm_forward, and ms
    (N, H) with a projection. b_x, b_h (4H,) are added to the pre-activations.
    """
    # views of borrowed arrays cost no atomic reference counts (borrowed.py)
    (x, h0, c0, w_x, w_rec, w_hr, w_ph, b_x, b_h, gates, scratch, cs, ms, out, h_n, c_n) = borrow(
        x, h0, c0, w_x, w_rec, w_hr, w_ph, b_x, b_h, gates, scratch, cs, ms, out, h_n, c_n)
    N, H = c0.shape
    offsets = (blocks[0] * H, blocks[1] * H, blocks[2] * H, blocks[3] * H)
    # the panels of the projection m w_hrᵀ (0 steps: none without a projection)
    p_hr = pack_for_steps(w_hr, N, batch_sizes.shape[0] if w_hr.shape[0] > 0 else 0, True, small_kernels)
    cell = (c0, cs, c_n, offsets, b_x, b_h, w_ph, ms, w_hr, p_hr, scratch, small_kernels)
    _forward_loop(x, batch_sizes, h0, w_x, w_rec, torch_layout, cell, gates, scratch, out, h_n, out[:0], chunk_steps,
                  save_rows, small_kernels)


# --- backward: cell = (c0, cs, dc0, gate offsets, w_ph, dhs, dm, w_hr, p_hr, small_kernels, extras) --
# extras = (ms, dw_hr, dw_ph, blocks): what the weight gradients after the loop read

@njit(cache=True, error_model="numpy", fastmath=FASTMATH_LOOP, inline="always")
def _grad_step(cell, t, off, prev, b, d_out, dh, dgates):
    c0, cs, dc0, (oi, of, og, oo), w_ph, dhs, dm, w_hr, p_hr, small_kernels, extras = cell
    H = c0.shape[1]
    project = w_hr.shape[0] > 0
    p_i, p_f, p_o = w_ph[:H], w_ph[H:2 * H], w_ph[2 * H:]
    # dh = dout + the carried dh; with a projection dm = dh w_hr (dh kept for dW_hr), else dm = dh
    for n in range(b):
        o_row, d_carry = d_out[n], dh[n]
        dh_row = dhs[off + n] if project else dm[n]
        for j in range(o_row.shape[0]):
            dh_row[j] = o_row[j] + d_carry[j]
    if project:
        step_grad(dhs[off:off + b], w_hr, p_hr, 0.0, dm[:b], small_kernels)
    for n in range(b):
        row = dgates[off + n]
        a_i, a_f, a_g, a_o = row[oi:oi + H], row[of:of + H], row[og:og + H], row[oo:oo + H]
        cp = c0[n] if t == 0 else cs[prev + n]
        c_row = cs[off + n]
        dm_row = dm[n]
        dc_row = dc0[n]
        for j in range(H):
            i = a_i[j]
            f = a_f[j]
            g = a_g[j]
            o = a_o[j]
            tc = fast_tanh(c_row[j])
            d_m = dm_row[j]
            d_o = d_m * tc * o * (1 - o)
            dc = dc_row[j] + d_m * o * (1 - tc * tc) + d_o * p_o[j]
            d_i = dc * g * i * (1 - i)
            d_f = dc * cp[j] * f * (1 - f)
            dc_row[j] = dc * f + d_i * p_i[j] + d_f * p_f[j]
            a_i[j] = d_i
            a_f[j] = d_f
            a_g[j] = dc * i * (1 - g * g)
            a_o[j] = d_o


@njit(cache=True, error_model="numpy", fastmath=FASTMATH_LOOP, inline="always")
def _weight_grads(cell, x, h0, w_x, torch_layout, dgates, out, batch_sizes, offsets, dx, dw_x, dw_h, db,
                  accumulate):
    c0, cs, dc0, gate_offsets, w_ph, dhs, dm, w_hr, p_hr, small_kernels, (ms, dw_hr, dw_ph, blocks) = cell
    weight_grads(x, h0, w_x, torch_layout, dgates, out, batch_sizes, offsets, dx, dw_x, dw_h, db, accumulate)
    if w_hr.shape[0] > 0:                  # dW_hr (P, H) (+)= Σ_rows dhᵀ m
        P, R, H = w_hr.shape[0], x.shape[0], c0.shape[1]
        gemm(True, False, P, H, R, 1.0, dhs, P, ms, H, 1.0 if accumulate else 0.0, dw_hr, H)
    if dw_ph.shape[0] > 0:
        peephole_grads(batch_sizes, offsets, c0, cs, dgates, blocks, dw_ph, accumulate)


_backward_loop = instantiate(sequence_backward, "lstm_variant_backward_loop", inline="always",
                             grad_step=_grad_step, grad_product=grads_through_w_rec, weight_grads=_weight_grads,
                             start_backward=nothing_to_start, zone_out_grads=no_zoneout_grads,
                             add_carried=no_carried)


@njit(cache=True, error_model="numpy", fastmath=FASTMATH_LOOP, nogil=True)
def lstm_variant_backward(x, batch_sizes, h0, c0, w_x, w_rec, w_hr, w_ph, torch_layout, blocks, gates, cs, ms,
                          out, dout, dh_n, dc_n, dx, dh0, dc0, dhs, dm, dw_x, dw_h, dw_hr, dw_ph, db, accumulate,
                          small_kernels):
    """Backward through the sequence saved by lstm_variant_forward.

    dout (R, P), dh_n (N, P), dc_n (N, H) in; dx (R, I), dh0 (N, P), dc0 (N, H) out.
    Workspaces: dhs (R, P) (with a projection: each row's dh, for dW_hr; else (0, P)) and
    dm (N, H). dw_x, dw_h shaped like w_x and the layout's w_h, dw_hr (P, H) (or (0, H)),
    dw_ph (3H,) and db (4H,) (size 0: none) written, or added to when ``accumulate``.
    ``gates`` is overwritten with dA.
    """
    # views of borrowed arrays cost no atomic reference counts (borrowed.py)
    (x, h0, c0, w_x, w_rec, w_hr, w_ph, gates, cs, ms, out, dout, dh_n, dc_n, dx, dh0, dc0, dhs, dm, dw_x, dw_h,
     dw_hr, dw_ph, db) = borrow(
        x, h0, c0, w_x, w_rec, w_hr, w_ph, gates, cs, ms, out, dout, dh_n, dc_n, dx, dh0, dc0, dhs, dm, dw_x,
        dw_h, dw_hr, dw_ph, db)
    N, H = c0.shape
    copy_rows(dc_n, 0, dc0, 0, N)          # dc0 carries dc backwards through time
    offsets = (blocks[0] * H, blocks[1] * H, blocks[2] * H, blocks[3] * H)
    # the panels of the per-step products dh w_hr (0 steps: none without a projection)
    p_hr = pack_for_steps(w_hr, N, batch_sizes.shape[0] if w_hr.shape[0] > 0 else 0, False, small_kernels)
    cell = (c0, cs, dc0, offsets, w_ph, dhs, dm, w_hr, p_hr, small_kernels, (ms, dw_hr, dw_ph, blocks))
    _backward_loop(x, batch_sizes, h0, w_x, w_rec, torch_layout, cell, out, dout, dh_n, dx, dh0, gates, dw_x, dw_h,
                   db, accumulate, out[:0], out[:0], small_kernels)


@njit(cache=True, error_model="numpy", fastmath=FASTMATH)
def peephole_grads(batch_sizes, offsets, c0, cs, d, blocks, dw_ph, accumulate):
    """dw_ph (3H,) (+)= Σ_rows (dA_i ⊙ c_prev, dA_f ⊙ c_prev, dA_o ⊙ c), accumulated in float64."""
    H = c0.shape[1]
    oi, of, oo = blocks[0] * H, blocks[1] * H, blocks[3] * H
    total = np.zeros(3 * H, np.float64)
    t_i, t_f, t_o = total[:H], total[H:2 * H], total[2 * H:]
    for t in range(batch_sizes.shape[0]):
        off, b = offsets[t], batch_sizes[t]
        prev = offsets[t - 1] if t > 0 else 0
        for n in range(b):
            row = d[off + n]
            d_i, d_f, d_o = row[oi:oi + H], row[of:of + H], row[oo:oo + H]
            cp = c0[n] if t == 0 else cs[prev + n]
            c_row = cs[off + n]
            for j in range(H):
                t_i[j] += d_i[j] * cp[j]
                t_f[j] += d_f[j] * cp[j]
                t_o[j] += d_o[j] * c_row[j]
    write_sums(total, dw_ph, accumulate)
