"""GEMM callable from njit code, bound to numpy's own OpenBLAS.

numpy wheels ship OpenBLAS (``numpy.libs/libscipy_openblas64_*.so``, ILP64,
symbols ``scipy_cblas_sgemm64_``). We look the symbol up once, register its address
with LLVM under a fixed alias (``fastrnn_cblas_sgemm``), and declare it as a Numba
``ExternalFunction``: the call is a plain C call from compiled code (no Python, no
allocation), and because it refers to the symbol by name, functions using it are
cacheable with ``cache=True``. The BLAS thread pool is numpy's, so threadpoolctl
controls it.

``gemm(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)`` computes
the row-major ``C (m, n) = alpha * op(A) @ op(B) + beta * C`` where ``op`` transposes
when its flag is True; a, b, c are arrays whose first element starts the matrix.
"""
import ctypes
import glob
import os

import numpy as np
from llvmlite import binding as llvm
from numba import njit, types
from numba.extending import overload

_ROW_MAJOR = 101
_NO_TRANS = 111
_TRANS = 112

# (sgemm symbol, dgemm symbol, integer width) in the order we try them.
_CANDIDATES = (
    ("scipy_cblas_sgemm64_", "scipy_cblas_dgemm64_", 64),
    ("cblas_sgemm64_", "cblas_dgemm64_", 64),
    ("scipy_cblas_sgemm", "scipy_cblas_dgemm", 32),
    ("cblas_sgemm", "cblas_dgemm", 32),
)


def _numpy_blas_libraries():
    root = os.path.dirname(np.__file__)
    patterns = [os.path.join(root, os.pardir, "numpy.libs", "*openblas*"),
                os.path.join(root, ".dylibs", "*openblas*"),
                os.path.join(root, os.pardir, "numpy.libs", "*blas*")]
    found = []
    for pattern in patterns:
        for path in sorted(glob.glob(pattern)):
            if path not in found:
                found.append(path)
    return found


def _bind():
    for path in _numpy_blas_libraries():
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        for s_name, d_name, width in _CANDIDATES:
            try:
                s_addr = ctypes.cast(getattr(lib, s_name), ctypes.c_void_p).value
                d_addr = ctypes.cast(getattr(lib, d_name), ctypes.c_void_p).value
            except AttributeError:
                continue
            llvm.add_symbol("fastrnn_cblas_sgemm", s_addr)
            llvm.add_symbol("fastrnn_cblas_dgemm", d_addr)
            return path, width
    raise ImportError(
        "fastrnn could not find the OpenBLAS library bundled with numpy "
        f"(looked in {_numpy_blas_libraries() or 'numpy.libs'}); fastrnn needs a numpy wheel "
        "from PyPI (pip install numpy)")


BLAS_LIBRARY, BLAS_INT_BITS = _bind()
_blasint = types.int64 if BLAS_INT_BITS == 64 else types.int32


def _cblas_signature(dtype):
    ptr = types.CPointer(dtype)
    return types.void(types.int32, types.int32, types.int32, _blasint, _blasint, _blasint,
                      dtype, ptr, _blasint, ptr, _blasint, dtype, ptr, _blasint)


_sgemm = types.ExternalFunction("fastrnn_cblas_sgemm", _cblas_signature(types.float32))
_dgemm = types.ExternalFunction("fastrnn_cblas_dgemm", _cblas_signature(types.float64))


def gemm(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc):
    """Row-major C = alpha op(A) op(B) + beta C (njit only)."""
    raise NotImplementedError("gemm is callable from njit code only")


@overload(gemm)
def _gemm_overload(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc):
    if c.dtype == types.float32:
        kernel, scalar = _sgemm, np.float32
    elif c.dtype == types.float64:
        kernel, scalar = _dgemm, np.float64
    else:
        return None

    def impl(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc):
        if m == 0 or n == 0:
            return
        if k == 0:
            if beta == 0:
                for i in range(m):
                    for j in range(n):
                        c.flat[i * ldc + j] = 0
            return
        kernel(_ROW_MAJOR, _TRANS if trans_a else _NO_TRANS, _TRANS if trans_b else _NO_TRANS,
               m, n, k, scalar(alpha), a.ctypes, max(lda, 1), b.ctypes, max(ldb, 1),
               scalar(beta), c.ctypes, max(ldc, 1))
    return impl


@njit(cache=True)
def matmul_into(a, b, out):
    """out (m, n) = a (m, k) @ b (k, n), all C-contiguous 2-D (a self-test of the binding)."""
    gemm(False, False, a.shape[0], b.shape[1], a.shape[1], 1.0, a, a.shape[1], b, b.shape[1],
         0.0, out, out.shape[1])


# Small products run faster as plain compiled loops than through a BLAS call (OpenBLAS
# pays a fixed ~0.5-1 µs per call and packs its operands). Measured per call, one thread:
# (rows, k, n) = (1, 32, 128): loop 0.3-0.8 µs vs BLAS 0.6-1.8 µs; (1, 64, 256): 1.6-2.7 vs
# 3.1-4.3 µs; but (4, 32, 128): 1.3-3.2 vs 0.7-1.1 µs. So: loops for any product up to
# SMALL_GEMM_MACS multiply-adds, and for one or two rows up to SMALL_ROWS_GEMM_MACS.
SMALL_GEMM_MACS = 8192
SMALL_ROWS_GEMM_MACS = 65536


@njit(cache=True, error_model="numpy", fastmath={"contract", "reassoc", "nsz", "arcp"})
def matmul_2d(a, b, trans_b, beta, c):
    """c (m, n) = a (m, k) @ op(b) + beta * c, op(b) = b.T if trans_b; 2-D C-contiguous arrays.

    Small products run as loops here (vectorised over the contiguous axis), larger ones
    through gemm. beta is 0.0 or 1.0.
    """
    m, k = a.shape
    n = c.shape[1]
    macs = m * n * k
    if macs > SMALL_GEMM_MACS and (m > 2 or macs > SMALL_ROWS_GEMM_MACS):
        gemm(False, trans_b, m, n, k, 1.0, a, k, b, b.shape[1], beta, c, n)
        return
    for i in range(m):
        a_row = a[i]
        c_row = c[i]
        if trans_b:                       # c[i, j] = Σ_p a[i, p] b[j, p]: dot products
            for j in range(n):
                b_row = b[j]
                total = c_row[j] if beta != 0.0 else 0.0   # never read garbage when beta = 0
                for p in range(k):
                    total += a_row[p] * b_row[p]
                c_row[j] = total
        else:                             # c[i, :] += a[i, p] b[p, :]: contiguous axpy
            if beta == 0.0:
                for j in range(n):
                    c_row[j] = 0.0
            for p in range(k):
                coef = a_row[p]
                b_row = b[p]
                for j in range(n):
                    c_row[j] += coef * b_row[j]


# recurrent_add passes h to the GEMM as a transposed copy (H, N) for batches up to
# SMALL_BATCH rows: at N = 8 OpenBLAS ran the product 1.9-2.4x faster that way (the copy
# costs well under a microsecond); from N = 20 up the two ran within 5 %.
SMALL_BATCH = 16
# The transposed add works on blocks of ADD_BLOCK output columns (one AVX-512 register of
# float32): 0.39 ns per element measured, against 0.56 for whole rows.
ADD_BLOCK = 16


@njit(cache=True, error_model="numpy", fastmath={"contract", "reassoc", "nsz", "arcp"})
def recurrent_add(h, w_rec, scratch, c, add=True):
    """c (N, G) += h (N, H) @ w_recᵀ (or c = ... when not add): the per-step recurrent product.

    w_rec (G, H) is C-contiguous (torch's weight_hh layout; the book's (H, G) weight is
    passed as a transposed copy), h (N, H) C-contiguous, c (N, G) may be a column block of
    a wider row (row stride > G). scratch holds at least (G + H) * N elements.

    Large products run as one GEMM that writes the product transposed, (G, N), into
    scratch, which is then added into c. With OpenBLAS's AVX-512 kernels that
    weight-major orientation ran at 140-200 GFLOP/s where writing c = h w_recᵀ directly
    ran at 75-105 (one thread, N = 8..32, H = 64..650, G = H..4H); with its AVX2
    kernels the two are within 10 %. Small products run as compiled loops.
    """
    N, H = h.shape
    G = w_rec.shape[0]
    macs = N * G * H
    if macs > SMALL_GEMM_MACS and (N > 2 or macs > SMALL_ROWS_GEMM_MACS):
        if N <= SMALL_BATCH:
            h_t = scratch[G * N:(G + H) * N]
            for p in range(H):
                for n in range(N):
                    h_t[p * N + n] = h[n, p]
            gemm(False, False, G, N, H, 1.0, w_rec, H, h_t, N, 0.0, scratch, N)
        else:
            gemm(False, True, G, N, H, 1.0, w_rec, H, h, H, 0.0, scratch, N)
        _add_transposed(scratch, c, add)
        return
    for n in range(N):
        h_row = h[n]
        c_row = c[n]
        for g in range(G):
            w_row = w_rec[g]
            total = c_row[g] if add else 0.0      # never read garbage when not adding
            for p in range(H):
                total += h_row[p] * w_row[p]
            c_row[g] = total


@njit(cache=True, error_model="numpy", fastmath={"contract", "reassoc", "nsz", "arcp"})
def _add_transposed(product_t, c, add):
    """c (N, G) += product_t (G, N, flat) transposed (c = ... when not add)."""
    N, G = c.shape
    full = G - G % ADD_BLOCK
    for g0 in range(0, full, ADD_BLOCK):
        for n in range(N):
            block = c[n][g0:g0 + ADD_BLOCK]
            if add:
                for k in range(ADD_BLOCK):
                    block[k] += product_t[(g0 + k) * N + n]
            else:
                for k in range(ADD_BLOCK):
                    block[k] = product_t[(g0 + k) * N + n]
    for n in range(N):
        c_row = c[n]
        for g in range(full, G):
            c_row[g] = (c_row[g] + product_t[g * N + n]) if add else product_t[g * N + n]
