"""Sequence classification: embedding, LSTM/GRU/RNN, affine on the last real step; variable lengths."""
import numpy as np

from ..layers import TimeEmbedding, Affine, SoftmaxWithLoss, SigmoidWithLoss
from ..layers.activations import softmax, sigmoid
from ._recurrent import last_hidden, last_hidden_grad, make_recurrent
from .base import BaseModel, Init, check_sizes
from .._grad_mode import no_grad

__all__ = ["SequenceClassifier"]


class SequenceClassifier(BaseModel):
    """Classify id sequences ``xs (N, T)``, padded at the end, each of its own length.

    A sequence's length is ``lengths[n]`` if given, else the number of ids before the first
    ``pad_id`` (default -1, which no vocabulary id equals). The recurrent layer runs each
    sequence over its own steps only (the kernels skip the padding); the representation is
    its hidden state after its last real step, and with ``bidirectional=True`` also the
    backward layer's state after it has read the sequence back to its first step. ``num_classes=2`` uses one
    logit and the sigmoid loss (``predict -> (N,)`` logits), more classes a softmax
    (``predict -> (N, C)``). ``forward(xs, ts, lengths=None) -> loss``; ``ts (N,)`` class ids.
    params: ``[embed_W, Wx, Wh, b, affine_W, affine_b]``.
    """

    def __init__(self, vocab_size, wordvec_size=32, hidden_size=64, num_classes=2, cell="lstm", pad_id=-1, *,
                 bidirectional=False, seed=None, dtype=np.float32):
        V, D, H, C = check_sizes(vocab_size=vocab_size, wordvec_size=wordvec_size, hidden_size=hidden_size,
                                 num_classes=num_classes)
        if C < 2:
            raise ValueError(f"num_classes: expected an int >= 2, got {num_classes!r}")
        self._config = {"vocab_size": V, "wordvec_size": D, "hidden_size": H, "num_classes": C,
                        "cell": cell, "pad_id": pad_id, "bidirectional": bool(bidirectional)}
        init = Init(seed, dtype)
        self.num_classes = C
        self.pad_id = pad_id
        self.embed = TimeEmbedding(init.randn(V, D, div=100))
        self.bidirectional = bool(bidirectional)
        self.rnn = make_recurrent(cell, D, H, init, bidirectional=self.bidirectional)
        outputs = 1 if C == 2 else C
        width = 2 * H if self.bidirectional else H
        self.affine = Affine(init.randn(width, outputs, div=np.sqrt(width)), init.zeros(outputs))
        self.loss_layer = SigmoidWithLoss() if C == 2 else SoftmaxWithLoss()
        self._collect([self.embed, self.rnn, self.affine])
        self._cache = None

    def _lengths(self, xs, lengths):
        N, T = xs.shape
        if lengths is None:
            pad = xs == self.pad_id
            lengths = np.where(pad.any(axis=1), pad.argmax(axis=1), T)
        lengths = np.asarray(lengths)
        if lengths.shape != (N,) or lengths.dtype.kind not in "iu":
            raise ValueError(f"lengths: expected {N} ints, got {lengths!r}")
        if N and (lengths.min() < 1 or lengths.max() > T):
            raise ValueError(f"lengths: expected every length in [1, T={T}], got {lengths.min()}..{lengths.max()}")
        return lengths

    def predict(self, xs, lengths=None):
        """Logits: (N,) for two classes, (N, C) for more; forward only (fastrnn.no_grad)."""
        with no_grad():
            return self._scores(xs, lengths)

    def _scores(self, xs, lengths):
        xs = np.asarray(xs)
        if xs.ndim != 2:
            raise ValueError(f"xs: expected (N, T) ids, got shape {xs.shape}")
        lengths = self._lengths(xs, lengths)
        ids = np.where(xs == self.pad_id, 0, xs) if self.pad_id is not None else xs
        hs = self.rnn.forward(self.embed.forward(ids), lengths)
        self._cache = (hs.shape, lengths - 1)
        score = self.affine.forward(last_hidden(hs, lengths - 1, self.bidirectional))
        return score[:, 0] if self.num_classes == 2 else score

    def predict_proba(self, xs, lengths=None):
        """Class probabilities (N, C)."""
        score = self.predict(xs, lengths)
        if self.num_classes == 2:
            p = sigmoid(score.astype(np.float64))
            return np.stack([1 - p, p], axis=1)
        return softmax(score.astype(np.float64))

    def classify(self, xs, lengths=None):
        """Predicted class ids (N,)."""
        score = self.predict(xs, lengths)
        return (score > 0).astype(np.int64) if self.num_classes == 2 else score.argmax(axis=1)

    def accuracy(self, xs, ts, lengths=None):
        return float(np.mean(self.classify(xs, lengths) == np.asarray(ts)))

    def forward(self, xs, ts, lengths=None):
        ts = np.asarray(ts)
        N = np.shape(xs)[0] if np.ndim(xs) else 0
        if ts.shape != (N,):          # ts is checked before any layer runs: a failed forward changes nothing
            raise ValueError(f"ts: expected {N} class ids, got shape {ts.shape}")
        if ts.dtype.kind not in "iub":
            raise TypeError(f"ts: expected integer class ids, got dtype {ts.dtype}")
        if ts.size and (ts.min() < 0 or ts.max() >= self.num_classes):
            bad = ts.min() if ts.min() < 0 else ts.max()
            raise ValueError(f"ts: expected class ids in [0, {self.num_classes}), got {bad}")
        score = self._scores(xs, lengths)
        return self.loss_layer.forward(score, ts)

    def backward(self, dout=1):
        dscore = self.loss_layer.backward(dout)
        if self.num_classes == 2:
            dscore = dscore[:, None]
        dh = self.affine.backward(dscore)
        hs_shape, last = self._cache
        dhs = last_hidden_grad(dh, hs_shape, last, self.bidirectional)
        self.embed.backward(self.rnn.backward(dhs))
        return None

    def reset_state(self):
        self.rnn.reset_state()
