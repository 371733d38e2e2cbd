"""The book's attention seq2seq (ch08 ``attention_seq2seq.py``).

The encoder returns all its hidden states; each decoder step attends over them
(TimeAttention) and its affine layer reads ``[context, lstm_out]`` -- context first, so
``affine_W (2H, V)``. ``attention_weights`` holds the weights of the last ``forward`` (a list
of T_dec arrays (N, T_enc)) or, after ``generate``, one per generated step.
"""
import numpy as np

from ..layers import TimeEmbedding, TimeLSTM, TimeAffine, TimeAttention
from .base import Init
from .seq2seq import Seq2seq, Encoder, start_ids, greedy_result, check_sample_size
from .._grad_mode import no_grad

__all__ = ["AttentionEncoder", "AttentionDecoder", "AttentionSeq2seq"]


class AttentionEncoder(Encoder):
    """TimeEmbedding -> TimeLSTM; ``forward(xs) -> hs`` (N, T, H), every hidden state."""

    def forward(self, xs):
        xs = self.embed.forward(xs)
        return self.lstm.forward(xs)

    def backward(self, dhs):
        dout = self.lstm.backward(dhs)
        return self.embed.backward(dout)


class AttentionDecoder:
    """TimeEmbedding -> TimeLSTM (from the encoder's last h) -> TimeAttention -> TimeAffine on ``[c, h]``."""

    def __init__(self, vocab_size, wordvec_size, hidden_size, seed=None, dtype=np.float32):
        V, D, H = vocab_size, wordvec_size, hidden_size
        init = Init(seed, dtype)
        embed_W = init.randn(V, D, div=100)
        lstm_Wx = init.randn(D, 4 * H, div=np.sqrt(D))
        lstm_Wh = init.randn(H, 4 * H, div=np.sqrt(H))
        lstm_b = init.zeros(4 * H)
        affine_W = init.randn(2 * H, V, div=np.sqrt(2 * H))
        affine_b = init.zeros(V)
        self.embed = TimeEmbedding(embed_W)
        self.lstm = TimeLSTM(lstm_Wx, lstm_Wh, lstm_b, stateful=True)
        self.attention = TimeAttention()
        self.affine = TimeAffine(affine_W, affine_b)
        self.params, self.grads = [], []
        for layer in (self.embed, self.lstm, self.attention, self.affine):
            self.params += layer.params
            self.grads += layer.grads
        self.attention_weights = None

    def _step(self, xs, enc_hs):
        out = self.embed.forward(xs)
        dec_hs = self.lstm.forward(out)
        c = self.attention.forward(enc_hs, dec_hs)
        out = np.concatenate((c, dec_hs), axis=2)
        return self.affine.forward(out)

    def forward(self, xs, enc_hs):
        self.lstm.set_state(enc_hs[:, -1])
        score = self._step(xs, enc_hs)
        self.attention_weights = self.attention.attention_weights
        return score

    def backward(self, dscore):
        dout = self.affine.backward(dscore)
        H = dout.shape[2] // 2
        dc, ddec_hs0 = dout[:, :, :H], dout[:, :, H:]
        denc_hs, ddec_hs1 = self.attention.backward(dc)
        ddec_hs = ddec_hs0 + ddec_hs1
        dout = self.lstm.backward(ddec_hs)
        denc_hs[:, -1] += self.lstm.dh
        self.embed.backward(dout)
        return denc_hs

    @no_grad()
    def generate(self, enc_hs, start_id, sample_size):
        N = enc_hs.shape[0]
        ids = start_ids(start_id, N, self.embed.params[0].shape[0])
        self.lstm.set_state(enc_hs[:, -1])
        sampled, weights = [], []
        for _ in range(check_sample_size(sample_size)):
            score = self._step(ids, enc_hs)
            weights.append(self.attention.attention_weights[0])
            ids = score.argmax(axis=2).astype(np.int32)
            sampled.append(ids[:, 0])
        self.attention_weights = weights
        return greedy_result(sampled, N)


class AttentionSeq2seq(Seq2seq):
    """AttentionEncoder + AttentionDecoder; params in the book's order (encoder 4, decoder 6)."""

    _encoder_cls = AttentionEncoder
    _decoder_cls = AttentionDecoder

    @property
    def attention_weights(self):
        """List of (N, T_enc) arrays, one per decoder step of the last forward or generate."""
        return self.decoder.attention_weights
