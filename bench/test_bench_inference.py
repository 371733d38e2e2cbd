"""Inference: one forward of fastrnn.nn under fastrnn.no_grad() against ONNX Runtime's operators
(on the graph fastrnn.onnx.export writes) and torch.nn under inference_mode, and one streaming
step of a 2-layer LSTM (the module's call and its stream); each race checks the contenders agree before timing
(``python bench/inference.py`` prints the ratios)."""
import pytest

from fastrnn._bench.inference import CONTENDERS, STREAM, available, check, sequence_race, streaming_race
from fastrnn._bench.sizes import SIZES


@pytest.mark.parametrize("contender", CONTENDERS)
@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
def test_forward_only(benchmark, cell, size, contender):
    if contender not in available([contender]):
        pytest.skip(f"{contender} is not installed")
    calls = sequence_race(cell, SIZES[size], CONTENDERS)
    check(calls)
    benchmark.group = f"{cell} {size} {SIZES[size]} forward only"
    benchmark(calls[contender])


@pytest.mark.parametrize("contender", CONTENDERS + (STREAM,))
def test_streaming_step(benchmark, contender):
    if contender != STREAM and contender not in available([contender]):
        pytest.skip(f"{contender} is not installed")
    calls = streaming_race("lstm", 2, 128, CONTENDERS)
    check(calls, steps=3)
    benchmark.group = "streaming: one step of a 2-layer LSTM, N=1, I=H=128"
    benchmark(calls[contender])
