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
peepholes' column sums.
"""
import numpy as np
from numba import njit

from .activations import FASTMATH, fast_sigmoid, fast_tanh
from .blas import gemm, restore_threads, steps_on_one_thread
from .borrowed import borrow
from .panels import pack_for_steps, step_add, step_grad
from .packed import copy_rows, keep_finished, keep_unstarted, start_chunk, step_offsets, weight_grads, write_sums


@njit(cache=True, error_model="numpy", fastmath=FASTMATH, nogil=True)
def lstm_variant_forward(x, batch_sizes, h0, c0, w_x, w_rec, w_hr, w_ph, b_x, b_h, torch_layout, blocks,
                         chunk_steps, keep_rows, gates, scratch, cs, ms, out, h_n, c_n, small_kernels):
    """Run the sequence; fill out (R, P) and each sequence's final h_n (N, P), c_n (N, H).

    Training (``keep_rows``, chunk_steps >= T): gates, cs and ms end holding what
    lstm_variant_backward reads. Forward only: the workspaces of lstm.lstm_forward, and ms
    (N, H) with a projection. b_x, b_h (4H,) are added to the pre-activations.
    """
    # views of borrowed arrays cost no atomic reference counts (borrowed.py)
    (x, h0, c0, w_x, w_rec, w_hr, w_ph, b_x, b_h, gates, scratch, cs, ms, out, h_n, c_n) = borrow(
        x, h0, c0, w_x, w_rec, w_hr, w_ph, b_x, b_h, gates, scratch, cs, ms, out, h_n, c_n)
    N, H = c0.shape
    project = w_hr.shape[0] > 0
    oi, of, og, oo = blocks[0] * H, blocks[1] * H, blocks[2] * H, blocks[3] * H
    bx_i, bx_f, bx_g, bx_o = b_x[oi:oi + H], b_x[of:of + H], b_x[og:og + H], b_x[oo:oo + H]
    bh_i, bh_f, bh_g, bh_o = b_h[oi:oi + H], b_h[of:of + H], b_h[og:og + H], b_h[oo:oo + H]
    p_i, p_f, p_o = w_ph[:H], w_ph[H:2 * H], w_ph[2 * H:]
    offsets = step_offsets(batch_sizes)
    T = batch_sizes.shape[0]
    keep_unstarted(batch_sizes, h0, h_n)
    keep_unstarted(batch_sizes, c0, c_n)
    # the panels of the per-step products h w_recᵀ and m w_hrᵀ (0 steps: none without a projection)
    p_rec = pack_for_steps(w_rec, N, T, True, small_kernels)
    p_hr = pack_for_steps(w_hr, N, T if project else 0, True, small_kernels)
    for t0 in range(0, T, chunk_steps):
        t1, r0, threads = start_chunk(t0, chunk_steps, batch_sizes, offsets, x, w_x, torch_layout, scratch, gates)
        for t in range(t0, t1):
            off, b = offsets[t], batch_sizes[t]
            prev = offsets[t - 1] if t > 0 else 0
            c_off, c_prev = (off, prev) if keep_rows else ((t % 2) * N, ((t - 1) % 2) * N)
            m_off = off if keep_rows else 0
            h_prev = h0[:b] if t == 0 else out[prev:prev + b]
            step_add(h_prev, w_rec, p_rec, scratch, gates[off - r0:off - r0 + b], True, small_kernels)
            for n in range(b):
                row = gates[off - r0 + n]
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
            keep_finished(t, batch_sizes, off, out, h_n)
            keep_finished(t, batch_sizes, c_off, cs, c_n)
        restore_threads(threads)


@njit(cache=True, error_model="numpy", fastmath=FASTMATH, nogil=True)
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
    H = c0.shape[1]
    project = w_hr.shape[0] > 0
    oi, of, og, oo = blocks[0] * H, blocks[1] * H, blocks[2] * H, blocks[3] * H
    p_i, p_f, p_o = w_ph[:H], w_ph[H:2 * H], w_ph[2 * H:]
    copy_rows(dh_n, 0, dh0, 0, dh_n.shape[0])          # dh0 / dc0 carry dh, dc backwards through time
    copy_rows(dc_n, 0, dc0, 0, dc_n.shape[0])
    offsets = step_offsets(batch_sizes)
    threads = steps_on_one_thread()
    T = batch_sizes.shape[0]
    # the panels of the per-step products dA w_rec and dh w_hr (0 steps: none without a projection)
    p_rec = pack_for_steps(w_rec, c0.shape[0], T, False, small_kernels)
    p_hr = pack_for_steps(w_hr, c0.shape[0], T if project else 0, False, small_kernels)
    for t in range(batch_sizes.shape[0] - 1, -1, -1):
        off, b = offsets[t], batch_sizes[t]
        prev = offsets[t - 1] if t > 0 else 0
        # dh = dout + the carried dh; with a projection dm = dh w_hr (dh kept for dW_hr), else dm = dh
        for n in range(b):
            d_out, d_carry = dout[off + n], dh0[n]
            dh_row = dhs[off + n] if project else dm[n]
            for j in range(d_out.shape[0]):
                dh_row[j] = d_out[j] + d_carry[j]
        if project:
            step_grad(dhs[off:off + b], w_hr, p_hr, 0.0, dm[:b], small_kernels)
        for n in range(b):
            row = gates[off + n]
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
        # dh_prev = dA_t w_rec (the rows still running; the others keep their dh)
        step_grad(gates[off:off + b], w_rec, p_rec, 0.0, dh0[:b], small_kernels)
    restore_threads(threads)
    weight_grads(x, h0, w_x, torch_layout, gates, out, batch_sizes, offsets, dx, dw_x, dw_h, db, accumulate)
    if project:                  # dW_hr (P, H) (+)= Σ_rows dhᵀ m
        P, R = w_hr.shape[0], x.shape[0]
        gemm(True, False, P, H, R, 1.0, dhs, P, ms, H, 1.0 if accumulate else 0.0, dw_hr, H)
    if dw_ph.shape[0] > 0:
        peephole_grads(batch_sizes, offsets, c0, cs, gates, blocks, dw_ph, accumulate)


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
