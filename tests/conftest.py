"""Shared test configuration: hypothesis profiles (``HYPOTHESIS_PROFILE=ci`` in CI), the
repository root on ``sys.path`` so tests can import the references in ``bench/reference/``,
and the test-only cell of ``tests/toy_cell`` in the cell registry."""
import os
import sys

# Keras 3 (an optional test dependency) runs on the torch backend here; its default,
# TensorFlow, is not a dependency of anything in this project.
os.environ.setdefault("KERAS_BACKEND", "torch")

import pytest
from hypothesis import HealthCheck, settings

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

# The test-only cell (tests/toy_cell): registered before collection, so every test
# parametrized over the registry runs it too.
from fastrnn import _cells  # noqa: E402
from toy_cell import MGU  # noqa: E402

_cells.register(MGU)

settings.register_profile(
    "ci", max_examples=25, deadline=None, derandomize=True, print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.register_profile(
    "dev", max_examples=60, deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.register_profile(
    "thorough", max_examples=400, deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))


@pytest.fixture
def split_halves(monkeypatch):
    """A thread budget of 2 with batch_split's size threshold at 0, so that any batch of at
    least 2·MIN_PART_ROWS sequences runs as two halves; yields the list that gets one entry per
    split call (batch_split._run_parts), and restores the budget afterwards."""
    from fastrnn._cells import batch_split
    from helpers import thread_budget
    monkeypatch.setattr(batch_split, "MIN_MACS", 0)
    halves = []
    run_parts = batch_split._run_parts
    monkeypatch.setattr(batch_split, "_run_parts", lambda *args: halves.append(1) or run_parts(*args))
    with thread_budget(2):
        yield halves
