"""fastrnn/_kernels/borrowed.py: arrays without their reference count, as the kernels use them."""
import sys

import numpy as np
import pytest
from numba import njit
from numba.core.errors import TypingError

from fastrnn._kernels.borrowed import borrow


@njit(cache=True)
def _write_through_views(a, b):
    """Through borrowed copies: row views of a get b's rows doubled; -> a column sum of b."""
    a, b = borrow(a, b)
    for n in range(a.shape[0]):
        row, source = a[n], b[n]
        for j in range(row.shape[0]):
            row[j] = 2 * source[j]
    total = 0.0
    column = b[:, 0]
    for n in range(column.shape[0]):
        total += column[n]
    return total


@njit(cache=True)
def _shape_and_strides(a):
    (c,) = borrow(a)
    return c.shape, c.strides, c.ctypes.data == a.ctypes.data


def test_views_of_borrowed_arrays_read_and_write_the_originals():
    rng = np.random.default_rng(0)
    a = np.zeros((5, 7))
    b = rng.standard_normal((5, 9))[:, 1:8]              # a strided ('A' layout) array
    total = _write_through_views(a, b)
    np.testing.assert_array_equal(a, 2 * b)
    assert total == pytest.approx(b[:, 0].sum())


@pytest.mark.parametrize("array", [np.ones((3, 4), np.float32), np.ones((6, 8))[::2, 1:5], np.arange(5)])
def test_same_shape_strides_and_data(array):
    shape, strides, same_data = _shape_and_strides(array)
    assert shape == array.shape and strides == array.strides and same_data


def test_the_originals_keep_their_reference_count():
    a, b = np.zeros((4, 3)), np.ones((4, 3))
    before = sys.getrefcount(a), sys.getrefcount(b)
    for _ in range(10):
        _write_through_views(a, b)
    assert (sys.getrefcount(a), sys.getrefcount(b)) == before


def test_only_arrays_are_borrowed():
    @njit
    def borrow_a_number(x):
        return borrow(x)

    with pytest.raises(TypingError):
        borrow_a_number(1.0)
