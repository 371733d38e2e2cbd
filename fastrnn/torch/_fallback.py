"""When the drop-ins hand a call to torch's own implementation, and the one-time warning.

The kernels run CPU, strided, float32/float64 tensors under plain eager autograd, padded
or in a PackedSequence, ``proj_size`` included. Anything else (CUDA, half/bfloat16, autocast,
``torch.compile``/tracing, ``torch.func`` transforms, forward-mode AD, tensor
subclasses) runs through ``torch.nn``'s implementation, with a
:class:`FallbackWarning` issued once per reason per process.
"""
import warnings

import torch
import torch.autograd.forward_ad as _forward_ad
from torch.nn.utils.rnn import PackedSequence

KERNEL_DTYPES = (torch.float32, torch.float64)

MESSAGES = {
    "compile": "torch.compile / TorchScript tracing",
    "functorch": "torch.func transforms (vmap, grad, jvp, ...)",
    "forward_ad": "forward-mode AD",
    "autocast": "autocast",
    "device": "tensors not on the CPU",
    "layout": "tensor subclasses or non-strided layouts",
    "dtype": "dtypes other than float32/float64",
}

_warned = set()


class FallbackWarning(UserWarning):
    """fastrnn.torch ran torch.nn's own implementation for an input its kernels do not cover."""


def warn_once(reason):
    """Issue the FallbackWarning for ``reason`` (a key of MESSAGES) the first time only."""
    if reason in _warned:
        return
    _warned.add(reason)
    warnings.warn(f"fastrnn.torch: the fastrnn kernels do not cover {MESSAGES[reason]}; running torch's "
                  "own implementation instead (warned once per reason)",
                  FallbackWarning, stacklevel=5)     # warn_once < forward < _call_impl < __call__ < caller


def reset_warnings():
    """Forget which reasons were warned about (so each warns again; for tests)."""
    _warned.clear()


def fallback_reason(module, input, states, weights):
    """Key of MESSAGES why ``module(input, ...)`` must run through torch, or None.

    ``states``: the initial-state tensors of the call; ``weights``: the module's parameters
    (None entries allowed in both).
    """
    if isinstance(input, PackedSequence):
        input = input.data                # runs on the kernels; its data decides the rest
    if torch.compiler.is_compiling() or torch.jit.is_tracing() or torch.jit.is_scripting():
        return "compile"
    if torch._C._are_functorch_transforms_active():
        return "functorch"
    if _forward_ad._current_level >= 0:
        return "forward_ad"
    if torch._C._is_any_autocast_enabled():
        return "autocast"
    if not isinstance(input, torch.Tensor):
        return None                     # torch raises its own error
    everything = [t for t in (input, *weights, *states) if isinstance(t, torch.Tensor)]
    for t in everything:
        if t.device.type != "cpu":
            return "device"
    for t in everything:
        if (t.layout != torch.strided or torch.overrides.has_torch_function((t,))):
            return "layout"
    if weights[0] is not None and weights[0].dtype not in KERNEL_DTYPES:
        return "dtype"
    return None
