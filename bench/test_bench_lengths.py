"""Variable-length batches: fastrnn.nn with lengths vs the padded batch vs torch.nn on a
PackedSequence, and fastrnn.torch vs torch.nn on a PackedSequence (each checked to agree first)."""
import numpy as np
import pytest

from fastrnn._bench.varlen import available, make_steps

SHAPES = [(100, 32, 128, 256), (24, 8, 32, 32)]      # (T, N, I, H)


@pytest.mark.parametrize("impl", ["padded", "lengths", "torch"])
@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
def test_variable_length(benchmark, cell, shape, impl):
    if impl not in available([impl], cell):
        pytest.skip(f"{impl} is not available here")
    steps, _ = make_steps(cell, shape, np.float32, [impl])
    step = steps[impl]
    step.train_step()
    benchmark.group = f"{cell} {shape} variable length"
    benchmark(step.train_step)


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
def test_variable_length_steps_agree(cell):
    """The padded, lengths and torch steps of the race: lengths = T everywhere gives the padded
    result, and with lengths fastrnn and torch.nn compute the same output."""
    steps, lengths = make_steps(cell, (7, 5, 4, 6), np.float64)
    outs = {n: s.train_step() for n, s in steps.items()}
    if "torch" in outs:
        np.testing.assert_allclose(outs["lengths"], outs["torch"], rtol=1e-9, atol=1e-11)
    T = 7
    mask = np.arange(T)[:, None] < lengths[None, :]
    np.testing.assert_array_equal(outs["lengths"][~mask], 0)


@pytest.mark.parametrize("impl", ["torch", "fastrnn"])
@pytest.mark.parametrize("cell", ["lstm", "gru"])
@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_packed_sequence_race(benchmark, cell, shape, impl):
    pytest.importorskip("torch")
    from bench.reference.packed import check_packed_agreement, packed_pair
    steps = packed_pair(cell, shape)
    check_packed_agreement(steps)
    benchmark.group = f"{cell} {shape} PackedSequence training step"
    benchmark(steps[impl].train_step)
