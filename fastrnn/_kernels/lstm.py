"""Fused LSTM sequence kernels.

Layout (one layer, one direction, time-major, G = 4 gate blocks of width H):

    x      (T, N, I)     input, C-contiguous
    gates  (T, N, 4H)    workspace: forward writes x w_x into it with one GEMM, adds the
                         recurrent GEMM per step, then overwrites it with the activated
                         gates (i, f, g, o) that backward needs; backward overwrites it
                         again with the pre-activation gradients dA.
    cs     (T, N, H)     cell state after each step
    out    (T, N, H)     hidden state after each step (also h_prev of the next step)

``torch_layout`` selects the input weight's storage: True -> w_x (4H, I) used transposed
(PyTorch); False -> w_x (I, 4H) (the book). The recurrent weight always arrives as
w_rec (4H, H), PyTorch's weight_hh layout (the book's (H, 4H) w_h as a transposed copy),
the orientation in which both per-step products run fastest (blas.recurrent_add);
``scratch`` (5H·N elements) is the per-step workspace of the forward product, and
``small_kernels`` (blas.SMALL_KERNELS) picks how the per-step products call OpenBLAS.
``blocks`` gives the column block of each gate as (i, f, g, o): (0, 1, 2, 3) for PyTorch,
(2, 0, 1, 3) for the book's f, g, i, o.

Equations (the oracle, fastrnn/oracle/lstm.py, states them in NumPy):
    a = x w_x + h w_h + bias;  i, f, o = σ(a_i, a_f, a_o);  g = tanh(a_g)
    c' = f c + i g;  h' = o tanh(c')
"""
import numpy as np
from numba import njit

from .activations import FASTMATH, fast_sigmoid, fast_tanh
from .blas import gemm, recurrent_add, recurrent_grad


@njit(cache=True, error_model="numpy", fastmath=FASTMATH)
def lstm_forward(x, h0, c0, w_x, w_rec, bias, torch_layout, blocks, gates, scratch, cs, out,
                 small_kernels):
    """Run the sequence; fill gates (activated), cs and out. Returns nothing."""
    T, N, I = x.shape
    H = h0.shape[1]
    G = 4 * H
    ld_wx = I if torch_layout else G
    gemm(False, torch_layout, T * N, G, I, 1.0, x, I, w_x, ld_wx, 0.0, gates, G)
    oi, of, og, oo = blocks[0] * H, blocks[1] * H, blocks[2] * H, blocks[3] * H
    b_i, b_f, b_g, b_o = bias[oi:oi + H], bias[of:of + H], bias[og:og + H], bias[oo:oo + H]
    for t in range(T):
        h_prev = h0 if t == 0 else out[t - 1]
        c_prev = c0 if t == 0 else cs[t - 1]
        gate_t = gates[t]
        recurrent_add(h_prev, w_rec, scratch, gate_t, True, small_kernels)
        for n in range(N):
            # per-gate slice views: indexing them with the loop counter alone lets LLVM
            # vectorise (a runtime offset inside the index adds wraparound checks)
            row = gate_t[n]
            a_i, a_f, a_g, a_o = row[oi:oi + H], row[of:of + H], row[og:og + H], row[oo:oo + H]
            cp = c_prev[n]
            c_row = cs[t, n]
            h_row = out[t, n]
            for j in range(H):
                i = fast_sigmoid(a_i[j] + b_i[j])
                f = fast_sigmoid(a_f[j] + b_f[j])
                g = fast_tanh(a_g[j] + b_g[j])
                o = fast_sigmoid(a_o[j] + b_o[j])
                c = f * cp[j] + i * g
                c_row[j] = c
                h_row[j] = o * fast_tanh(c)
                a_i[j] = i
                a_f[j] = f
                a_g[j] = g
                a_o[j] = o


@njit(cache=True, error_model="numpy", fastmath=FASTMATH)
def lstm_backward(x, h0, c0, w_x, w_rec, torch_layout, blocks, gates, cs, out,
                  dout, dh_n, dc_n, dx, dh0, dc0, dw_x, dw_h, db, accumulate, small_kernels):
    """Backward through the sequence saved by lstm_forward.

    dout (T, N, H), dh_n, dc_n (N, H) in; dx (T, N, I), dh0, dc0 (N, H) out;
    dw_x, dw_h shaped like w_x and the layout's w_h, and db (4H,) (size 0 for no bias)
    written, or added to when ``accumulate``. ``gates`` is overwritten with dA.
    """
    T, N, I = x.shape
    H = h0.shape[1]
    oi, of, og, oo = blocks[0] * H, blocks[1] * H, blocks[2] * H, blocks[3] * H
    dh0[:, :] = dh_n          # dh0 / dc0 carry dh, dc backwards through time
    dc0[:, :] = dc_n
    for t in range(T - 1, -1, -1):
        c_prev = c0 if t == 0 else cs[t - 1]
        gate_t = gates[t]
        for n in range(N):
            row = gate_t[n]
            a_i, a_f, a_g, a_o = row[oi:oi + H], row[of:of + H], row[og:og + H], row[oo:oo + H]
            cp = c_prev[n]
            c_row = cs[t, n]
            d_out = dout[t, n]
            dh_row = dh0[n]
            dc_row = dc0[n]
            for j in range(H):
                i = a_i[j]
                f = a_f[j]
                g = a_g[j]
                o = a_o[j]
                tc = fast_tanh(c_row[j])
                dh = d_out[j] + dh_row[j]
                dc = dc_row[j] + dh * o * (1 - tc * tc)
                dc_row[j] = dc * f
                a_i[j] = dc * g * i * (1 - i)
                a_f[j] = dc * cp[j] * f * (1 - f)
                a_g[j] = dc * i * (1 - g * g)
                a_o[j] = dh * tc * o * (1 - o)
        # dh_prev = dA_t w_rec
        recurrent_grad(gate_t, w_rec, 0.0, dh0, small_kernels)
    _weight_grads(x, h0, w_x, torch_layout, gates, out, dx, dw_x, dw_h, db, accumulate)


@njit(cache=True, error_model="numpy", fastmath=FASTMATH)
def _weight_grads(x, h0, w_x, torch_layout, dgates, out, dx, dw_x, dw_h, db, accumulate):
    """After the time loop: dx, dw_x, dw_h as single GEMMs over all T·N rows, db as a sum.

    Shared by every cell whose recurrent GEMM sees the whole dA (LSTM, RNN). Needs T >= 1;
    the first dw_h GEMM (steps 1..T-1, possibly empty) applies beta, the step-0 one adds.
    """
    T, N, I = x.shape
    H = h0.shape[1]
    G = dgates.shape[2]
    beta = 1.0 if accumulate else 0.0
    rows = T * N
    if torch_layout:
        gemm(False, False, rows, I, G, 1.0, dgates, G, w_x, I, 0.0, dx, I)
        gemm(True, False, G, I, rows, 1.0, dgates, G, x, I, beta, dw_x, I)
        gemm(True, False, G, H, rows - N, 1.0, dgates[1:], G, out, H, beta, dw_h, H)
        gemm(True, False, G, H, N, 1.0, dgates, G, h0, H, 1.0, dw_h, H)
    else:
        gemm(False, True, rows, I, G, 1.0, dgates, G, w_x, G, 0.0, dx, I)
        gemm(True, False, I, G, rows, 1.0, x, I, dgates, G, beta, dw_x, G)
        gemm(True, False, H, G, rows - N, 1.0, out, H, dgates[1:], G, beta, dw_h, G)
        gemm(True, False, H, G, N, 1.0, h0, H, dgates, G, 1.0, dw_h, G)
    if db.shape[0] > 0:
        column_sums_into(dgates.reshape(rows, G), db, accumulate)


@njit(cache=True, error_model="numpy", fastmath=FASTMATH)
def column_sums_into(rows, out, accumulate):
    """out (C,) = Σ_r rows[r, :] (or += when accumulate), accumulated in float64."""
    total = np.zeros(rows.shape[1], np.float64)
    for r in range(rows.shape[0]):
        row = rows[r]
        for k in range(rows.shape[1]):
            total[k] += row[k]
    for k in range(out.shape[0]):
        out[k] = (out[k] + total[k]) if accumulate else total[k]
