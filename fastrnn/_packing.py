"""Variable-length batches: padded ``(T, N, ·)`` arrays with ``lengths`` <-> the kernels' packed rows.

The kernels run on packed rows (fastrnn/_kernels/packed.py): the sequences sorted by
length, longest first, and step t holding the rows of the b_t sequences still running,
so no padding enters a product or a pointwise pass. :class:`Packing` holds that packing for
one batch: ``pack`` gathers the real rows of a padded array, ``unpack`` scatters rows back
(zeros in the padding), ``sort``/``unsort`` reorder per-sequence states, and
``reverse`` maps each row to its mirror within its own sequence (a reverse direction runs
each sequence from its last step down to its first). The semantics are fastrnn.oracle's.
"""
import numpy as np

from ._kernels.packed import packing_of


def sequence_lengths(batch_sizes):
    """(b_0,) int64: the length of each of the b_0 sequences with a step, from the batch sizes."""
    return np.searchsorted(-batch_sizes, -np.arange(batch_sizes[0]), side="left")


def offsets_of(batch_sizes):
    """(T + 1,) int64: the first row of each step, then R."""
    offsets = np.zeros(batch_sizes.shape[0] + 1, np.int64)
    np.cumsum(batch_sizes, out=offsets[1:])
    return offsets


def reverse_rows(batch_sizes):
    """(R,) int64: for packed row (t, n) the row (L_n − 1 − t, n); an involution."""
    batch_sizes = np.asarray(batch_sizes, np.int64)
    T = batch_sizes.shape[0]
    if T == 0:
        return np.zeros(0, np.int64)
    offsets = offsets_of(batch_sizes)
    lengths = sequence_lengths(batch_sizes)
    steps = np.repeat(np.arange(T), batch_sizes)
    seqs = np.arange(offsets[-1]) - offsets[steps]
    return offsets[lengths[seqs] - 1 - steps] + seqs


class Packing:
    """The packing of a batch of N sequences of at most T steps with ``lengths`` (N,)."""

    __slots__ = ("T", "N", "lengths", "order", "inverse", "batch_sizes", "index", "_reverse")

    def __init__(self, lengths, T):
        self.T, self.N = T, lengths.shape[0]
        self.lengths = lengths
        self.order, self.batch_sizes, self.index = packing_of(lengths, T)
        self.inverse = np.argsort(self.order)
        self._reverse = None

    @property
    def rows(self):
        """R, the number of real rows."""
        return self.index.shape[0]

    def pack(self, padded):
        """(T, N, F) -> (R, F), C-contiguous (the padding is left out)."""
        return padded.reshape(self.T * self.N, padded.shape[2])[self.index]

    def unpack(self, rows):
        """(R, F) -> (T, N, F) with zeros in the padding."""
        out = np.zeros((self.T * self.N, rows.shape[1]), rows.dtype)
        out[self.index] = rows
        return out.reshape(self.T, self.N, rows.shape[1])

    def sort(self, states):
        """(N, ...) in the caller's order -> sorted like the rows (C-contiguous)."""
        return states[self.order]

    def unsort(self, states):
        """(N, ...) sorted like the rows -> the caller's order."""
        return states[self.inverse]

    def reverse(self, rows):
        """(R, F) rows -> each sequence's rows in reverse step order (see :func:`reverse_rows`)."""
        if self._reverse is None:
            self._reverse = reverse_rows(self.batch_sizes)
        return rows[self._reverse]


class Padded:
    """The packing of a batch whose sequences all have T steps: arrays stay padded (T, N, F),
    nothing is reordered, and a reverse direction reads the whole batch backwards."""

    __slots__ = ("T", "N")
    batch_sizes = None

    def __init__(self, T, N):
        self.T, self.N = T, N

    @property
    def rows(self):
        return self.T * self.N

    def pack(self, padded):
        return padded

    def unpack(self, rows):
        return rows

    def sort(self, states):
        return states

    def unsort(self, states):
        return states

    def reverse(self, rows):
        return np.ascontiguousarray(rows[::-1])


class Truncated(Padded):
    """The packing of a batch whose sequences all have the same L <= T steps: the first L steps
    of the padded arrays (a view, nothing gathered or reordered); the output is padded with
    zeros back to T steps."""

    __slots__ = ("steps",)

    def __init__(self, steps, T, N):
        super().__init__(T, N)
        self.steps = steps

    @property
    def rows(self):
        return self.steps * self.N

    def pack(self, padded):
        return padded[:self.steps]

    def unpack(self, rows):
        if self.steps == self.T:
            return rows
        out = np.zeros((self.T,) + rows.shape[1:], rows.dtype)
        out[:self.steps] = rows
        return out


def packing_for(lengths, T, N):
    """The cheapest packing of a batch: Padded without lengths, Truncated when every sequence has
    the same length (all T included: then it is the padded call), else Packing."""
    if lengths is None:
        return Padded(T, N)
    if N == 0 or (lengths == lengths[0]).all():
        return Truncated(int(lengths[0]) if N else 0, T, N)
    return Packing(lengths, T)


def add_reversed(packing, total, rows):
    """total += packing.reverse(rows), without a copy for a padded batch."""
    if isinstance(packing, Padded):
        total += rows[::-1]
    else:
        total += packing.reverse(rows)
    return total
