"""Optimizers and gradient clipping of "Deep Learning from Scratch 2", updating arrays in place.

    >>> import numpy as np
    >>> from fastrnn.optim import Adam, clip_grads
    >>> params, grads = [np.ones(3, np.float32)], [np.full(3, 10, np.float32)]
    >>> clip_grads(grads, 1.0)          # joint L2 norm now about 1
    >>> Adam(lr=0.1).update(params, grads)
"""
from ..clip import clip_grad_norm_, clip_grad_value_
from .clipping import clip_grads
from .optimizers import SGD, Momentum, Nesterov, AdaGrad, RMSprop, Adam

__all__ = ["SGD", "Momentum", "Nesterov", "AdaGrad", "RMSprop", "Adam",
           "clip_grads", "clip_grad_norm_", "clip_grad_value_"]
