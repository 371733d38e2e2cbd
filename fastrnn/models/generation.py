"""Text generation from the language models (the book's ch07 ``RnnlmGen`` / ``BetterRnnlmGen``).

``generate(start_id, skip_ids=None, sample_size=100, seed=None, rng=None) -> list of ids``: the
book's loop -- feed the last id, sample the next from the softmax of the scores, keep it unless
it is in ``skip_ids`` (then sample again, the state having moved on, as in the book) -- with the
samples drawn from a NumPy Generator (``seed`` or ``rng``), never from the global RNG.
"""
import numbers

import numpy as np

from ..layers.activations import softmax
from ..train.trainer import make_rng
from .rnnlm import Rnnlm, BetterRnnlm
from .._grad_mode import no_grad

__all__ = ["RnnlmGen", "BetterRnnlmGen"]


def _sample(model, start_id, skip_ids, sample_size, rng):
    V = model.params[0].shape[0]
    if isinstance(start_id, bool) or not isinstance(start_id, numbers.Integral) or not 0 <= start_id < V:
        raise ValueError(f"start_id: expected an int id in [0, {V}), got {start_id!r}")
    if isinstance(sample_size, bool) or not isinstance(sample_size, numbers.Integral) or sample_size < 1:
        raise ValueError(f"sample_size: expected an int >= 1 (the start id counts as the first), got {sample_size!r}")
    skip = set() if skip_ids is None else {int(i) for i in skip_ids}
    if len(skip & set(range(V))) == V:
        raise ValueError(f"skip_ids: expected to leave at least one of the {V} ids, got all of them")
    skipped = np.array(sorted(i for i in skip if 0 <= i < V), dtype=np.int64)
    word_ids = [int(start_id)]
    x = np.array([[start_id]], dtype=np.int32)
    while len(word_ids) < sample_size:
        score = model.predict(x)
        p = softmax(score.reshape(-1).astype(np.float64))
        if not np.isfinite(p).all() or p.sum() - p[skipped].sum() <= 0:
            raise ValueError("skip_ids: every id that is not skipped has probability 0 (or the scores are "
                             f"not finite) after {len(word_ids)} ids: nothing can be sampled")
        sampled = int(rng.choice(len(p), p=p))
        if sampled not in skip:
            x = np.array([[sampled]], dtype=np.int32)
            word_ids.append(sampled)
    return word_ids


class RnnlmGen(Rnnlm):
    """Rnnlm with ``generate``; loads the parameter files of Rnnlm."""

    _save_name = "Rnnlm"

    @no_grad()
    def generate(self, start_id, skip_ids=None, sample_size=100, *, seed=None, rng=None):
        """``sample_size`` ids starting with ``start_id``, sampled with a Generator (``seed`` or ``rng``)."""
        return _sample(self, start_id, skip_ids, sample_size, make_rng(seed, rng))

    def get_state(self):
        return self.lstm_layer.h, self.lstm_layer.c

    def set_state(self, state):
        self.lstm_layer.set_state(*state)


class BetterRnnlmGen(BetterRnnlm):
    """BetterRnnlm with ``generate`` (dropout off while generating); loads the files of BetterRnnlm."""

    _save_name = "BetterRnnlm"

    @no_grad()
    def generate(self, start_id, skip_ids=None, sample_size=100, *, seed=None, rng=None):
        """``sample_size`` ids starting with ``start_id``, sampled with a Generator (``seed`` or ``rng``)."""
        return _sample(self, start_id, skip_ids, sample_size, make_rng(seed, rng))

    def get_state(self):
        return [(layer.h, layer.c) for layer in self.lstm_layers]

    def set_state(self, states):
        for layer, state in zip(self.lstm_layers, states):
            layer.set_state(*state)
