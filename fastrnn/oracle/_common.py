"""Helpers shared by the oracle cells: bias handling and gradient bookkeeping."""
import numpy as np


def bias_or_zero(b, size, dtype):
    return np.zeros(size, dtype) if b is None else b


def weight_grads(x, h_prev, dpre_x, dpre_h, has_bias):
    """Gradients of one step's affine maps ``x w_ihᵀ + b_ih`` and ``h w_hhᵀ + b_hh``.

    dpre_x, dpre_h: (N, G*H) gradients of the two pre-activations.
    """
    dw_ih = dpre_x.T @ x
    dw_hh = dpre_h.T @ h_prev
    if not has_bias:
        return dw_ih, dw_hh, None, None
    return dw_ih, dw_hh, dpre_x.sum(axis=0), dpre_h.sum(axis=0)


def add_grads(total, step):
    if total is None:
        return list(step)
    return [None if t is None else t + s for t, s in zip(total, step)]


def check_lengths(lengths, T, N):
    """``lengths`` (N,) integers in [0, T] as an int64 array, or None (every sequence has T steps)."""
    if lengths is None:
        return None
    lengths = np.asarray(lengths)
    if lengths.shape != (N,) or lengths.dtype.kind not in "iu" or (lengths < 0).any() or (lengths > T).any():
        raise ValueError(f"lengths must be {N} integers in [0, {T}], got {lengths!r}")
    return lengths.astype(np.int64)


def reverse_sequences(x, lengths=None):
    """x (T, N, ...) with each sequence's first lengths[n] steps in reverse order (the rest as
    they are): the input, and the output, of a reverse direction (all T steps without lengths)."""
    if lengths is None:
        return x[::-1].copy()
    lengths = check_lengths(lengths, x.shape[0], x.shape[1])
    out = x.copy()
    for n, L in enumerate(lengths):
        out[:L, n] = x[:L, n][::-1]
    return out


def check_zoneout(zoneout, T, N, H):
    """``zoneout`` as a (T, N, H) float64 array of keep weights, or None (no zoneout)."""
    if zoneout is None:
        return None
    keep = np.asarray(zoneout, np.float64)
    try:
        return np.broadcast_to(keep, (T, N, H))
    except ValueError:
        raise ValueError(f"zoneout must broadcast to (T, N, H) = {(T, N, H)}, got shape {keep.shape}") from None


def zoneout_blend(keep, h_prev, h_new):
    """Zoneout (Krueger et al., 2016): each unit keeps its previous h with weight ``keep``.

        h_t = keep ⊙ h_{t−1} + (1 − keep) ⊙ h'_t

    In training ``keep`` is a Bernoulli(p) mask drawn per step and unit; in evaluation it
    is p itself (the mask's expectation). Only h is zoned out (the LSTM's c is not).
    """
    return keep * h_prev + (1 - keep) * h_new


def unroll_forward(step, x, states, lengths=None, zoneout=None):
    """Run ``step(x_t, *states) -> (new_states, step_cache)`` over x (T, N, I).

    Returns out (T, N, H) (the first state after each step), the final states and a
    cache holding every step's cache.

    ``zoneout`` (broadcastable to (T, N, H), or None): the first state's keep weights at
    each step, :func:`zoneout_blend`.

    With ``lengths`` (N,), sequence n runs steps 0..lengths[n]−1 only (torch's packed
    semantics): at a later step its states stay as they are and its output is 0, so its
    final states are those after its last step (the initial ones for length 0).
    """
    T, N = x.shape[0], x.shape[1]
    lengths = check_lengths(lengths, T, N)
    keep = check_zoneout(zoneout, T, N, states[0].shape[1])
    outs, caches = [], []
    for t in range(x.shape[0]):
        new_states, step_cache = step(x[t], *states)
        if keep is not None:
            new_states = (zoneout_blend(keep[t], states[0], new_states[0]),) + tuple(new_states[1:])
        if lengths is not None:
            running = (lengths > t)[:, None]
            new_states = tuple(np.where(running, s_new, s_old) for s_new, s_old in zip(new_states, states))
            outs.append(np.where(running, new_states[0], 0))
        else:
            outs.append(new_states[0])
        states = new_states
        caches.append(step_cache)
    out = np.stack(outs) if outs else np.zeros((0,) + states[0].shape, states[0].dtype)
    return out, states, dict(steps=caches, x_shape=x.shape, dtype=states[0].dtype, lengths=lengths,
                             state_shapes=tuple(s.shape for s in states), zoneout=keep)


def unroll_backward(step_backward, dout, dstates, cache):
    """Backward through time: ``step_backward(dstates, step_cache) -> (dx_t, dstates, grads)``.

    dout (T, N, H) or None is added to the first state's gradient at each step; None
    entries of dstates are zeros. Returns dx (T, N, I), the initial states' gradients and
    the weight gradients summed over time. With the forward's ``lengths``, a sequence's
    gradients flow through its own steps only: ``dout`` after its last step is ignored, and
    at a later step its state gradients pass through unchanged (and add nothing to dx or
    the weight gradients, the step being linear in them). With the forward's ``zoneout``, the
    step sees (1 − keep) ⊙ dh_t and keep ⊙ dh_t passes straight to h_{t−1}.
    """
    steps = cache["steps"]
    lengths = cache["lengths"]
    keep = cache.get("zoneout")
    dstates = tuple(np.zeros(shape, cache["dtype"]) if d is None else d
                    for d, shape in zip(dstates, cache["state_shapes"]))
    dx = np.zeros(cache["x_shape"], cache["dtype"])
    total = None
    for t in reversed(range(len(steps))):
        running = None if lengths is None else (lengths > t)[:, None]
        if dout is not None:
            d_out = dout[t] if running is None else np.where(running, dout[t], 0)
            dstates = (dstates[0] + d_out,) + dstates[1:]
        into_step, kept = dstates, None
        if keep is not None:
            kept = keep[t] * dstates[0]
            into_step = ((1 - keep[t]) * dstates[0],) + tuple(dstates[1:])
        if running is None:
            dx[t], dprev, step_grads = step_backward(into_step, steps[t])
        else:
            through = tuple(np.where(running, d, 0) for d in into_step)
            dx[t], dprev, step_grads = step_backward(through, steps[t])
        if kept is not None:
            dprev = (dprev[0] + kept,) + tuple(dprev[1:])
        if running is None:
            dstates = dprev
        else:
            dstates = tuple(np.where(running, dp, d) for dp, d in zip(dprev, dstates))
        total = add_grads(total, step_grads)
    return dx, dstates, tuple(total)
