"""Training loops and evaluation of "Deep Learning from Scratch 2", with progress bars.

    >>> from fastrnn.train import Trainer
    >>> from fastrnn.optim import Adam
    >>> trainer = Trainer(model, Adam(), seed=0)                       # doctest: +SKIP
    >>> trainer.fit(x, t, max_epoch=10, batch_size=32, max_grad=5.0)  # doctest: +SKIP
"""
from .trainer import Trainer, RnnlmTrainer
from .evaluate import eval_perplexity, eval_seq2seq, seq2seq_accuracy
from .shared import merge_shared

__all__ = ["Trainer", "RnnlmTrainer", "eval_perplexity", "eval_seq2seq", "seq2seq_accuracy", "merge_shared"]
