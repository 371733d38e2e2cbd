"""Export ``fastrnn.nn`` LSTM / GRU / RNN modules to ONNX, with the standard operators
(optional extra: ``pip install "fastrnn[onnx]"``).

    model = fastrnn.onnx.export(lstm, "lstm.onnx", lengths=True)

Each layer becomes one ONNX ``LSTM`` / ``GRU`` / ``RNN`` node (both directions in one node,
``direction="bidirectional"``); the parameters become initializers. D = 2 if bidirectional
else 1, L = num_layers, G the gate count, I the layer's input size:

==========================================  ===================================================
fastrnn (torch layout)                      ONNX
==========================================  ===================================================
LSTM gates i, f, g, o                       ``LSTM``, gates i, o, f, c
GRU gates r, z, n; ``reset_after``          ``GRU``, gates z, r, h; ``linear_before_reset``
GRU ``blend='book'``: h' = (1-z) h + z n    z rows of W, R, Wb, Rb negated (1 - σ(a) = σ(-a))
RNN ``nonlinearity`` 'tanh' / 'relu'        ``RNN``, ``activations`` Tanh / Relu
``weight_ih_l{k}`` [``_reverse``]           ``W`` (D, G*H, I): W[0] forward, W[1] reverse
``weight_hh_l{k}`` [``_reverse``]           ``R`` (D, G*H, H)
``bias_ih_l{k}``, ``bias_hh_l{k}``          ``B`` (D, 2*G*H) = [Wb, Rb]; left out with bias=False
``weight_ph_l{k}`` (peephole=True): i, f, o  ``P`` (D, 3*H), peepholes i, o, f
``lengths`` (packed semantics)              ``sequence_lens`` of every layer
==========================================  ===================================================

An LSTM with ``proj_size > 0`` cannot be exported: the ONNX LSTM operator has no projection;
nor can a module with ``zoneout > 0`` or a layer-normalised cell (no ONNX operator has them).

The graph (T and N dynamic unless fixed by ``seq_len`` / ``batch_size``):

===========  ==========================================  ===========================================
name         shape                                       when
===========  ==========================================  ===========================================
``x``        (T, N, I); (N, T, I) with batch_first        always
``h0``       (L*D, N, H)                                 initial_states=True (must be fed) or
                                                         'optional' (zeros when not fed)
``c0``       (L*D, N, H)                                 the same, LSTM only
``lengths``  (N,) int32, each in [0, T]                  lengths=True
``output``   (T, N, D*H); (N, T, D*H) with batch_first    always: the last layer's output
``h_n``      (L*D, N, H)                                 always (``c_n`` too for the LSTM)
===========  ==========================================  ===========================================

The graph is the module's evaluation-mode forward (no dropout between layers).
"""
import numbers
import os
import warnings

import numpy as np

__all__ = ["export"]

DEFAULT_OPSET = 17
MIN_OPSET = 14          # LSTM/GRU/RNN-14 (the ``layout`` revision); the graph's other operators need 13

_INSTALL = 'fastrnn.onnx needs the onnx package, which is not installed: pip install "fastrnn[onnx]"'


def _onnx():
    try:
        import onnx
    except ImportError:
        raise ImportError(_INSTALL) from None
    return onnx


# --- parameters -> the operator's weight inputs -----------------------------------------------

def _checked_params(module):
    """The module's parameters by name, checked as its forward checks them (the same guard and
    messages: an ndarray of the module's dtype and registered shape for every entry)."""
    out = {}
    for names, arrays in zip(module._names, module._layer_params()):
        out.update((n, a) for n, a in zip(names, arrays) if n is not None)
    return out


def _stack(module, params, name, layer, order):
    """``params[name_l{layer}]`` [and ``_reverse``]: (G*H, ...) torch rows -> (D, G*H, ...) in ``order``."""
    H = module.hidden_size
    rows = np.concatenate([np.arange(g * H, (g + 1) * H) for g in order])
    suffixes = ("", "_reverse") if module.bidirectional else ("",)
    return np.stack([params[f"{name}_l{layer}{s}"][rows] for s in suffixes])


def _gate_signs(module, op):
    """(G*H,) +1/-1 per ONNX gate row: -1 on the rows of the gates the operator negates
    (the GRU's z for blend='book': 1 - σ(a) = σ(-a))."""
    negated = op.negated(module._options)
    return np.repeat([-1.0 if g in negated else 1.0 for g in op.order], module.hidden_size).astype(module.dtype)


def _weights(module, params, layer, dtype):
    """Layer ``layer``'s parameters as the ONNX operator's weight inputs (dict slot -> array):
    ``W`` (D, G*H, I_layer), ``R`` (D, G*H, H), ``B`` (D, 2*G*H) = [Wb, Rb] (absent with
    bias=False: ONNX's default is zeros), each in the operator's gate order, of ``dtype``.
    """
    op = module.cell.onnx
    signs = _gate_signs(module, op)
    out = {"W": _stack(module, params, "weight_ih", layer, op.order) * signs[:, None],
           "R": _stack(module, params, "weight_hh", layer, op.order) * signs[:, None]}
    if module.bias:
        out["B"] = np.concatenate([_stack(module, params, "bias_ih", layer, op.order),
                                   _stack(module, params, "bias_hh", layer, op.order)], axis=-1) * np.tile(signs, 2)
    for name, (slot, order) in op.extra.items():
        out[slot] = _stack(module, params, name, layer, order)
    return {k: np.ascontiguousarray(v, dtype) for k, v in out.items()}


def _attributes(module, hidden_size):
    """The operator's attributes (besides ``direction``)."""
    D = 2 if module.bidirectional else 1
    return {"hidden_size": hidden_size, **module.cell.onnx.attributes(module._options, D)}


# --- argument checks --------------------------------------------------------------------------

def _check_module(module):
    from . import _cells
    from ._validation import _type_name
    from .nn import Recurrent
    if not isinstance(module, Recurrent):
        raise TypeError(f"module: expected a fastrnn.nn LSTM, GRU, RNN or Recurrent module, got {_type_name(module)}")
    name = module.cell.name
    if module.cell.projects:
        raise ValueError(f"module: cannot export an LSTM with proj_size={module.proj_size} to ONNX: the ONNX LSTM "
                         "operator has no projection of h (export a module with proj_size=0)")
    if module.zoneout > 0:
        raise ValueError(f"module: cannot export zoneout={module.zoneout} to ONNX: the ONNX operators have no "
                         "zoneout (its evaluation-mode blend of h_t with h_{t-1}); export a module with zoneout=0")
    if module.cell.onnx is None or _cells.CELLS.get(name) is not module.cell:
        covered = [n for n, c in _cells.CELLS.items() if c.onnx is not None]
        raise ValueError(f"module: cannot export its {name!r} cell to ONNX: the standard ONNX operators "
                         f"cover fastrnn's {', '.join(map(repr, covered))} cells only")


def _check_dtype(module, dtype):
    from ._validation import check_float_dtype_arg
    if dtype is not None:
        return check_float_dtype_arg("dtype", dtype)
    if module.dtype == np.float64:
        raise ValueError("dtype: the module is float64, and ONNX Runtime's CPU LSTM/GRU/RNN kernels run "
                         "float32 only; pass dtype=np.float32 to export a float32 model (weights rounded) "
                         "or dtype=np.float64 for a float64 model (valid ONNX, for other runtimes)")
    return module.dtype


def _check_opset(onnx, opset):
    latest = onnx.defs.onnx_opset_version()
    expected = f"an int in [{MIN_OPSET}, {latest}] (the installed onnx {onnx.__version__} knows opsets up to {latest})"
    if isinstance(opset, bool) or not isinstance(opset, numbers.Integral):
        raise TypeError(f"opset: expected {expected}, got {type(opset).__name__} {opset!r}")
    if not MIN_OPSET <= opset <= latest:
        raise ValueError(f"opset: expected {expected}, got {opset}")
    return int(opset)


def _check_bool(name, value):
    from ._validation import check_bool
    return check_bool(name, value)


def _check_initial_states(value):
    if isinstance(value, str) and value == "optional":
        return value
    if not isinstance(value, (bool, np.bool_)):
        raise ValueError(f"initial_states: expected True, False or 'optional', got {value!r}")
    return bool(value)


def _check_dim(name, value):
    from ._validation import check_int
    return None if value is None else check_int(name, value, 1)


# --- the graph --------------------------------------------------------------------------------

class _Graph:
    """Nodes and initializers of the graph being built; fresh value names."""

    def __init__(self, onnx):
        self.helper, self.numpy_helper = onnx.helper, onnx.numpy_helper
        self.nodes, self.initializers, self._count, self._consts = [], [], 0, {}

    def const(self, name, array):
        """An initializer ``name`` holding ``array`` (added once: a name means one value)."""
        array = np.asarray(array)
        if name in self._consts:
            assert np.array_equal(self._consts[name], array) and self._consts[name].dtype == array.dtype, name
        else:
            self._consts[name] = array
            self.initializers.append(self.numpy_helper.from_array(array, name))
        return name

    def node(self, op_type, inputs, outputs=1, **attrs):
        """Add a node; ``outputs`` a count (fresh names) or a list of names -> the output name(s)."""
        if isinstance(outputs, int):
            self._count += 1
            outputs = [f"{op_type.lower()}{self._count}_{k}" for k in range(outputs)]
        self.nodes.append(self.helper.make_node(op_type, list(inputs), list(outputs), **attrs))
        return outputs[0] if len(outputs) == 1 else outputs


def export(module, path=None, *, opset=DEFAULT_OPSET, lengths=False, initial_states=True,
           seq_len=None, batch_size=None, dtype=None):
    """Export the LSTM / GRU / RNN ``module`` (``fastrnn.nn``) to an ONNX model; returns the
    ``onnx.ModelProto`` (validated by ``onnx.checker.check_model``), also written to ``path``.

    The graph computes ``module.eval()(x, hx, lengths=...)`` for batched input: inputs ``x``
    (T, N, I) [(N, T, I) with batch_first] [, ``h0``, ``c0`` (L*D, N, H)] [, ``lengths`` (N,)];
    outputs ``output`` (T, N, D*H) [(N, T, D*H) with batch_first], ``h_n`` [and ``c_n``]
    (L*D, N, H).

    - ``path``: None, or where to write the model (str or path-like);
    - ``opset``: the ONNX opset, an int from 14 to the installed onnx's latest;
    - ``lengths``: True adds the input ``lengths`` (N,) int32, each in [0, T], with the packed
      semantics of ``module(x, lengths=...)``: outputs past a sequence's length are 0, its
      final states are those after its last step (its initial states for length 0), and the
      reverse direction starts at its last step;
    - ``initial_states``: True adds the inputs ``h0`` (and ``c0``), which must be fed;
      ``"optional"`` adds them with zeros as their default (an ONNX initializer default:
      ONNX Runtime lists them under ``get_overridable_initializers()``, not ``get_inputs()``);
      False adds none, the layers start from zeros;
    - ``seq_len``, ``batch_size``: None keeps T / N dynamic (the dim_params ``"T"``, ``"N"``);
      an int fixes it in the declared shapes;
    - ``dtype``: the model's float type, float32 or float64; None is the module's, but a
      float64 module must choose: ONNX Runtime's CPU LSTM/GRU/RNN run float32 only.
    """
    onnx = _onnx()
    _check_module(module)
    params = _checked_params(module)
    opset = _check_opset(onnx, opset)
    dtype = _check_dtype(module, dtype)
    lengths = _check_bool("lengths", lengths)
    if lengths and np.dtype(dtype) == np.float64:
        warnings.warn("export(dtype=float64, lengths=True): ONNX Runtime's CPU LSTM/GRU/RNN run float32 only, and "
                      "onnx.reference.ReferenceEvaluator ignores sequence_lens (its outputs past each length and the "
                      "final states of shorter sequences are wrong); run this model in a runtime that honours "
                      "sequence_lens, or export dtype=np.float32 for ONNX Runtime (docs/onnx.md, Limits)",
                      UserWarning, stacklevel=2)
    initial_states = _check_initial_states(initial_states)
    T = _check_dim("seq_len", seq_len) or "T"
    N = _check_dim("batch_size", batch_size) or "N"
    if path is not None and not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path: expected None, a str or a path-like, got {type(path).__name__}")

    helper = onnx.helper
    elem = helper.np_dtype_to_tensor_dtype(np.dtype(dtype))
    op = module.cell.onnx
    L, D, H, I = module.num_layers, 2 if module.bidirectional else 1, module.hidden_size, module.input_size
    g = _Graph(onnx)
    x_dims = [N, T, I] if module.batch_first else [T, N, I]
    inputs = [helper.make_tensor_value_info("x", elem, x_dims)]
    x = g.node("Transpose", ["x"], perm=[1, 0, 2]) if module.batch_first else "x"      # (T, N, I)

    starts = {}                                  # state -> (L*D, N, H) value, or the scalar 0 (lengths)
    if initial_states == "optional":             # (L*D, 1, H) zero defaults, expanded to N
        batch = g.node("Gather", [g.node("Shape", [x]), g.const("const_1", np.array([1], np.int64))])
        shape = g.node("Concat", [g.const("const_LD", np.array([L * D], np.int64)), batch,
                                  g.const("const_H", np.array([H], np.int64))], axis=0)
    for state, _ in op.states:
        if initial_states:
            starts[state] = f"{state}0"
            inputs.append(helper.make_tensor_value_info(f"{state}0", elem, [L * D, N, H]))
            if initial_states == "optional":
                g.const(f"{state}0", np.zeros((L * D, 1, H), dtype))
                starts[state] = g.node("Expand", [f"{state}0", shape])
        elif lengths:
            starts[state] = g.const("const_zero", np.array(0, dtype))
    if lengths:
        inputs.append(helper.make_tensor_value_info("lengths", onnx.TensorProto.INT32, [N]))
        # (1, N, 1): the sequences that take a step (ONNX Runtime gives zero states for length 0)
        ran = g.node("Unsqueeze", [g.node("Greater", ["lengths", g.const("const_0i", np.array(0, np.int32))]),
                                   g.const("const_axes02", np.array([0, 2], np.int64))])

    finals = {state: [] for state, _ in op.states}
    layer_in = x
    for layer in range(L):
        slots = {"X": layer_in, "sequence_lens": "lengths" if lengths else ""}
        for slot, array in _weights(module, params, layer, dtype).items():
            slots[slot] = g.const(f"{slot}_l{layer}", array)
        layer_starts = {}                        # state -> this layer's (D, N, H) start, or 0
        for state, slot in op.states:
            start = starts.get(state)
            if initial_states and L > 1:
                start = g.node("Slice", [start, g.const(f"const_{layer * D}", np.array([layer * D], np.int64)),
                                         g.const(f"const_{layer * D + D}", np.array([layer * D + D], np.int64)),
                                         g.const("const_0", np.array([0], np.int64))])
            if initial_states:
                slots[slot] = start
            layer_starts[state] = start
        names = [slots.get(s, "") for s in op.inputs]
        while not names[-1]:
            names.pop()
        Y, *ys = g.node(op.op_type, names, 1 + len(op.states), name=f"{op.op_type.lower()}_l{layer}",
                        direction="bidirectional" if D == 2 else "forward", **_attributes(module, H))
        for (state, _), y in zip(op.states, ys):
            finals[state].append(g.node("Where", [ran, y, layer_starts[state]]) if lengths else y)
        last = layer == L - 1 and not module.batch_first
        layer_in = _join_directions(g, Y, D, H, ["output"] if last else 1)               # (T, N, D*H)
    if module.batch_first:
        g.node("Transpose", [layer_in], ["output"], perm=[1, 0, 2])
    outputs = [helper.make_tensor_value_info("output", elem, x_dims[:2] + [D * H])]
    for state, _ in op.states:
        g.node("Concat", finals[state], [f"{state}_n"], axis=0)
        outputs.append(helper.make_tensor_value_info(f"{state}_n", elem, [L * D, N, H]))

    graph = helper.make_graph(g.nodes, f"fastrnn_{module.cell.name}", inputs, outputs, g.initializers,
                              doc_string=f"fastrnn.nn.{module!r}, evaluation mode")
    opsets = [helper.make_opsetid("", opset)]
    from . import __version__
    model = helper.make_model(graph, opset_imports=opsets, producer_name="fastrnn",
                              producer_version=__version__, ir_version=helper.find_min_ir_version_for(opsets))
    onnx.checker.check_model(model, full_check=True)
    if path is not None:
        onnx.save(model, os.fspath(path))
    return model


def _join_directions(g, Y, D, H, outputs):
    """An operator's Y (T, D, N, H) -> (T, N, D*H), the directions side by side."""
    if D == 1:
        return g.node("Squeeze", [Y, g.const("const_axis1", np.array([1], np.int64))], outputs)
    return g.node("Reshape", [g.node("Transpose", [Y], perm=[0, 2, 1, 3]),
                              g.const("const_TN2H", np.array([0, 0, D * H], np.int64))], outputs)
