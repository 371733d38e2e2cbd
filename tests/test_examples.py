"""The example scripts run end to end in --quick mode (a smoke test) and the registry is complete."""
import importlib
import math

import pytest

from fastrnn.examples import EXAMPLES, run

MINE = ["date", "addition", "charlm", "sine", "classify"]


def test_registry():
    assert set(EXAMPLES) == {"date", "addition", "charlm", "sine", "classify", "torch-gru", "ddp"}
    assert EXAMPLES["torch-gru"] == "fastrnn.examples.torch_gru"
    for name in MINE:
        module = importlib.import_module(EXAMPLES[name])
        assert callable(module.main) and module.__doc__
    with pytest.raises(ValueError, match="name"):
        run("nope")


@pytest.mark.parametrize("name", MINE)
def test_quick_run(name, capsys):
    result = run(name, ["--quick", "--no-progress", "--seed", "1"])
    out = capsys.readouterr().out
    assert isinstance(result, float) and math.isfinite(result)
    last = out.strip().splitlines()[-1]
    assert last.startswith(("test accuracy:", "test perplexity:", "test MSE:"))
    assert float(last.split(":")[1]) == pytest.approx(result, abs=0.01)


def test_help_lists_common_options(capsys):
    with pytest.raises(SystemExit):
        run("sine", ["--help"])
    out = capsys.readouterr().out
    for option in ("--epochs", "--seed", "--quick", "--threads"):
        assert option in out


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_help_names_the_command_defaults_and_duration(name, capsys):
    with pytest.raises(SystemExit):
        run(name, ["--help"])
    out = capsys.readouterr().out
    assert out.startswith(f"usage: python -m fastrnn train {name} ")
    assert "A default run takes " in out
    assert "--epochs EPOCHS       training epochs (default: " in out
    assert "(default: 0)" in out                                   # --seed
