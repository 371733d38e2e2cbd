"""Sequence regression: an LSTM/GRU/RNN and an affine read-out, mean-squared-error loss."""
import numpy as np

from ..layers import Affine, TimeAffine
from ._recurrent import last_hidden, last_hidden_grad, make_recurrent
from .base import BaseModel, Init, check_sizes
from .._grad_mode import no_grad

__all__ = ["SequenceRegressor"]


class SequenceRegressor(BaseModel):
    """Many-to-one (the last step's h) or many-to-many (every step) regression.

    ``forward(xs (N, T, input_size), ts, lengths=None) -> loss = mean((y - ts)**2)`` with
    ``ts (N, output_size)`` (many-to-one) or ``(N, T, output_size)`` (``many_to_many=True``);
    ``predict(xs, lengths=None) -> y`` of that shape. With ``lengths`` (N,) each sequence runs
    over its own steps only (the kernels skip the padding): many-to-one reads its h after its
    last real step, many-to-many predicts 0 in the padding and the loss averages over the
    real steps. ``bidirectional=True`` adds a layer reading each sequence backwards
    (many-to-one: its h after step 0). params: the recurrent layer's ``[Wx, Wh, b]`` (twice
    when bidirectional) then ``[affine_W, affine_b]``.
    """

    def __init__(self, input_size=1, hidden_size=32, output_size=1, cell="lstm", many_to_many=False, *,
                 bidirectional=False, seed=None, dtype=np.float32):
        D, H, O = check_sizes(input_size=input_size, hidden_size=hidden_size, output_size=output_size)
        self._config = {"input_size": D, "hidden_size": H, "output_size": O, "cell": cell,
                        "many_to_many": bool(many_to_many), "bidirectional": bool(bidirectional)}
        init = Init(seed, dtype)
        self.bidirectional = bool(bidirectional)
        self.rnn = make_recurrent(cell, D, H, init, bidirectional=self.bidirectional)
        width = 2 * H if self.bidirectional else H
        affine_W = init.randn(width, O, div=np.sqrt(width))
        affine_b = init.zeros(O)
        self.many_to_many = bool(many_to_many)
        self.affine = TimeAffine(affine_W, affine_b) if self.many_to_many else Affine(affine_W, affine_b)
        self.params = self.rnn.params + self.affine.params
        self.grads = self.rnn.grads + self.affine.grads
        self._cache = None

    def predict(self, xs, lengths=None):
        """xs (N, T, input_size) -> (N, output_size), or (N, T, output_size) many-to-many;
        forward only (fastrnn.no_grad)."""
        with no_grad():
            return self._predict(xs, lengths)

    def _predict(self, xs, lengths):
        xs = np.asarray(xs)
        given = None if lengths is None else np.asarray(lengths)
        if given is not None and given.dtype.kind in "iu" and given.size and given.min() < 1:
            raise ValueError("lengths: expected every length >= 1 (a sequence with no step has no prediction), "
                             f"got {int(given.min())}")        # before the layers run: a failure changes nothing
        hs = self.rnn.forward(xs, lengths)
        N, T = hs.shape[:2]
        last = np.full(N, T - 1) if lengths is None else given - 1
        self._hs = (hs.shape, last, None if lengths is None else np.arange(T)[None, :] <= last[:, None])
        if self.many_to_many:
            y = self.affine.forward(hs)
            mask = self._hs[2]
            return y if mask is None else y * mask[:, :, None]
        return self.affine.forward(last_hidden(hs, last, self.bidirectional))

    def forward(self, xs, ts, lengths=None):
        ts, shape = np.asarray(ts), np.shape(xs)
        if len(shape) == 3:         # ts checked before the layers run: a failed forward changes nothing
            O = self.affine.params[0].shape[1]
            expected = shape[:2] + (O,) if self.many_to_many else (shape[0], O)
            if ts.shape != expected:
                raise ValueError(f"ts: expected shape {expected} (that of the prediction), got {ts.shape}")
        y = self._predict(xs, lengths)
        if ts.shape != y.shape:
            raise ValueError(f"ts: expected shape {y.shape} (that of the prediction), got {ts.shape}")
        diff = y - ts
        mask = self._hs[2] if self.many_to_many else None
        if mask is not None:
            diff = diff * mask[:, :, None]
        count = diff.size if mask is None else int(mask.sum()) * diff.shape[2]
        self._cache = (diff, count)
        return float(np.sum(np.square(diff, dtype=np.float64)) / count)

    def backward(self, dout=1):
        diff, count = self._cache
        dy = diff * (2.0 * dout / count)
        dh = self.affine.backward(dy)
        hs_shape, last, _ = self._hs
        dhs = dh if self.many_to_many else last_hidden_grad(dh, hs_shape, last, self.bidirectional)
        return self.rnn.backward(dhs)

    def reset_state(self):
        self.rnn.reset_state()
