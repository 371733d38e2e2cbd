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
The time loop is loop.py's; this file holds the RNN's steps, bound into it.
Equations in NumPy: fastrnn/oracle/rnn.py.
"""
from numba import njit

from .activations import FASTMATH_LOOP, fast_tanh
from .borrowed import borrow
from .loop import (all_weight_grads, grads_through_w_rec, no_carried, no_zoneout, no_zoneout_grads, nothing_to_finish,
                   nothing_to_start, sequence_backward, sequence_forward, the_recurrent_weight)
from .panels import step_add
from .template import instantiate


# --- forward: the product and the step both work in out (gates is out); cell = (b_x, b_h, relu) ---

@njit(cache=True, inline="always")
def _product(cell, h_prev, w_rec, panels, scratch, gates, out, g_off, off, b, small_kernels):
    step_add(h_prev, w_rec, panels, scratch, out[off:off + b], True, small_kernels)


@njit(cache=True, error_model="numpy", fastmath=FASTMATH_LOOP, inline="always")
def _step(cell, t, off, g_off, prev, b, h_prev, gates, out, save_rows):
    b_x, b_h, relu = cell
    H = out.shape[1]
    for n in range(b):
        row = out[off + n]
        if relu:
            for j in range(H):
                a = row[j] + b_x[j] + b_h[j]
                row[j] = 0.0 if a < 0 else a      # NaN stays NaN
        else:
            for j in range(H):
                row[j] = fast_tanh(row[j] + b_x[j] + b_h[j])


_forward_loop = instantiate(sequence_forward, "rnn_forward_loop", inline="always",
                            product_weight=the_recurrent_weight, product=_product, step=_step,
                            start=nothing_to_start, finish=nothing_to_finish, zone_out=no_zoneout)


@njit(cache=True, error_model="numpy", fastmath=FASTMATH_LOOP, nogil=True)
def rnn_forward(x, batch_sizes, h0, w_x, w_rec, b_x, b_h, torch_layout, relu, scratch, out, h_n, small_kernels):
    """Run the sequence; fill out (R, H) and each sequence's final h_n (N, H); b_x, b_h (H,)."""
    # views of borrowed arrays cost no atomic reference counts (borrowed.py)
    x, h0, w_x, w_rec, b_x, b_h, scratch, out, h_n = borrow(x, h0, w_x, w_rec, b_x, b_h, scratch, out, h_n)
    T = batch_sizes.shape[0]
    _forward_loop(x, batch_sizes, h0, w_x, w_rec, torch_layout, (b_x, b_h, relu), out, scratch, out, h_n,
                  out[:0], max(T, 1), True, small_kernels)


# --- backward: cell = (out, relu) ------------------------------------------------------------------

@njit(cache=True, error_model="numpy", fastmath=FASTMATH_LOOP, inline="always")
def _grad_step(cell, t, off, prev, b, d_out, dh, dgates):
    out, relu = cell
    H = out.shape[1]
    for n in range(b):
        h_row = out[off + n]
        o_row = d_out[n]
        dh_row = dh[n]
        d_row = dgates[off + n]
        if relu:
            for j in range(H):
                d_row[j] = (o_row[j] + dh_row[j]) if h_row[j] > 0 else 0.0
        else:
            for j in range(H):
                d_row[j] = (o_row[j] + dh_row[j]) * (1 - h_row[j] * h_row[j])


_backward_loop = instantiate(sequence_backward, "rnn_backward_loop", inline="always",
                             grad_step=_grad_step, grad_product=grads_through_w_rec,
                             weight_grads=all_weight_grads, start_backward=nothing_to_start,
                             zone_out_grads=no_zoneout_grads, add_carried=no_carried)


@njit(cache=True, error_model="numpy", fastmath=FASTMATH_LOOP, nogil=True)
def rnn_backward(x, batch_sizes, h0, w_x, w_rec, torch_layout, relu, out, dout, dh_n,
                 dx, dh0, dpre, dw_x, dw_h, db, accumulate, small_kernels):
    """dout (R, H), dh_n (N, H) -> dx (R, I), dh0 (N, H); weight grads written or added."""
    # views of borrowed arrays cost no atomic reference counts (borrowed.py)
    (x, h0, w_x, w_rec, out, dout, dh_n, dx, dh0, dpre, dw_x, dw_h, db) = borrow(
        x, h0, w_x, w_rec, out, dout, dh_n, dx, dh0, dpre, dw_x, dw_h, db)
    _backward_loop(x, batch_sizes, h0, w_x, w_rec, torch_layout, (out, relu), out, dout, dh_n, dx, dh0, dpre,
                   dw_x, dw_h, db, accumulate, out[:0], out[:0], small_kernels)
