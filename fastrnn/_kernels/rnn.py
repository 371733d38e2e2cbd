"""Fused Elman RNN sequence kernels.

Layout (one layer, one direction, time-major):

    x      (T, N, I)   input, C-contiguous
    out    (T, N, H)   forward: x w_x by one GEMM for all steps, then per step += h_prev w_h
                       and the activation in place, so out[t] is h_t (and what backward needs)
    dpre   (T, N, H)   backward workspace: gradient of the pre-activation

``torch_layout``: True -> w_x (H, I) used transposed; False -> w_x (I, H). The recurrent
weight arrives as w_rec (H, H) in PyTorch's layout (the book's w_h transposed), see
lstm.py; ``scratch`` (2H·N) is the forward product's workspace. ``relu``: False for tanh,
True for relu.
Equations in NumPy: fastrnn/oracle/rnn.py.
"""
from numba import njit

from .activations import FASTMATH, fast_tanh
from .blas import gemm, recurrent_add, recurrent_grad
from .lstm import _weight_grads


@njit(cache=True, error_model="numpy", fastmath=FASTMATH)
def rnn_forward(x, h0, w_x, w_rec, bias, torch_layout, relu, scratch, out, small_kernels):
    """Run the sequence; fill out (T, N, H)."""
    T, N, I = x.shape
    H = h0.shape[1]
    gemm(False, torch_layout, T * N, H, I, 1.0, x, I, w_x, I if torch_layout else H, 0.0, out, H)
    for t in range(T):
        h_prev = h0 if t == 0 else out[t - 1]
        out_t = out[t]
        recurrent_add(h_prev, w_rec, scratch, out_t, True, small_kernels)
        for n in range(N):
            row = out_t[n]
            if relu:
                for j in range(H):
                    a = row[j] + bias[j]
                    row[j] = 0.0 if a < 0 else a      # NaN stays NaN
            else:
                for j in range(H):
                    row[j] = fast_tanh(row[j] + bias[j])


@njit(cache=True, error_model="numpy", fastmath=FASTMATH)
def rnn_backward(x, h0, w_x, w_rec, torch_layout, relu, out, dout, dh_n,
                 dx, dh0, dpre, dw_x, dw_h, db, accumulate, small_kernels):
    """dout (T, N, H), dh_n (N, H) -> dx (T, N, I), dh0 (N, H); weight grads written or added."""
    T, N, I = x.shape
    H = h0.shape[1]
    dh0[:, :] = dh_n          # dh0 carries dh backwards through time
    for t in range(T - 1, -1, -1):
        out_t = out[t]
        dpre_t = dpre[t]
        for n in range(N):
            h_row = out_t[n]
            d_out = dout[t, n]
            dh_row = dh0[n]
            d_row = dpre_t[n]
            if relu:
                for j in range(H):
                    d_row[j] = (d_out[j] + dh_row[j]) if h_row[j] > 0 else 0.0
            else:
                for j in range(H):
                    d_row[j] = (d_out[j] + dh_row[j]) * (1 - h_row[j] * h_row[j])
        recurrent_grad(dpre_t, w_rec, 0.0, dh0, small_kernels)
    _weight_grads(x, h0, w_x, torch_layout, dpre, out, dx, dw_x, dw_h, db, accumulate)
