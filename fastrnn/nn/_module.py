"""Base class of the fastrnn.nn modules: parameters, gradients, state dicts, modes."""
from collections import namedtuple

import numpy as np

from .._grad_mode import NOT_SAVED, not_saved_error
from .._validation import as_real_array
from ._guard import Guard

IncompatibleKeys = namedtuple("IncompatibleKeys", ["missing_keys", "unexpected_keys"])

_CONSUMED = object()     # the saved forward context after its backward ran


def unpack_states(cell, name, value, template):
    """A forward's ``hx`` (or a backward's ``dhx``) -> a tuple with one entry per state of ``cell``.

    One-state cells take the array itself (or None), the LSTM a pair ``(h, c)`` or None, as
    torch does; ``template`` spells each state's name in messages ('{}0' -> 'h0, c0').
    """
    count = len(cell.state_names)
    if count == 1:
        return (value,)
    if value is None:
        return (None,) * count
    if not isinstance(value, (tuple, list)) or len(value) != count:
        what = "(" + ", ".join(template.format(s) for s in cell.state_names) + ")"
        raise TypeError(f"{name}: expected a tuple {what} or None, got {type(value).__name__}"
                        + (f" of length {len(value)}" if isinstance(value, (tuple, list)) else ""))
    return tuple(value)


def pack_states(cell, states):
    """The inverse of :func:`unpack_states`: the array of a one-state cell, else the tuple."""
    return states[0] if len(cell.state_names) == 1 else tuple(states)


#: Constructor arguments that fix a recurrent module's parameters (their names, shapes and
#: dtype): read-only once the module is built.
FIXED_ATTRIBUTES = frozenset({"cell", "input_size", "hidden_size", "num_layers", "bias", "bidirectional", "dtype",
                              "proj_size", "peephole", "device"})


class ConfiguredModule:
    """The rule for a recurrent module's constructor arguments after construction.

    An argument that only changes what a forward computes (the cell's options such as
    ``reset_after``, ``blend``, ``nonlinearity``; ``batch_first``, ``dropout``, ``zoneout``)
    may be assigned at any time: the value is checked as the constructor checks it and every
    path reads the new one (forward, forward-only plans, streams, ``repr``, export). One that
    fixes the parameters (``FIXED_ATTRIBUTES``) is read-only: assigning it raises
    AttributeError (build a new module instead). Subclasses check their own names in
    ``_check_setting(name, value) -> value`` (None: not a setting of theirs).
    """

    def __setattr__(self, name, value):
        if name[0] == "_":              # private state (the saved context, plans, ...): no rule
            object.__setattr__(self, name, value)
            return
        built = "_options" in self.__dict__
        if built and name in FIXED_ATTRIBUTES and name in self.__dict__:
            raise AttributeError(f"{name}: read-only after construction ({type(self).__name__}'s parameters are "
                                 f"shaped by it); build a new module with {name}={value!r} instead")
        if built and name in self._options:
            value = self.cell.check_options({name: value})[name]
            object.__setattr__(self, "_options", dict(self._options, **{name: value}))
            self._settings_changed()
        elif built:
            checked = self._check_setting(name, value)
            if checked is not None:
                value = checked
                self._settings_changed()
        object.__setattr__(self, name, value)

    def _check_setting(self, name, value):
        return None

    def _settings_changed(self):
        """Called after a setting changed (forward-only plans bind the options: drop them)."""


class Module:
    """``params`` / ``grads``: dicts name -> array (same keys, same shapes, the module's dtype).

    Parameter arrays keep their identity for the module's life: optimizers update them in
    place and ``load_state_dict`` copies into them. ``backward`` adds into ``grads``.
    """

    training = True

    def _init_params(self, params, rng):
        """Take ``params`` (dict name -> array, drawn from ``rng``) and zeroed grads."""
        self._rng = rng
        self.params = params
        self.grads = {name: np.zeros_like(p) for name, p in self.params.items()}
        self._guard = Guard(params, self.dtype)
        self.training = True
        self._ctx = None

    def __call__(self, *args, **kwargs):
        return self.forward(*args, **kwargs)

    # --- forward context, consumed by the backward ------------------------------------------
    def _saved(self):
        """The last forward's context; RuntimeError before any forward, after its backward, or
        after a forward under ``fastrnn.no_grad()``."""
        ctx = self._ctx
        if ctx is NOT_SAVED:
            raise not_saved_error(type(self).__name__)
        if ctx is None:
            raise RuntimeError(f"{type(self).__name__}.backward() called before forward(): "
                               "run a forward pass first")
        if ctx is _CONSUMED:
            raise RuntimeError(f"{type(self).__name__}.backward() called twice after one forward(): "
                               "the forward's saved state was used by the first backward; "
                               "run forward() again")
        return ctx

    # --- parameters ---------------------------------------------------------------------------
    def parameters(self):
        """The parameter arrays, in ``params`` order."""
        return list(self.params.values())

    def zero_grad(self):
        """Set every gradient to zero (in place)."""
        for g in self.grads.values():
            g.fill(0)

    def state_dict(self):
        """A dict name -> copy of each parameter."""
        return {name: p.copy() for name, p in self.params.items()}

    def load_state_dict(self, state_dict, strict=True):
        """Copy ``state_dict`` (name -> array-like, e.g. a torch state_dict) into the parameters.

        Values are converted to the module's dtype and copied in place (the parameter arrays
        stay the same objects). Missing or unexpected keys (with ``strict``), a wrong shape or
        a non-numeric value raise an error naming the key, and then nothing is changed.
        Returns ``(missing_keys, unexpected_keys)``.
        """
        if not hasattr(state_dict, "keys") or not hasattr(state_dict, "__getitem__"):
            raise TypeError(f"state_dict: expected a mapping name -> array, got {type(state_dict).__name__}")
        missing = [k for k in self.params if k not in state_dict]
        unexpected = [k for k in state_dict.keys() if k not in self.params]
        if strict and (missing or unexpected):
            problems = []
            if missing:
                problems.append(f"missing key(s) {', '.join(map(repr, missing))}")
            if unexpected:
                problems.append(f"unexpected key(s) {', '.join(map(repr, unexpected))}")
            raise ValueError(f"state_dict: {' and '.join(problems)} for {type(self).__name__} "
                             f"(expected keys {', '.join(map(repr, self.params))})")
        values = {}
        for name, p in self.params.items():
            if name not in state_dict:
                continue
            value = state_dict[name]
            if hasattr(value, "detach") and hasattr(value, "cpu"):    # a torch tensor or Parameter
                value = value.detach().cpu()
            value = as_real_array(f"state_dict[{name!r}]", value)
            if value.shape != p.shape:
                raise ValueError(f"state_dict[{name!r}]: expected shape {p.shape}, got shape {value.shape}")
            values[name] = value
        for name, value in values.items():
            np.copyto(self.params[name], value, casting="unsafe")
        return IncompatibleKeys(missing, unexpected)

    # --- modes ----------------------------------------------------------------------------------
    def train(self, mode=True):
        """Training mode (dropout active); returns self."""
        self.training = bool(mode)
        return self

    def eval(self):
        """Evaluation mode (no dropout); returns self."""
        return self.train(False)
