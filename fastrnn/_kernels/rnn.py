"""Fused Elman RNN sequence kernels.

Layout (one layer, one direction; a packed batch, see packed.py):

    x      (R, I)   input rows, C-contiguous; step t is rows offsets[t]:offsets[t+1]
    out    (R, H)   forward: x w_x by one GEMM for all rows, then per step += h_prev w_h
                    and the activation in place, so out holds h_t (and what backward needs)
    dpre   (R, H)   backward workspace: gradient of the pre-activation

``torch_layout``: True -> w_x (H, I) used transposed; False -> w_x (I, H). The recurrent
weight arrives as w_rec (H, H) in PyTorch's layout (the book's w_h transposed), see
lstm.py; ``scratch`` (2H·N) is the forward product's workspace. ``relu``: False for tanh,
True for relu.
Equations in NumPy: fastrnn/oracle/rnn.py.
"""
from numba import njit

from .activations import FASTMATH, fast_tanh
from .blas import input_projection, restore_threads, steps_on_one_thread
from .borrowed import borrow
from .panels import pack_for_steps, step_add, step_grad
from .packed import copy_rows, keep_finished, keep_unstarted, step_offsets, weight_grads


@njit(cache=True, error_model="numpy", fastmath=FASTMATH, nogil=True)
def rnn_forward(x, batch_sizes, h0, w_x, w_rec, b_x, b_h, torch_layout, relu, scratch, out, h_n, small_kernels):
    """Run the sequence; fill out (R, H) and each sequence's final h_n (N, H); b_x, b_h (H,)."""
    # views of borrowed arrays cost no atomic reference counts (borrowed.py)
    x, h0, w_x, w_rec, b_x, b_h, scratch, out, h_n = borrow(x, h0, w_x, w_rec, b_x, b_h, scratch, out, h_n)
    H = h0.shape[1]
    input_projection(x, w_x, torch_layout, scratch, out)
    offsets = step_offsets(batch_sizes)
    keep_unstarted(batch_sizes, h0, h_n)
    threads = steps_on_one_thread()
    panels = pack_for_steps(w_rec, h0.shape[0], batch_sizes.shape[0], True, small_kernels)
    for t in range(batch_sizes.shape[0]):
        off, b = offsets[t], batch_sizes[t]
        prev = offsets[t - 1] if t > 0 else 0
        h_prev = h0[:b] if t == 0 else out[prev:prev + b]
        step_add(h_prev, w_rec, panels, scratch, out[off:off + b], True, small_kernels)
        for n in range(b):
            row = out[off + n]
            if relu:
                for j in range(H):
                    a = row[j] + b_x[j] + b_h[j]
                    row[j] = 0.0 if a < 0 else a      # NaN stays NaN
            else:
                for j in range(H):
                    row[j] = fast_tanh(row[j] + b_x[j] + b_h[j])
        keep_finished(t, batch_sizes, off, out, h_n)
    restore_threads(threads)


@njit(cache=True, error_model="numpy", fastmath=FASTMATH, nogil=True)
def rnn_backward(x, batch_sizes, h0, w_x, w_rec, torch_layout, relu, out, dout, dh_n,
                 dx, dh0, dpre, dw_x, dw_h, db, accumulate, small_kernels):
    """dout (R, H), dh_n (N, H) -> dx (R, I), dh0 (N, H); weight grads written or added."""
    # views of borrowed arrays cost no atomic reference counts (borrowed.py)
    (x, h0, w_x, w_rec, out, dout, dh_n, dx, dh0, dpre, dw_x, dw_h, db) = borrow(
        x, h0, w_x, w_rec, out, dout, dh_n, dx, dh0, dpre, dw_x, dw_h, db)
    H = h0.shape[1]
    copy_rows(dh_n, 0, dh0, 0, dh_n.shape[0])          # dh0 carries dh backwards through time
    offsets = step_offsets(batch_sizes)
    threads = steps_on_one_thread()
    panels = pack_for_steps(w_rec, h0.shape[0], batch_sizes.shape[0], False, small_kernels)
    for t in range(batch_sizes.shape[0] - 1, -1, -1):
        off, b = offsets[t], batch_sizes[t]
        for n in range(b):
            h_row = out[off + n]
            d_out = dout[off + n]
            dh_row = dh0[n]
            d_row = dpre[off + n]
            if relu:
                for j in range(H):
                    d_row[j] = (d_out[j] + dh_row[j]) if h_row[j] > 0 else 0.0
            else:
                for j in range(H):
                    d_row[j] = (d_out[j] + dh_row[j]) * (1 - h_row[j] * h_row[j])
        step_grad(dpre[off:off + b], w_rec, panels, 0.0, dh0[:b], small_kernels)
    restore_threads(threads)
    weight_grads(x, h0, w_x, torch_layout, dpre, out, batch_sizes, offsets, dx, dw_x, dw_h, db, accumulate)
