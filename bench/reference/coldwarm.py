"""First-training-step cost with an empty vs a warm Numba cache, each in a new process.

Each measurement starts ``python`` afresh with ``NUMBA_CACHE_DIR`` pointing at a
private directory: the first run finds it empty (Numba compiles every kernel the
step needs and writes the cache), the second finds it filled (Numba loads the
machine code). Reported per run: seconds to import fastrnn, the first training step
(forward + backward, compile or cache load included), a second step (steady state),
and the whole process.
"""
import json
import os
import subprocess
import sys
import tempfile
import time

CHILD = r"""
import json, sys, time
t0 = time.perf_counter()
import numpy as np
import fastrnn
from fastrnn._bench.impls import make_impls
from fastrnn._bench.threads import pin_threads
cell, size, dtype, threads = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
with pin_threads(threads, torch=False):
    a = make_impls(cell, size, np.dtype(dtype).type, ["fastrnn"])["fastrnn"]
    t1 = time.perf_counter()
    a.train_step()
    t2 = time.perf_counter()
    a.train_step()
    t3 = time.perf_counter()
print(json.dumps({"import_s": t1 - t0, "first_step_s": t2 - t1, "second_step_s": t3 - t2,
                  "package": fastrnn.__file__}))
"""


def measure_once(cell, size, dtype, cache_dir, threads=1, package_root=None):
    """One new process; returns its timings (dict) plus ``process_s``.

    ``cache_dir``: the ``NUMBA_CACHE_DIR`` of the child, or None to inherit the environment.
    ``package_root``: a folder holding another ``fastrnn`` package to import instead of this
    one (an exported revision, :func:`export_revision`), or None.
    """
    env = dict(os.environ)
    if cache_dir is not None:
        env["NUMBA_CACHE_DIR"] = cache_dir
    if package_root is not None:
        env["PYTHONPATH"] = os.pathsep.join([package_root] + [p for p in [env.get("PYTHONPATH")] if p])
    t0 = time.perf_counter()
    # ``python -c`` puts the working directory first on sys.path: run the other revision from its folder
    proc = subprocess.run([sys.executable, "-c", CHILD, cell, size, dtype, str(threads)],
                          env=env, capture_output=True, text=True, check=True, cwd=package_root)
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    result["process_s"] = time.perf_counter() - t0
    return result


def cold_warm(cell, size="small", dtype="float32", threads=1, warm_runs=1, package_root=None, label=""):
    """Cold run then ``warm_runs`` warm runs in fresh processes sharing one new cache dir
    (``package_root``: another revision's package, see :func:`measure_once`)."""
    with tempfile.TemporaryDirectory(prefix="fastrnn-numba-cache-") as d:
        cold = measure_once(cell, size, dtype, d, threads, package_root)
        warm = [measure_once(cell, size, dtype, d, threads, package_root) for _ in range(warm_runs)]
    return {"cell": cell, "size": size, "dtype": dtype, "cold": cold, "warm": warm, "revision": label}


def export_revision(root, rev, folder):
    """Write git revision ``rev``'s ``fastrnn`` package (of the checkout at ``root``) into
    ``folder``/fastrnn -> ``folder``, to pass as ``package_root``."""
    import subprocess as sp
    import tarfile
    archive = os.path.join(folder, "revision.tar")
    sp.run(["git", "-C", root, "archive", "--format=tar", "-o", archive, rev, "fastrnn"], check=True)
    with tarfile.open(archive) as tar:
        tar.extractall(folder, filter="data")
    return folder


def format_rows(rows):
    head = f"{'revision':<9} {'cell':<5} {'size':<7} {'dtype':<8} {'cache':<5} {'import s':>9} {'1st step s':>11} " \
           f"{'2nd step ms':>12} {'process s':>10}"
    lines = [head, "-" * len(head)]
    for r in rows:
        for label, m in [("cold", r["cold"])] + [("warm", w) for w in r["warm"]]:
            lines.append(f"{r.get('revision') or 'this':<9} {r['cell']:<5} {r['size']:<7} {r['dtype']:<8} {label:<5} "
                         f"{m['import_s']:>9.2f} {m['first_step_s']:>11.2f} {1e3 * m['second_step_s']:>12.2f} "
                         f"{m['process_s']:>10.2f}")
    return "\n".join(lines)
