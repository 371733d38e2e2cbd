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


def unroll_forward(step, x, states):
    """Run ``step(x_t, *states) -> (new_states, step_cache)`` over x (T, N, I).

    Returns out (T, N, H) (the first state after each step), the final states and a
    cache holding every step's cache.
    """
    outs, caches = [], []
    for t in range(x.shape[0]):
        states, step_cache = step(x[t], *states)
        outs.append(states[0])
        caches.append(step_cache)
    out = np.stack(outs) if outs else np.zeros((0,) + states[0].shape, states[0].dtype)
    return out, states, dict(steps=caches, x_shape=x.shape, dtype=states[0].dtype)


def unroll_backward(step_backward, dout, dstates, cache):
    """Backward through time: ``step_backward(dstates, step_cache) -> (dx_t, dstates, grads)``.

    dout (T, N, H) or None is added to the first state's gradient at each step; None
    entries of dstates are zeros. Returns dx (T, N, I), the initial states' gradients and
    the weight gradients summed over time.
    """
    steps = cache["steps"]
    shape = steps[-1]["h"].shape
    dstates = tuple(np.zeros(shape, cache["dtype"]) if d is None else d for d in dstates)
    dx = np.zeros(cache["x_shape"], cache["dtype"])
    total = None
    for t in reversed(range(len(steps))):
        if dout is not None:
            dstates = (dstates[0] + dout[t],) + dstates[1:]
        dx[t], dstates, step_grads = step_backward(dstates, steps[t])
        total = add_grads(total, step_grads)
    return dx, dstates, tuple(total)
