"""fastrnn.show_config and the BLAS it reports: the library the kernels call is the one
numpy loaded, found by what it exports; a machine without one gets an ImportError that says
what was searched."""
import ctypes
import ctypes.util
import os

import numpy as np
import pytest
from numba import njit

import fastrnn
from fastrnn._kernels import blas, panels


def test_dicts_name_the_blas_the_kernels_call():
    config = fastrnn.show_config(mode="dicts")
    assert set(config) == {"blas", "kernels", "cpu", "threads", "versions", "cache"}
    info = config["blas"]
    assert info["path"] == blas.BLAS_LIBRARY and os.path.exists(info["path"])
    assert info["integer_width"] == {64: "ILP64", 32: "LP64"}[blas.BLAS_INT_BITS]
    lib = ctypes.CDLL(info["path"])
    for name in ("sgemm", "dgemm", "sgemv", "dgemv"):
        lib[info["symbol"].replace("sgemm", name)]          # every product fastrnn binds is exported there
    assert config["versions"]["numpy"] == np.__version__


@njit(cache=True)
def _matmul_into(a, b, out):
    """out (m, n) = a (m, k) @ b (k, n) through the bound GEMM, all C-contiguous 2-D."""
    blas.gemm(False, False, a.shape[0], b.shape[1], a.shape[1], 1.0, a, a.shape[1], b, b.shape[1],
              0.0, out, out.shape[1])


def test_the_bound_gemm_is_numpys_product():
    rng = np.random.default_rng(0)
    for dtype in (np.float32, np.float64):
        a, b = rng.standard_normal((5, 7)).astype(dtype), rng.standard_normal((7, 3)).astype(dtype)
        out = np.empty((5, 3), dtype)
        _matmul_into(a, b, out)
        np.testing.assert_allclose(out, a @ b, rtol=1e-5)


def test_threadpoolctl_sees_the_same_library_where_it_sees_one():
    from threadpoolctl import threadpool_info
    pools = [p for p in threadpool_info() if p.get("user_api") == "blas"]
    if not pools:
        pytest.skip("threadpoolctl sees no BLAS pool here (e.g. reference BLAS)")
    info = fastrnn.show_config(mode="dicts")["blas"]
    paths = [os.path.realpath(p["filepath"]) for p in pools]
    assert os.path.realpath(info["path"]) in paths
    pool = pools[paths.index(os.path.realpath(info["path"]))]
    assert info["library"] == pool["internal_api"] and info["version"] == pool["version"]


def test_kernel_tier_follows_the_cpu():
    kernels = fastrnn.show_config(mode="dicts")["kernels"]
    cpu = fastrnn.show_config(mode="dicts")["cpu"]
    if panels._ARM:
        assert kernels["tier"] == "none" and "ARM" in kernels["note"]
    elif "AVX-512F" in cpu["vector"] and "FMA" in cpu["vector"] and "AVX2" in cpu["vector"]:
        assert kernels["tier"] == "AVX-512" and kernels["panel_width_float32"] == 32
    elif "AVX2" in cpu["vector"] and "FMA" in cpu["vector"]:
        assert kernels["tier"] == "AVX2" and kernels["panel_width_float32"] == 16
    else:
        assert kernels["tier"] == "none" and not kernels["panels"]
    assert kernels["panels"] == bool(panels.PANELS)
    known = {"AVX512-VNNI", "AVX-VNNI", "AVX512-BF16", "AMX-TILE", "AMX-INT8", "AMX-BF16"}
    assert set(cpu["reduced_precision"]) <= known


def test_thread_limits_of_the_environment_are_reported(monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    monkeypatch.delenv("MKL_NUM_THREADS", raising=False)
    threads = fastrnn.show_config(mode="dicts")["threads"]
    assert threads["environment"]["OMP_NUM_THREADS"] == "3" and "MKL_NUM_THREADS" not in threads["environment"]
    assert threads["budget"] == fastrnn.get_num_threads()


def test_stdout_prints_every_section(capsys):
    assert fastrnn.show_config() is None
    text = capsys.readouterr().out
    for section in ("blas:", "kernels:", "cpu:", "threads:", "versions:", "cache:"):
        assert section in text
    assert blas.BLAS_LIBRARY in text
    with pytest.raises(ValueError, match="mode: expected 'stdout' or 'dicts', got 'json'"):
        fastrnn.show_config(mode="json")


def test_no_cblas_anywhere_is_an_import_error_saying_what_was_searched(monkeypatch, tmp_path):
    not_a_library = tmp_path / "libblas_fake.so"
    not_a_library.write_bytes(b"not an ELF file")
    monkeypatch.setattr(blas, "_loaded_blas_libraries", lambda: [str(not_a_library)])
    monkeypatch.setattr(blas, "_bundled_blas_libraries", lambda: [])
    with pytest.raises(ImportError, match=r"found no CBLAS library; searched: .*libblas_fake.so \(cannot be loaded\)"
                                          r".*pip install scipy"):
        blas._find()


def test_a_library_without_cblas_is_passed_over(monkeypatch):
    libc = ctypes.util.find_library("c")
    if libc is None:
        pytest.skip("no C library to stand for a library without CBLAS")
    monkeypatch.setattr(blas, "_loaded_blas_libraries", lambda: [libc])
    monkeypatch.setattr(blas, "_bundled_blas_libraries", lambda: [blas.BLAS_LIBRARY])
    path, symbol, width, _, where, addresses = blas._find()
    assert (path, symbol, width, where) == (blas.BLAS_LIBRARY, blas.BLAS_SYMBOL, blas.BLAS_INT_BITS, "bundled")
    assert all(addresses)
