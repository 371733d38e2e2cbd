"""Activation functions of the oracle (exact NumPy)."""
import numpy as np


def sigmoid(x):
    """Logistic function, numerically safe for large |x|."""
    with np.errstate(over="ignore"):
        return 1.0 / (1.0 + np.exp(-x))


def relu(x):
    return np.maximum(x, 0)
