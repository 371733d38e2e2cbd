"""fastrnn.torch.LSTM under DistributedDataParallel: samples/s with 1 process, then with N.

A PyTorch model (Embedding -> fastrnn.torch.LSTM or GRU -> Linear) trains on generated
data (the first token of a noise sequence, mod the number of classes) in 1 process, then
in ``--nproc`` processes on 127.0.0.1 with torch's DistributedDataParallel over gloo.
Each process is started with the "spawn" method (not fork: Numba's threading layers and
OpenMP are not fork-safe) and runs 1 thread (``--threads``); each global batch is split
between the processes as DistributedSampler does (rows rank, rank + N, ...), so both runs
see the same global batches. Printed: each run's samples/s (the median over the epochs,
after an untimed warm-up step) and CPU use (well under 100%: other work shared the cores),
the speed-up, and the largest difference between the final parameters of the two runs
(rounding only: DDP sums the gradient in another order; ``--dtype float64`` shows ~1e-15).
"""
import contextlib
import dataclasses
import datetime
import multiprocessing
import os
import queue as queue_module
import signal
import sys
import threading
import time
import traceback

from . import _common

# Thread-count variables set in each worker's environment (before it starts: the
# runtimes read them when they load).
THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "VECLIB_MAXIMUM_THREADS",
                    "NUMEXPR_NUM_THREADS", "NUMBA_NUM_THREADS")


class LaunchError(RuntimeError):
    """A worker process failed, or the run did not finish in time (the processes are ended)."""


@dataclasses.dataclass
class Config:
    """What every process trains: the model, the data, the optimizer (picklable, sent to the workers).

    ``cells`` chains recurrent modules (``"lstm"``/``"gru"``, each with ``num_layers`` and
    ``bidirectional``); ``batch_size`` is the global batch, split between the processes;
    ``steps`` batches make an epoch.
    """
    cells: tuple = ("lstm",)
    vocab: int = 32
    embed: int = 128
    hidden: int = 256
    classes: int = 8
    num_layers: int = 1
    bidirectional: bool = False
    length: int = 32
    batch_size: int = 512
    steps: int = 5
    epochs: int = 4
    optimizer: str = "adam"         # or "sgd" (momentum 0.9)
    lr: float = 0.001
    dtype: str = "float32"
    seed: int = 0
    threads: int = 1                # torch, BLAS and fastrnn threads per process
    timeout: float = 300.0          # seconds: the whole launch, and each collective


def make_data(config):
    """-> tokens (steps * batch_size, length) int64 and labels, from ``config.seed``."""
    from .torch_gru import make_data as tokens_and_labels
    return tokens_and_labels(config.steps * config.batch_size, config.length, config.vocab, config.classes,
                             config.seed)


def build(config):
    """tokens (N, T) -> logits (N, classes): Embedding, the ``config.cells`` (fastrnn.torch,
    batch_first) one after the other, Linear on the last output step."""
    import torch

    import fastrnn.torch as ft

    kinds = {"lstm": ft.LSTM, "gru": ft.GRU}
    bad = [c for c in config.cells if c not in kinds]
    if bad or not config.cells:
        raise ValueError(f"cells: expected names from {sorted(kinds)}, got {config.cells!r}")

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.embed = torch.nn.Embedding(config.vocab, config.embed)
            width, layers = config.embed, []
            for cell in config.cells:
                layers.append(kinds[cell](width, config.hidden, num_layers=config.num_layers,
                                          bidirectional=config.bidirectional, batch_first=True))
                width = config.hidden * (2 if config.bidirectional else 1)
            self.rnns = torch.nn.ModuleList(layers)
            self.head = torch.nn.Linear(width, config.classes)

        def forward(self, tokens):
            x = self.embed(tokens)
            for rnn in self.rnns:
                x, _ = rnn(x)
            return self.head(x[:, -1])

    return Net().to(getattr(torch, config.dtype))


def train(config, rank=0, world=1, distributed=False):
    """Train ``build(config)`` on this process's share (rows ``rank::world``) of each global
    batch, wrapped in DistributedDataParallel when ``distributed`` (the process group must be
    initialised). -> {"params": {name: ndarray}, "losses": [global mean loss per epoch],
    "epoch_times": [s], "cpu_share": the processes' mean CPU time / wall time over the epochs
    (well under 1 / threads: they waited, for each other or for other work on the machine)}.
    An untimed warm-up forward/backward (kernel cache load, DDP's first iteration) leaves the
    parameters and the optimizer untouched."""
    import numpy as np
    import torch

    tokens, labels = (torch.from_numpy(a) for a in make_data(config))
    rng = np.random.default_rng(config.seed)
    orders = [torch.from_numpy(rng.permutation(len(tokens))) for _ in range(config.epochs)]
    torch.manual_seed(config.seed)
    net = build(config)
    model = net
    if distributed:
        import torch.distributed as dist
        from torch.nn.parallel import DistributedDataParallel
        model = DistributedDataParallel(net)
    if config.optimizer == "adam":
        opt = torch.optim.Adam(model.parameters(), lr=config.lr)
    elif config.optimizer == "sgd":
        opt = torch.optim.SGD(model.parameters(), lr=config.lr, momentum=0.9)
    else:
        raise ValueError(f"optimizer: expected 'adam' or 'sgd', got {config.optimizer!r}")

    def shard(idx):
        idx = idx[rank::world]
        return tokens[idx], labels[idx]

    def sync():
        if distributed:
            dist.barrier()

    x, t = shard(torch.arange(config.batch_size))
    torch.nn.functional.cross_entropy(model(x), t).backward()
    opt.zero_grad(set_to_none=True)

    losses, times, cpu = [], [], torch.zeros(2, dtype=torch.float64)
    for order in orders:
        total = torch.zeros((), dtype=torch.float64)
        sync()
        start, start_cpu = time.perf_counter(), time.process_time()
        for step in range(config.steps):
            x, t = shard(order[step * config.batch_size:(step + 1) * config.batch_size])
            opt.zero_grad()
            loss = torch.nn.functional.cross_entropy(model(x), t)
            loss.backward()
            opt.step()
            total += loss.detach().double()
        sync()
        times.append(time.perf_counter() - start)
        cpu += torch.tensor([time.process_time() - start_cpu, times[-1]], dtype=torch.float64)
        if distributed:
            dist.all_reduce(total)
        losses.append(total.item() / (config.steps * world))
    share = cpu[:1] / cpu[1]
    if distributed:
        dist.all_reduce(share)
    params = {k: v.detach().cpu().numpy().copy() for k, v in net.state_dict().items()}
    return {"params": params, "losses": losses, "epoch_times": times, "cpu_share": share.item() / world}


def _exit_with_parent():
    """End this (spawned) process as soon as its parent is gone, whatever ended the parent."""
    parent = multiprocessing.parent_process()
    if parent is not None:
        def watch():
            parent.join()
            os._exit(1)
        threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()


def _worker(rank, world, port, config, results):
    """One process of the group: pin the threads, join the gloo group over the parent's
    TCPStore, train; rank 0 puts ("result", 0, ...) on ``results``, a failing rank
    ("error", rank, traceback) and exits with code 1."""
    try:
        _exit_with_parent()
        import torch
        import torch.distributed as dist
        from threadpoolctl import threadpool_limits

        import fastrnn

        torch.set_num_threads(config.threads)
        threadpool_limits(config.threads)
        fastrnn.set_num_threads(config.threads)
        timeout = datetime.timedelta(seconds=config.timeout)
        store = dist.TCPStore("127.0.0.1", port, world_size=None, is_master=False, timeout=timeout)
        dist.init_process_group("gloo", store=store, rank=rank, world_size=world, timeout=timeout)
        try:
            result = train(config, rank, world, distributed=True)
        finally:
            dist.destroy_process_group()
        if rank == 0:
            results.put(("result", rank, result))
    except BaseException:  # noqa: BLE001 (reported to the parent, then a clean exit code)
        results.put(("error", rank, traceback.format_exc()))
        results.close()
        results.join_thread()
        sys.exit(1)


@contextlib.contextmanager
def _environment(threads):
    """os.environ with every THREAD_VARIABLES at ``threads`` (what spawned processes inherit)."""
    old = {k: os.environ.get(k) for k in THREAD_VARIABLES}
    os.environ.update({k: str(threads) for k in THREAD_VARIABLES})
    try:
        yield
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _end(processes, grace=5.0):
    """Terminate (then kill) every process still alive, and join them all."""
    for p in processes:
        if p.is_alive():
            p.terminate()
    deadline = time.monotonic() + grace
    for p in processes:
        p.join(max(0.0, deadline - time.monotonic()))
        if p.is_alive():
            p.kill()
            p.join()


def _collect(results, processes, deadline, timeout):
    """Wait for rank 0's result on ``results`` -> it. LaunchError on a worker's error report
    (with every report that arrives within 0.5 s more: the first failure makes the others
    fail too), on a process that exited without a report, or at ``deadline``."""
    def report(wait):
        try:
            return results.get(timeout=wait)
        except queue_module.Empty:
            return None

    def outcome(item):
        kind, _, payload = item
        if kind == "result":
            return payload
        errors = [item]
        while (more := report(0.5)) is not None:
            errors.append(more)
        raise LaunchError("\n".join(f"process {r} failed:\n{text}" for k, r, text in errors if k == "error"))

    while True:
        item = report(0.2)
        if item is not None:
            return outcome(item)
        for rank, p in enumerate(processes):
            if p.exitcode is not None and (p.exitcode != 0 or rank == 0):
                item = report(1.0)              # its report, if still on the way
                if item is not None:
                    return outcome(item)
                how = f"was killed by signal {-p.exitcode}" if p.exitcode < 0 else f"exited with code {p.exitcode}"
                raise LaunchError(f"process {rank} {how} without a report")
        if time.monotonic() > deadline:
            raise LaunchError(f"{len(processes)} process(es) did not finish within {timeout:g} s; ended them")


def launch(config, nproc, target=None):
    """Train ``config`` in ``nproc`` spawned processes (DDP, gloo, 127.0.0.1; the parent hosts
    the TCPStore on a free port) -> rank 0's result (see ``train``). Raises LaunchError when a
    process fails (with its traceback) or after ``config.timeout`` seconds; either way every
    process is ended before it returns or raises. ``target`` replaces ``_worker`` (same
    arguments; a module-level function, as spawn imports it by name)."""
    import torch.distributed as dist
    import torch.multiprocessing as mp

    ctx = mp.get_context("spawn")
    store = dist.TCPStore("127.0.0.1", 0, world_size=None, is_master=True, wait_for_workers=False,
                          timeout=datetime.timedelta(seconds=config.timeout))
    results = ctx.Queue()
    processes = [ctx.Process(target=target or _worker, args=(rank, nproc, store.port, config, results),
                             name=f"fastrnn-ddp-{rank}", daemon=True) for rank in range(nproc)]
    try:
        with _environment(config.threads):
            for p in processes:
                p.start()
        result = _collect(results, processes, time.monotonic() + config.timeout, config.timeout)
        for p in processes:                     # the others finish with rank 0
            p.join(5.0)
        return result
    finally:
        _end(processes)
        results.close()
        results.cancel_join_thread()
        del store


def samples_per_second(result, config):
    """The median over the epochs of global samples per second."""
    import numpy as np
    return float(np.median([config.steps * config.batch_size / t for t in result["epoch_times"]]))


def main(argv=None):
    p = _common.parser(__doc__, epochs=4, name="ddp",
                       duration="about a minute on 2 cores, process start-ups included (the first run on a "
                                "machine also compiles the kernels: ~30 s more)")
    for action in p._actions:                  # one thread per process here, not "no limit"
        if action.dest == "threads":
            action.help, action.default = "torch, BLAS and fastrnn threads per process", 1
    p.add_argument("--nproc", type=int, default=2, help="processes of the second run")
    p.add_argument("--cell", choices=("lstm", "gru"), default="lstm", help="recurrent layer")
    p.add_argument("--batch-size", type=int, default=512, help="global batch (split between the processes)")
    p.add_argument("--steps", type=int, default=5, help="batches per epoch")
    p.add_argument("--hidden", type=int, default=256, help="hidden size of the recurrent layer")
    p.add_argument("--embed", type=int, default=128, help="embedding size")
    p.add_argument("--length", type=int, default=32, help="sequence length")
    p.add_argument("--lr", type=float, default=0.001, help="Adam learning rate")
    p.add_argument("--dtype", choices=("float32", "float64"), default="float32")
    p.add_argument("--timeout", type=float, default=600.0, help="seconds allowed for each run")
    args = p.parse_args(argv)
    if args.nproc < 1 or args.threads < 1 or args.epochs < 1 or args.steps < 1:
        p.error("--nproc, --threads, --epochs and --steps must be positive")
    if args.quick:
        args.epochs, args.steps, args.batch_size = min(args.epochs, 2), 2, 8 * args.nproc
        args.hidden, args.embed, args.length = 16, 8, 8
    if args.batch_size % args.nproc:
        p.error(f"--batch-size {args.batch_size} is not a multiple of --nproc {args.nproc}")

    config = Config(cells=(args.cell,), embed=args.embed, hidden=args.hidden, length=args.length,
                    batch_size=args.batch_size, steps=args.steps, epochs=args.epochs, lr=args.lr,
                    dtype=args.dtype, seed=args.seed, threads=args.threads, timeout=args.timeout)
    name = {"lstm": "LSTM", "gru": "GRU"}[args.cell]
    print(f"ddp: Embedding({config.vocab}, {config.embed}) -> fastrnn.torch.{name}({config.embed}, "
          f"{config.hidden}) -> Linear({config.hidden}, {config.classes}); sequences of {config.length} tokens; "
          f"global batch {config.batch_size}, {config.steps} steps x {config.epochs} epochs; Adam lr {config.lr}, "
          f"{config.dtype}; gloo on 127.0.0.1, {config.threads} thread(s) per process", flush=True)
    if args.nproc * args.threads > (os.cpu_count() or 1):
        print(f"note: {args.nproc} x {args.threads} threads on {os.cpu_count()} CPU(s): the processes share cores",
              flush=True)

    with _terminate_as_exit():
        runs = _runs(config, args.nproc)
    rates = {n: samples_per_second(r, config) for n, r in runs.items()}
    out = {"samples_per_s": rates, "losses": {n: r["losses"] for n, r in runs.items()},
           "epoch_times": {n: r["epoch_times"] for n, r in runs.items()},
           "cpu_share": {n: r["cpu_share"] for n, r in runs.items()}}
    if args.nproc > 1:
        import numpy as np
        a, b = runs[1]["params"], runs[args.nproc]["params"]
        diff = max(float(np.max(np.abs(a[k] - b[k]))) for k in a)
        out["speedup"] = rates[args.nproc] / rates[1]
        out["max_param_diff"] = diff
        print(f"speed-up with {args.nproc} processes: {out['speedup']:.2f}x (ideal {args.nproc:.2f}x)")
        print(f"max |parameter difference|, {args.nproc} processes vs 1: {diff:.2e}")
    return out


@contextlib.contextmanager
def _terminate_as_exit():
    """SIGTERM raises SystemExit (so the launches end their processes) while in the block;
    only from the main thread, where signal handlers can be set."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum, _frame):
        raise SystemExit(128 + signum)

    old = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, old)


def _runs(config, nproc):
    """Launch 1 process, then ``nproc``, printing each run's line -> {n: result}."""
    runs = {}
    for n in dict.fromkeys((1, nproc)):
        start = time.perf_counter()
        try:
            runs[n] = launch(config, n)
        except LaunchError as e:
            raise SystemExit(f"ddp: the run with {n} process(es) failed: {e}") from None
        rate = samples_per_second(runs[n], config)
        label = f"{n} process{'es' if n > 1 else ''}:"
        print(f"{label:<13} {rate:8.0f} samples/s ({config.batch_size // n} per process per step; "
              f"s/epoch {', '.join(f'{t:.3f}' for t in runs[n]['epoch_times'])}; CPU use "
              f"{runs[n]['cpu_share']:.0%} of wall time; final loss {runs[n]['losses'][-1]:.4f}; "
              f"{time.perf_counter() - start:.1f} s with start-up)", flush=True)
        if runs[n]["cpu_share"] < 0.8 * config.threads:
            print(f"note: the process(es) ran only {runs[n]['cpu_share']:.0%} of the time: other work shares "
                  "the cores (or they waited for each other), so samples/s is understated", flush=True)
    return runs


if __name__ == "__main__":
    main()
