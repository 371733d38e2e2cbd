"""Fused LSTM sequence kernels.

Layout (one layer, one direction; a packed batch, see packed.py; G = 4 gate blocks of width H):

    x      (R, I)      input rows, C-contiguous; step t is rows offsets[t]:offsets[t+1]
    gates  (R, 4H)     workspace: forward writes x w_x into it with one GEMM, adds the
                       recurrent GEMM per step, then overwrites it with the activated
                       gates (i, f, g, o) that backward needs; backward overwrites it
                       again with the pre-activation gradients dA. Forward only: the
                       rows of ``chunk_steps`` steps, reused chunk after chunk, left
                       holding pre-activations (no activated gates are stored).
    cs     (R, H)      cell state after each step (forward only: (2N, H), the running c)
    out    (R, H)      hidden state after each step (also h_prev of the next step)

``torch_layout`` selects the input weight's storage: True -> w_x (4H, I) used transposed
(PyTorch); False -> w_x (I, 4H) (the book). The recurrent weight always arrives as
w_rec (4H, H), PyTorch's weight_hh layout (the book's (H, 4H) w_h as a transposed copy),
the orientation in which both per-step products run fastest. The per-step products run on
the weight packed once per call (panels.py) where that pays, else through OpenBLAS
(blas.recurrent_add / recurrent_grad);
``scratch`` (5H·N elements) is the per-step workspace of the forward product, and
``small_kernels`` (blas.SMALL_KERNELS) picks how the per-step products call OpenBLAS.
``blocks`` gives the column block of each gate as (i, f, g, o): (0, 1, 2, 3) for PyTorch,
(2, 0, 1, 3) for the book's f, g, i, o.

Equations (the oracle, fastrnn/oracle/lstm.py, states them in NumPy):
    a = x w_x + h w_h + bias;  i, f, o = σ(a_i, a_f, a_o);  g = tanh(a_g)
    c' = f c + i g;  h' = o tanh(c')

Zoneout (fastrnn/oracle/_common.py, zoneout_blend): ``keep`` (K, H) holds the weight of the
previous h, h_t = keep ⊙ h_{t−1} + (1 − keep) ⊙ h'_t, with K = 0 (none), 1 (one row for
every row) or R (one per row); c is not zoned out. See zoneout.py for the two passes.
"""
from numba import njit

from .activations import FASTMATH, fast_sigmoid, fast_tanh
from .blas import restore_threads, steps_on_one_thread
from .borrowed import borrow
from .panels import pack_for_steps, step_add, step_grad
from .packed import copy_rows, keep_finished, keep_unstarted, start_chunk, step_offsets, weight_grads
from .zoneout import add_carried, zone_out_grads, zone_out_rows


@njit(cache=True, error_model="numpy", fastmath=FASTMATH, inline="always")
def lstm_row(a_i, a_f, a_g, a_o, bx_i, bx_f, bx_g, bx_o, bh_i, bh_f, bh_g, bh_o, c_prev, c_row, h_row, keep_gates):
    """One row's step from its pre-activations a_* (H,) less the biases: c_row and h_row (H,)
    written; with ``keep_gates`` the activated gates over a_* (what lstm_backward reads)."""
    for j in range(a_i.shape[0]):
        i = fast_sigmoid(a_i[j] + bx_i[j] + bh_i[j])
        f = fast_sigmoid(a_f[j] + bx_f[j] + bh_f[j])
        g = fast_tanh(a_g[j] + bx_g[j] + bh_g[j])
        o = fast_sigmoid(a_o[j] + bx_o[j] + bh_o[j])
        c = f * c_prev[j] + i * g
        c_row[j] = c
        h_row[j] = o * fast_tanh(c)
        if keep_gates:
            a_i[j] = i
            a_f[j] = f
            a_g[j] = g
            a_o[j] = o


@njit(cache=True, error_model="numpy", fastmath=FASTMATH, nogil=True)
def lstm_forward(x, batch_sizes, h0, c0, w_x, w_rec, b_x, b_h, torch_layout, blocks, chunk_steps, keep_rows,
                 gates, scratch, cs, out, h_n, c_n, keep, small_kernels):
    """Run the sequence; fill out and each sequence's final h_n, c_n (N, H).

    Training (``keep_rows``, chunk_steps >= T): gates (R, 4H) ends holding the activated
    gates and cs (R, H) every step's c, what lstm_backward reads. Forward only: gates is a
    workspace of the rows of ``chunk_steps`` steps (the input projection runs a chunk at a
    time) and cs (2N, H) the running c (two halves, one step's c in each in turn), so
    memory does not grow with T.
    b_x, b_h (4H,) are added to the pre-activations (zeros for none); ``keep`` (K, H): zoneout.
    """
    # views of borrowed arrays cost no atomic reference counts (borrowed.py)
    (x, h0, c0, w_x, w_rec, b_x, b_h, gates, scratch, cs, out, h_n, c_n, keep) = borrow(
        x, h0, c0, w_x, w_rec, b_x, b_h, gates, scratch, cs, out, h_n, c_n, keep)
    N, H = h0.shape
    oi, of, og, oo = blocks[0] * H, blocks[1] * H, blocks[2] * H, blocks[3] * H
    bx_i, bx_f, bx_g, bx_o = b_x[oi:oi + H], b_x[of:of + H], b_x[og:og + H], b_x[oo:oo + H]
    bh_i, bh_f, bh_g, bh_o = b_h[oi:oi + H], b_h[of:of + H], b_h[og:og + H], b_h[oo:oo + H]
    offsets = step_offsets(batch_sizes)
    T = batch_sizes.shape[0]
    keep_unstarted(batch_sizes, h0, h_n)
    keep_unstarted(batch_sizes, c0, c_n)
    panels = pack_for_steps(w_rec, N, T, True, small_kernels)
    for t0 in range(0, T, chunk_steps):
        t1, r0, threads = start_chunk(t0, chunk_steps, batch_sizes, offsets, x, w_x, torch_layout, scratch, gates)
        for t in range(t0, t1):
            off, b = offsets[t], batch_sizes[t]
            prev = offsets[t - 1] if t > 0 else 0
            # forward only, c alternates between two (N, H) halves of cs: reading c_{t-1}
            # from the array c_t is written to would stop LLVM vectorising the pass
            c_off, c_prev = (off, prev) if keep_rows else ((t % 2) * N, ((t - 1) % 2) * N)
            h_prev = h0[:b] if t == 0 else out[prev:prev + b]
            step_add(h_prev, w_rec, panels, scratch, gates[off - r0:off - r0 + b], True, small_kernels)
            for n in range(b):
                # per-gate slice views: indexing them with the loop counter alone lets LLVM
                # vectorise (a runtime offset inside the index adds wraparound checks)
                row = gates[off - r0 + n]
                a_i, a_f, a_g, a_o = row[oi:oi + H], row[of:of + H], row[og:og + H], row[oo:oo + H]
                cp = c0[n] if t == 0 else cs[c_prev + n]
                # a constant last argument in each call: the inlined copy for forward only
                # stores no activated gates (a tiny forward 10 % faster)
                if keep_rows:
                    lstm_row(a_i, a_f, a_g, a_o, bx_i, bx_f, bx_g, bx_o, bh_i, bh_f, bh_g, bh_o, cp, cs[c_off + n],
                             out[off + n], True)
                else:
                    lstm_row(a_i, a_f, a_g, a_o, bx_i, bx_f, bx_g, bx_o, bh_i, bh_f, bh_g, bh_o, cp, cs[c_off + n],
                             out[off + n], False)
            if keep.shape[0] > 0:
                zone_out_rows(keep, off, h_prev, out[off:off + b])
            keep_finished(t, batch_sizes, off, out, h_n)
            keep_finished(t, batch_sizes, c_off, cs, c_n)
        restore_threads(threads)


@njit(cache=True, error_model="numpy", fastmath=FASTMATH, nogil=True)
def lstm_backward(x, batch_sizes, h0, c0, w_x, w_rec, torch_layout, blocks, gates, cs, out,
                  dout, dh_n, dc_n, dx, dh0, dc0, dw_x, dw_h, db, accumulate, keep, zone_work, small_kernels):
    """Backward through the sequence saved by lstm_forward.

    dout (R, H), dh_n, dc_n (N, H) in (row n's final-state gradient enters at its last
    step); dx (R, I), dh0, dc0 (N, H) out; dw_x, dw_h shaped like w_x and the layout's w_h,
    and db (4H,) (size 0 for no bias) written, or added to when ``accumulate``. ``gates``
    is overwritten with dA. ``keep`` (K, H) the forward's zoneout, zone_work (2N, H) its
    workspace when K > 0.
    """
    # views of borrowed arrays cost no atomic reference counts (borrowed.py)
    (x, h0, c0, w_x, w_rec, gates, cs, out, dout, dh_n, dc_n, dx, dh0, dc0, dw_x, dw_h, db, keep, zone_work) = borrow(
        x, h0, c0, w_x, w_rec, gates, cs, out, dout, dh_n, dc_n, dx, dh0, dc0, dw_x, dw_h, db, keep,
        zone_work)
    N, H = h0.shape
    oi, of, og, oo = blocks[0] * H, blocks[1] * H, blocks[2] * H, blocks[3] * H
    copy_rows(dh_n, 0, dh0, 0, dh_n.shape[0])          # dh0 / dc0 carry dh, dc backwards through time
    copy_rows(dc_n, 0, dc0, 0, dc_n.shape[0])
    offsets = step_offsets(batch_sizes)
    threads = steps_on_one_thread()
    panels = pack_for_steps(w_rec, N, batch_sizes.shape[0], False, small_kernels)
    for t in range(batch_sizes.shape[0] - 1, -1, -1):
        off, b = offsets[t], batch_sizes[t]
        prev = offsets[t - 1] if t > 0 else 0
        zoned = keep.shape[0] > 0
        if zoned:                        # the step sees (1 − keep) dh; keep dh goes to h_prev
            zone_out_grads(keep, off, dout[off:off + b], dh0, zone_work)
        for n in range(b):
            row = gates[off + n]
            a_i, a_f, a_g, a_o = row[oi:oi + H], row[of:of + H], row[og:og + H], row[oo:oo + H]
            cp = c0[n] if t == 0 else cs[prev + n]
            c_row = cs[off + n]
            d_out = zone_work[n] if zoned else dout[off + n]
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
        # dh_prev = dA_t w_rec (the rows still running; the others keep their dh)
        step_grad(gates[off:off + b], w_rec, panels, 0.0, dh0[:b], small_kernels)
        if keep.shape[0] > 0:
            add_carried(zone_work[N:N + b], dh0[:b])
    restore_threads(threads)
    weight_grads(x, h0, w_x, torch_layout, gates, out, batch_sizes, offsets, dx, dw_x, dw_h, db, accumulate)
