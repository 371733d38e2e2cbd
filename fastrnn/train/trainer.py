"""The book's training loops (``common/trainer.py``): mini-batches, shared-weight merge, clipping, update.

One iteration is exactly the book's::

    loss = model.forward(batch_x, batch_t)
    model.backward()
    params, grads = merge_shared(model.params, model.grads)   # remove_duplicate, by identity
    if max_grad is not None:
        clip_grads(grads, max_grad)
    optimizer.update(params, grads)

Progress is a tqdm bar (``progress=False`` turns it off); the history the book prints every
``eval_interval`` iterations goes to ``loss_list`` / ``ppl_list``.
"""
import math
import numbers
import time

import numpy as np
from tqdm.auto import tqdm

from ..optim import clip_grads
from .plotting import plot_history
from .shared import merge_shared

__all__ = ["Trainer", "RnnlmTrainer", "make_rng"]


def make_rng(seed=None, rng=None):
    """A NumPy Generator from ``rng`` or ``seed`` (not both); fresh entropy when neither is given."""
    if rng is not None:
        if seed is not None:
            raise ValueError("seed, rng: expected at most one of them, got both")
        if not isinstance(rng, np.random.Generator):
            raise TypeError(f"rng: expected a numpy.random.Generator, got {type(rng).__name__}")
        return rng
    return np.random.default_rng(seed)


def _positive_int(name, value, allow_zero=False):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name}: expected an int, got {type(value).__name__}")
    if value < (0 if allow_zero else 1):
        raise ValueError(f"{name}: expected an int >= {0 if allow_zero else 1}, got {value}")
    return int(value)


def _check_common(max_epoch, max_grad, eval_interval):
    _positive_int("max_epoch", max_epoch, allow_zero=True)
    if max_grad is not None and (isinstance(max_grad, bool) or not isinstance(max_grad, numbers.Real)
                                 or not max_grad > 0):
        raise ValueError(f"max_grad: expected None or a number > 0, got {max_grad!r}")
    if eval_interval is not None:
        _positive_int("eval_interval", eval_interval)


def _exp(x):
    """exp that overflows to inf (a diverged model's perplexity) and keeps NaN."""
    try:
        return math.exp(x)
    except OverflowError:
        return math.inf


class _Loop:
    """What both trainers share: the step, the bar, the timing."""

    def __init__(self, model, optimizer, progress=True):
        for name in ("forward", "backward", "params", "grads"):
            if not hasattr(model, name):
                raise TypeError(f"model: expected an object with forward, backward, params and grads, "
                                f"got {type(model).__name__} without {name!r}")
        if not hasattr(optimizer, "update"):
            raise TypeError(f"optimizer: expected an object with update(params, grads), "
                            f"got {type(optimizer).__name__}")
        self.model = model
        self.optimizer = optimizer
        self.progress = progress
        self.eval_interval = None
        self.current_epoch = 0
        self.epoch_times = []
        self.epoch_losses = []

    def _step(self, batch_x, batch_t, max_grad):
        model = self.model
        loss = model.forward(batch_x, batch_t)
        model.backward()
        params, grads = merge_shared(model.params, model.grads)
        if max_grad is not None:
            clip_grads(grads, max_grad)
        self.optimizer.update(params, grads)
        return float(loss)

    def _bar(self, total, progress, desc):
        show = self.progress if progress is None else progress
        return tqdm(total=total, disable=not show, desc=desc, unit="it", dynamic_ncols=True, leave=True)


class Trainer(_Loop):
    """Mini-batch training of a model with ``forward(x, t) -> loss``, ``backward()``, ``params``, ``grads``.

    Every epoch shuffles the data with a permutation drawn from a NumPy Generator (``seed`` or
    ``rng``; the global RNG is never used), then runs ``len(x) // batch_size`` iterations.
    ``loss_list`` gains, every ``eval_interval`` iterations (and at the first of each epoch), the
    mean loss since the last entry; it grows across ``fit`` calls. ``epoch_times`` and
    ``epoch_losses`` hold the seconds and the mean loss of every epoch.
    """

    def __init__(self, model, optimizer, seed=None, rng=None, progress=True):
        super().__init__(model, optimizer, progress)
        self.rng = make_rng(seed, rng)
        self.loss_list = []

    def fit(self, x, t, max_epoch=10, batch_size=32, max_grad=None, eval_interval=20, progress=None):
        """Train for ``max_epoch`` epochs on ``x`` (n, ...) and ``t`` (n, ...); returns self."""
        _check_common(max_epoch, max_grad, eval_interval)
        batch_size = _positive_int("batch_size", batch_size)
        x, t = np.asarray(x), np.asarray(t)
        if x.ndim == 0 or t.ndim == 0 or len(x) != len(t):
            raise ValueError(f"x, t: expected arrays with the same first dimension, got shapes {x.shape} and {t.shape}")
        data_size = len(x)
        max_iters = data_size // batch_size
        if max_iters == 0:
            raise ValueError(f"batch_size: expected at most the number of samples ({data_size}), got {batch_size}")
        self.eval_interval = eval_interval
        total_loss, loss_count = 0.0, 0
        with self._bar(max_epoch * max_iters, progress, "train") as bar:
            for _ in range(max_epoch):
                start = time.perf_counter()
                idx = self.rng.permutation(data_size)
                x, t = x[idx], t[idx]
                epoch_loss = 0.0
                for iters in range(max_iters):
                    sl = slice(iters * batch_size, (iters + 1) * batch_size)
                    loss = self._step(x[sl], t[sl], max_grad)
                    epoch_loss += loss
                    total_loss += loss
                    loss_count += 1
                    if eval_interval is not None and iters % eval_interval == 0:
                        avg_loss = total_loss / loss_count
                        self.loss_list.append(avg_loss)
                        bar.set_postfix(epoch=self.current_epoch + 1, loss=f"{avg_loss:.4f}", refresh=False)
                        total_loss, loss_count = 0.0, 0
                    bar.update()
                self.epoch_times.append(time.perf_counter() - start)
                self.epoch_losses.append(epoch_loss / max_iters)
                self.current_epoch += 1
        return self

    def plot(self, ylim=None, path=None):
        """Plot ``loss_list``; saved to ``path`` if given, else shown. Needs ``fastrnn[plot]``."""
        return plot_history(self.loss_list, "loss", self.eval_interval, ylim, path)


class RnnlmTrainer(_Loop):
    """Truncated-BPTT training of a language model on one long id sequence (the book's ``RnnlmTrainer``).

    The corpus is read by ``batch_size`` cursors ``jump = len(xs) // batch_size`` apart, each batch
    the next ``time_size`` ids of every cursor (no shuffling; stateful models carry their state).
    ``ppl_list`` gains ``exp(mean loss)`` every ``eval_interval`` iterations; like the book, each
    ``fit`` call restarts the cursors and ``ppl_list``. ``epoch_times`` and ``epoch_losses`` hold the
    seconds and the mean loss of every epoch (across fits).
    """

    def __init__(self, model, optimizer, progress=True):
        super().__init__(model, optimizer, progress)
        self.time_idx = None
        self.ppl_list = None

    def get_batch(self, x, t, batch_size, time_size):
        """-> batch_x, batch_t (batch_size, time_size) int32, advancing ``time_idx`` by ``time_size``."""
        data_size = len(x)
        jump = data_size // batch_size
        pos = (np.arange(batch_size)[:, None] * jump + self.time_idx + np.arange(time_size)[None, :]) % data_size
        self.time_idx += time_size
        return x[pos].astype(np.int32, copy=False), t[pos].astype(np.int32, copy=False)

    def fit(self, xs, ts, max_epoch=10, batch_size=20, time_size=35, max_grad=None, eval_interval=20,
            progress=None):
        """Train on ``xs`` (ids) predicting ``ts`` (usually ``xs`` shifted by one); returns self."""
        _check_common(max_epoch, max_grad, eval_interval)
        batch_size = _positive_int("batch_size", batch_size)
        time_size = _positive_int("time_size", time_size)
        xs, ts = np.asarray(xs), np.asarray(ts)
        if xs.ndim != 1 or ts.shape != xs.shape:
            raise ValueError(f"xs, ts: expected two 1-D id arrays of the same length, got shapes {xs.shape} and {ts.shape}")
        data_size = len(xs)
        max_iters = data_size // (batch_size * time_size)
        if max_iters == 0:
            raise ValueError(f"batch_size, time_size: expected batch_size * time_size <= len(xs) = {data_size}, "
                             f"got {batch_size} * {time_size}")
        self.time_idx = 0
        self.ppl_list = []
        self.eval_interval = eval_interval
        total_loss, loss_count = 0.0, 0
        with self._bar(max_epoch * max_iters, progress, "train") as bar:
            for _ in range(max_epoch):
                start = time.perf_counter()
                epoch_loss = 0.0
                for iters in range(max_iters):
                    batch_x, batch_t = self.get_batch(xs, ts, batch_size, time_size)
                    loss = self._step(batch_x, batch_t, max_grad)
                    epoch_loss += loss
                    total_loss += loss
                    loss_count += 1
                    if eval_interval is not None and iters % eval_interval == 0:
                        ppl = _exp(total_loss / loss_count)
                        self.ppl_list.append(ppl)
                        bar.set_postfix(epoch=self.current_epoch + 1, ppl=f"{ppl:.2f}", refresh=False)
                        total_loss, loss_count = 0.0, 0
                    bar.update()
                self.epoch_times.append(time.perf_counter() - start)
                self.epoch_losses.append(epoch_loss / max_iters)
                self.current_epoch += 1
        return self

    def plot(self, ylim=None, path=None):
        """Plot ``ppl_list``; saved to ``path`` if given, else shown. Needs ``fastrnn[plot]``."""
        return plot_history(self.ppl_list or [], "perplexity", self.eval_interval, ylim, path)
