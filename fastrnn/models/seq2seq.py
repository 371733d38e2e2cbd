"""The book's seq2seq model (ch07 ``seq2seq.py``): an LSTM encoder's last h starts an LSTM decoder.

``forward(xs (N, Tq) ids, ts (N, 1 + Ta) ids) -> loss``: the decoder reads ``ts[:, :-1]`` and
predicts ``ts[:, 1:]``. ``generate(xs, start_id, sample_size)`` decodes greedily (argmax): for one
question (N = 1) it returns a list of ``sample_size`` ids, as the book; for a batch, ``start_id``
may be one id or N ids and the result is an (N, sample_size) int array.
"""
import numbers

import numpy as np

from ..layers import TimeEmbedding, TimeLSTM, TimeAffine, TimeSoftmaxWithLoss
from .base import BaseModel, Init, check_sizes
from .._grad_mode import no_grad

__all__ = ["Encoder", "Decoder", "Seq2seq", "start_ids", "greedy_result"]


def start_ids(start_id, N, V):
    """One start id or N of them -> (N, 1) int32 ids, checked to lie in [0, V)."""
    ids = np.asarray(start_id)
    if ids.dtype.kind not in "iu" or ids.ndim > 1 or (ids.ndim == 1 and len(ids) != N):
        raise ValueError(f"start_id: expected an int id or {N} of them, got {start_id!r}")
    if ids.size and (ids.min() < 0 or ids.max() >= V):
        raise ValueError(f"start_id: expected ids in [0, {V}), got {start_id!r}")
    return np.broadcast_to(ids.astype(np.int32), (N,)).reshape(N, 1).copy()


def greedy_result(sampled, N):
    """List of (N,) id arrays -> the book's list of ints for N = 1, else an (N, steps) int32 array."""
    out = np.stack(sampled, axis=1) if sampled else np.zeros((N, 0), np.int32)
    return [int(i) for i in out[0]] if N == 1 else out


def check_sample_size(sample_size):
    if isinstance(sample_size, bool) or not isinstance(sample_size, numbers.Integral) or sample_size < 0:
        raise ValueError(f"sample_size: expected an int >= 0, got {sample_size!r}")
    return int(sample_size)


class Encoder:
    """TimeEmbedding -> TimeLSTM; ``forward(xs) -> h`` (N, H), the last hidden state."""

    def __init__(self, vocab_size, wordvec_size, hidden_size, seed=None, dtype=np.float32):
        V, D, H = vocab_size, wordvec_size, hidden_size
        init = Init(seed, dtype)
        embed_W = init.randn(V, D, div=100)
        lstm_Wx = init.randn(D, 4 * H, div=np.sqrt(D))
        lstm_Wh = init.randn(H, 4 * H, div=np.sqrt(H))
        lstm_b = init.zeros(4 * H)
        self.embed = TimeEmbedding(embed_W)
        self.lstm = TimeLSTM(lstm_Wx, lstm_Wh, lstm_b, stateful=False)
        self.params = self.embed.params + self.lstm.params
        self.grads = self.embed.grads + self.lstm.grads
        self.hs = None

    def forward(self, xs):
        xs = self.embed.forward(xs)
        hs = self.lstm.forward(xs)
        self.hs = hs
        return hs[:, -1, :]

    def backward(self, dh):
        dhs = np.zeros_like(self.hs)
        dhs[:, -1, :] = dh
        dout = self.lstm.backward(dhs)
        dout = self.embed.backward(dout)
        return dout


class Decoder:
    """TimeEmbedding -> TimeLSTM (stateful, started from the encoder's h) -> TimeAffine."""

    def __init__(self, vocab_size, wordvec_size, hidden_size, seed=None, dtype=np.float32):
        V, D, H = vocab_size, wordvec_size, hidden_size
        init = Init(seed, dtype)
        embed_W = init.randn(V, D, div=100)
        lstm_Wx = init.randn(D, 4 * H, div=np.sqrt(D))
        lstm_Wh = init.randn(H, 4 * H, div=np.sqrt(H))
        lstm_b = init.zeros(4 * H)
        affine_W = init.randn(H, V, div=np.sqrt(H))
        affine_b = init.zeros(V)
        self.embed = TimeEmbedding(embed_W)
        self.lstm = TimeLSTM(lstm_Wx, lstm_Wh, lstm_b, stateful=True)
        self.affine = TimeAffine(affine_W, affine_b)
        self.params, self.grads = [], []
        for layer in (self.embed, self.lstm, self.affine):
            self.params += layer.params
            self.grads += layer.grads

    def forward(self, xs, h):
        self.lstm.set_state(h)
        out = self.embed.forward(xs)
        out = self.lstm.forward(out)
        return self.affine.forward(out)

    def backward(self, dscore):
        dout = self.affine.backward(dscore)
        dout = self.lstm.backward(dout)
        self.embed.backward(dout)
        return self.lstm.dh

    @no_grad()
    def generate(self, h, start_id, sample_size):
        ids = start_ids(start_id, h.shape[0], self.embed.params[0].shape[0])
        self.lstm.set_state(h)
        sampled = []
        for _ in range(check_sample_size(sample_size)):
            out = self.embed.forward(ids)
            out = self.lstm.forward(out)
            score = self.affine.forward(out)
            ids = score.argmax(axis=2).astype(np.int32)
            sampled.append(ids[:, 0])
        return greedy_result(sampled, h.shape[0])


class Seq2seq(BaseModel):
    """Encoder + Decoder + TimeSoftmaxWithLoss; params = encoder's 4 then decoder's 6 (book order)."""

    _encoder_cls = Encoder
    _decoder_cls = Decoder

    def __init__(self, vocab_size, wordvec_size, hidden_size, *, seed=None, dtype=np.float32):
        V, D, H = check_sizes(vocab_size=vocab_size, wordvec_size=wordvec_size, hidden_size=hidden_size)
        self._config = {"vocab_size": V, "wordvec_size": D, "hidden_size": H}
        rng = np.random.default_rng(seed)
        self.encoder = self._encoder_cls(V, D, H, seed=rng, dtype=dtype)
        self.decoder = self._decoder_cls(V, D, H, seed=rng, dtype=dtype)
        self.softmax = TimeSoftmaxWithLoss()
        self.params = self.encoder.params + self.decoder.params
        self.grads = self.encoder.grads + self.decoder.grads

    def predict(self, xs, decoder_xs):
        """Scores (N, Td, V) of the decoder reading ``decoder_xs`` (N, Td) after encoding ``xs``;
        forward only (fastrnn.no_grad)."""
        with no_grad():
            return self._scores(xs, decoder_xs)

    def _scores(self, xs, decoder_xs):
        h = self.encoder.forward(xs)
        return self.decoder.forward(decoder_xs, h)

    def forward(self, xs, ts):
        ts = np.asarray(ts)
        if ts.ndim != 2 or ts.shape[1] < 2:
            raise ValueError(f"ts: expected (N, T) ids with T >= 2 (start id + answer), got shape {ts.shape}")
        decoder_xs, decoder_ts = ts[:, :-1], ts[:, 1:]
        # every check that a later layer would make, before the encoder runs: a failed forward
        # leaves the layers' saved forwards as they were
        V = self.decoder.embed.params[0].shape[0]
        if np.ndim(xs) >= 1 and np.shape(xs)[0] != ts.shape[0]:
            raise ValueError(f"ts: expected the batch size of xs, {np.shape(xs)[0]}, got shape {ts.shape}")
        self.softmax.check_targets(decoder_ts, decoder_ts.shape + (V,))
        if decoder_xs.dtype.kind in "iu" and decoder_xs.size and not 0 <= decoder_xs.min() <= decoder_xs.max() < V:
            raise ValueError(f"ts: expected ids in [0, {V}), got {decoder_xs.min()}..{decoder_xs.max()}")
        score = self._scores(xs, decoder_xs)
        return self.softmax.forward(score, decoder_ts)

    def backward(self, dout=1):
        dout = self.softmax.backward(dout)
        dh = self.decoder.backward(dout)
        return self.encoder.backward(dh)

    @no_grad()
    def generate(self, xs, start_id, sample_size):
        """Greedy decoding: a list of ids for one question, an (N, sample_size) array for N > 1."""
        h = self.encoder.forward(xs)
        return self.decoder.generate(h, start_id, sample_size)

    def reset_state(self):
        self.decoder.lstm.reset_state()
