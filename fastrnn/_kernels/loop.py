"""The time loop of the sequence kernels, written once; a cell supplies its steps.

Layout (one layer, one direction; a packed batch, packed.py; G = the cell's gate width):

    x      (R, I)   in    input rows; step t is rows offsets[t]:offsets[t+1]
    gates  (·, G)   work  the input projection x w_x, chunk by chunk; then whatever the
                          cell's step leaves there (training: what its gradient step reads)
    out    (R, H)   out   h after each step (also h_prev of the next step)
    h_n    (N, H)   out   each sequence's h after its last step
    keep   (K, H)   in    zoneout weights (zoneout.py; K = 0: none)

The per-step products run on the weight packed once per call where that pays, else through
OpenBLAS (panels.step_add / step_grad, chosen once per call by pack_for_steps). ``cell`` is
a tuple of the cell's own arguments (biases, gate offsets, other states, workspaces),
handed to its parts unread.

A cell's kernel is an instance of ``sequence_forward`` / ``sequence_backward``
(template.instantiate) with the parts below bound, each an njit function, inline="always".
The loop's helpers for the usual cell (add_into_gates, grads_through_w_rec, ...) follow
the templates.
"""
from numba import njit

from .activations import FASTMATH_LOOP
from .blas import restore_threads, steps_on_one_thread
from .panels import pack_for_steps, step_add, step_grad
from . import packed
from .packed import copy_rows, copy_finished, copy_unstarted, start_chunk, step_offsets
from .template import Part

# --- the parts a cell binds -------------------------------------------------------------------------
product_weight = Part("(cell, w_rec) -> the weight of the step's first product (packed once per call)")
product = Part("(cell, h_prev, w_rec, panels, scratch, gates, out, g_off, off, b, small_kernels): the step's "
               "product(s) of h_prev (b, ·); add_into_gates: gates[g_off:g_off + b] += h_prev w_recᵀ")
step = Part("(cell, t, off, g_off, prev, b, h_prev, gates, out, save_rows): the step's rows after the "
            "product: activations and the new states (h into out[off:off + b])")
start = Part("(cell, batch_sizes): before the first step (the other states' copy_unstarted)")
finish = Part("(cell, t, batch_sizes, off, save_rows): after step t (the other states' copy_finished)")
zone_out = Part("(keep, off, h_prev, rows): zoneout.zone_out_rows, or no_zoneout")
start_backward = Part("(cell, batch_sizes): before the last step's gradient")
grad_step = Part("(cell, t, off, prev, b, d_out, dh, dgates): from d_out (b, H), the gradient of the "
                 "step's h, and dh (>= b, H) the carried one, the gradients of the step's pre-activations "
                 "(into dgates[off:off + b] for the usual cell); carries the other states' gradients")
grad_product = Part("(cell, t, off, prev, b, w_rec, panels, dgates, dh, small_kernels): dh[:b] = the carried "
                    "gradient of h_{t-1}; grads_through_w_rec: dA_t w_rec")
weight_grads = Part("(cell, x, h0, w_x, torch_layout, dgates, out, batch_sizes, offsets, dx, dw_x, dw_h, db, "
                    "accumulate): after the loop; all_weight_grads: packed.weight_grads")
zone_out_grads = Part("(keep, off, dout, dh, zone_work): zoneout.zone_out_grads, or no_zoneout_grads")
add_carried = Part("(carried, dh): zoneout.add_carried, or no_carried")


@njit(cache=True, error_model="numpy", fastmath=FASTMATH_LOOP, nogil=True)
def sequence_forward(x, batch_sizes, h0, w_x, w_rec, torch_layout, cell, gates, scratch, out, h_n, keep,
                     chunk_steps, save_rows, small_kernels):
    """Run the sequence (arrays borrowed by the caller, borrowed.py).

    x (R, I), batch_sizes (T,), h0 (N, H) in; w_x (G, I) torch_layout / (I, G), w_rec (G, H) in;
    gates (R, G) (training, chunk_steps >= T) or (chunk_steps·N, G) (forward only) work;
    scratch the product's work (at least (G + H)·N); out (R, H), h_n (N, H) out; keep (K, H) in.
    """
    N = h0.shape[0]
    offsets = step_offsets(batch_sizes)
    T = batch_sizes.shape[0]
    copy_unstarted(batch_sizes, h0, h_n)
    start(cell, batch_sizes)
    panels = pack_for_steps(product_weight(cell, w_rec), N, T, True, small_kernels)
    for t0 in range(0, T, chunk_steps):
        t1, r0, threads = start_chunk(t0, chunk_steps, batch_sizes, offsets, x, w_x, torch_layout, scratch, gates)
        for t in range(t0, t1):
            off, b = offsets[t], batch_sizes[t]
            prev = offsets[t - 1] if t > 0 else 0
            g_off = off - r0
            h_prev = h0[:b] if t == 0 else out[prev:prev + b]
            product(cell, h_prev, w_rec, panels, scratch, gates, out, g_off, off, b, small_kernels)
            step(cell, t, off, g_off, prev, b, h_prev, gates, out, save_rows)
            if keep.shape[0] > 0:
                zone_out(keep, off, h_prev, out[off:off + b])
            copy_finished(t, batch_sizes, off, out, h_n)
            finish(cell, t, batch_sizes, off, save_rows)
        restore_threads(threads)


@njit(cache=True, error_model="numpy", fastmath=FASTMATH_LOOP, nogil=True)
def sequence_backward(x, batch_sizes, h0, w_x, w_rec, torch_layout, cell, out, dout, dh_n, dx, dh0, dgates,
                      dw_x, dw_h, db, accumulate, keep, zone_work, small_kernels):
    """Backward through the sequence the forward ran (arrays borrowed by the caller).

    x, batch_sizes, h0, w_x, w_rec as the forward's; out (R, H) the forward's h in;
    dout (R, H), dh_n (N, H) in; dx (R, I), dh0 (N, H) out; dgates (R, G) out: dA, the
    gradients of the pre-activations; dw_x, dw_h like w_x and the layout's w_h, db (G,)
    (size 0: no bias) written, or added to when ``accumulate``; zone_work (2N, H) work when K > 0.
    """
    N = h0.shape[0]
    copy_rows(dh_n, 0, dh0, 0, N)          # dh0 carries dh backwards through time
    start_backward(cell, batch_sizes)
    offsets = step_offsets(batch_sizes)
    threads = steps_on_one_thread()
    panels = pack_for_steps(w_rec, N, batch_sizes.shape[0], False, small_kernels)
    for t in range(batch_sizes.shape[0] - 1, -1, -1):
        off, b = offsets[t], batch_sizes[t]
        prev = offsets[t - 1] if t > 0 else 0
        zoned = keep.shape[0] > 0
        if zoned:                        # the step sees (1 − keep) dh; keep dh goes to h_prev
            zone_out_grads(keep, off, dout[off:off + b], dh0, zone_work)
            grad_step(cell, t, off, prev, b, zone_work[:b], dh0, dgates)
        else:
            grad_step(cell, t, off, prev, b, dout[off:off + b], dh0, dgates)
        grad_product(cell, t, off, prev, b, w_rec, panels, dgates, dh0, small_kernels)
        if zoned:
            add_carried(zone_work[N:N + b], dh0[:b])
    restore_threads(threads)
    weight_grads(cell, x, h0, w_x, torch_layout, dgates, out, batch_sizes, offsets, dx, dw_x, dw_h, db, accumulate)


@njit(cache=True, inline="always")
def the_recurrent_weight(cell, w_rec):
    """``product_weight`` of the usual cell: w_rec itself."""
    return w_rec


@njit(cache=True, inline="always")
def add_into_gates(cell, h_prev, w_rec, panels, scratch, gates, out, g_off, off, b, small_kernels):
    """``product`` of the usual cell: gates[g_off:g_off + b] += h_prev w_recᵀ."""
    step_add(h_prev, w_rec, panels, scratch, gates[g_off:g_off + b], True, small_kernels)


@njit(cache=True, inline="always")
def grads_through_w_rec(cell, t, off, prev, b, w_rec, panels, dgates, dh, small_kernels):
    """``grad_product`` of the usual cell: dh_prev = dA_t w_rec (the rows still running; the
    others keep their dh)."""
    step_grad(dgates[off:off + b], w_rec, panels, 0.0, dh[:b], small_kernels)


@njit(cache=True, inline="always")
def all_weight_grads(cell, x, h0, w_x, torch_layout, dgates, out, batch_sizes, offsets, dx, dw_x, dw_h, db,
                     accumulate):
    """``weight_grads`` of the usual cell (its recurrent product sees the whole dA): packed.weight_grads."""
    packed.weight_grads(x, h0, w_x, torch_layout, dgates, out, batch_sizes, offsets, dx, dw_x, dw_h, db, accumulate)


@njit(cache=True, inline="always")
def nothing_to_start(cell, batch_sizes):
    """``start`` / ``start_backward`` of a cell whose only state is h."""
    return


@njit(cache=True, inline="always")
def nothing_to_finish(cell, t, batch_sizes, off, save_rows):
    """``finish`` of a cell whose only state is h."""
    return


@njit(cache=True, inline="always")
def no_zoneout(keep, off, h_prev, rows):
    """``zone_out`` of a cell without zoneout (never called: its keep has K = 0)."""
    return


@njit(cache=True, inline="always")
def no_zoneout_grads(keep, off, dout, dh, zone_work):
    """``zone_out_grads`` of a cell without zoneout."""
    return


@njit(cache=True, inline="always")
def no_carried(carried, dh):
    """``add_carried`` of a cell without zoneout."""
    return
