"""Models of "Deep Learning from Scratch 2" on fastrnn's layers, plus sequence regression/classification.

Every model has ``params`` / ``grads`` lists in the book's order, ``forward(xs, ts) -> loss``,
``backward()``, ``predict``, ``reset_state``, ``save_params`` / ``load_params`` (``.npz``), and
takes ``seed=`` (an int or a NumPy Generator) for its initialisation and ``dtype=`` (float32,
the book's, or float64).

    >>> from fastrnn.models import AttentionSeq2seq
    >>> model = AttentionSeq2seq(vocab_size=59, wordvec_size=16, hidden_size=256, seed=0)
"""
from .rnnlm import SimpleRnnlm, Rnnlm, BetterRnnlm
from .generation import RnnlmGen, BetterRnnlmGen
from .seq2seq import Encoder, Decoder, Seq2seq
from .peeky import PeekyDecoder, PeekySeq2seq
from .attention import AttentionEncoder, AttentionDecoder, AttentionSeq2seq
from .regression import SequenceRegressor
from .classification import SequenceClassifier
from .base import BaseModel

__all__ = ["SimpleRnnlm", "Rnnlm", "BetterRnnlm", "RnnlmGen", "BetterRnnlmGen",
           "Encoder", "Decoder", "Seq2seq", "PeekyDecoder", "PeekySeq2seq",
           "AttentionEncoder", "AttentionDecoder", "AttentionSeq2seq",
           "SequenceRegressor", "SequenceClassifier", "BaseModel"]
