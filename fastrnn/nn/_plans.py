"""A module's forward-only plans, kept for repeated calls of one shape (private).

Serving and streaming call a module again and again with the same (T, N). Forward only,
fastrnn.nn runs each layer through its cell's ``plan`` (spec.Cell): the workspaces are made
and the kernel's fixed arguments bound once per shape, so a call costs its checks, its
output arrays and one kernel call per layer.

A plan is taken for a call and given back after it: a second thread calling the same module
meanwhile finds none free and makes its own, so no two calls share a workspace
(``list.pop``/``append`` are atomic). A plan remembers the parameter arrays it was made for
(the module's guard hands out the same tuple while the entries are the same objects) and is
remade for a layer whose arrays were replaced; in-place updates (optimizers,
``load_state_dict``) are read by the kernels as they are. A deep copy of the module starts
without plans (its runs would read the original's arrays).
"""
import numpy as np

from .._cells.batch_split import split_point

MAX_SHAPES = 8          # shapes whose plans a module keeps (serving with many shapes starts over)


class LayerPlans:
    """One plan per layer for a (T, N) call: the runs, the params each was made for, and
    zero initial states (the kernels only read them)."""

    __slots__ = ("params", "runs", "zeros")

    def __init__(self, layers, N, sizes, dtype):
        self.params = [None] * layers
        self.runs = [None] * layers
        self.zeros = tuple(np.zeros((N, size), dtype) for size in sizes)

    def run(self, k, cell, x, params, options):
        """Layer k's run for input x (T, N, I) and these params, or None where the cell has
        no plan or the call is big enough to split across threads (batch_split)."""
        if cell.plan is None or split_point(x, params):
            return None
        if self.params[k] is not params:
            T, N = x.shape[0], x.shape[1]
            self.runs[k] = cell.plan(T, N, params, options)
            self.params[k] = params
        return self.runs[k]


class Plans:
    """A module's LayerPlans by call key, free ones only (see the module docstring)."""

    __slots__ = ("_free",)

    def __init__(self):
        self._free = {}

    def take(self, key):
        try:
            return self._free[key].pop()
        except (KeyError, IndexError):
            return None

    def give(self, key, plans):
        free = self._free.get(key)
        if free is None:
            if len(self._free) >= MAX_SHAPES:
                self._free.clear()
            free = self._free.setdefault(key, [])
        free.append(plans)

    def __deepcopy__(self, memo):
        return Plans()
