"""fastrnn.torch under DistributedDataParallel (gloo, CPU, 2 spawned processes on 127.0.0.1).

Three SGD steps of a float64 model (Embedding -> 2-layer bidirectional fastrnn.torch.LSTM ->
2-layer bidirectional fastrnn.torch.GRU -> Linear), each process on its half of every global
batch, end on the parameters of the same three steps in one process on the full batches.
Every launch is bounded in time (``Config.timeout``) and ends its processes, also when one
fails. The spawned processes load the kernels from Numba's disk cache (the first run on a
machine compiles them: ~30 s more).
"""
import dataclasses
import multiprocessing
import os
import re

import numpy as np
import pytest

torch = pytest.importorskip("torch")
import torch.distributed as dist

if not dist.is_available() or not dist.is_gloo_available():
    pytest.skip("torch.distributed with the gloo backend is not available", allow_module_level=True)

from fastrnn.examples import ddp, run

SMALL = {"cells": ("lstm", "gru"), "vocab": 11, "embed": 5, "hidden": 6, "classes": 3, "num_layers": 2,
         "bidirectional": True, "length": 7, "batch_size": 8, "steps": 3, "epochs": 1, "optimizer": "sgd",
         "lr": 0.5, "dtype": "float64", "timeout": 120.0}


def _ours():
    """Live child processes started by ddp.launch (active_children also reaps the finished)."""
    return [p for p in multiprocessing.active_children() if p.name.startswith("fastrnn-ddp-")]


def test_two_processes_end_on_the_single_process_parameters():
    config = ddp.Config(**SMALL)
    single = ddp.train(config)                    # this process, full batches, no DDP
    multi = ddp.launch(config, 2)
    assert not _ours()
    assert sorted(multi["params"]) == sorted(single["params"])
    torch.manual_seed(config.seed)
    start = {k: v.numpy() for k, v in ddp.build(config).state_dict().items()}
    moved = max(float(np.max(np.abs(single["params"][k] - start[k]))) for k in start)
    assert moved > 1e-3                           # the three steps changed the parameters
    for name, value in single["params"].items():
        assert value.dtype == np.float64
        np.testing.assert_allclose(multi["params"][name], value, rtol=0, atol=1e-10, err_msg=name)
    assert multi["losses"] == pytest.approx(single["losses"], rel=1e-12)
    assert len(multi["epoch_times"]) == 1 and multi["epoch_times"][0] > 0


def _bad_cell_on_rank_1(rank, world, port, config, results):
    """The worker, but rank 1 builds an unknown cell after joining the group (so rank 0
    waits for it in DDP's first broadcast)."""
    if rank == 1:
        config = dataclasses.replace(config, cells=("nope",))
    ddp._worker(rank, world, port, config, results)


def _crash_on_rank_1(rank, world, port, config, results):
    """Rank 1 dies without a report (as on a signal or a crash in native code)."""
    if rank == 1:
        os._exit(3)
    ddp._worker(rank, world, port, config, results)


def test_a_failing_process_is_reported_and_the_others_ended():
    config = ddp.Config(**SMALL)
    with pytest.raises(ddp.LaunchError, match=r"process 1 failed:(.|\n)*cells: expected names"):
        ddp.launch(config, 2, target=_bad_cell_on_rank_1)
    assert not _ours()
    with pytest.raises(ddp.LaunchError, match="process 1 exited with code 3 without a report"):
        ddp.launch(config, 2, target=_crash_on_rank_1)
    assert not _ours()


def test_a_run_over_time_is_ended():
    config = ddp.Config(**{**SMALL, "timeout": 0.5})       # less than the start-up of a process
    with pytest.raises(ddp.LaunchError, match="did not finish within 0.5 s"):
        ddp.launch(config, 2)
    assert not _ours()


def test_quick_example_reports_samples_per_second(capsys):
    result = run("ddp", ["--quick", "--nproc", "2", "--timeout", "120"])
    out = capsys.readouterr().out
    rates = re.findall(r"^(1 process|2 processes): +(\d+) samples/s", out, re.MULTILINE)
    assert [label for label, _ in rates] == ["1 process", "2 processes"]
    assert set(result["samples_per_s"]) == {1, 2} and min(result["samples_per_s"].values()) > 0
    assert f"speed-up with 2 processes: {result['speedup']:.2f}x" in out
    assert result["max_param_diff"] < 1e-4                  # float32 rounding
    assert result["losses"][1] == pytest.approx(result["losses"][2], rel=1e-4)
    assert not _ours()


def test_batch_must_split_evenly(capsys):
    with pytest.raises(SystemExit):
        run("ddp", ["--nproc", "3", "--batch-size", "16"])
    assert "not a multiple of --nproc" in capsys.readouterr().err
