"""Whether a call is well-formed for the kernels; if not, torch.nn runs it and raises its own error.

Checked before any kernel runs (the kernels themselves do not validate): input rank,
feature size, non-empty batch and sequence, one dtype for input, states and weights,
state shapes, and weight shapes (a replaced parameter of the wrong shape must not
reach a kernel).
"""
import functools

import torch
from torch.nn.utils.rnn import PackedSequence

from fastrnn import _cells


def _weights_ok(weights, shapes, dtype):
    if len(weights) != len(shapes):
        return False
    for w, shape in zip(weights, shapes):
        if not isinstance(w, torch.Tensor) or w.dtype != dtype or tuple(w.shape) != shape:
            return False
    return True


def _states_ok(states, shape, dtype):
    for s in states:
        if s is not None and (not isinstance(s, torch.Tensor) or s.dtype != dtype or tuple(s.shape) != shape):
            return False
    return True


def sequence_call_ok(module, cell, input, states, weights):
    """module: a torch.nn.RNNBase drop-in; cell: its registry entry; input: a tensor or a
    PackedSequence; states: tuple of tensors or Nones; weights: the module's parameters per
    layer and direction (``_stack.layer_weights``)."""
    if isinstance(input, PackedSequence):
        sizes = input.batch_sizes
        if input.data.dim() != 2 or sizes.dim() != 1 or sizes.numel() == 0 or sizes.dtype != torch.int64 \
                or sizes.device.type != "cpu":
            return False
        b = sizes.numpy()
        if b[0] < 1 or b.sum() != input.data.shape[0] or (b[1:] > b[:-1]).any():
            return False
        batched, t, n, input = True, b.shape[0], int(b[0]), input.data
    elif not isinstance(input, torch.Tensor) or input.dim() not in (2, 3):
        return False
    else:
        batched = input.dim() == 3
        if batched:
            t, n = (input.shape[1], input.shape[0]) if module.batch_first else input.shape[:2]
        else:
            t, n = input.shape[0], 1
    if t == 0 or n == 0 or input.shape[-1] != module.input_size:
        return False
    h, d = module.hidden_size, 2 if module.bidirectional else 1
    proj = getattr(module, "proj_size", 0) or None
    dtype = input.dtype
    for s, size in zip(states, cell.state_sizes(h, proj)):
        shape = (module.num_layers * d, n, size) if batched else (module.num_layers * d, size)
        if not _states_ok((s,), shape, dtype):
            return False
    shapes = _stack_shapes(cell.name, module.num_layers, d, module.input_size, h, bool(module.bias), proj)
    return _weights_ok([w for layer in weights for w in layer if w is not None], shapes, dtype)


@functools.lru_cache(maxsize=256)
def _stack_shapes(cell_name, num_layers, directions, input_size, hidden_size, bias, proj_size=None):
    """The parameter shapes of a stack, layer by layer and direction by direction."""
    cell = _cells.get(cell_name)
    out_size = cell.output_size(hidden_size, proj_size)
    shapes = []
    for layer in range(num_layers):
        i = input_size if layer == 0 else directions * out_size
        for _ in range(directions):
            shapes += [shape for _, shape in cell.param_shapes("torch", i, hidden_size, bias, proj_size)]
    return tuple(shapes)


def cell_call_ok(module, cell, input, states):
    """module: a torch.nn.RNNCellBase drop-in; cell: its registry entry; states: tuple of tensors or Nones."""
    if not isinstance(input, torch.Tensor) or input.dim() not in (1, 2):
        return False
    batched = input.dim() == 2
    n = input.shape[0] if batched else 1
    if n == 0 or input.shape[-1] != module.input_size:
        return False
    h = module.hidden_size
    if not _states_ok(states, (n, h) if batched else (h,), input.dtype):
        return False
    named = cell.param_shapes("torch", module.input_size, h, module.bias)
    weights = [getattr(module, name) for name, _ in named]
    return _weights_ok(weights, [shape for _, shape in named], input.dtype)
