"""The book's peeky seq2seq (ch07 ``peeky_seq2seq.py``): the encoder's h is fed to every decoder step.

The decoder's LSTM input is ``[h, embedding]`` and its affine input ``[h, lstm_out]`` -- h first
in both, so ``Wx (H + D, 4H)`` and ``affine_W (2H, V)``.
"""
import numpy as np

from ..layers import TimeEmbedding, TimeLSTM, TimeAffine
from .base import Init
from .seq2seq import Seq2seq, start_ids, greedy_result, check_sample_size
from .._grad_mode import no_grad

__all__ = ["PeekyDecoder", "PeekySeq2seq"]


class PeekyDecoder:
    """TimeEmbedding -> TimeLSTM on ``[h, embed]`` -> TimeAffine on ``[h, lstm_out]``."""

    def __init__(self, vocab_size, wordvec_size, hidden_size, seed=None, dtype=np.float32):
        V, D, H = vocab_size, wordvec_size, hidden_size
        init = Init(seed, dtype)
        embed_W = init.randn(V, D, div=100)
        lstm_Wx = init.randn(H + D, 4 * H, div=np.sqrt(H + D))
        lstm_Wh = init.randn(H, 4 * H, div=np.sqrt(H))
        lstm_b = init.zeros(4 * H)
        affine_W = init.randn(H + H, V, div=np.sqrt(H + H))
        affine_b = init.zeros(V)
        self.embed = TimeEmbedding(embed_W)
        self.lstm = TimeLSTM(lstm_Wx, lstm_Wh, lstm_b, stateful=True)
        self.affine = TimeAffine(affine_W, affine_b)
        self.params, self.grads = [], []
        for layer in (self.embed, self.lstm, self.affine):
            self.params += layer.params
            self.grads += layer.grads
        self.cache = None

    def _step(self, xs, h):
        """Scores (N, T, V) for ids xs (N, T) given the peeked h (N, H); the LSTM state carries on."""
        N, T = xs.shape
        H = h.shape[1]
        hs = np.broadcast_to(np.asarray(h, np.float32)[:, None, :], (N, T, H))
        out = self.embed.forward(xs)
        out = np.concatenate((hs, out), axis=2)
        out = self.lstm.forward(out)
        out = np.concatenate((hs, out), axis=2)
        return self.affine.forward(out)

    def forward(self, xs, h):
        self.lstm.set_state(h)
        self.cache = h.shape[1]
        return self._step(xs, h)

    def backward(self, dscore):
        H = self.cache
        dout = self.affine.backward(dscore)
        dout, dhs0 = dout[:, :, H:], dout[:, :, :H]
        dout = self.lstm.backward(dout)
        dembed, dhs1 = dout[:, :, H:], dout[:, :, :H]
        self.embed.backward(dembed)
        dhs = dhs0 + dhs1
        return self.lstm.dh + np.sum(dhs, axis=1)

    @no_grad()
    def generate(self, h, start_id, sample_size):
        ids = start_ids(start_id, h.shape[0], self.embed.params[0].shape[0])
        self.lstm.set_state(h)
        sampled = []
        for _ in range(check_sample_size(sample_size)):
            score = self._step(ids, h)
            ids = score.argmax(axis=2).astype(np.int32)
            sampled.append(ids[:, 0])
        return greedy_result(sampled, h.shape[0])


class PeekySeq2seq(Seq2seq):
    """Encoder + PeekyDecoder; params in the book's order (encoder 4, decoder 6)."""

    _decoder_cls = PeekyDecoder
