"""Problem sizes ``(T, N, I, H)``, the cells, and the FLOP model of the benchmarks."""
from .. import _cells

SIZES = {
    "tiny": (20, 1, 32, 32),
    "small": (100, 8, 64, 64),
    "medium": (50, 32, 256, 256),
    "long": (200, 16, 128, 128),
    "large": (35, 20, 650, 650),
}

#: the registered cells (the registry's entries when the engine is imported)
CELLS = tuple(_cells.CELLS)
#: the cells benchmarked when none are named: the registered ones but the variants
DEFAULT_CELLS = tuple(name for name, cell in _cells.CELLS.items() if not cell.variant_of)
MODES = ("train", "forward")


def proj_size(cell, hidden_size):
    """The projection size of a benchmark problem: H/4 for a cell that projects h, else 0."""
    return max(1, hidden_size // 4) if _cells.get(cell).projects else 0


def forward_flops(cell, size):
    """Multiply-add FLOPs of one forward pass: ``2·T·N·(I+H)·G·H``, G the cell's gate count."""
    T, N, I, H = SIZES[size] if isinstance(size, str) else size
    return 2 * T * N * (I + H) * _cells.get(cell).gates * H


def step_flops(cell, size, mode):
    """FLOPs of one measured call: the forward, or ≈ 3 × forward for a training step."""
    f = forward_flops(cell, size)
    return 3 * f if mode == "train" else f
