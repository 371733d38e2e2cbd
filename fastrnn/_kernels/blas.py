"""GEMM callable from njit code, bound to the BLAS numpy itself uses.

fastrnn calls the CBLAS ``sgemm``/``dgemm``/``sgemv``/``dgemv`` of the library numpy
loaded, whichever it is: the OpenBLAS of a PyPI wheel (``numpy.libs/libscipy_openblas64_*``,
ILP64, symbols ``scipy_cblas_sgemm64_``), a system OpenBLAS, MKL, BLIS, reference BLAS or
Accelerate. The library is found once (:func:`_find`): first the BLAS libraries loaded in
this process, as threadpoolctl reports them and as the process's memory map lists them
(numpy loads its BLAS when it is imported), then the folders where wheels bundle one
(numpy's, then scipy's). Its symbol is registered with LLVM under a fixed alias
(``fastrnn_cblas_sgemm``) and declared as a Numba ``ExternalFunction``: the call is a plain C
call from compiled code (no Python, no allocation), and because it refers to the symbol by
name, functions using it are cacheable with ``cache=True``. The BLAS thread pool is
numpy's, so threadpoolctl controls it.

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

from .activations import FASTMATH

_ROW_MAJOR = 101
_NO_TRANS = 111
_TRANS = 112

# (sgemm symbol, integer width) in the order we try them; dgemm/sgemv/dgemv are named alike.
# ILP64 first: a library exporting both (OpenBLAS built with both interfaces) takes 64-bit sizes.
_CANDIDATES = (
    ("scipy_cblas_sgemm64_", 64),           # numpy's and scipy's wheels (scipy-openblas64)
    ("cblas_sgemm64_", 64),                 # OpenBLAS built with INTERFACE64 and a symbol suffix (Debian's openblas64)
    ("cblas_sgemm_64", 64),                 # MKL's ILP64 names
    ("cblas_sgemm$NEWLAPACK$ILP64", 64),    # Accelerate (macOS 13.3+), numpy's macOS wheels
    ("scipy_cblas_sgemm", 32),              # scipy's wheels (scipy-openblas32)
    ("cblas_sgemm$NEWLAPACK", 32),          # Accelerate, LP64
    ("cblas_sgemm", 32),                    # OpenBLAS, MKL, BLIS, reference CBLAS, conda's libcblas
)

_HELP = ("fastrnn needs a CBLAS (cblas_sgemm, cblas_dgemm, cblas_sgemv, cblas_dgemv): the BLAS numpy uses "
         "(a numpy wheel from PyPI bundles OpenBLAS; distribution, conda, Homebrew and source builds link a "
         "system OpenBLAS, MKL, BLIS or reference BLAS), else scipy's. Install numpy's wheel "
         "(pip install --force-reinstall numpy), or install scipy (pip install scipy), or a CBLAS for your numpy "
         "(e.g. apt install libopenblas0, conda install libcblas)")


def _loaded_blas_libraries():
    """Paths of the BLAS libraries loaded in this process: threadpoolctl's BLAS pools (numpy's
    first), then any other library whose name says BLAS, MKL or Accelerate in the process's
    memory map (Linux; reference BLAS has no thread pool for threadpoolctl to see)."""
    import numpy.linalg  # noqa: F401  (numpy's BLAS is loaded with numpy; linalg makes sure)
    found = []
    try:
        from threadpoolctl import threadpool_info
        pools = [p for p in threadpool_info() if p.get("user_api") == "blas" and p.get("filepath")]
        pools.sort(key=lambda p: "numpy" not in p["filepath"])
        found += [p["filepath"] for p in pools]
    except Exception:          # threadpoolctl cannot inspect this platform: the memory map still can
        pass
    try:
        with open("/proc/self/maps") as maps:
            for line in maps:
                path = line.split()[-1] if len(line.split()) >= 6 else ""
                name = os.path.basename(path).lower()
                if path.startswith("/") and any(k in name for k in ("blas", "mkl_rt", "libmkl", "accelerate")):
                    found.append(path)
    except OSError:
        pass
    return _unique(found)


def _bundled_blas_libraries():
    """The BLAS libraries that wheels bundle beside numpy (numpy.libs, .dylibs) and scipy."""
    found = []
    for package in ("numpy", "scipy"):
        root = _package_root(package)
        if root is None:
            continue
        for pattern in (os.path.join(root, os.pardir, f"{package}.libs", "*openblas*"),
                        os.path.join(root, ".dylibs", "*openblas*"),
                        os.path.join(root, os.pardir, f"{package}.libs", "*blas*")):
            found += sorted(glob.glob(pattern))
    return _unique(os.path.normpath(p) for p in found)


def _package_root(name):
    if name == "numpy":
        return os.path.dirname(np.__file__)
    import importlib.util
    spec = importlib.util.find_spec(name)
    return None if spec is None or not spec.origin else os.path.dirname(spec.origin)


def _unique(paths):
    out = []
    for p in paths:
        if p not in out:
            out.append(p)
    return out


def _symbols(lib, sgemm):
    """The addresses of sgemm, dgemm, sgemv, dgemv named like ``sgemm`` in ``lib``, or None."""
    names = (sgemm, sgemm.replace("sgemm", "dgemm"), sgemm.replace("sgemm", "sgemv"),
             sgemm.replace("sgemm", "dgemv"))
    try:
        return [ctypes.cast(lib[name], ctypes.c_void_p).value for name in names]
    except AttributeError:
        return None


def _find():
    """-> (path, sgemm symbol, integer width, the ctypes library, where it was found) of the
    first library that exports a CBLAS; ImportError naming every library looked at."""
    searched = []
    for where, paths in (("loaded by numpy", _loaded_blas_libraries()), ("bundled", _bundled_blas_libraries())):
        for path in paths:
            try:
                lib = ctypes.CDLL(path)
            except OSError:
                searched.append(f"{path} (cannot be loaded)")
                continue
            for sgemm, width in _CANDIDATES:
                addresses = _symbols(lib, sgemm)
                if addresses is not None:
                    return path, sgemm, width, lib, where, addresses
            searched.append(f"{path} (no CBLAS sgemm/dgemm/sgemv/dgemv)")
    raise ImportError(f"fastrnn found no CBLAS library; searched: {'; '.join(searched) or 'nothing was loaded'}. "
                      + _HELP)


def _bind():
    path, sgemm, width, lib, where, addresses = _find()
    for alias, address in zip(("sgemm", "dgemm", "sgemv", "dgemv"), addresses):
        llvm.add_symbol(f"fastrnn_cblas_{alias}", address)
    return path, sgemm, width, lib, where


BLAS_LIBRARY, BLAS_SYMBOL, BLAS_INT_BITS, _LIB, BLAS_FOUND = _bind()
_blasint = types.int64 if BLAS_INT_BITS == 64 else types.int32


def _cblas_signature(dtype):
    ptr = types.CPointer(dtype)
    return types.void(types.int32, types.int32, types.int32, _blasint, _blasint, _blasint,
                      dtype, ptr, _blasint, ptr, _blasint, dtype, ptr, _blasint)


_sgemm = types.ExternalFunction("fastrnn_cblas_sgemm", _cblas_signature(types.float32))
_dgemm = types.ExternalFunction("fastrnn_cblas_dgemm", _cblas_signature(types.float64))


def _cblas_gemv_signature(dtype):
    ptr = types.CPointer(dtype)
    return types.void(types.int32, types.int32, _blasint, _blasint, dtype, ptr, _blasint, ptr, _blasint,
                      dtype, ptr, _blasint)


_sgemv = types.ExternalFunction("fastrnn_cblas_sgemv", _cblas_gemv_signature(types.float32))
_dgemv = types.ExternalFunction("fastrnn_cblas_dgemv", _cblas_gemv_signature(types.float64))


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


def gemv(trans, m, n, alpha, a, lda, x, beta, y):
    """Row-major y = alpha op(A) x + beta y with A (m, n), op transposing when ``trans``;
    x and y contiguous (njit only)."""
    raise NotImplementedError("gemv is callable from njit code only")


@overload(gemv)
def _gemv_overload(trans, m, n, alpha, a, lda, x, beta, y):
    if y.dtype == types.float32:
        kernel, scalar = _sgemv, np.float32
    elif y.dtype == types.float64:
        kernel, scalar = _dgemv, np.float64
    else:
        return None

    def impl(trans, m, n, alpha, a, lda, x, beta, y):
        rows_out = n if trans else m
        if rows_out == 0:
            return
        if m == 0 or n == 0:
            if beta == 0:
                for i in range(rows_out):
                    y[i] = 0
            return
        kernel(_ROW_MAJOR, _TRANS if trans else _NO_TRANS, m, n, scalar(alpha), a.ctypes, max(lda, 1),
               x.ctypes, 1, scalar(beta), y.ctypes, 1)
    return impl


# OpenBLAS's thread count, read from compiled code (the per-step products choose their
# split by it, see CHUNK_MACS). Bound like the GEMM; a BLAS without the function counts as
# one thread, through a ctypes callback kept alive here.
_THREAD_COUNT_NAMES = ("scipy_openblas_get_num_threads64_", "openblas_get_num_threads64_",
                       "scipy_openblas_get_num_threads", "openblas_get_num_threads", "MKL_Get_Max_Threads")


def _blas_function(names):
    """The first of ``names`` that the BLAS exports (a ctypes function), or None."""
    return next((getattr(_LIB, name) for name in names if hasattr(_LIB, name)), None)


def _bind_thread_count():
    function = _blas_function(_THREAD_COUNT_NAMES)
    if function is not None:
        llvm.add_symbol("fastrnn_blas_threads", ctypes.cast(function, ctypes.c_void_p).value)
        return function
    one = ctypes.CFUNCTYPE(ctypes.c_int)(lambda: 1)
    llvm.add_symbol("fastrnn_blas_threads", ctypes.cast(one, ctypes.c_void_p).value)
    return one


_THREAD_COUNT_SOURCE = _bind_thread_count()
blas_threads = types.ExternalFunction("fastrnn_blas_threads", types.int32())


@njit(cache=True, inline="always")
def blas_thread_count():
    """OpenBLAS's thread count as compiled code sees it (what the per-step products go by)."""
    return blas_threads()


# Setting OpenBLAS's thread count from compiled code: the time loops run their per-step
# products on one thread (see steps_on_one_thread); a BLAS without the function is left alone.
_SET_THREADS_NAMES = ("scipy_openblas_set_num_threads64_", "openblas_set_num_threads64_",
                      "scipy_openblas_set_num_threads", "openblas_set_num_threads", "MKL_Set_Num_Threads")


def _bind_set_threads():
    function = _blas_function(_SET_THREADS_NAMES)
    if function is None:
        function = ctypes.CFUNCTYPE(None, ctypes.c_int)(lambda n: None)
    llvm.add_symbol("fastrnn_blas_set_threads", ctypes.cast(function, ctypes.c_void_p).value)
    return function


_SET_THREADS_SOURCE = _bind_set_threads()
set_blas_threads = types.ExternalFunction("fastrnn_blas_set_threads", types.void(types.int32))


@njit(cache=True, inline="always")
def steps_on_one_thread():
    """Before a time loop: OpenBLAS to one thread; returns the count to restore after it.

    A per-step product is a thin GEMM (N rows against the recurrent weight): handing parts of
    it to other threads costs more than it computes, and far more when another process keeps
    a core busy (each step waits for the slowest thread). The GEMMs over all rows before and
    after the loop run on the count the caller set (fastrnn.set_num_threads).
    """
    threads = blas_threads()
    if threads > 1:
        set_blas_threads(1)
    return threads


@njit(cache=True, inline="always")
def restore_threads(threads):
    """After a time loop: OpenBLAS back to ``threads`` (steps_on_one_thread's result)."""
    if threads > 1:
        set_blas_threads(threads)


# Which kernels OpenBLAS runs: its core name, read once (OpenBLAS fixes it when it loads,
# from the CPU or from OPENBLAS_CORETYPE). The core types listed have AVX-512 GEMM kernels
# and the small-matrix kernels that the per-step products are split for (CHUNK_MACS); with
# the others (e.g. Haswell's AVX2 kernels) the per-step products run as one call each.
_CORE_NAME_FUNCTIONS = ("scipy_openblas_get_corename64_", "openblas_get_corename64_",
                        "scipy_openblas_get_corename", "openblas_get_corename")
_SMALL_KERNEL_CORES = ("skylakex", "cooperlake", "sapphirerapids")


def _core_name():
    function = _blas_function(_CORE_NAME_FUNCTIONS)
    if function is None:
        return "unknown"
    function.restype = ctypes.c_char_p
    return (function() or b"unknown").decode(errors="replace").strip()


BLAS_CORE = _core_name()
SMALL_KERNELS = BLAS_CORE.lower() in _SMALL_KERNEL_CORES


# Small products run faster as plain compiled loops than through a BLAS call (OpenBLAS
# pays a fixed ~0.5-1 µs per call and packs its operands). Measured per call, one thread:
# (rows, k, n) = (1, 32, 128): loop 0.3-0.8 µs vs BLAS 0.6-1.8 µs; (1, 64, 256): 1.6-2.7 vs
# 3.1-4.3 µs; but (4, 32, 128): 1.3-3.2 vs 0.7-1.1 µs. So: loops for any product up to
# SMALL_GEMM_MACS multiply-adds, and for one or two rows up to SMALL_ROWS_GEMM_MACS.
SMALL_GEMM_MACS = 8192
SMALL_ROWS_GEMM_MACS = 65536


# Products of at most GEMV_ROWS rows (streaming, N = 1..3) run as one matrix-vector call per
# row: OpenBLAS's GEMM packs the whole weight at every call, which a GEMV never does. The
# forward's compiled loops are dot products, slower than a GEMV even at (1, 32, 128) (1.3 vs
# 0.9 us); the backward's smallest products (up to SMALL_GEMM_MACS) stay loops, which run
# its axpy form at (1, 32, 128) in 0.25 us against a GEMV call's 1 us.
# Measured per product, one thread, znver3 (Haswell kernels): (rows, G, H) = (1, 512, 128):
# GEMV 5.1 us, GEMM 22, compiled loops 11.6; (2, 2600, 650): 273 against 1294 us;
# (3, 128, 32): 2.6 against 3.5 us; from 4 rows GEMM wins at the large sizes.
GEMV_ROWS = 3


# The per-step products are split into GEMM calls of at most CHUNK_MACS multiply-adds each.
# OpenBLAS (0.3.x, AVX-512 kernels) runs calls below about 10^6 multiply-adds through its
# small-matrix kernels, which do not pack the operands; a per-step product is too small to
# pay back the packing of its weight matrix, which larger calls repeat at every step. Measured
# per step, one thread: dh = dA w_rec at N=20, H=650, G=2600 in 0.33 ms as chunks against
# 0.53 ms as one call; at N=32, H=256, G=1024 in 0.10 ms against 0.12; the forward product
# 0.41 against 0.50 and 0.070 against 0.087 ms. Only where OpenBLAS has those kernels
# (SMALL_KERNELS); with its AVX2 (Haswell) kernels the split, the weight-major orientation
# and its transposed add made training steps 4-13 % slower than one direct call, so there
# the products run as before. Chunks below MIN_CHUNK rows (large batches, N >= 100)
# would be slower than one call; those products run unsplit. The small-matrix
# kernels run on one thread: when OpenBLAS has more (blas_threads), the products run unsplit
# so that OpenBLAS can share them out (2 threads, N=32, H=256: forward 49 us unsplit
# against 79 chunked).
CHUNK_MACS = 786432
MIN_CHUNK = 32
# The transposed add works on blocks of ADD_BLOCK output columns (one AVX-512 register of
# float32): 0.39 ns per element measured, against 0.56 for whole rows.
ADD_BLOCK = 16


@njit(cache=True, error_model="numpy", fastmath=FASTMATH, inline="always")
def _chunk(total, macs_per_unit):
    """How many of ``total`` units (rows or inner-dimension entries) one GEMM call takes."""
    if blas_threads() > 1:
        return total
    units = CHUNK_MACS // max(macs_per_unit, 1)
    return total if units < MIN_CHUNK else min(units, total)


@njit(cache=True, error_model="numpy", fastmath=FASTMATH, inline="always")
def _is_small(m, n, k):
    """True where compiled loops beat a BLAS call (see SMALL_GEMM_MACS)."""
    macs = m * n * k
    return macs <= SMALL_GEMM_MACS or (m <= 2 and macs <= SMALL_ROWS_GEMM_MACS)


@njit(cache=True, error_model="numpy", fastmath=FASTMATH, inline="always")
def recurrent_add(h, w_rec, scratch, c, add, small_kernels):
    """c (N, G) += h (N, H) @ w_recᵀ (or c = ... when not add): the forward per-step product.

    w_rec (G, H) is C-contiguous (torch's weight_hh layout; the book's (H, G) weight is
    passed as a transposed copy), h (N, H) C-contiguous, c (N, G) may be a column block of
    a wider row (row stride > G). scratch holds at least (G + H) * N elements.

    With small_kernels (OpenBLAS's AVX-512 kernels, SMALL_KERNELS) large products copy h
    transposed, (H, N), into scratch and run as GEMMs over row chunks of w_rec (CHUNK_MACS)
    that write the product transposed, (G, N), into scratch, which is then added into c.
    That weight-major orientation ran at 140-200 GFLOP/s where writing c = h w_recᵀ
    directly ran at 75-105 (one thread, N = 8..32, H = 64..650, G = H..4H). Without, they
    run as that one direct call (its AVX2 kernels run both orientations within 10 %, and
    the direct one needs no transposed add). Small products run as compiled loops.
    """
    N, H = h.shape
    G = w_rec.shape[0]
    if N <= GEMV_ROWS:
        for n in range(N):
            gemv(False, G, H, 1.0, w_rec, H, h[n], 1.0 if add else 0.0, c[n])
        return
    if _is_small(N, G, H):
        for n in range(N):
            h_row = h[n]
            c_row = c[n]
            for g in range(G):
                w_row = w_rec[g]
                total = c_row[g] if add else 0.0      # never read garbage when not adding
                for p in range(H):
                    total += h_row[p] * w_row[p]
                c_row[g] = total
        return
    if not small_kernels:
        gemm(False, True, N, G, H, 1.0, h, H, w_rec, H, 1.0 if add else 0.0, c[0],
             c.strides[0] // c.itemsize)
        return
    h_t = scratch[G * N:(G + H) * N]
    for p in range(H):
        for n in range(N):
            h_t[p * N + n] = h[n, p]
    rows = _chunk(G, N * H)
    for g0 in range(0, G, rows):
        gemm(False, False, min(rows, G - g0), N, H, 1.0, w_rec[g0:], H, h_t, N, 0.0, scratch[g0 * N:], N)
    _add_transposed(scratch, c, add)


@njit(cache=True, error_model="numpy", fastmath=FASTMATH, inline="always")
def input_projection(x, w_x, torch_layout, scratch, c):
    """c (M, G) = x (M, I) @ w_xᵀ (torch's (G, I) weight) or x @ w_x (the book's (I, G)).

    c is C-contiguous. A torch-layout product small enough (one or two rows: streaming
    steps, N = 1) runs as compiled loops, like recurrent_add; the rest as one GEMM.
    """
    M, I = x.shape
    if torch_layout:
        recurrent_add(x, w_x, scratch, c, False, False)
    elif M <= GEMV_ROWS and M * I * w_x.shape[1] > SMALL_GEMM_MACS:
        G = w_x.shape[1]
        for m in range(M):
            gemv(True, I, G, 1.0, w_x, G, x[m], 0.0, c[m])
    else:
        G = w_x.shape[1]
        gemm(False, False, M, G, I, 1.0, x, I, w_x, G, 0.0, c, G)


@njit(cache=True, error_model="numpy", fastmath=FASTMATH, inline="always")
def recurrent_grad(d, w_rec, beta, dh, small_kernels):
    """dh (N, H) = d (N, K) @ w_rec (K, H) + beta * dh: the backward per-step product.

    beta is 0.0 or 1.0. d may be a column block of a wider row (row stride >= K); w_rec and
    dh are C-contiguous. Large products run as GEMMs over chunks of the inner dimension K
    (CHUNK_MACS) with small_kernels (SMALL_KERNELS), else as one call, accumulating; small
    ones as loops (contiguous axpy over the rows of w_rec, four rows a pass).
    """
    N, K = d.shape
    H = dh.shape[1]
    if N <= GEMV_ROWS and N * H * K > SMALL_GEMM_MACS:
        for n in range(N):
            gemv(True, K, H, 1.0, w_rec, H, d[n], beta, dh[n])
        return
    if _is_small(N, H, K):
        for n in range(N):
            d_row = d[n]
            dh_row = dh[n]
            if beta == 0.0:
                for j in range(H):
                    dh_row[j] = 0.0
            # four rows of w_rec per pass over dh_row: each pass stores dh_row and the next
            # reloads it, so one row per pass is bound by that round trip (N=1, H=32,
            # K=128: 245 ns against 430-540)
            p = 0
            while p + 4 <= K:
                c0, c1, c2, c3 = d_row[p], d_row[p + 1], d_row[p + 2], d_row[p + 3]
                w0, w1, w2, w3 = w_rec[p], w_rec[p + 1], w_rec[p + 2], w_rec[p + 3]
                for j in range(H):
                    dh_row[j] += c0 * w0[j] + c1 * w1[j] + c2 * w2[j] + c3 * w3[j]
                p += 4
            while p < K:
                coef = d_row[p]
                w_row = w_rec[p]
                for j in range(H):
                    dh_row[j] += coef * w_row[j]
                p += 1
        return
    ld_d = d.strides[0] // d.itemsize
    depth = _chunk(K, N * H) if small_kernels else K
    d_row0 = d[0]                 # its slices start the chunks' d operand (the row stride is ld_d)
    for k0 in range(0, K, depth):
        gemm(False, False, N, H, min(depth, K - k0), 1.0, d_row0[k0:], ld_d, w_rec[k0:], H,
             beta if k0 == 0 else 1.0, dh, H)


@njit(cache=True, error_model="numpy", fastmath=FASTMATH, inline="always")
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
