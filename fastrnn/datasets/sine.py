"""A noisy sine wave cut into windows, for sequence regression (forecasting)."""
import numpy as np

__all__ = ["sine_wave"]


def sine_wave(n_samples=1000, time_size=25, period=50.0, noise=0.05, many_to_many=False,
              test_ratio=0.1, seed=0, dtype=np.float32):
    """Windows of ``s[k] = sin(2 pi k / period) + noise * N(0, 1)``, split in time order.

    Returns ``(x_train, t_train), (x_test, t_test)``: ``x (n, time_size, 1)`` holds
    ``s[i : i + time_size]``; the target is the next value ``s[i + time_size]`` as ``(n, 1)``,
    or with ``many_to_many=True`` the window shifted by one, ``s[i + 1 : i + time_size + 1]``
    as ``(n, time_size, 1)``. The last ``round(test_ratio * n_samples)`` windows are the test
    split; test windows start after the last training target, so the two never overlap.
    The noise comes from ``np.random.default_rng(seed)``.
    """
    n_samples, time_size = int(n_samples), int(time_size)
    if n_samples < 2:
        raise ValueError(f"n_samples: expected an integer >= 2, got {n_samples}")
    if time_size < 1:
        raise ValueError(f"time_size: expected an integer >= 1, got {time_size}")
    if not 0.0 < test_ratio < 1.0:
        raise ValueError(f"test_ratio: expected a number in (0, 1), got {test_ratio!r}")
    n_test = max(1, int(round(test_ratio * n_samples)))
    n_train = n_samples - n_test
    if n_train < 1:
        raise ValueError(f"test_ratio: leaves no training window out of n_samples={n_samples}")
    rng = np.random.default_rng(seed)
    length = n_samples + 2 * time_size + 1
    k = np.arange(length)
    series = np.sin(2.0 * np.pi * k / period) + noise * rng.standard_normal(length)

    def windows(starts):
        idx = starts[:, None] + np.arange(time_size)[None, :]
        x = series[idx][..., None]
        t = series[idx + 1][..., None] if many_to_many else series[starts + time_size][:, None]
        return x.astype(dtype), t.astype(dtype)

    train_starts = np.arange(n_train)
    test_starts = np.arange(n_test) + n_train + time_size
    return windows(train_starts), windows(test_starts)
