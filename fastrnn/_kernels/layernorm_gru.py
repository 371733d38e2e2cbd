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

Forward only (``save_rows`` False): xn_x holds the rows of ``chunk_steps`` steps (the input
projection and its normalisation run a chunk at a time), xn_h and act (N, G) one step's, and
rstd is not written, so memory does not grow with T beyond out.

Per step the forward runs one product h_prev w_hhᵀ (panels.step_add) and one pass per
row: the layer norm of the row's two branches (layer_norm.normalize_row, float64
statistics), then gates, h' and zoneout. The backward runs one pass per row per step (zoneout split, gate gradients, the
recurrent branch's LN backward, its gain and bias gradients summed in float64) and the
product dv_h w_hh (panels.step_grad); after the time loop one pass over all rows for the
input branch's LN backward, then the GEMMs dx = dv_x w_ih, dW_ih = Σ dv_xᵀ x and
dW_hh = Σ dv_hᵀ h_prev (packed.py).

The time loop is loop.py's; this file holds the cell's steps, bound into it.
Equations in NumPy: fastrnn/oracle/layernorm_gru.py.
"""
import numpy as np
from numba import njit

from .activations import FASTMATH, FASTMATH_LOOP, fast_sigmoid, fast_tanh
from .borrowed import borrow
from .layer_norm import normalize_row, normalize_row_backward
from .loop import nothing_to_finish, nothing_to_start, sequence_backward, sequence_forward, the_recurrent_weight
from .panels import step_add, step_grad
from .packed import grads_against_prev, input_grads, write_sums
from .template import instantiate
from .zoneout import add_carried, zone_out_grads, zone_out_rows


# --- forward: the loop's gates are xn_x; cell = (b_rz, b_ih, b_hh, ln_ih, ln_hh, xn_h, act, rstd,
#              save_rows) --------------------------------------------------------------------------

@njit(cache=True, inline="always")
def _product(cell, h_prev, w_hh, panels, scratch, xn_x, out, g_off, off, b, small_kernels):
    """xn_h rows = h_prev w_hhᵀ (normalised by the step)."""
    xn_h, save_rows = cell[5], cell[8]
    s_off = off if save_rows else 0          # forward only, xn_h holds one step's rows
    step_add(h_prev, w_hh, panels, scratch, xn_h[s_off:s_off + b], False, small_kernels)


@njit(cache=True, error_model="numpy", fastmath=FASTMATH_LOOP, inline="always")
def _step(cell, t, off, g_off, prev, b, h_prev, xn_x, out, save_rows):
    b_rz, b_ih, b_hh, ln_ih, ln_hh, xn_h, act, rstd, _ = cell
    H = out.shape[1]
    b_r, b_z = b_rz[:H], b_rz[H:]
    bx_n, bh_n = b_ih[2 * H:], b_hh[2 * H:]
    gx_r, gx_z, gx_n = ln_ih[:H], ln_ih[H:2 * H], ln_ih[2 * H:]
    gh_r, gh_z, gh_n = ln_hh[:H], ln_hh[H:2 * H], ln_hh[2 * H:]
    s_off = off if save_rows else 0
    # Loops index per-gate slice views with the loop counter only, and loop-invariant
    # branches sit outside the inner loops, so that LLVM vectorises them.
    for n in range(b):
        vx = xn_x[g_off + n]
        sx = normalize_row(vx, vx)               # the input branch's layer norm, in place
        vh = xn_h[s_off + n]
        sh = normalize_row(vh, vh)
        if save_rows:
            rstd[0, off + n] = sx
            rstd[1, off + n] = sh
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


_forward_loop = instantiate(sequence_forward, "layernorm_gru_forward_loop", inline="always",
                            product_weight=the_recurrent_weight, product=_product, step=_step,
                            start=nothing_to_start, finish=nothing_to_finish, zone_out=zone_out_rows)


@njit(cache=True, error_model="numpy", fastmath=FASTMATH_LOOP, nogil=True)
def layernorm_gru_forward(x, batch_sizes, h0, w_ih, w_hh, b_ih, b_hh, ln_ih, ln_hh, keep, chunk_steps, save_rows,
                          xn_x, xn_h, act, rstd, scratch, out, h_n, small_kernels):
    """Run the sequence; fill out (R, H) and each sequence's final h_n (N, H).

    b_ih, b_hh (G,) (zeros without bias), ln_ih, ln_hh (G,) the gains. Training
    (``save_rows``, chunk_steps >= T): xn_x, xn_h, act and rstd end holding what
    layernorm_gru_backward reads. scratch holds 4H·N elements (the products' workspace).
    """
    # views of borrowed arrays cost no atomic reference counts (borrowed.py)
    (x, h0, w_ih, w_hh, b_ih, b_hh, ln_ih, ln_hh, keep, xn_x, xn_h, act, rstd, scratch, out, h_n) = borrow(
        x, h0, w_ih, w_hh, b_ih, b_hh, ln_ih, ln_hh, keep, xn_x, xn_h, act, rstd, scratch, out, h_n)
    H = h0.shape[1]
    b_rz = b_ih[:2 * H] + b_hh[:2 * H]
    cell = (b_rz, b_ih, b_hh, ln_ih, ln_hh, xn_h, act, rstd, save_rows)
    _forward_loop(x, batch_sizes, h0, w_ih, w_hh, True, cell, xn_x, scratch, out, h_n, keep, chunk_steps,
                  save_rows, small_kernels)


# --- backward: the loop's dgates are act (dgx); cell = (b_hh, ln_ih, ln_hh, xn_x, xn_h, rstd, h0, out,
#               work, totals, grads) with totals (4, G) float64 (db_ih, db_hh, dln_ih, dln_hh sums)
#               and grads = (db_hh, dln_ih, dln_hh) -----------------------------------------------------

@njit(cache=True, error_model="numpy", fastmath=FASTMATH_LOOP, inline="always")
def _grad_step(cell, t, off, prev, b, d_out, dh, act):
    b_hh, ln_ih, ln_hh, xn_x, xn_h, rstd, h0, out, work, totals, _ = cell
    H = h0.shape[1]
    G = 3 * H
    bh_n = b_hh[2 * H:]
    gh_n = ln_hh[2 * H:]
    t_db_h, t_dln_h = totals[1], totals[3]
    h_prev = h0[:b] if t == 0 else out[prev:prev + b]
    for n in range(b):
        a = act[off + n]
        a_r, a_z, a_n = a[:H], a[H:2 * H], a[2 * H:]
        vh = xn_h[off + n]
        xh_n = vh[2 * H:]
        h_old = h_prev[n]
        o_row = d_out[n]
        dh_row = dh[n]
        dgh = work
        dgh_r, dgh_z, dgh_n = dgh[:H], dgh[H:2 * H], dgh[2 * H:]
        for j in range(H):                       # the step's dh, read by the next loop
            dgh_n[j] = dh_row[j] + o_row[j]
            dh_row[j] = 0.0
        # act <- dgx (gradients of gx), dgh <- gradients of gh, dh_row += z dh
        for j in range(H):
            d = dgh_n[j]
            r = a_r[j]
            z = a_z[j]
            nn = a_n[j]
            dan = d * (1 - z) * (1 - nn * nn)
            daz = d * (h_old[j] - nn) * z * (1 - z)
            dar = dan * (gh_n[j] * xh_n[j] + bh_n[j]) * r * (1 - r)
            dh_row[j] += d * z
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


@njit(cache=True, inline="always")
def _grad_product(cell, t, off, prev, b, w_hh, panels, act, dh, small_kernels):
    """dh_prev += dv_h w_hh."""
    xn_h = cell[4]
    step_grad(xn_h[off:off + b], w_hh, panels, 1.0, dh[:b], small_kernels)


@njit(cache=True, inline="always")
def _weight_grads(cell, x, h0, w_ih, torch_layout, act, out, batch_sizes, offsets, dx, dw_ih, dw_hh, db_ih,
                  accumulate):
    b_hh, ln_ih, ln_hh, xn_x, xn_h, rstd, h0, out, work, totals, (db_hh, dln_ih, dln_hh) = cell
    G = xn_h.shape[1]
    _input_branch_backward(ln_ih, act, xn_x, rstd[0], totals[0], totals[2])
    input_grads(x, w_ih, True, xn_x, dx, dw_ih, accumulate)
    grads_against_prev(True, G, xn_h, G, h0, out, batch_sizes, offsets, 1.0 if accumulate else 0.0, dw_hh,
                       h0.shape[1])
    if db_ih.shape[0] > 0:
        write_sums(totals[0], db_ih, accumulate)
        write_sums(totals[1], db_hh, accumulate)
    write_sums(totals[2], dln_ih, accumulate)
    write_sums(totals[3], dln_hh, accumulate)


_backward_loop = instantiate(sequence_backward, "layernorm_gru_backward_loop", inline="always",
                             grad_step=_grad_step, grad_product=_grad_product, weight_grads=_weight_grads,
                             start_backward=nothing_to_start, zone_out_grads=zone_out_grads,
                             add_carried=add_carried)


@njit(cache=True, error_model="numpy", fastmath=FASTMATH_LOOP, nogil=True)
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
    totals = np.zeros((4, xn_h.shape[1]), np.float64)      # float64 sums over the rows
    cell = (b_hh, ln_ih, ln_hh, xn_x, xn_h, rstd, h0, out, work, totals, (db_hh, dln_ih, dln_hh))
    _backward_loop(x, batch_sizes, h0, w_ih, w_hh, True, cell, out, dout, dh_n, dx, dh0, act, dw_ih, dw_hh, db_ih,
                   accumulate, keep, zone_work, small_kernels)


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

