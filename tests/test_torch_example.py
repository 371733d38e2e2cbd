"""The torch-gru example: torch.nn.GRU and fastrnn.torch.GRU trained from the same weights agree."""
import pytest

pytest.importorskip("torch")

from fastrnn.examples import torch_gru       # noqa: E402


def test_make_data_labels_are_the_first_token_mod_classes():
    tokens, labels = torch_gru.make_data(50, 7, vocab_size=9, num_classes=3, seed=1)
    assert tokens.shape == (50, 7) and labels.shape == (50,)
    assert (labels == tokens[:, 0] % 3).all() and tokens.min() >= 0 and tokens.max() < 9
    again, _ = torch_gru.make_data(50, 7, vocab_size=9, num_classes=3, seed=1)
    assert (again == tokens).all()


def test_quick_run_gives_coinciding_loss_curves(capsys):
    result = torch_gru.main(["--quick", "--no-progress", "--seed", "3"])
    curves = list(result["losses"].values())
    assert len(curves) == 2 and len(curves[0]) == len(curves[1]) == 2
    assert curves[0] == pytest.approx(curves[1], rel=1e-5)
    assert result["max_loss_diff"] == max(abs(a - b) for a, b in zip(*curves))
    assert all(len(t) == 2 and min(t) > 0 for t in result["epoch_times"].values())
    out = capsys.readouterr().out
    assert "s/epoch" in out and "max |loss difference|" in out


def test_float64_curves_agree_to_rounding():
    result = torch_gru.main(["--quick", "--no-progress", "--dtype", "float64", "--epochs", "1"])
    a, b = result["losses"].values()
    assert a == pytest.approx(b, rel=1e-12)
