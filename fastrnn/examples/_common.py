"""Shared by the examples: the common command-line options, thread limits, the seq2seq loop."""
import argparse
import contextlib
import time


def parser(description, epochs, name, duration):
    """An ArgumentParser for ``python -m fastrnn train NAME``: every option's help shows its
    default, the description ends with the rough duration of a default run; --epochs, --seed,
    --quick, --threads, --no-progress."""
    p = argparse.ArgumentParser(prog=f"python -m fastrnn train {name}",
                                description=f"{description.strip()}\n\nA default run takes {duration}.",
                                formatter_class=_Formatter)
    p.add_argument("--epochs", type=int, default=epochs, help="training epochs")
    p.add_argument("--seed", type=int, default=0, help="seed of the initialisation, shuffling and sampling")
    p.add_argument("--quick", action="store_true", help="a tiny, fast smoke run (small data and model)")
    p.add_argument("--threads", type=int, default=None, metavar="N",
                   help="threads for fastrnn's GEMMs (fastrnn.set_num_threads) and at most N in numba's "
                        "and the BLAS pools (default: fastrnn's default, 1)")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    return p


class _Formatter(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """Defaults shown after each option's help; the description's own line breaks kept."""

    def _get_help_string(self, action):
        if action.default is None or action.default is False or "default" in (action.help or ""):
            return action.help
        return super()._get_help_string(action)


@contextlib.contextmanager
def thread_limit(n):
    """fastrnn's thread budget ``n`` and numba's and the BLAS pools limited to ``n`` (None: as they are)."""
    if n is None:
        yield
        return
    import numba
    from threadpoolctl import threadpool_limits
    from .. import _threads
    old, old_budget = numba.get_num_threads(), _threads.get_num_threads()
    numba.set_num_threads(min(n, numba.config.NUMBA_NUM_THREADS))
    _threads.set_num_threads(n)
    try:
        with threadpool_limits(n):
            yield
    finally:
        numba.set_num_threads(old)
        _threads.set_num_threads(old_budget)


def train_seq2seq(model, data, args, max_grad=5.0, lr=0.001, is_reverse=True, show=3):
    """Train with Adam epoch by epoch, printing test accuracy and seconds per epoch; -> final accuracy."""
    from ..optim import Adam
    from ..train import Trainer, eval_seq2seq, seq2seq_accuracy

    (x_train, t_train), (x_test, t_test), (_, id_to_char) = data
    trainer = Trainer(model, Adam(lr=lr), seed=args.seed, progress=not args.no_progress)
    acc = 0.0
    for epoch in range(args.epochs):
        trainer.fit(x_train, t_train, max_epoch=1, batch_size=args.batch_size, max_grad=max_grad)
        start = time.perf_counter()
        acc = seq2seq_accuracy(model, x_test, t_test)
        print(f"epoch {epoch + 1}: train {trainer.epoch_times[-1]:.1f} s, loss {trainer.epoch_losses[-1]:.4f}, "
              f"test accuracy {acc:.4f} (evaluated in {time.perf_counter() - start:.1f} s)", flush=True)
    for i in range(min(show, len(x_test))):
        eval_seq2seq(model, x_test[[i]], t_test[[i]], id_to_char, verbose=True, is_reverse=is_reverse)
    print(f"test accuracy: {acc:.4f}")
    return acc


def exp(x):
    """math.exp, inf on overflow (a diverged perplexity)."""
    import math
    try:
        return math.exp(x)
    except OverflowError:
        return math.inf
