"""fastrnn: fused, Numba-compiled LSTM/GRU/RNN training on the CPU.

Importing fastrnn compiles nothing: kernels compile on first use (and are cached on
disk by Numba, see docs/compile-cache.md).

    >>> import numpy as np, fastrnn
    >>> lstm = fastrnn.LSTM(8, 16, seed=0)
    >>> out, (h, c) = lstm(np.zeros((5, 2, 8), np.float32))
    >>> out.shape, h.shape
    ((5, 2, 16), (1, 2, 16))
"""
import importlib

__version__ = "0.1.0"

# Public names resolve on first access (PEP 562), so `import fastrnn` stays cheap and
# loads Numba only when a module that needs it is used.
_LAZY = {
    "LSTM": "fastrnn.nn", "GRU": "fastrnn.nn", "RNN": "fastrnn.nn",
    "LayerNormLSTM": "fastrnn.nn", "LayerNormGRU": "fastrnn.nn",
    "LSTMCell": "fastrnn.nn", "GRUCell": "fastrnn.nn", "RNNCell": "fastrnn.nn",
    "clip_grad_norm_": "fastrnn.clip", "clip_grad_value_": "fastrnn.clip",
    "no_grad": "fastrnn._grad_mode", "enable_grad": "fastrnn._grad_mode", "is_grad_enabled": "fastrnn._grad_mode",
    "set_num_threads": "fastrnn._threads", "get_num_threads": "fastrnn._threads",
    "show_config": "fastrnn._config",
}
_SUBMODULES = ("functional", "nn", "layers", "optim", "models", "train", "datasets", "oracle", "clip", "onnx",
               "convert")


def __getattr__(name):
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
    elif name in _SUBMODULES:
        value = importlib.import_module(f"fastrnn.{name}")
    else:
        raise AttributeError(f"module 'fastrnn' has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(_LAZY) | set(_SUBMODULES))

__all__ = ["LSTM", "GRU", "RNN", "LayerNormLSTM", "LayerNormGRU", "LSTMCell", "GRUCell", "RNNCell",
           "clip_grad_norm_", "clip_grad_value_", "no_grad", "enable_grad", "is_grad_enabled",
           "set_num_threads", "get_num_threads", "show_config",
           "functional", "oracle", "__version__"]
