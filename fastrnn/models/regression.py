"""Sequence regression: an LSTM/GRU/RNN and an affine read-out, mean-squared-error loss."""
import numpy as np

from ..layers import Affine, TimeAffine
from ._recurrent import make_recurrent
from .base import BaseModel, Init, check_sizes

__all__ = ["SequenceRegressor"]


class SequenceRegressor(BaseModel):
    """Many-to-one (the last step's h) or many-to-many (every step) regression.

    ``forward(xs (N, T, input_size), ts) -> loss = mean((y - ts)**2)`` with ``ts (N, output_size)``
    (many-to-one) or ``(N, T, output_size)`` (``many_to_many=True``); ``predict(xs) -> y`` of
    that shape. params: the recurrent layer's ``[Wx, Wh, b]`` then ``[affine_W, affine_b]``.
    """

    def __init__(self, input_size=1, hidden_size=32, output_size=1, cell="lstm", many_to_many=False, *,
                 seed=None, dtype=np.float32):
        D, H, O = check_sizes(input_size=input_size, hidden_size=hidden_size, output_size=output_size)
        self._config = {"input_size": D, "hidden_size": H, "output_size": O, "cell": cell,
                        "many_to_many": bool(many_to_many)}
        init = Init(seed, dtype)
        self.rnn = make_recurrent(cell, D, H, init)
        affine_W = init.randn(H, O, div=np.sqrt(H))
        affine_b = init.zeros(O)
        self.many_to_many = bool(many_to_many)
        self.affine = TimeAffine(affine_W, affine_b) if self.many_to_many else Affine(affine_W, affine_b)
        self.params = self.rnn.params + self.affine.params
        self.grads = self.rnn.grads + self.affine.grads
        self._cache = None

    def predict(self, xs):
        """xs (N, T, input_size) -> (N, output_size), or (N, T, output_size) many-to-many."""
        hs = self.rnn.forward(xs)
        self._hs_shape = hs.shape
        return self.affine.forward(hs if self.many_to_many else hs[:, -1])

    def forward(self, xs, ts):
        y = self.predict(xs)
        ts = np.asarray(ts)
        if ts.shape != y.shape:
            raise ValueError(f"ts: expected shape {y.shape} (that of the prediction), got {ts.shape}")
        diff = y - ts
        self._cache = diff
        return float(np.mean(np.square(diff, dtype=np.float64)))

    def backward(self, dout=1):
        diff = self._cache
        dy = diff * (2.0 * dout / diff.size)
        dh = self.affine.backward(dy)
        if self.many_to_many:
            dhs = dh
        else:
            dhs = np.zeros(self._hs_shape, np.float32)
            dhs[:, -1] = dh
        return self.rnn.backward(dhs)

    def reset_state(self):
        self.rnn.reset_state()
