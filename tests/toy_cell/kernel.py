"""Fused minimal-gated-unit kernels (the fast twin of oracle.py), laid out as the GRU's.

    x      (T, N, I)     input
    gates  (T, N, 2H)    forward: x w_x by one GEMM, then the activated f, n;
                         backward: the x-side pre-activation gradients dA_x
    dgh    (T, N, 2H)    backward: the h-side pre-activation gradients dA_h
    saved  (T, N, H)     h w_hn + b_hn (what f multiplies)
    out    (T, N, H)     hidden state after each step

``blocks`` is the column block of (f, n); ``torch_layout`` the input weight's storage;
the recurrent weight arrives as w_rec (2H, H), rows in the layout's block order.
"""
from numba import njit

from fastrnn._kernels.activations import FASTMATH, fast_sigmoid, fast_tanh
from fastrnn._kernels.blas import gemm, recurrent_add, recurrent_grad
from fastrnn._kernels.lstm import column_sums_into


@njit(cache=True, error_model="numpy", fastmath=FASTMATH)
def mgu_forward(x, h0, w_x, w_rec, b_x, b_h, torch_layout, blocks, gates, hproj, scratch, saved, out,
                small_kernels):
    """Fill gates (activated f, n), saved and out; hproj (N, 2H) and scratch are workspaces."""
    T, N, I = x.shape
    H = h0.shape[1]
    G = 2 * H
    gemm(False, torch_layout, T * N, G, I, 1.0, x, I, w_x, I if torch_layout else G, 0.0, gates, G)
    bf, bn = blocks[0] * H, blocks[1] * H
    for t in range(T):
        h_prev = h0 if t == 0 else out[t - 1]
        recurrent_add(h_prev, w_rec, scratch, hproj, False, small_kernels)
        for n in range(N):
            g, hp, hh = gates[t, n], h_prev[n], hproj[n]
            for j in range(H):
                f = fast_sigmoid(g[bf + j] + b_x[bf + j] + hh[bf + j] + b_h[bf + j])
                ah_n = hh[bn + j] + b_h[bn + j]
                cand = fast_tanh(g[bn + j] + b_x[bn + j] + f * ah_n)
                out[t, n, j] = (1 - f) * hp[j] + f * cand
                g[bf + j] = f
                g[bn + j] = cand
                saved[t, n, j] = ah_n


@njit(cache=True, error_model="numpy", fastmath=FASTMATH)
def mgu_backward(x, h0, w_x, w_rec, torch_layout, blocks, gates, dgh, saved, out, dout, dh_n,
                 dx, dh0, dw_x, dw_h, db_x, db_h, accumulate, small_kernels):
    """dout (T, N, H), dh_n (N, H) -> dx (T, N, I), dh0 (N, H); weight grads written or added."""
    T, N, I = x.shape
    H = h0.shape[1]
    G = 2 * H
    bf, bn = blocks[0] * H, blocks[1] * H
    dh0[:, :] = dh_n
    for t in range(T - 1, -1, -1):
        h_prev = h0 if t == 0 else out[t - 1]
        for n in range(N):
            g, gh, hp, dh = gates[t, n], dgh[t, n], h_prev[n], dh0[n]
            for j in range(H):
                d = dout[t, n, j] + dh[j]
                f, cand = g[bf + j], g[bn + j]
                dan = d * f * (1 - cand * cand)
                daf = (d * (cand - hp[j]) + dan * saved[t, n, j]) * f * (1 - f)
                g[bf + j] = daf
                g[bn + j] = dan
                gh[bf + j] = daf
                gh[bn + j] = dan * f
                dh[j] = d * (1 - f)
        recurrent_grad(dgh[t], w_rec, 1.0, dh0, small_kernels)
    beta = 1.0 if accumulate else 0.0
    rows = T * N
    if torch_layout:
        gemm(False, False, rows, I, G, 1.0, gates, G, w_x, I, 0.0, dx, I)
        gemm(True, False, G, I, rows, 1.0, gates, G, x, I, beta, dw_x, I)
        gemm(True, False, G, H, rows - N, 1.0, dgh[1:], G, out, H, beta, dw_h, H)
        gemm(True, False, G, H, N, 1.0, dgh, G, h0, H, 1.0, dw_h, H)
    else:
        gemm(False, True, rows, I, G, 1.0, gates, G, w_x, G, 0.0, dx, I)
        gemm(True, False, I, G, rows, 1.0, x, I, gates, G, beta, dw_x, G)
        gemm(True, False, H, G, rows - N, 1.0, out, H, dgh[1:], G, beta, dw_h, G)
        gemm(True, False, H, G, N, 1.0, h0, H, dgh, G, 1.0, dw_h, G)
    if db_x.shape[0] > 0:
        column_sums_into(gates.reshape(rows, G), db_x, accumulate)
    if db_h.shape[0] > 0:
        column_sums_into(dgh.reshape(rows, G), db_h, accumulate)
