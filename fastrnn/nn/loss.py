"""Losses with torch.nn's names and semantics, explicit backward: CrossEntropyLoss, MSELoss,
BCEWithLogitsLoss. ``loss = criterion(input, target)`` (a float for the 'mean' and 'sum'
reductions); ``dinput = criterion.backward(dloss=1.0)``. Under ``fastrnn.no_grad()`` a forward
keeps nothing and a backward after it raises.
"""
import numpy as np

from .._grad_mode import NOT_SAVED, is_grad_enabled, not_saved_error
from .._validation import as_real_array, check_choice, check_int
from ._module import _CONSUMED

REDUCTIONS = ("mean", "sum", "none")


class _Loss:
    """No parameters: ``params`` and ``grads`` are empty dicts (so models can collect them)."""

    def __init__(self, reduction):
        self.reduction = check_choice("reduction", reduction, REDUCTIONS)
        self.params, self.grads = {}, {}
        self._ctx = None

    def __call__(self, *args):
        return self.forward(*args)

    def _save(self, ctx):
        """Keep ``ctx`` for the backward (nothing under no_grad)."""
        self._ctx = ctx if is_grad_enabled() else NOT_SAVED

    def _saved(self):
        if self._ctx is NOT_SAVED:
            raise not_saved_error(type(self).__name__)
        if self._ctx is None or self._ctx is _CONSUMED:
            what = "before forward()" if self._ctx is None else "twice after one forward()"
            raise RuntimeError(f"{type(self).__name__}.backward() called {what}")
        ctx, self._ctx = self._ctx, _CONSUMED
        return ctx

    def _reduce(self, per_element, count):
        if self.reduction == "none":
            return per_element
        total = per_element.sum(dtype=np.float64)
        return float(total / max(count, 1) if self.reduction == "mean" else total)

    def _scale(self, dloss, count, shape):
        """d(reduced loss)/d(per-element loss), broadcastable to ``shape``."""
        if self.reduction == "none":
            dloss = np.asarray(dloss, np.float64)
            if dloss.shape != shape:
                raise ValueError(f"dloss: expected shape {shape} (reduction='none'), got {dloss.shape}")
            return dloss
        return float(dloss) / max(count, 1) if self.reduction == "mean" else float(dloss)


def _pair(input, target, what):
    x = as_real_array("input", input)
    if x.dtype.kind != "f":
        x = x.astype(np.float32)
    t = as_real_array("target", target)
    if t.shape != x.shape:
        raise ValueError(f"target: expected shape {x.shape} (that of input, {what}), got {t.shape}")
    return x, t.astype(x.dtype)


class MSELoss(_Loss):
    """``mean((input − target)²)`` (or its sum, or each element with reduction='none')."""

    def __init__(self, reduction="mean"):
        super().__init__(reduction)

    def forward(self, input, target):
        x, t = _pair(input, target, "element by element")
        diff = x - t
        self._save(diff)
        return self._reduce(np.square(diff), diff.size)

    def backward(self, dloss=1.0):
        diff = self._saved()
        return (2.0 * diff * self._scale(dloss, diff.size, diff.shape)).astype(diff.dtype)


class BCEWithLogitsLoss(_Loss):
    """Binary cross-entropy on logits, stable for any logit:
    ``max(x, 0) − x·y + log(1 + exp(−|x|))`` per element; gradient ``σ(x) − y``."""

    def __init__(self, reduction="mean"):
        super().__init__(reduction)

    def forward(self, input, target):
        x, y = _pair(input, target, "one probability per logit")
        x64, y64 = x.astype(np.float64), y.astype(np.float64)
        per = np.maximum(x64, 0) - x64 * y64 + np.log1p(np.exp(-np.abs(x64)))
        self._save((x64, y64, x.dtype))
        return self._reduce(per, per.size)

    def backward(self, dloss=1.0):
        x, y, dtype = self._saved()
        sig = np.where(x >= 0, 1 / (1 + np.exp(-np.abs(x))), np.exp(-np.abs(x)) / (1 + np.exp(-np.abs(x))))
        return ((sig - y) * self._scale(dloss, x.size, x.shape)).astype(dtype)


class CrossEntropyLoss(_Loss):
    """Softmax cross-entropy: ``input (N, C)`` or ``(N, C, d1, ...)`` logits (classes on axis 1, as
    torch), ``target`` of class ids shaped like input without axis 1; targets equal to
    ``ignore_index`` count for nothing ('mean' divides by the others; all ignored: 0)."""

    def __init__(self, ignore_index=-100, reduction="mean"):
        super().__init__(reduction)
        self.ignore_index = check_int("ignore_index", ignore_index, -2**62)

    def forward(self, input, target):
        x = as_real_array("input", input)
        if x.ndim < 2:
            raise ValueError(f"input: expected (N, C) or (N, C, d1, ...) logits, got shape {x.shape}")
        t = np.asarray(target)
        want = x.shape[:1] + x.shape[2:]
        if t.dtype.kind not in "iu":
            raise TypeError(f"target: expected integer class ids, got dtype {t.dtype}")
        if t.shape != want:
            raise ValueError(f"target: expected shape {want} (input's without its class axis), got {t.shape}")
        C = x.shape[1]
        keep = t != self.ignore_index
        if keep.any() and (int(t[keep].min()) < 0 or int(t[keep].max()) >= C):
            bad = t[keep][(t[keep] < 0) | (t[keep] >= C)][0]
            raise ValueError(f"target: expected class ids in [0, {C}) or ignore_index={self.ignore_index}, got {bad}")
        logits = np.moveaxis(x, 1, -1).astype(np.float64)           # (..., C)
        logits = logits - logits.max(axis=-1, keepdims=True)
        logp = logits - np.log(np.exp(logits).sum(axis=-1, keepdims=True))
        ids = np.where(keep, t, 0)
        per = -np.take_along_axis(logp, ids[..., None], axis=-1)[..., 0] * keep
        self._save((logp, ids, keep, x.dtype))
        return self._reduce(per, int(keep.sum()))

    def backward(self, dloss=1.0):
        logp, ids, keep, dtype = self._saved()
        grad = np.exp(logp)
        np.put_along_axis(grad, ids[..., None], np.take_along_axis(grad, ids[..., None], axis=-1) - 1, axis=-1)
        scale = self._scale(dloss, int(keep.sum()), keep.shape)
        grad *= (keep * scale)[..., None]
        return np.moveaxis(grad, -1, 1).astype(dtype)
