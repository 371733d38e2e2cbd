"""Problem sizes ``(T, N, I, H)`` and the FLOP model of the benchmarks."""

SIZES = {
    "tiny": (20, 1, 32, 32),
    "small": (100, 8, 64, 64),
    "medium": (50, 32, 256, 256),
    "long": (200, 16, 128, 128),
    "large": (35, 20, 650, 650),
}

#: gates per cell: the recurrent weight is ``(GATES * H, H)``.
GATES = {"lstm": 4, "gru": 3, "rnn": 1}

CELLS = tuple(GATES)
MODES = ("train", "forward")


def forward_flops(cell, size):
    """Multiply-add FLOPs of one forward pass: ``2·T·N·(I+H)·G·H``."""
    T, N, I, H = SIZES[size] if isinstance(size, str) else size
    return 2 * T * N * (I + H) * GATES[cell] * H


def step_flops(cell, size, mode):
    """FLOPs of one measured call: the forward, or ≈ 3 × forward for a training step."""
    f = forward_flops(cell, size)
    return 3 * f if mode == "train" else f
