"""The PackedSequence race: fastrnn.torch against torch.nn inside a torch training step.

Both modules share weights; the batch is a PackedSequence of lengths uniform in [T/4, T]
(fixed seed) built with ``enforce_sorted=False``. A step is zero_grad, forward, a loss
touching the packed output and the final states with fixed weights, backward.
"""
import numpy as np

from fastrnn._bench.varlen import lengths_for

#: (T, N, I, H): the issue's two sizes
PACKED_SIZES = ((100, 32, 128, 256), (24, 8, 32, 32))


class PackedStep:
    """One module's training step on a fixed PackedSequence."""

    def __init__(self, module, packed, weights):
        self.module, self.packed, self.weights = module, packed, weights
        self.x = packed.data

    def train_step(self):
        """zero_grad, forward, loss, backward -> the packed output and the final states."""
        m = self.module
        m.zero_grad(set_to_none=True)
        self.x.grad = None
        p = self.packed
        out, hn = m(type(p)(self.x, p.batch_sizes, p.sorted_indices, p.unsorted_indices))
        finals = hn if isinstance(hn, tuple) else (hn,)
        loss = (out.data * self.weights[0]).sum()
        for f, w in zip(finals, self.weights[1:]):
            loss = loss + (f * w).sum()
        loss.backward()
        return out, finals

    def results(self):
        """One step's packed output, final states, and gradients of the input and every parameter."""
        out, finals = self.train_step()
        return [out.data.detach()] + [f.detach() for f in finals] + [self.x.grad] + \
            [q.grad for q in self.module.parameters()]


def packed_pair(cell, size, seed=0):
    """{'torch': torch.nn step, 'fastrnn': fastrnn.torch step} on the same weights and batch."""
    import torch
    import fastrnn.torch as ft
    from torch.nn.utils.rnn import pack_padded_sequence
    T, N, I, H = size
    names = {"lstm": "LSTM", "gru": "GRU", "rnn": "RNN"}
    torch.manual_seed(seed)
    ref = getattr(torch.nn, names[cell])(I, H)
    fast = getattr(ft, names[cell])(I, H)
    fast.load_state_dict(ref.state_dict())
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(T, N, I, generator=g)
    lengths = torch.as_tensor(lengths_for(T, N, seed))
    steps = {}
    for name, module in (("torch", ref), ("fastrnn", fast)):
        packed = pack_padded_sequence(x.clone().requires_grad_(), lengths, enforce_sorted=False)
        packed = type(packed)(packed.data.detach().requires_grad_(), packed.batch_sizes, packed.sorted_indices,
                              packed.unsorted_indices)
        gw = torch.Generator().manual_seed(seed + 1)
        n_states = 2 if cell == "lstm" else 1
        weights = [torch.randn(packed.data.shape[0], H, generator=gw)] + \
            [torch.randn(1, N, H, generator=gw) for _ in range(n_states)]
        steps[name] = PackedStep(module, packed, weights)
    return steps


def check_packed_agreement(steps, tol=1e-4):
    """Both steps compute the same packed output, final states and gradients: float32, so
    |fastrnn − torch| <= tol · (1 + max|torch|) for each array."""
    for a, b in zip(steps["torch"].results(), steps["fastrnn"].results()):
        a, b = a.numpy().astype(np.float64), b.numpy().astype(np.float64)
        scale = 1.0 + np.abs(a).max()
        assert np.abs(a - b).max() <= tol * scale, f"max |difference| {np.abs(a - b).max():.3g} > {tol * scale:.3g}"
