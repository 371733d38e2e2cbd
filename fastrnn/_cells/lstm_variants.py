"""The LSTM variants' entries: peephole connections, a projection of h (torch's proj_size), or both.

=======================  ========================================================  =========
entry                    parameters (torch layout; the book's: Wx, Wh, b, p)       states
=======================  ========================================================  =========
``lstm_peephole``        weight_ih, weight_hh (4H, H), biases, weight_ph (3H,)     h, c (H)
``lstm_proj``            weight_ih, weight_hh (4H, P), biases, weight_hr (P, H)    h (P), c (H)
``lstm_proj_peephole``   both                                                      h (P), c (H)
=======================  ========================================================  =========

``weight_ph`` holds the peepholes p_i, p_f, p_o (that order in both layouts; initialised
to 0); ``weight_hr`` is torch's. The projected entries have torch's layout only (the book
has no projection). Equations: fastrnn/oracle/lstm.py; kernels:
fastrnn/_kernels/lstm_variants.py. The faces pick an entry with :func:`variant_name`.
"""
import numpy as np

from .. import oracle
from .._kernels import blas as _blas
from .._threads import kernel_threads
from .._kernels import lstm_variants as _kernels
from .formats import LSTM_STATES, RNN_INPUTS, OnnxOp
from .spec import (Cell, Layout, Param, SequenceCache, as_rows, bias_or_empty, book_params, chunk_steps,
                   combined_bias_grad, to_call_shape, layout_flag, recurrent_weight, as_kernel_rows,
                   split_bias_grad, split_biases, torch_params, zeros_if_none)


def variant_name(projection, peephole):
    """The registry name of the LSTM with a projection (``proj_size > 0``) and/or peepholes:
    ``'lstm'``, ``'lstm_peephole'``, ``'lstm_proj'`` or ``'lstm_proj_peephole'``."""
    return "lstm" + ("_proj" if projection else "") + ("_peephole" if peephole else "")


class _Variant:
    """The sequence and oracle calls of one variant (which optional arrays it has, and where)."""

    def __init__(self, name, project, peephole):
        self.name, self.project, self.peephole = name, project, peephole
        self.blocks = {"torch": (0, 1, 2, 3), "book": (2, 0, 1, 3)}
        self.positions = {}             # layout -> {parameter name: its index in the layout's tuple} (_entry)

    def _extra(self, arrays, layout, name):
        """The entry of ``arrays`` (aligned with the layout's parameters) holding parameter ``name``."""
        return arrays[self.positions[layout][name]]

    # --- kernels ------------------------------------------------------------------------
    def forward(self, x, states, params, layout, options, batch_sizes=None):
        """x (T, N, I) or packed (R, I), (h0 (N, P), c0 (N, H)) -> out like x with P features,
        (h_n, c_n), cache."""
        return self._run(x, states, params, layout, batch_sizes, True)

    def infer(self, x, states, params, layout, options, batch_sizes=None):
        """Forward only -> out, (h_n, c_n); extra memory independent of T (see lstm.infer)."""
        return self._run(x, states, params, layout, batch_sizes, False)[:2]

    def _optional(self, params, layout, H, dtype):
        """(w_hr (P, H) or (0, H), w_ph (3H,), zeros for a cell without peepholes)."""
        w_hr = self._extra(params, layout, "weight_hr") if self.project else np.zeros((0, H), dtype)
        w_ph = self._extra(params, layout, PEEPHOLE_NAMES[layout]) if self.peephole else np.zeros(3 * H, dtype)
        return w_hr, w_ph

    def _run(self, x, states, params, layout, batch_sizes, training):
        torch_layout = layout_flag(layout)
        h0, c0 = states
        rows, sizes, padded_shape = as_rows(x, batch_sizes)
        R = rows.shape[0]
        N, H = c0.shape
        P = h0.shape[1]
        dtype = rows.dtype
        chunk = sizes.shape[0] if training else chunk_steps(sizes.shape[0], N)
        gates = np.empty((R if training else min(R, chunk * N), 4 * H), dtype)
        cs = np.empty((R if training else 2 * N, H), dtype)
        w_hr, w_ph = self._optional(params, layout, H, dtype)
        ms = np.empty(((R if training else N) if self.project else 0, H), dtype)
        out = np.empty((R, P), dtype)
        h_n = np.empty((N, P), dtype)
        c_n = np.empty((N, H), dtype)
        b_x, b_h = split_biases(params, layout, 4 * H, dtype)
        w_x, w_rec = params[0], recurrent_weight(params[1], torch_layout)
        with kernel_threads():
            _kernels.lstm_variant_forward(rows, sizes, h0, c0, w_x, w_rec, w_hr, w_ph, b_x, b_h, torch_layout,
                                          self.blocks[layout], chunk, training, gates, np.empty((5 * H + P) * N, dtype),
                                          cs, ms, out, h_n, c_n, _blas.SMALL_KERNELS)
        cache = SequenceCache(self.name, layout, (rows, sizes, h0, c0, w_x, w_rec, w_hr, w_ph, gates, cs, ms, out),
                              {"padded_shape": padded_shape}) if training else None
        return to_call_shape(out, padded_shape), (h_n, c_n), cache

    def backward(self, cache, dout, dstates, grads, accumulate):
        """-> dx like the forward's x, (dh0 (N, P), dc0 (N, H)); weight gradients into ``grads``."""
        rows, sizes, h0, c0, w_x, w_rec, w_hr, w_ph, gates, cs, ms, out = cache.take(self.name)
        layout, dtype, padded_shape = cache.layout, rows.dtype, cache.options["padded_shape"]
        (N, P), H = h0.shape, c0.shape[1]
        dh_n = zeros_if_none(dstates[0], h0.shape, dtype)
        dc_n = zeros_if_none(dstates[1], c0.shape, dtype)
        dout = zeros_if_none(as_kernel_rows(dout, out.shape[0], padded_shape), out.shape, dtype)
        dx = np.empty(rows.shape, dtype)
        dh0 = np.empty(h0.shape, dtype)
        dc0 = np.empty(c0.shape, dtype)
        dhs = np.empty((rows.shape[0] if self.project else 0, P), dtype)
        db = combined_bias_grad(grads, layout, accumulate)
        dw_hr = self._extra(grads, layout, "weight_hr") if self.project else w_hr
        dw_ph = self._extra(grads, layout, PEEPHOLE_NAMES[layout]) if self.peephole else bias_or_empty(None, dtype)
        with kernel_threads():
            _kernels.lstm_variant_backward(rows, sizes, h0, c0, w_x, w_rec, w_hr, w_ph, layout == "torch",
                                           self.blocks[layout], gates, cs, ms, out, dout, dh_n, dc_n, dx, dh0, dc0,
                                           dhs, np.empty((N, H), dtype), grads[0], grads[1], dw_hr, dw_ph,
                                           bias_or_empty(db, dtype), bool(accumulate), _blas.SMALL_KERNELS)
        split_bias_grad(db, grads, layout, accumulate)
        return to_call_shape(dx, padded_shape), (dh0, dc0)

    # --- oracle (torch layout) ----------------------------------------------------------------
    def _named(self, params):
        """The oracle's keywords for the variant's extra parameters."""
        return {"w_hr": self._extra(params, "torch", "weight_hr") if self.project else None,
                "w_ph": self._extra(params, "torch", "weight_ph") if self.peephole else None}

    def oracle_forward(self, x, states, params, options, lengths=None):
        out, h_n, c_n, cache = oracle.lstm_forward(x, *states, *params[:4], lengths=lengths, **self._named(params))
        return out, (h_n, c_n), cache

    def oracle_backward(self, cache, dout, dstates):
        dx, dh0, dc0, grads = oracle.lstm_backward(dout, *dstates, cache)
        return dx, (dh0, dc0), grads


PEEPHOLE = Param("weight_ph", ("3*H",), "w_ph", init="zeros")
BOOK_PEEPHOLE = Param("p", ("3*H",), "p", init="zeros")
PROJECTED_HH = Param("weight_hh", ("G*H", "P"), "w_hh")
PROJECTION = Param("weight_hr", ("P", "H"), "w_hr")
PEEPHOLE_NAMES = {"torch": PEEPHOLE.name, "book": BOOK_PEEPHOLE.name}


def _entry(project, peephole, title, doc):
    name = variant_name(project, peephole)
    calls = _Variant(name, project, peephole)
    torch_list = list(torch_params())
    if project:
        torch_list[1] = PROJECTED_HH
        torch_list.append(PROJECTION)
    layouts = {"torch": Layout(tuple(torch_list) + ((PEEPHOLE,) if peephole else ()), calls.blocks["torch"])}
    if not project:
        layouts["book"] = Layout(book_params() + ((BOOK_PEEPHOLE,) if peephole else ()), calls.blocks["book"])
    calls.positions = {k: {p.name: i for i, p in enumerate(v.params)} for k, v in layouts.items()}
    return Cell(
        name=name, title=title, gates=4, gate_names=("i", "f", "g", "o"), state_names=("h", "c"), options=(),
        layouts=layouts, forward=calls.forward, backward=calls.backward, infer=calls.infer,
        oracle_forward=calls.oracle_forward, oracle_backward=calls.oracle_backward, doc=doc,
        state_dims=("P", "H") if project else (), variant_of="lstm",
        # ONNX's LSTM has peepholes (P holds p_i, p_o, p_f: weight_ph's blocks 0, 2, 1) and no projection
        onnx=None if project else OnnxOp("LSTM", (0, 3, 1, 2), RNN_INPUTS + ("initial_c", "P"), LSTM_STATES,
                                         {"weight_ph": ("P", (0, 2, 1))}))


LSTM_PEEPHOLE = _entry(False, True, "PeepholeLSTM",
                       "i, f = σ(a + p c), o = σ(a_o + p_o c'), c' = f c + i g, h' = o tanh(c')")
LSTM_PROJ = _entry(True, False, "ProjectedLSTM", "c' = f c + i g, h' = w_hr (o tanh(c'))")
LSTM_PROJ_PEEPHOLE = _entry(True, True, "ProjectedPeepholeLSTM",
                            "peepholes as lstm_peephole, h' = w_hr (o tanh(c'))")
VARIANTS = (LSTM_PEEPHOLE, LSTM_PROJ, LSTM_PROJ_PEEPHOLE)
