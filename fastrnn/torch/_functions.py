"""One layer, one direction of a registered cell as a torch.autograd.Function over the kernels.

``apply_layer(spec, x, states, params) -> (out, *final_states)`` with time-major
``x (T, N, I)``, ``states`` a tuple of ``(N, H)`` tensors or None (zeros), one per state of
the cell, and ``params`` the cell's torch-layout parameter tensors (``w_ih (G*H, I)``,
``w_hh (G*H, H)``, biases ``(G*H,)`` or None, then the cell's others, e.g. ``w_hr``); ``out
(T, N, H)`` (``(T, N, P)`` for a cell that projects h to P features).
``spec.reverse`` runs the sequence backwards (torch's ``_reverse`` direction): ``out[t]``
is the state after reading ``x[T-1], ..., x[t]``. With ``spec.batch_sizes``, x is packed
``(R, I)`` (a PackedSequence's data) and out ``(R, H)``; states are sorted like its rows.

Tensors reach the kernels as NumPy views of their memory (no copy when already
C-contiguous); kernel results come back through ``torch.from_numpy`` (no copy).
"""
from typing import NamedTuple

import numpy as np
import torch
from torch.autograd.function import once_differentiable

from fastrnn import _cells
from fastrnn._threads import capped


class LayerSpec(NamedTuple):
    """cell: a registry entry; options: its option values (a dict); reverse: the direction
    (padded input only); batch_sizes: None for padded (T, N, I) input, else the (T,) int64
    batch sizes of packed (R, I) input (fastrnn/_kernels/packed.py: torch's PackedSequence);
    state_sizes: each state's size (the zeros of a state given as None), None for
    ``weight_hh``'s second dimension for all."""
    cell: _cells.Cell
    options: dict
    reverse: bool = False
    batch_sizes: object = None
    state_sizes: tuple = None


def _np(t):
    """Tensor or None -> C-contiguous ndarray (a view of the tensor's memory when possible)."""
    if t is None:
        return None
    return np.ascontiguousarray(t.detach().numpy())


def _seq_np(t, reverse):
    """(T, N, F) tensor or None -> C-contiguous ndarray, time-reversed if ``reverse``."""
    if t is None:
        return None
    a = t.detach().numpy()
    if reverse and a.shape[0] > 1:
        a = a[::-1]
    return np.ascontiguousarray(a)


def _seq_tensor(a, reverse):
    """Kernel (T, N, F) result -> tensor, time-reversed if ``reverse``."""
    if reverse and a.shape[0] > 1:
        a = a[::-1].copy()
    return torch.from_numpy(a)


_NP_DTYPE = {torch.float32: np.float32, torch.float64: np.float64}


def _forward(spec, x, states, params, grad=True):
    """Kernel forward -> (out tensor, tuple of final-state tensors, cache); with ``grad``
    False the forward-only kernels run and the cache is None."""
    xa = _seq_np(x, spec.reverse)
    n = xa.shape[1] if spec.batch_sizes is None else int(spec.batch_sizes[0])
    dtype = xa.dtype
    sizes = spec.state_sizes or (params[1].shape[1],) * len(states)
    states_a = tuple(np.zeros((n, h), dtype) if s is None else _np(s) for s, h in zip(states, sizes))
    run = spec.cell.forward if grad else spec.cell.forward_only
    with capped(torch.get_num_threads()):          # fastrnn's thread budget within torch's
        out, finals, *cache = run(xa, states_a, tuple(_np(p) for p in params), "torch", spec.options,
                                  spec.batch_sizes)
    return (_seq_tensor(out, spec.reverse), tuple(torch.from_numpy(s) for s in finals),
            cache[0] if cache else None)


def _backward(spec, cache, params, dout, dstates):
    """Kernel backward -> (dx, tuple of initial-state grads, tuple of parameter grads) tensors."""
    grads = tuple(None if p is None else np.empty(tuple(p.shape), _NP_DTYPE[p.dtype]) for p in params)
    with capped(torch.get_num_threads()):
        dx, dinit = spec.cell.backward(cache, _seq_np(dout, spec.reverse), tuple(_np(d) for d in dstates),
                                       grads, False)
    t = torch.from_numpy
    return (_seq_tensor(dx, spec.reverse), tuple(t(d) for d in dinit),
            tuple(None if g is None else t(g) for g in grads))


class LayerFunction(torch.autograd.Function):
    """Autograd node for one layer and direction; gradients for x, the initial states and every parameter."""

    @staticmethod
    def forward(ctx, spec, x, *tensors):
        count = len(spec.cell.state_names)
        states, params = tensors[:count], tensors[count:]
        out, finals, cache = _forward(spec, x, states, params)
        ctx.spec, ctx.cache = spec, cache
        # Saved so torch's version counters catch in-place changes before backward (the
        # cache holds views of x, the states, the weights and, unreversed, of out), and so a
        # second backward (retain_graph=True) can rebuild the consumed cache.
        ctx.save_for_backward(x, *tensors, None if spec.reverse else out)
        ctx.set_materialize_grads(False)
        return (out, *finals)

    @staticmethod
    def backward(ctx, dout, *dfinals):
        if torch.is_grad_enabled():          # create_graph=True: a graph of the gradient is wanted
            raise RuntimeError(
                "fastrnn.torch: the fused kernels' backward is not differentiable, so a gradient with "
                "create_graph=True (double backward, e.g. a gradient penalty) is not available; use the "
                "torch.nn module for that term")
        return LayerFunction._backward_once(ctx, dout, *dfinals)

    @staticmethod
    @once_differentiable
    def _backward_once(ctx, dout, *dfinals):
        spec = ctx.spec
        count = len(spec.cell.state_names)
        x, *tensors = ctx.saved_tensors[:-1]
        states, params = tuple(tensors[:count]), tuple(tensors[count:])
        cache, ctx.cache = ctx.cache, None
        if cache is None:                # the kernel backward consumed it: recompute
            cache = _forward(spec, x, states, params)[2]
        dx, dinit, dparams = _backward(spec, cache, params, dout, dfinals)
        need = ctx.needs_input_grad[1:]
        grads = (dx,) + dinit + dparams
        return (None,) + tuple(g if n else None for g, n in zip(grads, need))


def apply_layer(spec, x, states, params):
    """Run one layer/direction -> (out, *final_states); recorded for autograd if needed, else
    (torch.no_grad(), inference_mode(), nothing requiring grad) the forward-only kernels."""
    tensors = (*states, *params)
    if torch.is_grad_enabled() and any(t is not None and t.requires_grad for t in (x, *tensors)):
        return LayerFunction.apply(spec, x, *tensors)
    out, finals, _ = _forward(spec, x, states, params, grad=False)
    return (out, *finals)
