"""LSTM forecasting the next value of a noisy sine wave (sequence regression)."""
from . import _common


def main(argv=None):
    p = _common.parser(__doc__, epochs=30, name="sine",
                       duration="under 10 s on one core (the first run also compiles the kernels: about 10 s more)")
    p.add_argument("--batch-size", type=int, default=32, help="sequences per batch")
    p.add_argument("--time-size", type=int, default=25, help="time steps per window")
    p.add_argument("--hidden", type=int, default=32, help="hidden size of the recurrent layer")
    p.add_argument("--noise", type=float, default=0.05, help="standard deviation of the noise added to the sine")
    p.add_argument("--cell", choices=("lstm", "gru", "rnn"), default="lstm", help="the recurrent cell")
    args = p.parse_args(argv)

    import numpy as np
    from ..datasets import sine_wave
    from ..models import SequenceRegressor
    from ..optim import Adam
    from ..train import Trainer

    n = 200 if args.quick else 2000
    if args.quick:
        args.epochs = min(args.epochs, 2)
    (x_train, t_train), (x_test, t_test) = sine_wave(n_samples=n, time_size=args.time_size,
                                                     noise=args.noise, seed=args.seed)
    model = SequenceRegressor(1, args.hidden, 1, cell=args.cell, seed=args.seed)
    print(f"sine: {len(x_train)} train / {len(x_test)} test windows of {args.time_size} steps, "
          f"SequenceRegressor(1, {args.hidden}, 1, cell={args.cell!r})")
    trainer = Trainer(model, Adam(lr=0.01), seed=args.seed, progress=not args.no_progress)
    with _common.thread_limit(args.threads):
        trainer.fit(x_train, t_train, max_epoch=args.epochs, batch_size=args.batch_size, max_grad=1.0)
        mse = float(np.mean((model.predict(x_test) - t_test) ** 2))
    naive = float(np.mean((x_test[:, -1] - t_test) ** 2))
    print(f"train loss (last epoch): {trainer.epoch_losses[-1]:.5f}")
    print(f"baseline 'next = last value' test MSE: {naive:.5f}; noise variance: {args.noise ** 2:.5f}")
    print(f"test MSE: {mse:.5f}")
    return mse


if __name__ == "__main__":
    main()
