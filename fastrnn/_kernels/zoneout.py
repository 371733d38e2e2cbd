"""Zoneout on h inside the sequence kernels (njit helpers).

Zoneout (Krueger et al., 2016; the oracle's ``_common.zoneout_blend``) keeps each unit's
previous h with weight ``keep``:  h_t = keep ⊙ h_{t−1} + (1 − keep) ⊙ h'_t.  A kernel takes
``keep`` (K, H): K = 0 for no zoneout (the helpers are then never called), K = 1 for one
row of weights for every row (evaluation: p), or K = R, one row per packed row (training:
a Bernoulli(p) mask). Backward, the step sees (1 − keep) ⊙ dh_t and keep ⊙ dh_t reaches
h_{t−1} directly (added after the step's recurrent product has written h_{t−1}'s gradient).

The forward blend selects h_prev where k = 1 and h'_t where k = 0: the kernels' fastmath
may reassociate ``k h_prev + (1 − k) h_new`` into ``h_new + k (h_prev − h_new)``, which is
not h_prev exactly, and a training mask's units must keep h exactly. The selects vectorise.
"""
from numba import njit

from .activations import FASTMATH


@njit(cache=True, error_model="numpy", fastmath=FASTMATH, inline="always")
def keep_row(keep, row):
    """The keep weights (H,) of kernel row ``row``."""
    return keep[row] if keep.shape[0] > 1 else keep[0]


@njit(cache=True, error_model="numpy", fastmath=FASTMATH, inline="always")
def zone_out_row(keep, row, h_prev, h_new):
    """h_new (H,) <- keep ⊙ h_prev + (1 − keep) ⊙ h_new, for kernel row ``row`` (exact at 0 and 1)."""
    k = keep_row(keep, row)
    for j in range(h_new.shape[0]):
        kj = k[j]
        blend = kj * h_prev[j] + (1 - kj) * h_new[j]
        h_new[j] = h_prev[j] if kj == 1.0 else (h_new[j] if kj == 0.0 else blend)


@njit(cache=True, error_model="numpy", fastmath=FASTMATH, inline="always")
def zone_out_grad_row(keep, row, d_out, dh_row, into_step, carried):
    """Split the total gradient of h_t, d_out + dh_row (each (H,)): into_step <- (1 − keep) ⊙ it
    (what the cell's step sees, returned), carried <- keep ⊙ it (for h_{t−1}), dh_row <- 0."""
    k = keep_row(keep, row)
    for j in range(d_out.shape[0]):
        total = d_out[j] + dh_row[j]
        carried[j] = k[j] * total
        into_step[j] = total - carried[j]
        dh_row[j] = 0.0
    return into_step


@njit(cache=True, error_model="numpy", fastmath=FASTMATH, inline="always")
def add_carried(carried, dh):
    """dh (b, H) += carried (b, H): the zoned-out part of dh_t reaching h_{t−1}."""
    for n in range(dh.shape[0]):
        c_row, d_row = carried[n], dh[n]
        for j in range(d_row.shape[0]):
            d_row[j] += c_row[j]


@njit(cache=True, error_model="numpy", fastmath=FASTMATH, inline="always")
def zone_out_rows(keep, first_row, h_prev, h_new):
    """zone_out_row for the b rows of one step: h_new (b, H), h_prev (>= b, H), kernel rows
    first_row.. (a pass of its own after the step's pointwise pass, which then compiles as
    it does without zoneout)."""
    for n in range(h_new.shape[0]):
        zone_out_row(keep, first_row + n, h_prev[n], h_new[n])


@njit(cache=True, error_model="numpy", fastmath=FASTMATH, inline="always")
def zone_out_grads(keep, first_row, dout, dh, zone_work):
    """zone_out_grad_row for the b rows of one step, before its backward pass: dout (b, H) the
    rows' output gradients, dh (>= b, H) the carried ones (zeroed). The step's pass then
    reads zone_work[:b] as its output gradient; zone_work[N:N + b] holds the carried part,
    added to h_{t−1}'s gradient by add_carried after the step's recurrent product."""
    N = zone_work.shape[0] // 2
    for n in range(dout.shape[0]):
        zone_out_grad_row(keep, first_row + n, dout[n], dh[n], zone_work[n], zone_work[N + n])
