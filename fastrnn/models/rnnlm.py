"""The book's language models: SimpleRnnlm (ch05), Rnnlm and BetterRnnlm (ch06).

``forward(xs (N, T) ids, ts (N, T) ids) -> loss``; ``backward(dout=1)``; ``predict(xs) -> scores
(N, T, V)``; the recurrent layers are stateful (truncated BPTT): ``reset_state()`` between corpora.
"""
import numpy as np

from ..layers import TimeEmbedding, TimeRNN, TimeLSTM, TimeAffine, TimeSoftmaxWithLoss, TimeDropout
from .base import BaseModel, Init, check_sizes
from .._grad_mode import no_grad

__all__ = ["SimpleRnnlm", "Rnnlm", "BetterRnnlm"]


class _LanguageModel(BaseModel):
    """Layers applied in order, then TimeSoftmaxWithLoss."""

    def predict(self, xs):
        """xs (N, T) ids -> scores (N, T, V); forward only (fastrnn.no_grad): no backward follows."""
        with no_grad():
            return self._scores(xs)

    def _scores(self, xs):
        for layer in self.layers:
            xs = layer.forward(xs)
        return xs

    def forward(self, xs, ts):
        """Mean cross-entropy of predicting ``ts`` (N, T) from ``xs`` (N, T)."""
        self._check_targets(xs, ts)
        score = self._scores(xs)
        return self.loss_layer.forward(score, ts)

    def _check_targets(self, xs, ts):
        """The loss layer's checks of ``ts`` before any layer runs: a failed forward leaves the
        layers' states and saved forwards as they were (the embedding checks ``xs`` first of all)."""
        shape = np.shape(xs)
        if len(shape) == 2:
            self.loss_layer.check_targets(ts, shape + (self.layers[0].params[0].shape[0],))

    def backward(self, dout=1):
        dout = self.loss_layer.backward(dout)
        for layer in reversed(self.layers):
            dout = layer.backward(dout)
        return dout


class SimpleRnnlm(_LanguageModel):
    """TimeEmbedding -> TimeRNN (stateful) -> TimeAffine; params ``[embed_W, Wx, Wh, b, affine_W, affine_b]``."""

    def __init__(self, vocab_size, wordvec_size, hidden_size, *, seed=None, dtype=np.float32):
        V, D, H = check_sizes(vocab_size=vocab_size, wordvec_size=wordvec_size, hidden_size=hidden_size)
        self._config = {"vocab_size": V, "wordvec_size": D, "hidden_size": H}
        init = Init(seed, dtype)
        embed_W = init.randn(V, D, div=100)
        rnn_Wx = init.randn(D, H, div=np.sqrt(D))
        rnn_Wh = init.randn(H, H, div=np.sqrt(H))
        rnn_b = init.zeros(H)
        affine_W = init.randn(H, V, div=np.sqrt(H))
        affine_b = init.zeros(V)
        self.layers = [TimeEmbedding(embed_W), TimeRNN(rnn_Wx, rnn_Wh, rnn_b, stateful=True),
                       TimeAffine(affine_W, affine_b)]
        self.loss_layer = TimeSoftmaxWithLoss()
        self.rnn_layer = self.layers[1]
        self._collect(self.layers)

    def reset_state(self):
        self.rnn_layer.reset_state()


class Rnnlm(_LanguageModel):
    """TimeEmbedding -> TimeLSTM (stateful) -> TimeAffine; params ``[embed_W, Wx, Wh, b, affine_W, affine_b]``.

    Init as the book: ``embed = randn/100``, ``Wx = randn/√D``, ``Wh = randn/√H``, biases 0,
    ``affine_W = randn/√H``, drawn from ``np.random.default_rng(seed)``.
    """

    def __init__(self, vocab_size=10000, wordvec_size=100, hidden_size=100, *, seed=None, dtype=np.float32):
        V, D, H = check_sizes(vocab_size=vocab_size, wordvec_size=wordvec_size, hidden_size=hidden_size)
        self._config = {"vocab_size": V, "wordvec_size": D, "hidden_size": H}
        init = Init(seed, dtype)
        embed_W = init.randn(V, D, div=100)
        lstm_Wx = init.randn(D, 4 * H, div=np.sqrt(D))
        lstm_Wh = init.randn(H, 4 * H, div=np.sqrt(H))
        lstm_b = init.zeros(4 * H)
        affine_W = init.randn(H, V, div=np.sqrt(H))
        affine_b = init.zeros(V)
        self.layers = [TimeEmbedding(embed_W), TimeLSTM(lstm_Wx, lstm_Wh, lstm_b, stateful=True),
                       TimeAffine(affine_W, affine_b)]
        self.loss_layer = TimeSoftmaxWithLoss()
        self.lstm_layer = self.layers[1]
        self._collect(self.layers)

    def reset_state(self):
        self.lstm_layer.reset_state()


class BetterRnnlm(_LanguageModel):
    """Embedding, Dropout, LSTM, Dropout, LSTM, Dropout, TimeAffine with the tied weight ``embed_W.T``.

    ``wordvec_size`` must equal ``hidden_size`` (weight tying). params (9):
    ``[embed_W, Wx1, Wh1, b1, Wx2, Wh2, b2, embed_W.T, affine_b]`` -- the tied weight twice (the
    trainer merges it by identity). Dropout draws from the global ``np.random`` as the book's does.
    """

    def __init__(self, vocab_size=10000, wordvec_size=650, hidden_size=650, dropout_ratio=0.5, *,
                 seed=None, dtype=np.float32):
        V, D, H = check_sizes(vocab_size=vocab_size, wordvec_size=wordvec_size, hidden_size=hidden_size)
        if D != H:
            raise ValueError(f"wordvec_size: expected hidden_size ({H}) for the tied weight embed_W.T, got {D}")
        self._config = {"vocab_size": V, "wordvec_size": D, "hidden_size": H, "dropout_ratio": dropout_ratio}
        init = Init(seed, dtype)
        embed_W = init.randn(V, D, div=100)
        lstm_Wx1 = init.randn(D, 4 * H, div=np.sqrt(D))
        lstm_Wh1 = init.randn(H, 4 * H, div=np.sqrt(H))
        lstm_b1 = init.zeros(4 * H)
        lstm_Wx2 = init.randn(H, 4 * H, div=np.sqrt(H))
        lstm_Wh2 = init.randn(H, 4 * H, div=np.sqrt(H))
        lstm_b2 = init.zeros(4 * H)
        affine_b = init.zeros(V)
        self.layers = [
            TimeEmbedding(embed_W),
            TimeDropout(dropout_ratio),
            TimeLSTM(lstm_Wx1, lstm_Wh1, lstm_b1, stateful=True),
            TimeDropout(dropout_ratio),
            TimeLSTM(lstm_Wx2, lstm_Wh2, lstm_b2, stateful=True),
            TimeDropout(dropout_ratio),
            TimeAffine(embed_W.T, affine_b),    # weight tying
        ]
        self.loss_layer = TimeSoftmaxWithLoss()
        self.lstm_layers = [self.layers[2], self.layers[4]]
        self.drop_layers = [self.layers[1], self.layers[3], self.layers[5]]
        self._collect(self.layers)

    def predict(self, xs, train_flg=False):
        """xs (N, T) ids -> scores (N, T, V); dropout only with ``train_flg``; forward only."""
        self._dropout(train_flg)
        return super().predict(xs)

    def _dropout(self, train_flg):
        for layer in self.drop_layers:
            layer.train_flg = train_flg

    def forward(self, xs, ts, train_flg=True):
        self._check_targets(xs, ts)
        self._dropout(train_flg)
        score = self._scores(xs)
        return self.loss_layer.forward(score, ts)

    def reset_state(self):
        for layer in self.lstm_layers:
            layer.reset_state()
