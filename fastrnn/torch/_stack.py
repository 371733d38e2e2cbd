"""torch.nn.LSTM/GRU/RNN forward semantics (layers, directions, dropout, batch_first,
unbatched input) built from one autograd node per layer and direction.

Shapes are torch's: input ``(T, N, I)`` (``(N, T, I)`` with batch_first, ``(T, I)``
unbatched), states ``(L*D, N, H)`` (``(L*D, H)`` unbatched), output ``(T, N, D*H)``.
Dropout between layers is torch's own op, so it draws from torch's RNG as torch.nn does.
"""
import torch
import torch.nn.functional as F

from fastrnn.torch._functions import LayerSpec, apply_layer


def run_sequence(module, cell, nonlinearity, input, states):
    """-> (output, tuple of final states (h_n[, c_n])). states: tuple of h0[, c0] or Nones."""
    batched = input.dim() == 3
    batch_dim = 0 if module.batch_first else 1
    if not batched:
        input = input.unsqueeze(batch_dim)
        states = tuple(None if s is None else s.unsqueeze(1) for s in states)
    x = input.transpose(0, 1) if module.batch_first else input
    directions = 2 if module.bidirectional else 1
    per = 4 if module.bias else 2
    flat = module._flat_weights
    finals = [[] for _ in states]
    for layer in range(module.num_layers):
        outs = []
        for direction in range(directions):
            k = layer * directions + direction
            w = flat[k * per:(k + 1) * per]
            b_ih, b_hh = (w[2], w[3]) if module.bias else (None, None)
            init = [None if s is None else s[k] for s in states]
            if len(init) == 1:
                init.append(None)
            spec = LayerSpec(cell, nonlinearity, direction == 1)
            out, *last = apply_layer(spec, x, init[0], init[1], w[0], w[1], b_ih, b_hh)
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


def run_cell(cell, nonlinearity, module, input, states):
    """One step -> tuple of new states (h'[, c']). input (N, I) or (I,); states (N, H)/(H,) or Nones."""
    batched = input.dim() == 2
    if not batched:
        input = input.unsqueeze(0)
        states = tuple(None if s is None else s.unsqueeze(0) for s in states)
    init = list(states) + [None] * (2 - len(states))
    out, *new = apply_layer(LayerSpec(cell, nonlinearity), input.unsqueeze(0), init[0], init[1],
                            module.weight_ih, module.weight_hh, module.bias_ih, module.bias_hh)
    if not batched:
        new = [s.squeeze(0) for s in new]
    return tuple(new)
