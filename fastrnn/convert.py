"""Keras 3 recurrent layers to and from ``fastrnn.nn`` modules, weights included.

    module = from_keras(keras_layer)          # keras LSTM / GRU / SimpleRNN / Bidirectional / Sequential
    keras_layer = to_keras(module)            # fastrnn.nn LSTM / GRU / RNN

Keras is imported inside the two functions only: ``import fastrnn.convert`` works without
it, and calling a function without Keras raises ImportError (``pip install keras``, plus a
backend: torch, jax or tensorflow, chosen with ``KERAS_BACKEND``).

Mapping (H = units, I = input features, G = gates: LSTM 4, GRU 3, SimpleRNN 1; k = layer):

    Keras                           fastrnn.nn
    LSTM(H)                         LSTM(I, H, batch_first=True)    gates i,f,c,o = torch's i,f,g,o
    GRU(H)  (reset_after=True)      GRU(I, H, batch_first=True)     gates z,r,h -> r,z,n
    GRU(H, reset_after=False)       GRU(I, H, batch_first=True, reset_after=False)
    SimpleRNN(H, activation=a)      RNN(I, H, nonlinearity=a)       a: 'tanh' or 'relu'
    Bidirectional(layer)            bidirectional=True              merge_mode='concat' only
    Sequential of n such layers     num_layers=n                    Dropout(p) between -> dropout=p
    use_bias=False                  bias=False
    kernel (I, G*H)                 weight_ih_l{k} (G*H, I)         transposed, gate blocks reordered
    recurrent_kernel (H, G*H)       weight_hh_l{k} (G*H, H)         transposed, gate blocks reordered
    bias (G*H,)                     bias_ih_l{k}; bias_hh_l{k} = 0  to_keras: bias_ih + bias_hh
    GRU reset_after=True bias       (2, 3H) = [bias_ih_l{k}, bias_hh_l{k}], gate blocks reordered
    Bidirectional backward_layer    the ..._reverse parameters

Both use ``h' = z⊙h + (1 − z)⊙n`` for the GRU (fastrnn's ``blend='torch'``) and the
same reversed-sequence semantics for a backward direction. Keras is batch-major: ``x (N, T,
I)``, so the modules are ``batch_first=True``; their ``forward`` returns ``out (N, T, D·H)``
and the final states ``(L·D, N, H)`` whatever ``return_sequences`` / ``return_state`` say.
A layer's own ``dropout`` / ``recurrent_dropout`` are not carried over: they act in training
only, so inference is identical (fastrnn's ``dropout=`` is between layers only). A
``stateful`` layer converts too: the module keeps no state between calls; pass the last
``h_n`` back as ``hx``. Keras masking (``mask_zero=True``)
corresponds to ``forward(x, lengths=...)`` with the padding at the end (the same final
states; fastrnn's outputs in the padding are 0).
"""
import numpy as np

__all__ = ["from_keras", "to_keras"]



def _keras_cells():
    """The registry entries with a Keras layer, by the Keras cell's class name."""
    from . import _cells
    return {c.keras.cell: c for c in _cells.CELLS.values() if c.keras is not None}


def _keras():
    try:
        import keras
    except ImportError as e:
        raise ImportError("fastrnn.convert needs Keras 3: pip install keras, with a backend (torch, jax or "
                          f"tensorflow) selected by the KERAS_BACKEND environment variable ({e})") from e
    if int(str(keras.__version__).split(".")[0]) < 3:
        raise ImportError(f"fastrnn.convert needs Keras 3 (pip install -U keras), found {keras.__version__}")
    return keras


def _blocks(a, order, H):
    """a's H-row blocks (axis 0) taken in ``order``: ``_blocks(torch, keras.order, H)`` is in
    Keras's gate order; ``_blocks(keras, inverse(order), H)`` in torch's."""
    return a[np.concatenate([np.arange(g * H, (g + 1) * H) for g in order])]


def _inverse(order):
    return tuple(order.index(g) for g in range(len(order)))


def _negate(a, negated, H):
    """a with the H-row blocks of the torch gates ``negated`` (axis 0) negated."""
    if not negated:
        return a
    a = a.copy()
    for g in negated:
        a[g * H:(g + 1) * H] *= -1
    return a


def _activation_name(keras, fn):
    for name in ("tanh", "relu", "sigmoid"):
        if fn is getattr(keras.activations, name):
            return name
    return getattr(fn, "__name__", repr(fn))


# --- from Keras ---------------------------------------------------------------------------------
def _what(layer):
    return f"{type(layer).__name__} {getattr(layer, 'name', '?')!r}"


def _cell_spec(keras, rnn, where):
    """One Keras RNN layer (one direction) -> (entry, options, units, use_bias, (K, R, b))."""
    cell = rnn.cell
    known = _keras_cells()
    entry = known.get(type(cell).__name__) if type(cell).__module__.startswith("keras.") else None
    if entry is None:
        raise ValueError(f"{where}: cell {type(cell).__name__} cannot be converted "
                         f"(expected {_either(known)}; StackedRNNCells: use a Sequential)")
    spec = entry.keras
    act = _activation_name(keras, cell.activation)
    option = {o.name: o for o in entry.options}.get(spec.activation_option)
    allowed = option.choices if option else ("tanh",)
    if act not in allowed:
        raise ValueError(f"{where}: activation={act!r} cannot be converted (fastrnn supports "
                         f"{' or '.join(map(repr, allowed))} here)")
    options = {option.name: act} if option else {}
    if spec.gated:
        rec = _activation_name(keras, cell.recurrent_activation)
        if rec != "sigmoid":
            raise ValueError(f"{where}: recurrent_activation={rec!r} cannot be converted (fastrnn's gates "
                             "use 'sigmoid')")
    options.update((name, bool(getattr(cell, name))) for name in spec.shared_options)
    if not rnn.built or getattr(cell, "kernel", None) is None:
        raise ValueError(f"{where}: the layer is not built (it has no weights yet): call it on an input "
                         "or build(input_shape) first")
    weights = [keras.ops.convert_to_numpy(cell.kernel), keras.ops.convert_to_numpy(cell.recurrent_kernel),
               keras.ops.convert_to_numpy(cell.bias) if cell.use_bias else None]
    return entry, options, int(cell.units), bool(cell.use_bias), weights


def _either(known):
    """'an LSTMCell, GRUCell or SimpleRNNCell' from the Keras cells the registry knows."""
    names = list(known)
    listed = names[0] if len(names) == 1 else f"{', '.join(names[:-1])} or {names[-1]}"
    return ("an " if listed[0] in "AEIOU" else "a ") + listed


def _layer_spec(keras, layer, where):
    """A Keras RNN or Bidirectional layer -> a dict describing it, weights per direction."""
    L = keras.layers
    if isinstance(layer, L.Bidirectional):
        if layer.merge_mode != "concat":
            raise ValueError(f"{where}: merge_mode={layer.merge_mode!r} cannot be converted (fastrnn "
                             "concatenates the two directions: merge_mode='concat' only)")
        fwd, bwd = layer.forward_layer, layer.backward_layer
        if fwd.go_backwards or not bwd.go_backwards:
            raise ValueError(f"{where}: go_backwards: expected the forward layer forwards and the backward "
                             f"layer backwards, got {fwd.go_backwards} and {bwd.go_backwards}")
        specs = [_cell_spec(keras, fwd, f"{where} (forward layer)"),
                 _cell_spec(keras, bwd, f"{where} (backward layer)")]
        if specs[0][:4] != specs[1][:4]:
            raise ValueError(f"{where}: the forward and backward layers differ ({_describe(specs[0])} vs "
                             f"{_describe(specs[1])}); fastrnn's two directions share their configuration")
        return_sequences = layer.return_sequences
    elif isinstance(layer, L.RNN):
        if layer.go_backwards:
            raise ValueError(f"{where}: go_backwards=True cannot be converted (a fastrnn module reads the "
                             "sequence forwards; reverse x yourself, or use Bidirectional)")
        specs = [_cell_spec(keras, layer, where)]
        return_sequences = layer.return_sequences
    else:
        raise ValueError(f"{where} is not a recurrent layer (expected LSTM, GRU, SimpleRNN or a "
                         "Bidirectional wrapper of one)")
    entry, options, units, use_bias, _ = specs[0]
    return {"cell": entry, "options": options, "units": units, "bias": use_bias,
            "bidirectional": len(specs) == 2, "input_size": int(specs[0][4][0].shape[0]),
            "weights": [s[4] for s in specs], "return_sequences": bool(return_sequences), "where": where}


def _config(spec):
    """What must agree between the layers of a stack, in Keras's words."""
    keras_spec = spec["cell"].keras
    config = {"layer type": keras_spec.layer, "units": spec["units"], "use_bias": spec["bias"],
              "bidirectional": spec["bidirectional"]}
    for key, value in spec["options"].items():
        config["activation" if key == keras_spec.activation_option else key] = value
    return config


def _describe(spec):
    entry, options, units, use_bias = spec[:4]
    opts = "".join(f", {'activation' if k == entry.keras.activation_option else k}={v!r}"
                   for k, v in options.items())
    return f"{entry.keras.layer}(units={units}{opts}, use_bias={use_bias})"


def _stack(keras, layers, single=False):
    """Keras layers forming a stack -> (list of layer specs, dropout between them)."""
    L = keras.layers
    specs, rates, after_dropout = [], set(), False
    entries = [x for x in layers if not isinstance(x, L.InputLayer)]
    if not entries:
        raise ValueError("from_keras: the Sequential (or list) holds no recurrent layer")
    for i, layer in enumerate(entries):
        where = _what(layer) if single else f"layer {i} ({_what(layer)})"
        if type(layer) is L.Dropout:
            if not specs or i == len(entries) - 1 or after_dropout:
                raise ValueError(f"{where}: a Dropout converts only between two recurrent layers "
                                 "(it becomes the module's dropout=)")
            if getattr(layer, "noise_shape", None) is not None:
                raise ValueError(f"{where}: noise_shape={layer.noise_shape!r} cannot be converted "
                                 "(fastrnn's dropout between layers is element-wise)")
            rates.add(float(layer.rate))
            after_dropout = True
            continue
        if not isinstance(layer, (L.RNN, L.Bidirectional)):
            raise ValueError(f"{where} is not a recurrent layer: from_keras converts a stack of LSTM, GRU or "
                             "SimpleRNN layers (or Bidirectional wrappers), with Dropout between them; convert "
                             "the other layers separately (e.g. Dense -> fastrnn.nn.Linear)")
        spec = _layer_spec(keras, layer, where)
        if specs:
            first, prev = specs[0], specs[-1]
            mine, theirs = _config(spec), _config(first)
            for key in theirs:
                if mine.get(key) != theirs[key]:
                    raise ValueError(f"{where}: {key}={mine.get(key)!r} differs from layer 0's "
                                     f"{key}={theirs[key]!r}: a fastrnn module stacks layers of one configuration")
            if not prev["return_sequences"]:
                raise ValueError(f"{prev['where']}: return_sequences=False, so it does not feed a sequence to "
                                 f"{where}; a stack needs return_sequences=True below its top layer")
            expected = prev["units"] * (2 if prev["bidirectional"] else 1)
            if spec["input_size"] != expected:
                raise ValueError(f"{where}: input size {spec['input_size']} differs from the output size "
                                 f"{expected} of the layer below")
        specs.append(spec)
        after_dropout = False
    if len(rates) > 1:
        raise ValueError(f"from_keras: Dropout rates {sorted(rates)} differ; a fastrnn module has one dropout=")
    if rates and len(specs) - 1 != sum(1 for x in entries if type(x) is L.Dropout):
        raise ValueError("from_keras: Dropout between some recurrent layers and not others cannot be "
                         "converted (fastrnn's dropout= applies between every two layers)")
    return specs, (rates.pop() if rates else 0.0)


def _torch_params(spec, weights, H, suffix):
    """One direction's Keras (K, R, b) -> torch-named arrays (``spec`` the cell's KerasLayer)."""
    K, R, b = weights
    to_torch = _inverse(spec.order)
    out = {f"weight_ih{suffix}": _blocks(K.T, to_torch, H), f"weight_hh{suffix}": _blocks(R.T, to_torch, H)}
    if b is not None:
        b_ih, b_hh = (b[0], b[1]) if b.ndim == 2 else (b, np.zeros_like(b))     # (2, G*H): [input, recurrent]
        out.update({f"bias_ih{suffix}": _blocks(b_ih, to_torch, H), f"bias_hh{suffix}": _blocks(b_hh, to_torch, H)})
    return out


def from_keras(layer, dtype=None):
    """A Keras 3 recurrent layer, or a stack of them, as the equivalent ``fastrnn.nn`` module.

    ``layer``: a built ``keras.layers.LSTM``, ``GRU`` (``reset_after`` True or False) or
    ``SimpleRNN`` (activation 'tanh' or 'relu'), a ``keras.layers.RNN`` of an ``LSTMCell``,
    ``GRUCell`` or ``SimpleRNNCell``, a ``Bidirectional`` wrapper of one
    (``merge_mode='concat'``), or a ``keras.Sequential`` / list of such layers of one
    configuration (cell, options, units, use_bias, bidirectional; ``InputLayer`` ignored,
    ``Dropout(p)`` between every two layers -> ``dropout=p``), each but the last with
    ``return_sequences=True``.

    Returns ``fastrnn.nn.LSTM`` / ``GRU`` / ``RNN`` with ``batch_first=True`` (Keras is
    batch-major), ``num_layers`` = the stack depth, ``bidirectional``, ``bias=use_bias``, and
    the weights copied (see the module docstring for the mapping). ``forward(x (N, T, I))``
    gives ``out (N, T, D·H)`` -- Keras's output with ``return_sequences=True`` -- and the final
    states ``(L·D, N, H)`` (Keras's ``return_state`` values of each layer and direction).
    ``dtype``: the module's float dtype; None takes float64 if the Keras weights are float64,
    else float32. The module starts in training mode, as every fastrnn module does
    (``dropout`` then acts between layers); call ``.eval()`` for inference.

    ValueError, naming the layer and attribute, for what fastrnn cannot compute: another
    activation or recurrent_activation, ``go_backwards=True`` on a plain layer, a merge_mode
    other than 'concat', a Sequential with other layers or layers that differ, an unbuilt
    layer. TypeError for an object that is not a Keras layer, Sequential or list.
    """
    keras = _keras()
    L = keras.layers
    if isinstance(layer, keras.Sequential):
        layers = list(layer.layers)
    elif isinstance(layer, (list, tuple)):
        layers = list(layer)
    elif isinstance(layer, (L.RNN, L.Bidirectional)):
        layers = [layer]
    elif isinstance(layer, keras.layers.Layer):
        raise ValueError(f"from_keras: {_what(layer)} is not a recurrent layer (expected LSTM, GRU, SimpleRNN, "
                         "a Bidirectional wrapper of one, or a Sequential stack of them)")
    else:
        raise TypeError(f"from_keras: expected a Keras layer, Sequential or list of layers, got "
                        f"{type(layer).__name__}")
    for x in layers:
        if not isinstance(x, keras.layers.Layer):
            raise TypeError(f"from_keras: expected Keras layers, got a {type(x).__name__}")
    specs, dropout = _stack(keras, layers, single=len(layers) == 1 and layers[0] is layer)
    first = specs[0]
    entry, H = first["cell"], first["units"]
    if dtype is None:
        dtype = np.float64 if first["weights"][0][0].dtype == np.float64 else np.float32
    from . import nn
    cls = getattr(nn, entry.title)          # the fastrnn.nn class of a cell has its title as name
    module = cls(first["input_size"], H, num_layers=len(specs), bias=first["bias"], batch_first=True,
                 dropout=dropout, bidirectional=first["bidirectional"], dtype=dtype, **first["options"])
    state = {}
    for k, spec in enumerate(specs):
        for d, weights in enumerate(spec["weights"]):
            state.update(_torch_params(entry.keras, weights, H, f"_l{k}" + ("_reverse" if d else "")))
    module.load_state_dict(state)
    return module


# --- to Keras -----------------------------------------------------------------------------------
def _keras_weights(module, suffix, options):
    """One direction's torch-named arrays -> Keras [kernel, recurrent_kernel, (bias)]."""
    spec, p, H = module.cell.keras, module.params, module.hidden_size
    negated = spec.negated(options)
    # h' = (1 - z) h + z n (blend='book') is Keras's z h + (1 - z) n with z -> 1 - z = sigmoid(-a):
    # the negated gates' weight rows and biases change sign
    names = ("weight_ih", "weight_hh") + (("bias_ih", "bias_hh") if module.bias else ())
    w_ih, w_hh, *biases = (_blocks(_negate(p[f"{n}{suffix}"].astype(np.float64), negated, H), spec.order, H)
                           for n in names)
    out = [w_ih.T, w_hh.T]
    if biases:
        # one bias: b_hh sits outside the reset gate (reset_after=False GRU) or is simply added
        out.append(np.stack(biases) if spec.two_biases(options) else biases[0] + biases[1])
    return [w.astype(module.dtype) for w in out]


def _set_weights(keras, rnn, weights):
    cell = rnn.cell
    variables = [cell.kernel, cell.recurrent_kernel] + ([cell.bias] if cell.use_bias else [])
    for var, value in zip(variables, weights):
        var.assign(value)


def to_keras(module):
    """A ``fastrnn.nn`` LSTM / GRU / RNN (or ``Recurrent`` of those cells) as built Keras 3 layers.

    Returns one layer when ``num_layers == 1``, else a ``keras.Sequential`` of
    ``num_layers`` layers (with ``keras.layers.Dropout(dropout)`` between them when
    ``dropout > 0``, which acts in training only, like the module's), built for inputs
    ``(N, T, input_size)``. Each layer is ``keras.layers.LSTM`` / ``GRU`` (with the
    module's ``reset_after``) / ``SimpleRNN`` (``activation`` = ``nonlinearity``) with
    ``units=hidden_size``, ``use_bias=bias``, ``return_sequences=True``, the module's dtype,
    and for ``bidirectional`` wrapped in ``Bidirectional(merge_mode='concat')``. Its output
    ``(N, T, D·H)`` is the module's ``out`` with ``batch_first=True``. Keras keeps one bias
    where fastrnn has two: the LSTM's and the SimpleRNN's ``bias`` is ``bias_ih + bias_hh``,
    the ``reset_after=False`` GRU's too (its ``b_hn`` is added outside the reset gate), and
    the ``reset_after=True`` GRU's is ``[bias_ih, bias_hh]`` (2, 3H). A GRU with
    ``blend='book'`` (``h' = (1 − z) h + z n``) converts exactly by negating the z gate's
    weights and biases, since ``1 − sigmoid(a) = sigmoid(−a)``.

    TypeError for anything but a fastrnn.nn recurrent module (e.g. a cell); ValueError for
    a cell Keras has no layer for.
    """
    from .nn import Recurrent
    if not isinstance(module, Recurrent):
        raise TypeError(f"to_keras: expected a fastrnn.nn LSTM, GRU or RNN module, got {type(module).__name__}")
    spec = module.cell.keras
    if spec is None:
        known = [c.name for c in _keras_cells().values()]
        raise ValueError(f"to_keras: cell {module.cell.name!r} has no Keras layer (expected "
                         f"{', '.join(map(repr, known))})")
    if module.zoneout > 0:
        raise ValueError(f"to_keras: zoneout={module.zoneout} has no Keras equivalent (Keras layers have no "
                         "zoneout); convert a module with zoneout=0")
    keras = _keras()
    options = dict(module._options)
    dtype = np.dtype(module.dtype).name
    H, D = module.hidden_size, 2 if module.bidirectional else 1

    def make_layer(k):
        kwargs = {"units": H, "use_bias": module.bias, "return_sequences": True, "dtype": dtype}
        kwargs["activation"] = options[spec.activation_option] if spec.activation_option else "tanh"
        if spec.gated:
            kwargs["recurrent_activation"] = "sigmoid"
        kwargs.update((name, bool(options[name])) for name in spec.shared_options)
        rnn = getattr(keras.layers, spec.layer)(**kwargs)
        return keras.layers.Bidirectional(rnn, merge_mode="concat", dtype=dtype) if module.bidirectional else rnn

    layers = [make_layer(k) for k in range(module.num_layers)]
    if module.num_layers == 1:
        result = layers[0]
        result.build((None, None, module.input_size))
    else:
        stack = [keras.Input((None, module.input_size), dtype=dtype)]
        for k, layer in enumerate(layers):
            if k and module.dropout > 0:
                stack.append(keras.layers.Dropout(module.dropout, dtype=dtype))
            stack.append(layer)
        result = keras.Sequential(stack)
    for k, layer in enumerate(layers):
        rnns = [layer.forward_layer, layer.backward_layer] if module.bidirectional else [layer]
        for d, rnn in enumerate(rnns[:D]):
            _set_weights(keras, rnn, _keras_weights(module, f"_l{k}" + ("_reverse" if d else ""), options))
    return result
