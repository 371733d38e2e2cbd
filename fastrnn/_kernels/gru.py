"""Fused GRU sequence kernels.

Layout (one layer, one direction; a packed batch, see packed.py; 3 gate blocks of width H):

    x      (R, I)      input rows, C-contiguous; step t is rows offsets[t]:offsets[t+1]
    gates  (R, 3H)     forward: x w_x by one GEMM, then the activated r, z, n;
                       backward: overwritten with the gradients of the x-side
                       pre-activations (dA_x)
    saved  (R, H)      reset_after: h w_hn + b_hn (the term r multiplies);
                       reset before: r ⊙ h_prev (the input of the n-block matmul)
                       (forward only: gates holds the rows of ``chunk_steps`` steps and
                       saved (N, H) one step's)
    out    (R, H)      hidden state after each step

``torch_layout``: True -> w_x (3H, I) used transposed; False -> w_x (I, 3H). The
recurrent weight arrives as w_rec (3H, H) in PyTorch's layout (the book's (H, 3H) w_h as
a transposed copy), see lstm.py. ``blocks`` is the column block of (r, z, n): (0, 1, 2)
for PyTorch, (1, 0, 2) for the book's z, r, h̃. The n block is always the last one, so
the r and z rows of w_rec are one contiguous 2H-row GEMM operand.
``reset_after``: n = tanh(a_xn + r (h w_hn + b_hn)) (PyTorch) or
n = tanh(a_xn + (r h) w_hn + b_hn) (original GRU, the book).
``z_keeps_h``: h' = (1-z) n + z h (PyTorch) or h' = z n + (1-z) h (the book).
``keep`` (K, H): zoneout on h (zoneout.py; K = 0: none).
The time loop is loop.py's; this file holds the GRU's steps, bound into it.
Equations in NumPy: fastrnn/oracle/gru.py.
"""
from numba import njit

from .activations import FASTMATH, FASTMATH_LOOP, fast_sigmoid, fast_tanh
from .blas import gemm
from .borrowed import borrow
from .loop import nothing_to_finish, nothing_to_start, sequence_backward, sequence_forward
from .panels import pack_for_steps, step_add, step_grad
from .packed import column_sums_into, grads_against_prev, input_grads, recurrent_ld
from .template import instantiate
from .zoneout import add_carried, zone_out_grads, zone_out_rows


# --- forward: cell = (gate offsets (o_r, o_z, o_n), b_x, b_h, reset_after, z_keeps_h, hproj, saved,
#                      w_hn, p_hn, scratch, small_kernels) ------------------------------------------

@njit(cache=True, inline="always")
def _product_weight(cell, w_rec):
    """h w_recᵀ (reset after), or h w_rzᵀ (reset before: the n block's product is (r h) w_hnᵀ)."""
    reset_after = cell[3]
    H = w_rec.shape[1]
    return w_rec if reset_after else w_rec[:2 * H]


@njit(cache=True, inline="always")
def _product(cell, h_prev, w_rec, panels, scratch, gates, out, g_off, off, b, small_kernels):
    reset_after, hproj = cell[3], cell[5]
    H = w_rec.shape[1]
    # The three products share one compiled step_add: each passes c as a 2-D view with a
    # column slice (one array layout) and its add flag as an expression of reset_after
    # (False, False, True), not a constant, for which Numba would compile it again.
    if reset_after:
        step_add(h_prev, w_rec, panels, scratch, hproj[:b, :3 * H], not reset_after, small_kernels)
    else:
        step_add(h_prev, w_rec[:2 * H], panels, scratch, hproj[:b, :2 * H], reset_after, small_kernels)


@njit(cache=True, error_model="numpy", fastmath=FASTMATH_LOOP, inline="always")
def _step(cell, t, off, g_off, prev, b, h_prev, gates, out, save_rows):
    (o_r, o_z, o_n), b_x, b_h, reset_after, z_keeps_h, hproj, saved, w_hn, p_hn, scratch, small_kernels = cell
    H = out.shape[1]
    bx_r, bx_z, bx_n = b_x[o_r:o_r + H], b_x[o_z:o_z + H], b_x[o_n:o_n + H]
    bh_r, bh_z, bh_n = b_h[o_r:o_r + H], b_h[o_z:o_z + H], b_h[o_n:o_n + H]
    s_off = off if save_rows else 0
    # Loops index per-gate slice views with the loop counter only, and loop-invariant
    # branches sit outside the inner loops, so that LLVM vectorises them.
    for n in range(b):
        row = gates[g_off + n]
        a_r, a_z = row[o_r:o_r + H], row[o_z:o_z + H]
        hp = hproj[n]
        hp_r, hp_z, hp_n = hp[o_r:o_r + H], hp[o_z:o_z + H], hp[o_n:o_n + H]
        sv = saved[s_off + n]
        h_old = h_prev[n]
        for j in range(H):
            a_r[j] = fast_sigmoid(a_r[j] + bx_r[j] + hp_r[j] + bh_r[j])
            a_z[j] = fast_sigmoid(a_z[j] + bx_z[j] + hp_z[j] + bh_z[j])
        if reset_after:
            for j in range(H):
                sv[j] = hp_n[j] + bh_n[j]
        else:
            for j in range(H):
                sv[j] = a_r[j] * h_old[j]
    if not reset_after:
        # a_xn += (r h) w_hnᵀ, added straight into the n block of this step's gates
        step_add(saved[s_off:s_off + b], w_hn, p_hn, scratch, gates[g_off:g_off + b, o_n:], not reset_after,
                 small_kernels)
    for n in range(b):
        row = gates[g_off + n]
        a_r, a_z, a_n = row[o_r:o_r + H], row[o_z:o_z + H], row[o_n:o_n + H]
        sv = saved[s_off + n]
        h_old = h_prev[n]
        h_new = out[off + n]
        if reset_after:
            for j in range(H):
                a_n[j] = fast_tanh(a_n[j] + bx_n[j] + a_r[j] * sv[j])
        else:
            for j in range(H):
                a_n[j] = fast_tanh(a_n[j] + bx_n[j] + bh_n[j])
        if z_keeps_h:
            for j in range(H):
                h_new[j] = a_n[j] + a_z[j] * (h_old[j] - a_n[j])
        else:
            for j in range(H):
                h_new[j] = h_old[j] + a_z[j] * (a_n[j] - h_old[j])


_forward_loop = instantiate(sequence_forward, "gru_forward_loop", inline="always", product_weight=_product_weight,
                            product=_product, step=_step, start=nothing_to_start, finish=nothing_to_finish,
                            zone_out=zone_out_rows)


@njit(cache=True, error_model="numpy", fastmath=FASTMATH_LOOP, nogil=True)
def gru_forward(x, batch_sizes, h0, w_x, w_rec, b_x, b_h, torch_layout, blocks, reset_after, z_keeps_h,
                chunk_steps, save_rows, gates, hproj, scratch, saved, out, h_n, keep, small_kernels):
    """Run the sequence; fill out and each sequence's final h_n (N, H).

    Training (``save_rows``, chunk_steps >= T): gates (R, 3H) ends holding the activated
    r, z, n and saved (R, H) what backward reads. Forward only: gates is a workspace of the
    rows of ``chunk_steps`` steps (the input projection runs a chunk at a time) and saved
    (N, H) one step's, so memory does not grow with T.
    hproj (N, 3H) is a per-step workspace for h w_recᵀ, scratch (4H·N) the product's.
    """
    # views of borrowed arrays cost no atomic reference counts (borrowed.py)
    (x, h0, w_x, w_rec, b_x, b_h, gates, hproj, scratch, saved, out, h_n, keep) = borrow(
        x, h0, w_x, w_rec, b_x, b_h, gates, hproj, scratch, saved, out, h_n, keep)
    N, H = h0.shape
    w_hn = w_rec[2 * H:]
    # the panels of (r h) w_hnᵀ (reset before; 0 steps: none where it has no product of its own)
    p_hn = pack_for_steps(w_hn, N, 0 if reset_after else batch_sizes.shape[0], True, small_kernels)
    cell = ((blocks[0] * H, blocks[1] * H, 2 * H), b_x, b_h, reset_after, z_keeps_h, hproj, saved, w_hn, p_hn,
            scratch, small_kernels)
    _forward_loop(x, batch_sizes, h0, w_x, w_rec, torch_layout, cell, gates, scratch, out, h_n, keep, chunk_steps,
                  save_rows, small_kernels)


# --- backward: cell = (gate offsets, reset_after, z_keeps_h, h0, out, saved, dgates_h, d_rh,
#                       db_h) ------------------------------------------------------------------------

@njit(cache=True, error_model="numpy", fastmath=FASTMATH_LOOP, inline="always")
def _grad_step(cell, t, off, prev, b, d_out, dh, dgates):
    (o_r, o_z, o_n), reset_after, z_keeps_h, h0, out, saved, dgates_h, d_rh, db_h = cell
    H = h0.shape[1]
    h_prev = h0[:b] if t == 0 else out[prev:prev + b]
    for n in range(b):
        row = dgates[off + n]
        a_r, a_z, a_n = row[o_r:o_r + H], row[o_z:o_z + H], row[o_n:o_n + H]
        h_old = h_prev[n]
        o_row = d_out[n]
        dh_row = dh[n]
        for j in range(H):
            dh_row[j] += o_row[j]
        # a_z <- dA_z, a_n <- dA_n, dh_row <- the part of dh_prev through z's blend
        if z_keeps_h:
            for j in range(H):
                z = a_z[j]
                nn = a_n[j]
                d = dh_row[j]
                a_z[j] = d * (h_old[j] - nn) * z * (1 - z)
                a_n[j] = d * (1 - z) * (1 - nn * nn)
                dh_row[j] = d * z
        else:
            for j in range(H):
                z = a_z[j]
                nn = a_n[j]
                d = dh_row[j]
                a_z[j] = d * (nn - h_old[j]) * z * (1 - z)
                a_n[j] = d * z * (1 - nn * nn)
                dh_row[j] = d * (1 - z)
        if reset_after:
            sv = saved[off + n]
            dgh = dgates_h[off + n]
            g_r, g_z, g_n = dgh[o_r:o_r + H], dgh[o_z:o_z + H], dgh[o_n:o_n + H]
            for j in range(H):
                r = a_r[j]
                dan = a_n[j]
                dar = dan * sv[j] * r * (1 - r)
                a_r[j] = dar
                g_r[j] = dar
                g_z[j] = a_z[j]
                g_n[j] = dan * r


@njit(cache=True, error_model="numpy", fastmath=FASTMATH_LOOP, inline="always")
def _grad_product(cell, t, off, prev, b, w_rec, panels, dgates, dh, small_kernels):
    (o_r, o_z, o_n), reset_after, z_keeps_h, h0, out, saved, dgates_h, d_rh, db_h = cell
    H = h0.shape[1]
    if reset_after:
        # dh_prev += dA_h w_rec (all three blocks in one GEMM); the operands are sliced
        # like the reset-before ones below (one array layout: one compiled step_grad)
        step_grad(dgates_h[off:off + b, :3 * H], w_rec, panels[:, :3 * H], 1.0, dh[:b], small_kernels)
        return
    h_prev = h0[:b] if t == 0 else out[prev:prev + b]
    # d(r h) = dA_n w_hn
    step_grad(dgates[off:off + b, o_n:], w_rec[2 * H:], panels[:, 2 * H:], 0.0, d_rh[:b], small_kernels)
    for n in range(b):
        a_r = dgates[off + n][o_r:o_r + H]
        h_old = h_prev[n]
        drh = d_rh[n]
        dh_row = dh[n]
        for j in range(H):
            r = a_r[j]
            a_r[j] = drh[j] * h_old[j] * r * (1 - r)
            dh_row[j] += drh[j] * r
    # dh_prev += dA_rz w_rec[rz]
    step_grad(dgates[off:off + b, :2 * H], w_rec[:2 * H], panels[:, :2 * H], 1.0, dh[:b], small_kernels)


@njit(cache=True, inline="always")
def _weight_grads(cell, x, h0, w_x, torch_layout, dgates, out, batch_sizes, offsets, dx, dw_x, dw_h, db,
                  accumulate):
    gate_offsets, reset_after, z_keeps_h, h0, out, saved, dgates_h, d_rh, db_h = cell
    _gru_weight_grads(x, batch_sizes, offsets, h0, w_x, torch_layout, reset_after, dgates, saved, out,
                      dgates_h, dx, dw_x, dw_h, db, db_h, accumulate)


_backward_loop = instantiate(sequence_backward, "gru_backward_loop", inline="always", grad_step=_grad_step,
                             grad_product=_grad_product, weight_grads=_weight_grads,
                             start_backward=nothing_to_start, zone_out_grads=zone_out_grads,
                             add_carried=add_carried)


@njit(cache=True, error_model="numpy", fastmath=FASTMATH_LOOP, nogil=True)
def gru_backward(x, batch_sizes, h0, w_x, w_rec, torch_layout, blocks, reset_after, z_keeps_h,
                 gates, saved, out, dout, dh_n, dx, dh0, dgates_h, d_rh,
                 dw_x, dw_h, db_x, db_h, accumulate, keep, zone_work, small_kernels):
    """Backward through the sequence saved by gru_forward.

    dout (R, H), dh_n (N, H) in; dx (R, I), dh0 (N, H) out. Workspaces:
    dgates_h (R, 3H) (reset_after: gradients of the h-side pre-activations),
    d_rh (N, H) (reset before: gradient of r ⊙ h), zone_work (2N, H) (zoneout, K > 0).
    ``gates`` is overwritten with dA_x. Weight grads written or added.
    """
    # views of borrowed arrays cost no atomic reference counts (borrowed.py)
    (x, h0, w_x, w_rec, gates, saved, out, dout, dh_n, dx, dh0, dgates_h, d_rh, dw_x, dw_h, db_x, db_h, keep,
     zone_work) = borrow(
        x, h0, w_x, w_rec, gates, saved, out, dout, dh_n, dx, dh0, dgates_h, d_rh, dw_x, dw_h, db_x, db_h,
        keep, zone_work)
    H = h0.shape[1]
    cell = ((blocks[0] * H, blocks[1] * H, 2 * H), reset_after, z_keeps_h, h0, out, saved, dgates_h, d_rh, db_h)
    _backward_loop(x, batch_sizes, h0, w_x, w_rec, torch_layout, cell, out, dout, dh_n, dx, dh0, gates, dw_x, dw_h,
                   db_x, accumulate, keep, zone_work, small_kernels)


@njit(cache=True, error_model="numpy", fastmath=FASTMATH)
def _gru_weight_grads(x, batch_sizes, offsets, h0, w_x, torch_layout, reset_after, dgates, saved, out,
                      dgates_h, dx, dw_x, dw_h, db_x, db_h, accumulate):
    """After the time loop: dx, dw_x, dw_h as GEMMs over the R rows; bias sums."""
    R = x.shape[0]
    H = h0.shape[1]
    G = 3 * H
    beta = 1.0 if accumulate else 0.0
    input_grads(x, w_x, torch_layout, dgates, dx, dw_x, accumulate)
    ld_w = recurrent_ld(torch_layout, H, G)
    if reset_after:
        # dw_h = Σ dA_hᵀ h_prev over the rows
        grads_against_prev(torch_layout, G, dgates_h, G, h0, out, batch_sizes, offsets, beta, dw_h, ld_w)
    else:
        # r and z blocks against h_prev; n block against the saved r ⊙ h_prev
        grads_against_prev(torch_layout, 2 * H, dgates, G, h0, out, batch_sizes, offsets, beta, dw_h, ld_w)
        dw_h_flat = dw_h.reshape(-1)
        d_n = dgates.reshape(-1)[2 * H:]
        if torch_layout:
            gemm(True, False, H, H, R, 1.0, d_n, G, saved, H, beta, dw_h_flat[2 * H * H:], H)
        else:
            gemm(True, False, H, H, R, 1.0, saved, H, d_n, G, beta, dw_h_flat[2 * H:], G)
    if db_x.shape[0] > 0:
        column_sums_into(dgates, db_x, accumulate)
    if db_h.shape[0] > 0:
        column_sums_into(dgates_h if reset_after else dgates, db_h, accumulate)
