"""torch.nn.LSTM/GRU/RNN forward semantics (layers, directions, dropout, batch_first,
unbatched input) built from one autograd node per layer and direction.

Shapes are torch's: input ``(T, N, I)`` (``(N, T, I)`` with batch_first, ``(T, I)``
unbatched), states ``(L*D, N, H)`` (``(L*D, H)`` unbatched), output ``(T, N, D*H)``.
Dropout between layers is torch's own op, so it draws from torch's RNG as torch.nn does.
"""
import numpy as np
import torch
import torch.nn.functional as F
from torch.nn.utils.rnn import PackedSequence

from fastrnn._packing import reverse_rows
from fastrnn.torch._functions import LayerSpec, apply_layer


def layer_weights(module, cell):
    """The module's parameters per layer and direction, each a tuple in the cell's torch
    parameter order (None for a left-out bias): torch's own through ``_flat_weights``, the
    cell's others (``weight_ph_l{k}``) by name."""
    specs = cell.params("torch")
    names = [p.name for p in specs if module.bias or not p.bias]
    flat, per = module._flat_weights, len(names)
    count = module.num_layers * (2 if module.bidirectional else 1)
    if len(flat) == per * count:       # torch holds all of them, in the cell's order
        return [tuple(dict(zip(names, flat[k * per:(k + 1) * per])).get(p.name) for p in specs)
                for k in range(count)]
    flat = dict(zip(module._flat_weights_names, flat))
    out = []
    for layer in range(module.num_layers):
        for direction in range(2 if module.bidirectional else 1):
            suffix = f"_l{layer}" + ("_reverse" if direction else "")
            out.append(tuple(None if p.bias and not module.bias else
                             flat[p.name + suffix] if p.name + suffix in flat else getattr(module, p.name + suffix)
                             for p in specs))
    return out


def state_sizes(module, cell):
    """Each state's size in ``module`` (h: proj_size when it projects, else hidden_size)."""
    return cell.state_sizes(module.hidden_size, getattr(module, "proj_size", 0) or None)


def _run_layers(module, cell, options, x, states, batch_sizes=None, weights=None):
    """The stack over time-major padded x (T, N, I), or packed rows (R, I) with ``batch_sizes``
    -> (last layer's output, tuple of final states (L*D, N, H)). The reverse direction reads
    each sequence backwards: inside the autograd node when padded, through an index of the
    rows (each sequence's steps mirrored within its length) when packed. ``options``: the
    cell's option values, or a callable ``(k, rows_shape, dtype) -> options`` for layer and
    direction k whose kernel rows have shape ``rows_shape`` ((T, N) or (R,)): a zoneout mask's."""
    directions = 2 if module.bidirectional else 1
    mirror = None
    if batch_sizes is not None and directions == 2:
        mirror = torch.from_numpy(reverse_rows(batch_sizes))
    weights = weights or layer_weights(module, cell)
    sizes = state_sizes(module, cell)
    finals = [[] for _ in states]
    for layer in range(module.num_layers):
        outs = []
        for direction in range(directions):
            k = layer * directions + direction
            init = tuple(None if s is None else s[k] for s in states)
            flip = direction == 1 and mirror is not None
            opts = options(k, tuple(x.shape[:-1]), x.dtype) if callable(options) else options
            spec = LayerSpec(cell, opts, direction == 1 and mirror is None, batch_sizes, sizes)
            out, *last = apply_layer(spec, x.index_select(0, mirror) if flip else x, init, weights[k])
            outs.append(out.index_select(0, mirror) if flip else out)
            for acc, s in zip(finals, last):
                acc.append(s)
        x = outs[0] if directions == 1 else torch.cat(outs, -1)
        if module.dropout and module.training and layer < module.num_layers - 1:
            x = F.dropout(x, module.dropout, True)
    return x, tuple(acc[0].unsqueeze(0) if len(acc) == 1 else torch.stack(acc) for acc in finals)


def run_sequence(module, cell, options, input, states, weights=None):
    """-> (output, tuple of final states). ``cell``: the registry entry; ``states``: one tensor
    or None per state of the cell; ``weights``: :func:`layer_weights` (None: read them)."""
    batched = input.dim() == 3
    batch_dim = 0 if module.batch_first else 1
    if not batched:
        input = input.unsqueeze(batch_dim)
        states = tuple(None if s is None else s.unsqueeze(1) for s in states)
    x = input.transpose(0, 1) if module.batch_first else input
    x, finals = _run_layers(module, cell, options, x, states, None, weights)
    output = x.transpose(0, 1) if module.batch_first else x
    if not batched:
        output = output.squeeze(batch_dim)
        finals = tuple(s.squeeze(1) for s in finals)
    return output, finals


def run_packed(module, cell, options, packed, states, weights=None):
    """A PackedSequence through the stack -> (PackedSequence output, tuple of final states in the
    caller's order). ``states``: the caller's initial states (L*D, N, H) or Nones."""
    batch_sizes = packed.batch_sizes.numpy().astype(np.int64)
    sorted_idx, unsorted_idx = packed.sorted_indices, packed.unsorted_indices
    if sorted_idx is not None:
        states = tuple(None if s is None else s.index_select(1, sorted_idx) for s in states)
    x, finals = _run_layers(module, cell, options, packed.data, states, batch_sizes, weights)
    if unsorted_idx is not None:
        finals = tuple(f.index_select(1, unsorted_idx) for f in finals)
    return PackedSequence(x, packed.batch_sizes, sorted_idx, unsorted_idx), finals


def run_cell(module, cell, options, input, states):
    """One step -> tuple of new states. input (N, I) or (I,); states (N, H)/(H,) or Nones."""
    batched = input.dim() == 2
    if not batched:
        input = input.unsqueeze(0)
        states = tuple(None if s is None else s.unsqueeze(0) for s in states)
    params = tuple(getattr(module, p.name) for p in cell.params("torch"))
    spec = LayerSpec(cell, options, state_sizes=cell.state_sizes(module.hidden_size))
    out, *new = apply_layer(spec, input.unsqueeze(0), tuple(states), params)
    if not batched:
        new = [s.squeeze(0) for s in new]
    return tuple(new)
