"""``python -m fastrnn``: help, the bench command (tiny runs; no timing asserted), train dispatch."""
import json
import os
import subprocess
import sys
import types

import pytest

from fastrnn import __main__ as cli
from fastrnn._bench import impls

FAST = ["bench", "--cells", "rnn", "--sizes", "tiny", "--repeats", "1", "--min-time", "0.001",
        "--gemm-n", "32", "--no-progress"]


def test_help_lists_commands(capsys):
    with pytest.raises(SystemExit) as e:
        cli.main(["--help"])
    assert e.value.code == 0
    out = capsys.readouterr().out
    assert "bench" in out and "train" in out


def test_no_command_prints_help(capsys):
    assert cli.main([]) == 0
    assert "usage: fastrnn" in capsys.readouterr().out


def test_module_runs_as_script():
    proc = subprocess.run([sys.executable, "-m", "fastrnn", "bench", "--help"],
                          capture_output=True, text=True, check=True)
    for option in ("--quick", "--threads", "--sizes", "--cells", "--dtype", "--json", "--plot"):
        assert option in proc.stdout


@pytest.mark.parametrize("args, name", [(["--cells", "lstx"], "--cells"), (["--sizes", "huge"], "--sizes"),
                                        (["--dtype", "float16"], "--dtype"), (["--threads", "0"], "--threads"),
                                        (["--impls", "tensorflow"], "--impls")])
def test_bad_bench_arguments_name_the_option(capsys, args, name):
    with pytest.raises(SystemExit) as e:
        cli.main(["bench"] + args)
    assert e.value.code == 2
    assert name in capsys.readouterr().err


@pytest.fixture(scope="module")
def bench_record(tmp_path_factory):
    d = tmp_path_factory.mktemp("bench")
    path = d / "r.json"
    assert cli.main(FAST + ["--json", str(path), "--plot", str(d / "r.png")]) == 0
    return json.loads(path.read_text()), d


def test_bench_writes_consistent_json(bench_record):
    record, _ = bench_record
    # run from the source tree (tests/conftest.py puts its root on sys.path): the book-style baseline is there
    torch = ["torch"] if impls.torch_available() else []
    assert record["implementations"] == ["fastrnn", "oracle", "numpy"] + torch
    assert [(e["cell"], e["size"], e["mode"]) for e in record["results"]] == [("rnn", "tiny", "train"),
                                                                              ("rnn", "tiny", "forward")]
    T, N, I, H = 20, 1, 32, 32                         # the 'tiny' size of the brief
    forward = 2 * T * N * (I + H) * 1 * H              # 2·T·N·(I+H)·G·H, G = 1 for RNN
    for e in record["results"]:
        assert e["flops"] == (3 * forward if e["mode"] == "train" else forward)
        assert set(e["ms"]) == set(record["implementations"])
        for name, ms in e["ms"].items():
            assert ms > 0
            assert e["gflops"][name] == pytest.approx(e["flops"] / ms / 1e6)
            if name != "fastrnn":
                assert e["speedup"][name] == pytest.approx(ms / e["ms"]["fastrnn"])
        roof = record["gemm"][e["dtype"]]["gflops"]
        assert e["pct_gemm"] == pytest.approx(100 * e["gflops"]["fastrnn"] / roof)
        # the out-of-the-box time: training steps only, with OpenBLAS's own thread count
        assert (e.get("default_threads_ms", 0) > 0) == (e["mode"] == "train")
        if e["mode"] == "train":
            assert e["default_blas_threads"] >= 1
    assert record["threads"] == 1 and record["thread_info"]["numba"] == 1
    # the variable-length section: padded vs lengths (vs torch.nn on a PackedSequence)
    (v,) = record["varlen"]
    assert (v["cell"], v["size"]) == ("rnn", "tiny")
    assert set(v["ms"]) == {"padded", "lengths"} | ({"torch"} if torch else set())
    assert v["lengths_over_padded"] == pytest.approx(v["ms"]["lengths"] / v["ms"]["padded"])
    from fastrnn._bench.varlen import lengths_for
    assert v["real_fraction"] == pytest.approx(lengths_for(T, N).sum() / (T * N))


def test_bench_writes_png(bench_record):
    pytest.importorskip("matplotlib")
    _, d = bench_record
    assert (d / "r.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_bench_prints_table(capsys):
    assert cli.main(FAST + ["--no-files", "--modes", "train"]) == 0
    out = capsys.readouterr().out
    header = next(line for line in out.splitlines() if line.startswith("cell"))
    assert "fastrnn ms" in header and "oracle ms" in header and "NumPy ms" in header
    assert "GFLOP/s" in header and "% GEMM" in header and "default threads ms" in header
    assert ("torch ms" in header) == impls.torch_available()
    assert any(line.startswith("default threads ms: ") for line in out.splitlines())
    assert any(line.startswith("rnn ") and " train " in line for line in out.splitlines())
    ran = next(line for line in out.splitlines() if line.startswith("implementations: "))
    assert "fastrnn (fastrnn.nn)" in ran and "oracle (fastrnn.oracle" in ran
    assert "bench/reference/baseline.py" in ran
    assert "not available" not in out
    varlen = next(line for line in out.splitlines() if line.startswith("cell") and "lengths/padded" in line)
    assert "padded ms" in varlen and "lengths ms" in varlen


def test_bench_without_varlen(capsys):
    assert cli.main(FAST + ["--no-files", "--modes", "train", "--no-varlen"]) == 0
    assert "lengths/padded" not in capsys.readouterr().out


def test_bench_without_torch_says_so_once(capsys, monkeypatch):
    monkeypatch.setattr(impls, "torch_available", lambda: False)
    assert cli.main(FAST + ["--no-files", "--modes", "forward"]) == 0
    out = capsys.readouterr().out
    assert sum("torch is not installed" in line for line in out.splitlines()) == 1
    header = next(line for line in out.splitlines() if line.startswith("cell"))
    assert "torch" not in header and "NumPy ms" in header


def test_bench_without_baseline_says_so_once(capsys, monkeypatch):
    monkeypatch.setattr(impls, "baseline_available", lambda: False)
    assert cli.main(FAST + ["--no-files", "--modes", "forward"]) == 0
    out = capsys.readouterr().out
    assert sum("NumPy baseline is not available" in line for line in out.splitlines()) == 1
    header = next(line for line in out.splitlines() if line.startswith("cell"))
    assert "NumPy" not in header and "fastrnn ms" in header and "oracle ms" in header


def test_bench_impls_option(tmp_path):
    path = tmp_path / "r.json"
    assert cli.main(FAST + ["--impls", "oracle,fastrnn", "--no-torch", "--modes", "forward",
                            "--json", str(path)]) == 0
    record = json.loads(path.read_text())
    assert record["implementations"] == ["oracle", "fastrnn"]
    assert set(record["results"][0]["ms"]) == {"oracle", "fastrnn"}


def test_bench_from_a_plain_install(tmp_path):
    """Outside the source tree bench/ is not importable: fastrnn and oracle (and torch) still run."""
    env = dict(os.environ)
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    paths = [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p and os.path.abspath(p) != root]
    env["PYTHONPATH"] = os.pathsep.join(paths)
    proc = subprocess.run([sys.executable, "-m", "fastrnn"] + FAST + ["--no-files"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, check=True)
    lines = proc.stdout.splitlines()
    assert sum("NumPy baseline is not available" in line for line in lines) == 1
    header = next(line for line in lines if line.startswith("cell"))
    assert "fastrnn ms" in header and "oracle ms" in header and "NumPy" not in header
    assert ("torch ms" in header) == impls.torch_available()


@pytest.fixture
def fake_example(monkeypatch):
    calls = []
    mod = types.ModuleType("fastrnn_fake_example")
    mod.__doc__ = "A fake example for the CLI tests."
    mod.main = lambda argv=None: calls.append(argv)
    monkeypatch.setitem(sys.modules, mod.__name__, mod)
    monkeypatch.setattr(cli, "_examples", lambda: {"fake": mod.__name__})
    return calls


def test_train_dispatches_with_arguments(fake_example):
    assert cli.main(["train", "fake", "--epochs", "2", "--help"]) == 0
    assert fake_example == [["--epochs", "2", "--help"]]


def test_train_list(fake_example, capsys):
    assert cli.main(["train", "--list"]) == 0
    out = capsys.readouterr().out
    assert "fake" in out and "A fake example" in out
    assert fake_example == []


def test_train_unknown_name(fake_example, capsys):
    with pytest.raises(SystemExit) as e:
        cli.main(["train", "nope"])
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert "'nope'" in err and "fake" in err


def test_real_examples_are_listed(capsys):
    examples = pytest.importorskip("fastrnn.examples")
    assert cli.main(["train", "--list"]) == 0
    out = capsys.readouterr().out
    for name in examples.EXAMPLES:
        assert name in out


def test_bench_without_matplotlib_writes_json_only(tmp_path, capsys, monkeypatch):
    from fastrnn._bench import report
    monkeypatch.setattr(report, "plot_available", lambda: False)
    path = tmp_path / "out.json"
    assert cli.main(FAST + ["--modes", "forward", "--json", str(path)]) == 0
    assert path.exists() and not (tmp_path / "out.png").exists()
    assert "matplotlib is not installed" in capsys.readouterr().out
