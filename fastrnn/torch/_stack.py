"""torch.nn.LSTM/GRU/RNN forward semantics (layers, directions, dropout, batch_first,
unbatched input) built from one autograd node per layer and direction.

Shapes are torch's: input ``(T, N, I)`` (``(N, T, I)`` with batch_first, ``(T, I)``
unbatched), states ``(L*D, N, H)`` (``(L*D, H)`` unbatched), output ``(T, N, D*H)``.
Dropout between layers is torch's own op, so it draws from torch's RNG as torch.nn does.
"""
import torch
import torch.nn.functional as F

from fastrnn.torch._functions import LayerSpec, apply_layer


def run_sequence(module, cell, options, input, states):
    """-> (output, tuple of final states). ``cell``: the registry entry; ``states``: one tensor
    or None per state of the cell."""
    batched = input.dim() == 3
    batch_dim = 0 if module.batch_first else 1
    if not batched:
        input = input.unsqueeze(batch_dim)
        states = tuple(None if s is None else s.unsqueeze(1) for s in states)
    x = input.transpose(0, 1) if module.batch_first else input
    directions = 2 if module.bidirectional else 1
    names = [p.name for p in cell.params("torch", module.bias)]
    per = len(names)
    flat = module._flat_weights
    finals = [[] for _ in states]
    for layer in range(module.num_layers):
        outs = []
        for direction in range(directions):
            k = layer * directions + direction
            given = dict(zip(names, flat[k * per:(k + 1) * per]))
            params = tuple(given.get(p.name) for p in cell.params("torch"))
            init = tuple(None if s is None else s[k] for s in states)
            spec = LayerSpec(cell, options, direction == 1)
            out, *last = apply_layer(spec, x, init, params)
            outs.append(out)
            for acc, s in zip(finals, last):
                acc.append(s)
        x = outs[0] if directions == 1 else torch.cat(outs, 2)
        if module.dropout and module.training and layer < module.num_layers - 1:
            x = F.dropout(x, module.dropout, True)
    output = x.transpose(0, 1) if module.batch_first else x
    finals = tuple(acc[0].unsqueeze(0) if len(acc) == 1 else torch.stack(acc) for acc in finals)
    if not batched:
        output = output.squeeze(batch_dim)
        finals = tuple(s.squeeze(1) for s in finals)
    return output, finals


def run_cell(module, cell, options, input, states):
    """One step -> tuple of new states. input (N, I) or (I,); states (N, H)/(H,) or Nones."""
    batched = input.dim() == 2
    if not batched:
        input = input.unsqueeze(0)
        states = tuple(None if s is None else s.unsqueeze(0) for s in states)
    params = tuple(getattr(module, p.name) for p in cell.params("torch"))
    out, *new = apply_layer(LayerSpec(cell, options), input.unsqueeze(0), tuple(states), params)
    if not batched:
        new = [s.squeeze(0) for s in new]
    return tuple(new)
