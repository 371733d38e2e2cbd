"""Dot-product attention over all decoder steps (the book's chapter 8 TimeAttention), fused.

Shapes: encoder states ``hs_enc (N, Te, H)``, decoder states ``hs_dec (N, Td, H)``,
attention weights ``a (Td, N, Te)`` (step-major, so ``a[t]`` is the book's contiguous
``(N, Te)`` array of step t), context ``out (N, Td, H)``. All C-contiguous, one float dtype.

Per batch row n and decoder step t (the book's AttentionWeight, Softmax, WeightSum):
    s_j = Σ_k hs_enc[n, j, k] · hs_dec[n, t, k]
    a_j = exp(s_j − max s) / Σ exp(s − max s)
    out[n, t] = Σ_j a_j · hs_enc[n, j]
Backward (dout = ∂L/∂out):
    da_j = Σ_k dout[n, t, k] · hs_enc[n, j, k];   ds_j = a_j·da_j − a_j·Σ_i a_i·da_i
    ∂hs_enc[n, j] += a_j · dout[n, t] + ds_j · hs_dec[n, t]
    ∂hs_dec[n, t] = Σ_j ds_j · hs_enc[n, j]
"""
import math

from numba import njit

from .activations import FASTMATH


@njit(cache=True, error_model="numpy", fastmath=FASTMATH)
def attention_forward(hs_enc, hs_dec, a, out):
    """Fill a (Td, N, Te) with the attention weights and out (N, Td, H) with the contexts."""
    N, Te, H = hs_enc.shape
    Td = hs_dec.shape[1]
    zero = hs_enc.dtype.type(0)
    neg_inf = hs_enc.dtype.type(-math.inf)
    for n in range(N):
        enc = hs_enc[n]
        for t in range(Td):
            q = hs_dec[n, t]
            w = a[t, n]
            m = neg_inf
            for j in range(Te):
                e = enc[j]
                s = zero
                for k in range(H):
                    s += e[k] * q[k]
                w[j] = s
                if not s <= m:          # also takes a NaN score, which then spreads to the row
                    m = s
            total = zero
            for j in range(Te):
                v = math.exp(w[j] - m)
                w[j] = v
                total += v
            for j in range(Te):
                w[j] = w[j] / total
            o = out[n, t]
            for k in range(H):
                o[k] = zero
            for j in range(Te):
                aj = w[j]
                e = enc[j]
                for k in range(H):
                    o[k] += aj * e[k]


@njit(cache=True, error_model="numpy", fastmath=FASTMATH)
def attention_backward(hs_enc, hs_dec, a, dout, dhs_enc, dhs_dec, ds):
    """Write dhs_enc (N, Te, H) and dhs_dec (N, Td, H); ds (Te,) is a workspace."""
    N, Te, H = hs_enc.shape
    Td = hs_dec.shape[1]
    zero = hs_enc.dtype.type(0)
    for n in range(N):
        enc = hs_enc[n]
        denc = dhs_enc[n]
        for j in range(Te):
            dj = denc[j]
            for k in range(H):
                dj[k] = zero
        for t in range(Td):
            w = a[t, n]
            g = dout[n, t]
            q = hs_dec[n, t]
            dot = zero
            for j in range(Te):
                e = enc[j]
                s = zero
                for k in range(H):
                    s += g[k] * e[k]
                v = w[j] * s
                ds[j] = v
                dot += v
            for j in range(Te):
                ds[j] = ds[j] - w[j] * dot
            dq = dhs_dec[n, t]
            for k in range(H):
                dq[k] = zero
            for j in range(Te):
                wj = w[j]
                dsj = ds[j]
                e = enc[j]
                de = denc[j]
                for k in range(H):
                    de[k] += wj * g[k] + dsj * q[k]
                    dq[k] += dsj * e[k]
