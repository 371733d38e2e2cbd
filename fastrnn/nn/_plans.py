"""A module's forward-only plans, kept for repeated calls of one shape (private).

Serving and streaming call a module again and again with the same (T, N). Forward only,
fastrnn.nn runs each layer through its cell's ``plan`` (spec.Cell): the workspaces are made
and the kernel's fixed arguments bound once per shape, and the outputs of the layers below
the top one go to workspaces of the plan too, so a call costs its checks, its output arrays
and one kernel call per layer.

A plan is taken for a call and given back after it: a second thread calling the same module
meanwhile finds none free and makes its own, so no two calls share a workspace
(``list.pop``/``append`` are atomic). A plan remembers the parameter arrays it was made for
(the module's guard hands out the same tuple while the entries are the same objects) and
remakes its runs when they were replaced; in-place updates (optimizers, ``load_state_dict``)
are read by the kernels as they are. A deep copy of the module starts without plans (its
runs would read the original's arrays).
"""
import numpy as np

from .._cells.batch_split import may_split, split_point
from .._threads import kernel_threads

MAX_SHAPES = 8          # shapes whose plans a module keeps (serving with many shapes starts over)
BETWEEN_BYTES = 1 << 18     # a lower layer's output up to this size goes to a workspace kept in the plan;
                            # a bigger one is made per call (a plan does not hold memory of the output's size)


class LayerPlans:
    """The plans of every layer for a (T, N) call: the runs (None for a cell without a plan),
    the parameter arrays they were made for, each lower layer's output rows (T*N, its
    size, or None where that is over BETWEEN_BYTES), and zero initial states (the kernels
    only read them)."""

    __slots__ = ("arrays", "params", "runs", "between", "zeros", "T", "N", "out_size", "dtype")

    def __init__(self, layers, T, N, sizes, dtype):
        self.T, self.N, self.out_size, self.dtype = T, N, sizes[0], dtype
        self.arrays = None
        self.params = [None] * layers
        self.runs = [None] * layers
        small = T * N * sizes[0] * np.dtype(dtype).itemsize <= BETWEEN_BYTES
        self.between = [np.empty((T * N, sizes[0]), dtype) if small else None for _ in range(layers - 1)]
        self.zeros = tuple(np.zeros((N, size), dtype) for size in sizes)

    def update(self, arrays, widths, cell, T, N, options):
        """Take the parameter arrays of every layer in turn (``arrays``, the guard's tuple,
        ``widths[k]`` of them layer k's) and remake the runs of the layers whose arrays
        changed."""
        if arrays is self.arrays:
            return
        start = 0
        for k, width in enumerate(widths):
            params = arrays[start:start + width]
            start += width
            if not _same(params, self.params[k]):
                self.params[k] = params
                self.runs[k] = None if cell.plan is None else cell.plan(T, N, params, options)
        self.arrays = arrays

    def forward(self, cell, layer_in, inits, finals, options):
        """Run every layer in turn, forward only: ``layer_in`` (T*N, I) rows, ``inits[k]`` and
        ``finals[k]`` layer k's initial states and the (N, size) arrays its final states are
        written into -> the top layer's output rows (T*N, out size), a new array. A layer
        without a run, or one the thread budget splits in two (fastrnn._cells.batch_split),
        runs through its cell's ``forward_only``."""
        T, N = self.T, self.N
        top = len(self.runs) - 1
        splitting = may_split()          # else split_point is None for every layer, without the views
        with kernel_threads():
            for k, (run, params) in enumerate(zip(self.runs, self.params)):
                padded = layer_in.reshape(T, N, -1) if run is None or splitting else None
                if run is None or (splitting and split_point(padded, params) is not None):
                    layer_out, final = cell.forward_only(padded, inits[k], params, "torch", options)
                    for into, value in zip(finals[k], final):
                        into[...] = value
                    layer_in = layer_out.reshape(T * N, -1)
                    continue
                into = self.between[k] if k < top else None
                if into is None:
                    into = np.empty((T * N, self.out_size), self.dtype)
                run(layer_in, inits[k], into, finals[k])
                layer_in = into
        return layer_in


def _same(arrays, others):
    """True when two tuples hold the same objects (arrays compare elementwise with ``==``)."""
    return others is not None and all(a is b for a, b in zip(arrays, others))


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
