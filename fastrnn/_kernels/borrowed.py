"""Borrowed arrays: the kernels' arguments without their reference count, for cheap views.

Every view a compiled kernel takes (``gates[off:off + b]``, ``row[oi:oi + H]``) shares its
array's memory-manager record (Numba's meminfo), and Numba increments and decrements that
record's count around each one: an atomic instruction, a full memory barrier, twice per
view. The time loops take several views per row and step, and call helpers (the per-step
products, the final-state copies) with more; the refcount pruning pass removes only the pairs
it can see within straight-line code. Measured (one thread, float32, the LSTM forward
kernel called from compiled code): a step of (N, H) = (1, 8) cost 0.29 us, 0.23 us on
borrowed arrays. Whole steps of the tiny and small sizes ran 1.03-1.28x faster; from the
medium size up the difference is within noise (docs/performance.md, "Borrowed arrays").

``borrow(a, b, ...)`` returns the same arrays (same data, shape, strides, type) with no
meminfo: their views touch no count (the count functions return at once for a null record).
A borrowed array is only valid while the original is alive, so a kernel borrows its own
arguments, which its caller holds for the whole call, and never returns or stores them.
"""
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic


@intrinsic
def borrow(typingctx, *arrays):
    """(arrays...) -> the tuple of the same arrays without their meminfo (see above)."""
    if len(arrays) == 1 and isinstance(arrays[0], types.StarArgTuple):
        arrays = tuple(arrays[0].types)
    if not arrays or not all(isinstance(a, types.Array) for a in arrays):
        return None
    result = types.Tuple(arrays)

    def codegen(context, builder, signature, args):
        borrowed = []
        for array_type, value in zip(arrays, cgutils.unpack_tuple(builder, args[0])):
            proxy = cgutils.create_struct_proxy(array_type)(context, builder, value=value)
            proxy.meminfo = cgutils.get_null_value(proxy.meminfo.type)
            proxy.parent = cgutils.get_null_value(proxy.parent.type)
            borrowed.append(proxy._getvalue())
        return context.make_tuple(builder, result, borrowed)

    return result(types.StarArgTuple(arrays)), codegen
