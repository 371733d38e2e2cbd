"""Example training scripts, each a module with ``main(argv=None)`` (argparse; ``--help`` lists options).

Run one with ``python -m fastrnn train <name> [--quick] [--epochs N] [--seed S] ...`` or
``python -m fastrnn.examples.<module>``. ``EXAMPLES`` maps the names to module paths.
"""
import importlib

EXAMPLES = {
    "date": "fastrnn.examples.date",
    "addition": "fastrnn.examples.addition",
    "charlm": "fastrnn.examples.charlm",
    "sine": "fastrnn.examples.sine",
    "classify": "fastrnn.examples.classify",
    "torch-gru": "fastrnn.examples.torch_gru",
    "ddp": "fastrnn.examples.ddp",
}

__all__ = ["EXAMPLES", "run"]


def run(name, argv=None):
    """Run example ``name`` with command-line arguments ``argv``; returns what its ``main`` returns."""
    if name not in EXAMPLES:
        raise ValueError(f"name: expected one of {sorted(EXAMPLES)}, got {name!r}")
    return importlib.import_module(EXAMPLES[name]).main(argv)
