"""Fused layer-normalised GRU sequence kernels (torch layout: gate blocks r, z, n; reset after).

Layout (one layer, one direction; a packed batch, see packed.py; G = 3H):

    x      (R, I)     input rows, C-contiguous; step t is rows offsets[t]:offsets[t+1]
    xn_x   (R, G)     forward: x w_ihᵀ by one GEMM, then normalised in place (x̂ of the input
                      branch); backward: overwritten with dv_x, the gradient of x w_ihᵀ
    xn_h   (R, G)     forward: per step h_prev w_hhᵀ, normalised in place (x̂ of the recurrent
                      branch); backward: overwritten with dv_h, the gradient of h_prev w_hhᵀ
    rstd   (2, R)     float64: each row's 1/sqrt(var + eps), input branch then recurrent branch
    act    (R, G)     forward: the activated r, z, n; backward: overwritten with dgx, the
                      gradient of gx = LN(x w_ihᵀ) + b_ih
    out    (R, H)     h after each step (after zoneout): the next step's h_prev
    keep   (K, H)     zoneout keep weights: K = 0 (none), 1 (one for every row), R (one per row)

Forward only (``keep_rows`` False): xn_x holds the rows of ``chunk_steps`` steps (the input
projection and its normalisation run a chunk at a time), xn_h and act (N, G) one step's, and
rstd is not written, so memory does not grow with T beyond out.

Per step the forward runs one product h_prev w_hhᵀ (panels.step_add) and one pass per
row: the row's layer norm (layer_norm.normalize_row, float64 statistics), then gates, h' and
zoneout. The backward runs one pass per row per step (zoneout split, gate gradients, the
recurrent branch's LN backward, its gain and bias gradients summed in float64) and the
product dv_h w_hh (panels.step_grad); after the time loop one pass over all rows for the
input branch's LN backward, then the GEMMs dx = dv_x w_ih, dW_ih = Σ dv_xᵀ x and
dW_hh = Σ dv_hᵀ h_prev (packed.py).

Equations in NumPy: fastrnn/oracle/layernorm_gru.py.
"""
import numpy as np
from numba import njit

from .activations import FASTMATH, fast_sigmoid, fast_tanh
from .blas import restore_threads, steps_on_one_thread
from .borrowed import borrow
from .panels import pack_for_steps, step_add, step_grad
from .layer_norm import normalize_row, normalize_row_backward
from .packed import (copy_rows, grads_against_prev, input_grads, keep_finished, keep_unstarted, start_chunk, step_offsets,
                     write_sums)
from .zoneout import add_carried, zone_out_grads, zone_out_rows


@njit(cache=True, error_model="numpy", fastmath=FASTMATH, nogil=True)
def layernorm_gru_forward(x, batch_sizes, h0, w_ih, w_hh, b_ih, b_hh, ln_ih, ln_hh, keep, chunk_steps, keep_rows,
                          xn_x, xn_h, act, rstd, scratch, out, h_n, small_kernels):
    """Run the sequence; fill out (R, H) and each sequence's final h_n (N, H).

    b_ih, b_hh (G,) (zeros without bias), ln_ih, ln_hh (G,) the gains. Training
    (``keep_rows``, chunk_steps >= T): xn_x, xn_h, act and rstd end holding what
    layernorm_gru_backward reads. scratch holds 4H·N elements (the products' workspace).
    """
    # views of borrowed arrays cost no atomic reference counts (borrowed.py)
    (x, h0, w_ih, w_hh, b_ih, b_hh, ln_ih, ln_hh, keep, xn_x, xn_h, act, rstd, scratch, out, h_n) = borrow(
        x, h0, w_ih, w_hh, b_ih, b_hh, ln_ih, ln_hh, keep, xn_x, xn_h, act, rstd, scratch, out, h_n)
    H = h0.shape[1]
    b_rz = b_ih[:2 * H] + b_hh[:2 * H]
    b_r, b_z = b_rz[:H], b_rz[H:]
    bx_n, bh_n = b_ih[2 * H:], b_hh[2 * H:]
    gx_r, gx_z, gx_n = ln_ih[:H], ln_ih[H:2 * H], ln_ih[2 * H:]
    gh_r, gh_z, gh_n = ln_hh[:H], ln_hh[H:2 * H], ln_hh[2 * H:]
    offsets = step_offsets(batch_sizes)
    T = batch_sizes.shape[0]
    keep_unstarted(batch_sizes, h0, h_n)
    panels = pack_for_steps(w_hh, h0.shape[0], T, True, small_kernels)      # for the per-step products h w_hhᵀ
    for t0 in range(0, T, chunk_steps):
        t1, r0, threads = start_chunk(t0, chunk_steps, batch_sizes, offsets, x, w_ih, True, scratch, xn_x)
        for row in range(offsets[t1] - r0):          # the input branch's layer norm, in place
            v = xn_x[row]
            s = normalize_row(v, v)
            if keep_rows:
                rstd[0, r0 + row] = s
        for t in range(t0, t1):
            off, b = offsets[t], batch_sizes[t]
            prev = offsets[t - 1] if t > 0 else 0
            x_off = off - r0
            s_off = off if keep_rows else 0
            h_prev = h0[:b] if t == 0 else out[prev:prev + b]
            step_add(h_prev, w_hh, panels, scratch, xn_h[s_off:s_off + b], False, small_kernels)
            # Loops index per-gate slice views with the loop counter only, and loop-invariant
            # branches sit outside the inner loops, so that LLVM vectorises them.
            for n in range(b):
                vh = xn_h[s_off + n]
                s = normalize_row(vh, vh)
                if keep_rows:
                    rstd[1, off + n] = s
                vx = xn_x[x_off + n]
                ax_r, ax_z, ax_n = vx[:H], vx[H:2 * H], vx[2 * H:]
                ah_r, ah_z, ah_n = vh[:H], vh[H:2 * H], vh[2 * H:]
                a = act[s_off + n]
                a_r, a_z, a_n = a[:H], a[H:2 * H], a[2 * H:]
                h_old = h_prev[n]
                h_new = out[off + n]
                for j in range(H):
                    r = fast_sigmoid(gx_r[j] * ax_r[j] + gh_r[j] * ah_r[j] + b_r[j])
                    z = fast_sigmoid(gx_z[j] * ax_z[j] + gh_z[j] * ah_z[j] + b_z[j])
                    nn = fast_tanh(gx_n[j] * ax_n[j] + bx_n[j] + r * (gh_n[j] * ah_n[j] + bh_n[j]))
                    a_r[j] = r
                    a_z[j] = z
                    a_n[j] = nn
                    h_new[j] = nn + z * (h_old[j] - nn)
            if keep.shape[0] > 0:                    # zoneout: h = keep h_prev + (1 − keep) h'
                zone_out_rows(keep, off, h_prev, out[off:off + b])
            keep_finished(t, batch_sizes, off, out, h_n)
        restore_threads(threads)


@njit(cache=True, error_model="numpy", fastmath=FASTMATH, nogil=True)
def layernorm_gru_backward(x, batch_sizes, h0, w_ih, w_hh, b_hh, ln_ih, ln_hh, keep, xn_x, xn_h, act, rstd, out,
                           dout, dh_n, dx, dh0, work, dw_ih, dw_hh, db_ih, db_hh, dln_ih, dln_hh, accumulate,
                           zone_work, small_kernels):
    """Backward through the sequence saved by layernorm_gru_forward.

    dout (R, H), dh_n (N, H) in; dx (R, I), dh0 (N, H) out; work (G,) a workspace, zone_work
    (2N, H) zoneout's (zoneout.py). Weight gradients written, or added with ``accumulate``;
    db_ih, db_hh of size 0: no bias.
    """
    # views of borrowed arrays cost no atomic reference counts (borrowed.py)
    (x, h0, w_ih, w_hh, b_hh, ln_ih, ln_hh, keep, xn_x, xn_h, act, rstd, out, dout, dh_n, dx, dh0, work, dw_ih,
     dw_hh, db_ih, db_hh, dln_ih, dln_hh, zone_work) = borrow(
        x, h0, w_ih, w_hh, b_hh, ln_ih, ln_hh, keep, xn_x, xn_h, act, rstd, out, dout, dh_n, dx, dh0, work,
        dw_ih, dw_hh, db_ih, db_hh, dln_ih, dln_hh, zone_work)
    N, H = h0.shape
    G = 3 * H
    bh_n = b_hh[2 * H:]
    gh_n = ln_hh[2 * H:]
    # float64 sums over the rows: db_ih, db_hh, dln_ih, dln_hh
    totals = np.zeros((4, G), np.float64)
    t_db_h, t_dln_h = totals[1], totals[3]
    copy_rows(dh_n, 0, dh0, 0, dh_n.shape[0])          # dh0 carries dh backwards through time
    offsets = step_offsets(batch_sizes)
    threads = steps_on_one_thread()
    panels = pack_for_steps(w_hh, N, batch_sizes.shape[0], False, small_kernels)
    for t in range(batch_sizes.shape[0] - 1, -1, -1):
        off, b = offsets[t], batch_sizes[t]
        prev = offsets[t - 1] if t > 0 else 0
        h_prev = h0[:b] if t == 0 else out[prev:prev + b]
        zoned = keep.shape[0] > 0
        if zoned:                     # the step sees (1 − keep) dh; keep dh goes to h_prev
            zone_out_grads(keep, off, dout[off:off + b], dh0, zone_work)
        for n in range(b):
            a = act[off + n]
            a_r, a_z, a_n = a[:H], a[H:2 * H], a[2 * H:]
            vh = xn_h[off + n]
            xh_n = vh[2 * H:]
            h_old = h_prev[n]
            d_out = zone_work[n] if zoned else dout[off + n]
            dh_row = dh0[n]
            dgh = work
            dgh_r, dgh_z, dgh_n = dgh[:H], dgh[H:2 * H], dgh[2 * H:]
            for j in range(H):                       # the step's dh, read by the next loop
                dgh_n[j] = dh_row[j] + d_out[j]
                dh_row[j] = 0.0
            # act <- dgx (gradients of gx), dgh <- gradients of gh, dh_row += z dh
            for j in range(H):
                dh = dgh_n[j]
                r = a_r[j]
                z = a_z[j]
                nn = a_n[j]
                dan = dh * (1 - z) * (1 - nn * nn)
                daz = dh * (h_old[j] - nn) * z * (1 - z)
                dar = dan * (gh_n[j] * xh_n[j] + bh_n[j]) * r * (1 - r)
                dh_row[j] += dh * z
                a_r[j] = dar
                a_z[j] = daz
                a_n[j] = dan
                dgh_r[j] = dar
                dgh_z[j] = daz
                dgh_n[j] = dan * r
            # the recurrent branch's layer norm: gain and bias sums, then dv_h into xn_h
            for j in range(G):
                g = dgh[j]
                t_db_h[j] += g
                t_dln_h[j] += g * vh[j]
                dgh[j] = g * ln_hh[j]
            normalize_row_backward(dgh, vh, rstd[1, off + n], vh)
        # dh_prev += dv_h w_hh
        step_grad(xn_h[off:off + b], w_hh, panels, 1.0, dh0[:b], small_kernels)
        if zoned:
            add_carried(zone_work[N:N + b], dh0[:b])
    restore_threads(threads)
    _input_branch_backward(ln_ih, act, xn_x, rstd[0], totals[0], totals[2])
    input_grads(x, w_ih, True, xn_x, dx, dw_ih, accumulate)
    grads_against_prev(True, G, xn_h, G, h0, out, batch_sizes, offsets, 1.0 if accumulate else 0.0, dw_hh, H)
    if db_ih.shape[0] > 0:
        write_sums(totals[0], db_ih, accumulate)
        write_sums(totals[1], db_hh, accumulate)
    write_sums(totals[2], dln_ih, accumulate)
    write_sums(totals[3], dln_hh, accumulate)


@njit(cache=True, error_model="numpy", fastmath=FASTMATH)
def _input_branch_backward(ln_ih, dgx, xn_x, rstd, t_db, t_dln):
    """After the time loop, every row: the input branch's gain and bias sums (float64), then
    its layer norm's backward, dv_x written over x̂ in xn_x (dgx is overwritten)."""
    G = dgx.shape[1]
    for row in range(dgx.shape[0]):
        g_row = dgx[row]
        xhat = xn_x[row]
        for j in range(G):
            g = g_row[j]
            t_db[j] += g
            t_dln[j] += g * xhat[j]
            g_row[j] = g * ln_ih[j]
        normalize_row_backward(g_row, xhat, rstd[row], xhat)

