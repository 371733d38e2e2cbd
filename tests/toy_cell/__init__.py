"""A test-only cell, the minimal gated unit, added the way docs/design.md says a cell is added.

Its oracle (``oracle.py``), kernel (``kernel.py``) and registry entry (``entry.py``) live
here; ``tests/conftest.py`` registers the entry, and every test parametrized over the
registry then runs it too, with no other edit. It checks that the faces and the tests
really take everything they need from the registry.
"""
from .entry import MGU

__all__ = ["MGU"]
