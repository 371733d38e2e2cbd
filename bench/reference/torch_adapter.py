"""fastrnn.torch modules against torch.nn's, a training step inside torch (benchmarks only).

The step is what a torch training loop does with a recurrent layer: ``zero_grad``, forward,
a scalar loss (``(out * weight).sum()``, so every output element gets a gradient), and
``loss.backward()``, which fills the gradients of every parameter and of the input.
Both modules hold the same weights (``load_state_dict`` from one to the other).
"""
import numpy as np

ADAPTER_CELLS = ("lstm", "gru", "rnn")
ADAPTER_IMPLS = ("fastrnn.torch", "torch.nn")
# (T, N, I, H): the size, and a small one for the smoke run
ADAPTER_SIZES = {"T50-N32-I128-H256": (50, 32, 128, 256), "T8-N4-I6-H5": (8, 4, 6, 5)}


def _classes(cell):
    import torch
    import fastrnn.torch as ft
    name = {"lstm": "LSTM", "gru": "GRU", "rnn": "RNN"}[cell]
    return {"fastrnn.torch": getattr(ft, name), "torch.nn": getattr(torch.nn, name)}


def adapter_problem(cell, size, dtype="float32", seed=0):
    """Modules of both implementations with the same weights, an input and a loss weight."""
    import torch
    T, N, I, H = size
    tdtype = getattr(torch, dtype)
    gen = torch.Generator().manual_seed(seed)
    classes = _classes(cell)
    reference = classes["torch.nn"](I, H, dtype=tdtype)
    modules = {"torch.nn": reference}
    modules["fastrnn.torch"] = classes["fastrnn.torch"](I, H, dtype=tdtype)
    modules["fastrnn.torch"].load_state_dict(reference.state_dict())
    x = torch.randn(T, N, I, generator=gen, dtype=tdtype)
    weight = torch.randn(T, N, H, generator=gen, dtype=tdtype)
    return modules, x, weight


def train_step(module, x, weight):
    """A zero-argument callable: one training step; returns (loss, input grad)."""
    xg = x.clone().requires_grad_(True)

    def step():
        module.zero_grad(set_to_none=True)
        xg.grad = None
        out, _ = module(xg)
        loss = (out * weight).sum()
        loss.backward()
        return loss, xg.grad
    return step


def check_agree(modules, x, weight, rtol=1e-4, atol=1e-5):
    """Both implementations give the same loss, input gradient and parameter gradients."""
    results = {}
    for name, module in modules.items():
        loss, dx = train_step(module, x, weight)()
        grads = {k: p.grad.detach().numpy().copy() for k, p in module.named_parameters()}
        results[name] = (loss.item(), dx.detach().numpy().copy(), grads)
    (l1, dx1, g1), (l2, dx2, g2) = results["fastrnn.torch"], results["torch.nn"]
    np.testing.assert_allclose(l1, l2, rtol=rtol, atol=atol * x.numel() ** 0.5)
    np.testing.assert_allclose(dx1, dx2, rtol=rtol, atol=atol)
    assert g1.keys() == g2.keys()
    for k in g1:
        np.testing.assert_allclose(g1[k], g2[k], rtol=rtol, atol=atol * x.shape[0], err_msg=k)
