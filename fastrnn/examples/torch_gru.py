"""PyTorch model (embedding -> GRU -> linear) trained with torch.nn.GRU and with fastrnn.torch.GRU.

Both runs start from the same weights (load_state_dict) and see the same batches, so
their loss curves coincide to float tolerance (in float32, rounding differences grow
where the loss drops steeply; ``--dtype float64`` shows agreement to ~1e-12); the
time per epoch of each is printed. The task (generated here): remember the first
token of a sequence of noise tokens.
"""
import copy
import time

from . import _common


def make_data(n, length, vocab_size=16, num_classes=4, seed=0):
    """tokens (n, length) int64 uniform over the vocabulary; label (n,) = first token mod num_classes."""
    import numpy as np
    rng = np.random.default_rng(seed)
    tokens = rng.integers(0, vocab_size, (n, length))
    return tokens, tokens[:, 0] % num_classes


def build(gru_cls, vocab_size, embed, hidden, num_classes):
    """tokens (N, T) -> logits (N, num_classes) through Embedding, gru_cls (batch_first), Linear."""
    import torch

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.embed = torch.nn.Embedding(vocab_size, embed)
            self.gru = gru_cls(embed, hidden, batch_first=True)
            self.head = torch.nn.Linear(hidden, num_classes)

        def forward(self, tokens):
            _, h_n = self.gru(self.embed(tokens))
            return self.head(h_n[-1])

    return Net()


def main(argv=None):
    p = _common.parser(__doc__, epochs=6, name="torch-gru",
                       duration="about 30 s on one core (both torch.nn and fastrnn.torch train)")
    p.add_argument("--batch-size", type=int, default=32, help="sequences per batch")
    p.add_argument("--hidden", type=int, default=64, help="hidden size of the recurrent layer")
    p.add_argument("--length", type=int, default=20, help="sequence length")
    p.add_argument("--lr", type=float, default=0.01, help="Adam learning rate")
    p.add_argument("--dtype", choices=("float32", "float64"), default="float32")
    args = p.parse_args(argv)

    import numpy as np
    import torch
    import fastrnn.torch as ft

    n_train, n_test, vocab, classes, embed = 4096, 512, 16, 4, 32
    if args.quick:
        n_train, n_test, args.epochs, args.hidden, args.length = 256, 64, min(args.epochs, 2), 16, 10
    x_train, t_train = (torch.from_numpy(a) for a in make_data(n_train, args.length, vocab, classes, args.seed))
    x_test, t_test = (torch.from_numpy(a) for a in make_data(n_test, args.length, vocab, classes, args.seed + 1))
    rng = np.random.default_rng(args.seed)
    orders = [torch.from_numpy(rng.permutation(n_train)) for _ in range(args.epochs)]

    torch.manual_seed(args.seed)
    models = {"torch.nn.GRU": build(torch.nn.GRU, vocab, embed, args.hidden, classes),
              "fastrnn.torch.GRU": build(ft.GRU, vocab, embed, args.hidden, classes)}
    models = {k: m.to(getattr(torch, args.dtype)) for k, m in models.items()}
    models["fastrnn.torch.GRU"].load_state_dict(models["torch.nn.GRU"].state_dict())
    opts = {k: torch.optim.Adam(m.parameters(), lr=args.lr) for k, m in models.items()}
    losses = {k: [] for k in models}
    times = {k: [] for k in models}
    print(f"torch-gru: {n_train} train / {n_test} test sequences of {args.length} tokens (vocab {vocab}); "
          f"label = first token mod {classes}; Embedding({vocab}, {embed}) -> GRU({embed}, {args.hidden}) "
          f"-> Linear({args.hidden}, {classes}); Adam lr {args.lr}, batch {args.batch_size}, {args.dtype}")

    def epoch(name, order):
        model, opt = models[name], opts[name]
        model.train()
        total = 0.0
        for start in range(0, n_train, args.batch_size):
            idx = order[start:start + args.batch_size]
            opt.zero_grad()
            loss = torch.nn.functional.cross_entropy(model(x_train[idx]), t_train[idx])
            loss.backward()
            opt.step()
            total += loss.item() * len(idx)
        return total / n_train

    old_threads = torch.get_num_threads()
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    try:
        with _common.thread_limit(args.threads):
            for model in models.values():           # warm-up (kernel compile/cache load, lazy inits)
                twin = copy.deepcopy(model)
                twin_opt = torch.optim.Adam(twin.parameters(), lr=args.lr)
                torch.nn.functional.cross_entropy(twin(x_train[:args.batch_size]),
                                                  t_train[:args.batch_size]).backward()
                twin_opt.step()
            print(f"{'epoch':>5}  {'loss torch.nn':>13}  {'loss fastrnn':>13}  {'|diff|':>8}  "
                  f"{'s/epoch torch':>13}  {'s/epoch fastrnn':>15}")
            for e, order in enumerate(orders):
                for name in models:                  # interleaved, so both see the same machine load
                    start = time.perf_counter()
                    losses[name].append(epoch(name, order))
                    times[name].append(time.perf_counter() - start)
                a, b = (losses[k][-1] for k in models)
                ta, tb = (times[k][-1] for k in models)
                print(f"{e + 1:>5}  {a:>13.6f}  {b:>13.6f}  {abs(a - b):>8.1e}  {ta:>13.3f}  {tb:>15.3f}",
                      flush=True)
            acc = {}
            with torch.no_grad():
                for name, model in models.items():
                    model.eval()
                    acc[name] = (model(x_test).argmax(1) == t_test).float().mean().item()
    finally:
        torch.set_num_threads(old_threads)

    diff = max(abs(a - b) for a, b in zip(*losses.values())) if args.epochs else 0.0
    med = {k: float(np.median(v)) if v else float("nan") for k, v in times.items()}
    print(f"max |loss difference|: {diff:.2e}")
    for name in models:
        print(f"{name:>17}: test accuracy {acc[name]:.4f}, median {med[name]:.3f} s/epoch")
    if args.epochs:
        print(f"speed-up of fastrnn.torch.GRU: {med['torch.nn.GRU'] / med['fastrnn.torch.GRU']:.2f}x")
    return {"losses": losses, "epoch_times": times, "accuracy": acc, "max_loss_diff": diff}


if __name__ == "__main__":
    main()
