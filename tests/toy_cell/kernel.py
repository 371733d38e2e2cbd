"""Fused minimal-gated-unit kernels (the fast twin of oracle.py): the library's time loop
(fastrnn/_kernels/loop.py) with this cell's steps bound into it, laid out as the GRU's:

    x      (R, I)      input rows; step t is rows offsets[t]:offsets[t+1] (b_t of them)
    gates  (R, 2H)     forward: x w_x by one GEMM, then the activated f, n;
                       backward: the x-side pre-activation gradients dA_x
    hproj  (N, 2H)     forward: the step's h w_recᵀ
    dgh    (R, 2H)     backward: the h-side pre-activation gradients dA_h
    saved  (R, H)      h w_hn + b_hn (what f multiplies)
    out    (R, H)      hidden state after each step

``blocks`` is the column block of (f, n); ``torch_layout`` the input weight's storage;
the recurrent weight arrives as w_rec (2H, H), rows in the layout's block order. The loop
brings the panels, borrowed arrays, ``nogil`` and the thread rules; this file writes the
step, the gradient step, where the product goes and the weight gradients.
"""
from numba import njit

from fastrnn._kernels.activations import FASTMATH_LOOP, fast_sigmoid, fast_tanh
from fastrnn._kernels.borrowed import borrow
from fastrnn._kernels.loop import (no_carried, no_zoneout, no_zoneout_grads, nothing_to_finish, nothing_to_start,
                                   sequence_backward, sequence_forward, the_recurrent_weight)
from fastrnn._kernels.packed import column_sums_into, grads_against_prev, input_grads, recurrent_ld
from fastrnn._kernels.panels import step_add, step_grad
from fastrnn._kernels.template import instantiate


# --- forward: cell = ((bf, bn), b_x, b_h, hproj, saved) --------------------------------------------

@njit(cache=True, inline="always")
def _product(cell, h_prev, w_rec, panels, scratch, gates, out, g_off, off, b, small_kernels):
    hproj = cell[3]
    step_add(h_prev, w_rec, panels, scratch, hproj[:b], False, small_kernels)      # hproj = h w_recᵀ


@njit(cache=True, error_model="numpy", fastmath=FASTMATH_LOOP, inline="always")
def _step(cell, t, off, g_off, prev, b, h_prev, gates, out, save_rows):
    (bf, bn), b_x, b_h, hproj, saved = cell
    H = out.shape[1]
    for n in range(b):
        g, hp, hh, s, h_new = gates[g_off + n], h_prev[n], hproj[n], saved[off + n], out[off + n]
        for j in range(H):
            f = fast_sigmoid(g[bf + j] + b_x[bf + j] + hh[bf + j] + b_h[bf + j])
            ah_n = hh[bn + j] + b_h[bn + j]
            cand = fast_tanh(g[bn + j] + b_x[bn + j] + f * ah_n)
            h_new[j] = (1 - f) * hp[j] + f * cand
            g[bf + j] = f
            g[bn + j] = cand
            s[j] = ah_n


_forward_loop = instantiate(sequence_forward, "toy_mgu_forward_loop", inline="always",
                            product_weight=the_recurrent_weight, product=_product, step=_step,
                            start=nothing_to_start, finish=nothing_to_finish, zone_out=no_zoneout)


@njit(cache=True, error_model="numpy", fastmath=FASTMATH_LOOP, nogil=True)
def mgu_forward(x, batch_sizes, h0, w_x, w_rec, b_x, b_h, torch_layout, blocks, gates, hproj, scratch, saved,
                out, h_n, small_kernels):
    """Fill gates (activated f, n), saved, out and the final h_n; hproj (N, 2H) and scratch (3H·N) are workspaces."""
    x, h0, w_x, w_rec, b_x, b_h, gates, hproj, scratch, saved, out, h_n = borrow(
        x, h0, w_x, w_rec, b_x, b_h, gates, hproj, scratch, saved, out, h_n)
    H = h0.shape[1]
    cell = ((blocks[0] * H, blocks[1] * H), b_x, b_h, hproj, saved)
    _forward_loop(x, batch_sizes, h0, w_x, w_rec, torch_layout, cell, gates, scratch, out, h_n, out[:0],
                  max(batch_sizes.shape[0], 1), True, small_kernels)


# --- backward: cell = ((bf, bn), h0, out, dgh, saved, db_h) ----------------------------------------

@njit(cache=True, error_model="numpy", fastmath=FASTMATH_LOOP, inline="always")
def _grad_step(cell, t, off, prev, b, d_out, dh, gates):
    (bf, bn), h0, out, dgh, saved, db_h = cell
    H = h0.shape[1]
    h_prev = h0[:b] if t == 0 else out[prev:prev + b]
    for n in range(b):
        g, gh, hp, dh_row, s, o_row = gates[off + n], dgh[off + n], h_prev[n], dh[n], saved[off + n], d_out[n]
        for j in range(H):
            d = o_row[j] + dh_row[j]
            f, cand = g[bf + j], g[bn + j]
            dan = d * f * (1 - cand * cand)
            daf = (d * (cand - hp[j]) + dan * s[j]) * f * (1 - f)
            g[bf + j] = daf
            g[bn + j] = dan
            gh[bf + j] = daf
            gh[bn + j] = dan * f
            dh_row[j] = d * (1 - f)


@njit(cache=True, inline="always")
def _grad_product(cell, t, off, prev, b, w_rec, panels, gates, dh, small_kernels):
    dgh = cell[3]
    step_grad(dgh[off:off + b], w_rec, panels, 1.0, dh[:b], small_kernels)      # dh_prev += dA_h w_rec


@njit(cache=True, inline="always")
def _weight_grads(cell, x, h0, w_x, torch_layout, gates, out, batch_sizes, offsets, dx, dw_x, dw_h, db_x,
                  accumulate):
    dgh, db_h = cell[3], cell[5]
    H = h0.shape[1]
    G = 2 * H
    input_grads(x, w_x, torch_layout, gates, dx, dw_x, accumulate)
    grads_against_prev(torch_layout, G, dgh, G, h0, out, batch_sizes, offsets, 1.0 if accumulate else 0.0, dw_h,
                       recurrent_ld(torch_layout, H, G))
    if db_x.shape[0] > 0:
        column_sums_into(gates, db_x, accumulate)
    if db_h.shape[0] > 0:
        column_sums_into(dgh, db_h, accumulate)


_backward_loop = instantiate(sequence_backward, "toy_mgu_backward_loop", inline="always", grad_step=_grad_step,
                             grad_product=_grad_product, weight_grads=_weight_grads,
                             start_backward=nothing_to_start, zone_out_grads=no_zoneout_grads,
                             add_carried=no_carried)


@njit(cache=True, error_model="numpy", fastmath=FASTMATH_LOOP, nogil=True)
def mgu_backward(x, batch_sizes, h0, w_x, w_rec, torch_layout, blocks, gates, dgh, saved, out, dout, dh_n,
                 dx, dh0, dw_x, dw_h, db_x, db_h, accumulate, small_kernels):
    """dout (R, H), dh_n (N, H) -> dx (R, I), dh0 (N, H); weight grads written or added."""
    (x, h0, w_x, w_rec, gates, dgh, saved, out, dout, dh_n, dx, dh0, dw_x, dw_h, db_x, db_h) = borrow(
        x, h0, w_x, w_rec, gates, dgh, saved, out, dout, dh_n, dx, dh0, dw_x, dw_h, db_x, db_h)
    H = h0.shape[1]
    cell = ((blocks[0] * H, blocks[1] * H), h0, out, dgh, saved, db_h)
    _backward_loop(x, batch_sizes, h0, w_x, w_rec, torch_layout, cell, out, dout, dh_n, dx, dh0, gates, dw_x, dw_h,
                   db_x, accumulate, out[:0], out[:0], small_kernels)
