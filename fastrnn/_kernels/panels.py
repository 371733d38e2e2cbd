"""Per-step products on a weight packed once per call: register-blocked panel kernels.

A time loop multiplies the same recurrent weight by a few rows (N = 1..256) at every step.
OpenBLAS packs the whole weight at each of those calls; at N = 10, H = 650 (G = 2600) that
packing takes most of the product's time. So the kernels pack the weight once per call into
panels and run every step's product on them.

Layout:

    packed (nb, K, W)   panel b holds W output columns for every one of the K inner indices,
                        contiguous: packed[b, p, :] are the weights of inner index p for the
                        columns b*W .. b*W + W - 1 (columns past the matrix's M are zero).
                        W = panel_width(...) is two SIMD vectors (AVX2: 16 float32, 8
                        float64; AVX-512: 32, 16).

    rows_as_panels(w (M, K))  packs c = a wᵀ   (the forward's h (N, H) against w_rec (G, H))
    cols_as_panels(w (K, M))  packs c = a w    (the backward's dA (N, G) against w_rec (G, H))

``panel_product(a (N, K), packed, c (N, M), add)`` runs c (+)= a · (the packed matrix)
per panel and block of up to ROWS rows (blocks as even as possible): a kernel written in
LLVM IR keeps the block of c in 2·rows vector registers and, for each inner index, loads
the panel's two vectors once, broadcasts each row's entry of a and adds their products
(fused multiply-add). c's block is prefetched as the kernel starts and read and written
once at its end. a and c may be column blocks of wider rows (a row stride >= their width);
their last index must be contiguous. Each row's result is the same sum in the same order
whatever N, so a row's product does not depend on the batch it is in.

Measured (one thread, float32; a time loop of per-step products, each adding into the next
row block of a (T·N, 4H) gates array as the forward does; GFLOP/s, OpenBLAS's calls vs
panels; `python bench/panels.py`):
- AVX2 (AMD znver3, OpenBLAS's Haswell kernels): (T, N, H) = (100, 8, 64) 22 vs 62; (50, 32,
  256) 60 vs 67; (35, 20, 650) 50 vs 59; (35, 10, 650) 30 vs 74; (64, 128, 256) 81 vs 67.
  The backward's products: 39 vs 55, 67 vs 83, 46 vs 67, 32 vs 73, 75 vs 80.
- AVX-512 (Intel Xeon, OpenBLAS's SkylakeX kernels and their small-matrix path; 12-row
  blocks ran 0.9-1.3x the rate of 6-row ones): (100, 8, 64) 73 vs 159; (50, 32, 256) 159 vs
  192; (35, 20, 650) 121 vs 169; (35, 10, 650) 76 vs 136; (64, 128, 256) 97 vs 159; (50, 256,
  256) 102 vs 155; (50, 1, 256) 44 vs 47. The backward's: 171 vs 171, 138 vs 190, 125 vs 152,
  88 vs 125, 140 vs 166, 155 vs 169, 48 vs 47.
Packing reads the weight once: 0.1-0.2 ms at H = 256; at H = 650 about 1 ms on the Intel
machine and 5.9-6.8 ms on an AMD Zen 3 with 512 KiB of L2 (where NumPy's transposed copy of
the same weight takes 6.6 ms, a plain copy 0.9; tiling variants there ran 4.1-7.8 ms).

``pack_for_steps`` decides per call (PANELS: the CPU has fused multiply-add and AVX2; with
OpenBLAS's AVX-512 kernels (blas.SMALL_KERNELS) only if the panels are AVX-512's too (WIDE);
rows in [MIN_ROWS, MAX_ROWS] (the forward's up to MAX_ROWS_FORWARD); at least MIN_STEPS
steps to pay for the packing) and returns an empty (0, 0, W) array when the products are to
run as before (blas.recurrent_add/recurrent_grad); ``step_add``/``step_grad`` then pick per
step.
"""
import platform

import numpy as np
from llvmlite import binding as _llvm
from llvmlite import ir
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic

from .activations import FASTMATH
from .blas import recurrent_add, recurrent_grad


_ARM = platform.machine().lower() in ("arm64", "aarch64")      # NEON always has fused multiply-add


def _host_features():
    """The host's vector features as LLVM reports them ({} when llvmlite cannot tell)."""
    if _ARM:
        return {"fma": True}
    try:
        return {name: bool(on) for name, on in _llvm.get_host_cpu_features().items()}
    except RuntimeError:        # llvmlite cannot tell: keep OpenBLAS
        return {}


_FEATURES = _host_features()
# without hardware FMA the vector fma becomes a libm call per lane. On ARM the panels would
# compile (NEON has FMA) but were never measured against OpenBLAS's NEON kernels there: off
# until they are (OpenBLAS runs every per-step product; fastrnn.show_config() says so).
PANELS = (not _ARM) and _FEATURES.get("fma", False) and _FEATURES.get("avx2", False)
WIDE = _FEATURES.get("avx512f", False)      # 32 vector registers of 64 bytes
# one vector register (AVX-512: 16 float32 / 8 float64 lanes; AVX2: 8 / 4); a panel is two wide
VECTOR_BYTES = 64 if WIDE else 32
# rows of c per kernel call: 2·ROWS accumulators + 2 panel vectors + 1 broadcast fit in the
# registers (16 with AVX2; 32 with AVX-512, where 12 rows ran 0.9-1.3x the rate of 6)
ROWS = 12 if WIDE else 6
# fewer rows run as matrix-vector calls (blas.GEMV_ROWS) or loops, which need no packing;
# with AVX-512 the panels beat those down to one row (N = 1, H = 256: 47-69 vs 44-55 GFLOP/s)
MIN_ROWS = 1 if WIDE else 4
# the backward's product of one row runs on one accumulator chain per panel, slower than
# OpenBLAS's GEMV (N = 1, H = 256: 47 vs 48-62 GFLOP/s); from 2 rows the panels lead (92 vs 62)
MIN_ROWS_BACKWARD = 2 if WIDE else 4
# more rows: OpenBLAS's own packing is paid back (AVX2: the backward's product at 128 rows ran
# 75 vs 80 GFLOP/s; AVX-512: the panels still lead at 256 rows, 167 vs 104 forward, 185 vs 165 backward)
MAX_ROWS = 256 if WIDE else 128
# the forward's product, which adds into rows of the gates far from cache (AVX2: 64 rows 75 vs 68)
MAX_ROWS_FORWARD = 256 if WIDE else 48
PACK_TILE_BYTES = 32768  # rows_as_panels packs a panel up to this size (L1) in one pass,
PACK_TILE = 16           # a bigger one this many inner indices at a time
MIN_STEPS = 8            # packing costs about 2 to 8 products (it reads the weight once, a product reads it once too)


def _emit_block(builder, rows, float_type, a_addr, lda, panel_addr, K, c_addr, ldc, width, add):
    """The IR of one block of ``rows`` rows: c[r, :width] (+)= Σ_p a[r, p] · panel[p, :width]
    for r < rows, addresses as integers, width <= W (c's columns past it are neither read
    nor written)."""
    scalar = ir.FloatType() if float_type == types.float32 else ir.DoubleType()
    lanes = VECTOR_BYTES * 8 // float_type.bitwidth
    kind = 'f32' if float_type == types.float32 else 'f64'
    vector = ir.VectorType(scalar, lanes)
    i64, i32 = ir.IntType(64), ir.IntType(32)
    fma = cgutils.get_or_insert_function(builder.module, ir.FunctionType(vector, [vector] * 3),
                                         f"llvm.fma.v{lanes}{kind}")
    a = builder.inttoptr(a_addr, scalar.as_pointer())
    panel = builder.inttoptr(panel_addr, scalar.as_pointer())
    c = builder.inttoptr(c_addr, scalar.as_pointer())
    zero = ir.Constant(vector, [ir.Constant(scalar, 0.0)] * lanes)
    undef = ir.Constant(vector, ir.Undefined)
    splat = ir.Constant(ir.VectorType(i32, lanes), [0] * lanes)
    # c's block is read at the end: fetch it now, while the products run (in the
    # forward it is a row block of the gates written by the input projection long before)
    i8p = ir.IntType(8).as_pointer()
    prefetch_type = ir.FunctionType(ir.VoidType(), [i8p, i32, i32, i32])
    prefetch = cgutils.get_or_insert_function(builder.module, prefetch_type, "llvm.prefetch.p0i8")
    for r in range(rows):
        for v in range(2):
            offset = builder.add(builder.mul(ir.Constant(i64, r), ldc), ir.Constant(i64, v * lanes))
            builder.call(prefetch, [builder.bitcast(builder.gep(c, [offset]), i8p), ir.Constant(i32, 1),
                                    ir.Constant(i32, 3), ir.Constant(i32, 1)])
    # accumulators as entry-block allocas: LLVM promotes them to registers
    acc = [[cgutils.alloca_once_value(builder, zero) for _ in range(2)] for _ in range(rows)]
    with cgutils.for_range(builder, K) as loop:
        p = loop.index
        start = builder.gep(panel, [builder.mul(p, ir.Constant(i64, 2 * lanes))])
        w = [builder.load(builder.bitcast(builder.gep(start, [ir.Constant(i64, v * lanes)]),
                                          vector.as_pointer()), align=4) for v in range(2)]
        for r in range(rows):
            entry = builder.load(builder.gep(a, [builder.add(builder.mul(ir.Constant(i64, r), lda), p)]))
            broadcast = builder.shuffle_vector(builder.insert_element(undef, entry, ir.Constant(i32, 0)),
                                               undef, splat)
            for v in range(2):
                builder.store(builder.call(fma, [w[v], broadcast, builder.load(acc[r][v])]), acc[r][v])
    # c's columns below width only (the last panel): masked loads and stores there
    suffix = f"v{lanes}{kind}.p0v{lanes}{kind}"
    mask_type = ir.VectorType(ir.IntType(1), lanes)
    masked_load = cgutils.get_or_insert_function(
        builder.module, ir.FunctionType(vector, [vector.as_pointer(), i32, mask_type, vector]),
        f"llvm.masked.load.{suffix}")
    masked_store = cgutils.get_or_insert_function(
        builder.module, ir.FunctionType(ir.VoidType(), [vector, vector.as_pointer(), i32, mask_type]),
        f"llvm.masked.store.{suffix}")
    widths = builder.insert_element(ir.Constant(ir.VectorType(i64, lanes), ir.Undefined), width,
                                    ir.Constant(i32, 0))
    widths = builder.shuffle_vector(widths, widths, splat)
    lane_columns = [ir.Constant(ir.VectorType(i64, lanes), list(range(v * lanes, (v + 1) * lanes)))
                    for v in range(2)]
    masks = [builder.icmp_signed("<", columns, widths) for columns in lane_columns]
    full = builder.icmp_signed("==", width, ir.Constant(i64, 2 * lanes))
    with builder.if_else(full) as (whole, part):
        for masked in (False, True):
            with (part if masked else whole):
                for r in range(rows):
                    for v in range(2):
                        offset = builder.add(builder.mul(ir.Constant(i64, r), ldc), ir.Constant(i64, v * lanes))
                        target = builder.bitcast(builder.gep(c, [offset]), vector.as_pointer())
                        total = builder.load(acc[r][v])
                        if masked:
                            old = builder.call(masked_load, [target, ir.Constant(i32, 4), masks[v], zero])
                        else:
                            old = builder.load(target, align=4)
                        new = builder.select(add, builder.fadd(old, total), total)
                        if masked:
                            builder.call(masked_store, [new, target, ir.Constant(i32, 4), masks[v]])
                        else:
                            builder.store(new, target, align=4)


@intrinsic
def _panel_block(typingctx, rows, a_addr, lda, panel_addr, K, c_addr, ldc, width, add, dtype):
    """(rows, a_addr, lda, panel_addr, K, c_addr, ldc, width, add, dtype): the block of
    ``rows`` (1..ROWS) rows, one code path per row count (a switch), so that each keeps its
    accumulators in registers; only the ROWS counts of this CPU are generated."""
    float_type = dtype.dtype

    def codegen(context, builder, signature, args):
        rows_value, *operands, _ = args
        done = builder.append_basic_block("panel.done")
        switch = builder.switch(rows_value, done)
        for count in range(1, ROWS + 1):
            case = builder.append_basic_block(f"panel.rows{count}")
            switch.add_case(ir.Constant(ir.IntType(64), count), case)
            builder.position_at_end(case)
            _emit_block(builder, count, float_type, *operands)
            builder.branch(done)
        builder.position_at_end(done)
        return context.get_dummy_value()

    return types.void(types.int64, types.uintp, types.int64, types.uintp, types.int64, types.uintp, types.int64,
                      types.int64, types.boolean, dtype), codegen


@njit(cache=True, inline="always")
def panel_width(itemsize):
    """W, a panel's columns, for elements of ``itemsize`` bytes: two vectors (AVX2: 16 float32,
    8 float64; AVX-512: 32, 16)."""
    return 2 * VECTOR_BYTES // itemsize


@njit(cache=True, error_model="numpy", fastmath=FASTMATH, inline="always")
def rows_as_panels(w, packed):
    """w (M, K) -> packed (ceil(M / W), K, W) for c = a wᵀ (zero past row M).

    Each row of w fills a column of a panel, one write per panel row. A panel larger than
    PACK_TILE_BYTES (L1) is filled PACK_TILE inner indices at a time, so that the tile's
    panel rows stay in L1 while the W rows of w pass (H = 650 on the Intel machine: 0.94 ms
    against 2.3); a smaller one in one pass (tiling it ran 1.4x slower)."""
    M, K = w.shape
    W = packed.shape[2]
    tiled = K * W * w.itemsize > PACK_TILE_BYTES
    for b in range(packed.shape[0]):
        panel = packed[b]
        rows = min(W, M - b * W)
        if tiled:
            for p0 in range(0, K, PACK_TILE):
                p1 = min(p0 + PACK_TILE, K)
                for j in range(rows):
                    w_row = w[b * W + j]
                    for p in range(p0, p1):
                        panel[p, j] = w_row[p]
        else:
            for j in range(rows):
                w_row = w[b * W + j]
                for p in range(K):
                    panel[p, j] = w_row[p]
        for j in range(rows, W):
            for p in range(K):
                panel[p, j] = 0.0


@njit(cache=True, error_model="numpy", fastmath=FASTMATH, inline="always")
def cols_as_panels(w, packed):
    """w (K, M) -> packed (ceil(M / W), K, W) for c = a w (zero past column M)."""
    K, M = w.shape
    nb, _, W = packed.shape
    full = M // W
    for p in range(K):                   # each row of w read once, in order
        w_row = w[p]
        for b in range(full):
            panel_row = packed[b, p]
            for j in range(W):
                panel_row[j] = w_row[b * W + j]
        if full < nb:
            panel_row = packed[full, p]
            for j in range(W):
                panel_row[j] = w_row[full * W + j] if full * W + j < M else 0.0


@njit(cache=True, error_model="numpy", fastmath=FASTMATH, inline="always")
def pack_for_steps(w, rows, steps, transposed, small_kernels):
    """The panels of w for a time loop of ``steps`` products of up to ``rows`` rows, or an
    empty (0, 0, W) array where they do not pay (see the module docstring).
    ``transposed``: True packs w (M, K) for a wᵀ (the forward), False w (K, M) for a w (the
    backward). With ``small_kernels`` (blas.SMALL_KERNELS: OpenBLAS's AVX-512 kernels) on a
    CPU whose panels are AVX2's the products stay OpenBLAS's (AVX2 panels measured against
    them on an AVX-512 CPU ran at 0.63-1.67x their rate, slower at most sizes); the AVX-512
    panels beat them (see the module docstring)."""
    W = panel_width(w.itemsize)
    too_few = rows < (MIN_ROWS if transposed else MIN_ROWS_BACKWARD)
    too_many = rows > (MAX_ROWS_FORWARD if transposed else MAX_ROWS)
    if not PANELS or (small_kernels and not WIDE) or too_few or too_many or steps < MIN_STEPS:
        return np.empty((0, 0, W), w.dtype)
    M, K = (w.shape[0], w.shape[1]) if transposed else (w.shape[1], w.shape[0])
    packed = np.empty(((M + W - 1) // W, K, W), w.dtype)
    if transposed:
        rows_as_panels(w, packed)
    else:
        cols_as_panels(w, packed)
    return packed


@njit(cache=True, error_model="numpy", fastmath=FASTMATH, inline="always")
def _run_panels(N, K, M, a0, lda, p0, panel_stride, c0, ldc, add, dtype, item):
    """c (N, M) (+)= a (N, K) · the packed matrix, from raw addresses (one compilation per
    dtype: the kernels' many array layouts all come here): a's row n starts at a0 + n·lda
    items, panel b at p0 + b·panel_stride bytes, c's row n at c0 + n·ldc items; ``item`` is
    the dtype's size in bytes."""
    W = panel_width(item)
    blocks = (N + ROWS - 1) // ROWS
    # rows in blocks of at most ROWS, as even as possible: a block of few rows leaves the
    # FMA units waiting on its few accumulators (2 rows take about as long as 6)
    base, longer = N // blocks, N % blocks
    for b in range((M + W - 1) // W):
        width = min(W, M - b * W)         # the last panel's columns past M are left alone
        n0 = 0
        for k in range(blocks):
            rows = base + 1 if k < longer else base
            _panel_block(rows, a0 + n0 * lda * item, lda, p0 + b * panel_stride, K,
                         c0 + (n0 * ldc + b * W) * item, ldc, width, add, dtype)
            n0 += rows


@njit(cache=True, error_model="numpy", fastmath=FASTMATH, inline="always")
def panel_product(a, packed, c, add):
    """c (N, M) (+)= a (N, K) · the packed (K, M) matrix (nb, K, W); a's and c's rows may
    have a stride (column blocks of wider rows)."""
    N, K = a.shape
    item = a.itemsize
    _run_panels(N, K, c.shape[1], a.ctypes.data, a.strides[0] // item, packed.ctypes.data, packed.strides[0],
                c.ctypes.data, c.strides[0] // item, add, a.dtype, item)


@njit(cache=True, error_model="numpy", fastmath=FASTMATH)
def step_add(h, w_rec, packed, scratch, c, add, small_kernels):
    """The forward's per-step product c (N, G) (+)= h (N, H) w_recᵀ: on the panels of w_rec
    (pack_for_steps(..., True)) where they were made and N >= MIN_ROWS, else
    blas.recurrent_add."""
    if packed.shape[0] > 0 and h.shape[0] >= MIN_ROWS:
        panel_product(h, packed, c, add)
    else:
        recurrent_add(h, w_rec, scratch, c, add, small_kernels)


@njit(cache=True, error_model="numpy", fastmath=FASTMATH)
def step_grad(d, w_rec, packed, beta, dh, small_kernels):
    """The backward's per-step product dh (N, H) = d (N, K) w_rec (K, H) + beta dh (beta 0 or
    1): on the panels of w_rec (pack_for_steps(..., False)) where they were made and
    N >= MIN_ROWS_BACKWARD, else blas.recurrent_grad."""
    if packed.shape[0] > 0 and d.shape[0] >= MIN_ROWS_BACKWARD:
        panel_product(d, packed, dh, beta != 0.0)
    else:
        recurrent_grad(d, w_rec, beta, dh, small_kernels)
