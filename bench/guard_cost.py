"""The cost of the params/grads checks (fastrnn/nn/_guard.py) per layer call, tiny LSTM.

    python bench/guard_cost.py

Times ``Guard.params`` (before each forward kernel) and ``Guard.grads`` (before each backward
kernel) on an unchanged module, the case of every training step after the first.
"""
import time

import fastrnn


def per_call(fn, n=100000):
    for _ in range(1000):
        fn()
    start = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - start) / n * 1e6


def main():
    m = fastrnn.LSTM(32, 32, seed=0)
    names, guard = m._names[0], m._guard
    p = per_call(lambda: guard.params(m.params, names))
    g = per_call(lambda: guard.grads(m.grads, m.params, names))
    print(f"params check {p:.2f} µs per forward layer call, grads check {g:.2f} µs per backward layer call")


if __name__ == "__main__":
    main()
