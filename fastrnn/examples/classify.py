"""LSTM classifying variable-length token sequences: which marker token occurs most often."""
from . import _common


def make_data(n, vocab_size=12, num_classes=3, min_len=5, max_len=30, seed=0):
    """Sequences padded with -1 and labels: the class is the marker token (1..num_classes) seen most.

    Ids 0 and num_classes+1.. are filler; ties between markers are redrawn. Returns xs (n, max_len)
    int32, ts (n,) int64.
    """
    import numpy as np
    rng = np.random.default_rng(seed)
    xs = np.full((n, max_len), -1, np.int32)
    ts = np.empty(n, np.int64)
    k = 0
    while k < n:
        length = rng.integers(min_len, max_len + 1)
        seq = rng.integers(0, vocab_size, length)
        counts = np.bincount(seq, minlength=vocab_size)[1:num_classes + 1]
        if (counts == counts.max()).sum() > 1:
            continue
        xs[k, :length] = seq
        ts[k] = counts.argmax()
        k += 1
    return xs, ts


def main(argv=None):
    p = _common.parser(__doc__, epochs=30, name="classify",
                       duration="about 20 s on one core")
    p.add_argument("--batch-size", type=int, default=32, help="sequences per batch")
    p.add_argument("--classes", type=int, default=3, help="number of marker tokens / classes (2 = binary)")
    p.add_argument("--hidden", type=int, default=64, help="hidden size of the recurrent layer")
    p.add_argument("--cell", choices=("lstm", "gru", "rnn"), default="lstm", help="the recurrent cell")
    args = p.parse_args(argv)

    from ..models import SequenceClassifier
    from ..optim import Adam
    from ..train import Trainer

    n_train, n_test = (256, 64) if args.quick else (4000, 1000)
    if args.quick:
        args.epochs, args.hidden = min(args.epochs, 2), 16
    x_train, t_train = make_data(n_train, num_classes=args.classes, seed=args.seed)
    x_test, t_test = make_data(n_test, num_classes=args.classes, seed=args.seed + 1)
    model = SequenceClassifier(12, 16, args.hidden, num_classes=args.classes, cell=args.cell, seed=args.seed)
    print(f"classify: {n_train} train / {n_test} test sequences of 5-30 tokens, {args.classes} classes, "
          f"SequenceClassifier(12, 16, {args.hidden}, cell={args.cell!r})")
    trainer = Trainer(model, Adam(lr=0.005), seed=args.seed, progress=not args.no_progress)
    with _common.thread_limit(args.threads):
        trainer.fit(x_train, t_train, max_epoch=args.epochs, batch_size=args.batch_size, max_grad=5.0)
        acc = model.accuracy(x_test, t_test)
    print(f"train loss (last epoch): {trainer.epoch_losses[-1]:.4f}; chance: {1 / args.classes:.3f}")
    print(f"test accuracy: {acc:.4f}")
    return acc


if __name__ == "__main__":
    main()
