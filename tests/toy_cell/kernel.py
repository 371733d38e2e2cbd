"""Fused minimal-gated-unit kernels (the fast twin of oracle.py), on packed rows like the
library's (fastrnn/_kernels/packed.py), laid out as the GRU's:

    x      (R, I)      input rows; step t is rows offsets[t]:offsets[t+1] (b_t of them)
    gates  (R, 2H)     forward: x w_x by one GEMM, then the activated f, n;
                       backward: the x-side pre-activation gradients dA_x
    dgh    (R, 2H)     backward: the h-side pre-activation gradients dA_h
    saved  (R, H)      h w_hn + b_hn (what f multiplies)
    out    (R, H)      hidden state after each step

``blocks`` is the column block of (f, n); ``torch_layout`` the input weight's storage;
the recurrent weight arrives as w_rec (2H, H), rows in the layout's block order.
"""
from numba import njit

from fastrnn._kernels.activations import FASTMATH, fast_sigmoid, fast_tanh
from fastrnn._kernels.blas import gemm, recurrent_add, recurrent_grad
from fastrnn._kernels.packed import (column_sums_into, grads_against_prev, input_grads, keep_finished,
                                     keep_unstarted, recurrent_ld, step_offsets)


@njit(cache=True, error_model="numpy", fastmath=FASTMATH)
def mgu_forward(x, batch_sizes, h0, w_x, w_rec, b_x, b_h, torch_layout, blocks, gates, hproj, scratch, saved,
                out, h_n, small_kernels):
    """Fill gates (activated f, n), saved, out and the final h_n; hproj (N, 2H) and scratch are workspaces."""
    R, I = x.shape
    H = h0.shape[1]
    G = 2 * H
    gemm(False, torch_layout, R, G, I, 1.0, x, I, w_x, I if torch_layout else G, 0.0, gates, G)
    bf, bn = blocks[0] * H, blocks[1] * H
    offsets = step_offsets(batch_sizes)
    keep_unstarted(batch_sizes, h0, h_n)
    for t in range(batch_sizes.shape[0]):
        off, b = offsets[t], batch_sizes[t]
        prev = offsets[t - 1] if t > 0 else 0
        h_prev = h0[:b] if t == 0 else out[prev:prev + b]
        recurrent_add(h_prev, w_rec, scratch, hproj[:b], False, small_kernels)
        for n in range(b):
            g, hp, hh, s, h_new = gates[off + n], h_prev[n], hproj[n], saved[off + n], out[off + n]
            for j in range(H):
                f = fast_sigmoid(g[bf + j] + b_x[bf + j] + hh[bf + j] + b_h[bf + j])
                ah_n = hh[bn + j] + b_h[bn + j]
                cand = fast_tanh(g[bn + j] + b_x[bn + j] + f * ah_n)
                h_new[j] = (1 - f) * hp[j] + f * cand
                g[bf + j] = f
                g[bn + j] = cand
                s[j] = ah_n
        keep_finished(t, batch_sizes, off, out, h_n)


@njit(cache=True, error_model="numpy", fastmath=FASTMATH)
def mgu_backward(x, batch_sizes, h0, w_x, w_rec, torch_layout, blocks, gates, dgh, saved, out, dout, dh_n,
                 dx, dh0, dw_x, dw_h, db_x, db_h, accumulate, small_kernels):
    """dout (R, H), dh_n (N, H) -> dx (R, I), dh0 (N, H); weight grads written or added."""
    H = h0.shape[1]
    G = 2 * H
    bf, bn = blocks[0] * H, blocks[1] * H
    dh0[:, :] = dh_n
    offsets = step_offsets(batch_sizes)
    for t in range(batch_sizes.shape[0] - 1, -1, -1):
        off, b = offsets[t], batch_sizes[t]
        prev = offsets[t - 1] if t > 0 else 0
        h_prev = h0[:b] if t == 0 else out[prev:prev + b]
        for n in range(b):
            g, gh, hp, dh, s, d_out = gates[off + n], dgh[off + n], h_prev[n], dh0[n], saved[off + n], dout[off + n]
            for j in range(H):
                d = d_out[j] + dh[j]
                f, cand = g[bf + j], g[bn + j]
                dan = d * f * (1 - cand * cand)
                daf = (d * (cand - hp[j]) + dan * s[j]) * f * (1 - f)
                g[bf + j] = daf
                g[bn + j] = dan
                gh[bf + j] = daf
                gh[bn + j] = dan * f
                dh[j] = d * (1 - f)
        recurrent_grad(dgh[off:off + b], w_rec, 1.0, dh0[:b], small_kernels)
    input_grads(x, w_x, torch_layout, gates, dx, dw_x, accumulate)
    grads_against_prev(torch_layout, G, dgh, G, h0, out, batch_sizes, offsets, 1.0 if accumulate else 0.0, dw_h,
                       recurrent_ld(torch_layout, H, G))
    if db_x.shape[0] > 0:
        column_sums_into(gates, db_x, accumulate)
    if db_h.shape[0] > 0:
        column_sums_into(dgh, db_h, accumulate)
