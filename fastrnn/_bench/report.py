"""Turn a benchmark record (see :func:`fastrnn._bench.run.run`) into a table, a JSON file, a chart."""
import json
import os

LABELS = {"fastrnn": "fastrnn", "oracle": "oracle", "numpy": "NumPy", "torch": "torch"}
#: what each implementation is, for the legend
WHAT = {"fastrnn": "fastrnn.nn", "oracle": "fastrnn.oracle, a pure NumPy loop over steps",
        "numpy": "the book-structured baseline, bench/reference/baseline.py", "torch": "torch.nn"}


def _fmt(v, spec):
    return "-" if v is None else format(v, spec)


def table(record, markdown=False):
    """The results as text: one row per (cell, size, dtype, step)."""
    names = record["implementations"]
    others = [n for n in names if n != "fastrnn"]
    default = any("default_threads_ms" in e for e in record["results"])
    head = (["cell", "size", "dtype", "step"] + [f"{LABELS[n]} ms" for n in names]
            + [f"×{LABELS[n]}" for n in others] + ["GFLOP/s", "% GEMM"]
            + (["default threads ms"] if default else []))
    rows = []
    for e in record["results"]:
        rows.append([e["cell"], e["size"], e["dtype"], e["mode"]]
                    + [_fmt(e["ms"].get(n), ".3f") for n in names]
                    + [_fmt(e["speedup"].get(n), ".2f") for n in others]
                    + [_fmt(e["gflops"].get("fastrnn"), ".2f"), _fmt(e.get("pct_gemm"), ".1f")]
                    + ([_fmt(e.get("default_threads_ms"), ".3f")] if default else []))
    if markdown:
        lines = ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
        lines += ["| " + " | ".join(r) + " |" for r in rows]
    else:
        widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(head)]
        fmt = lambda r: "  ".join(c.ljust(w) if i < 4 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths)))
        lines = [fmt(head), fmt(["-" * w for w in widths])] + [fmt(r) for r in rows]
    return "\n".join(lines)


def legend(record):
    """Lines explaining the columns: implementations, sizes, the GEMM roof, threads, machine."""
    sizes = ", ".join(f"{k}=(T={T}, N={N}, I={I}, H={H})" for k, (T, N, I, H) in record["sizes"].items())
    roof = "; ".join(f"{'SGEMM' if d == 'float32' else 'DGEMM'} {g['n']}³ {g['gflops']:.1f} GFLOP/s"
                     for d, g in record["gemm"].items())
    m = record["machine"]
    ran = ", ".join(f"{LABELS[n]} ({WHAT[n]})" for n in record["implementations"])
    return "\n".join([
        f"implementations: {ran}",
        f"sizes: {sizes}",
        "ms: median per call; ×X: X's time / fastrnn's time (higher = fastrnn faster); train = forward + "
        "backward with every gradient; GFLOP/s: fastrnn, train ≈ 3 × forward = 3·2·T·N·(I+H)·G·H",
        f"% GEMM: fastrnn's GFLOP/s over numpy's best matmul rate in this run (start and end), "
        f"{record['threads']} thread(s): {roof}",
    ] + _default_line(record) + [
        f"machine: {m['cpu']}, {m['cores']} cores, numpy {m['numpy']}, numba {m['numba']}"
        + (f", torch {m['torch']}" if "torch" in m else "") + f"; {record['date']}",
    ] + ([_blas_line(m["blas"])] if "blas" in m else []))


def _default_line(record):
    blas = next((e["default_blas_threads"] for e in record["results"] if "default_threads_ms" in e), None)
    if blas is None:
        return []
    return [f"default threads ms: fastrnn's training step with no thread setting at all (OpenBLAS at its own "
            f"{blas} thread(s), fastrnn's default budget), what a user gets out of the box; the other columns "
            f"have every pool pinned to {record['threads']}"]


def _blas_line(blas):
    forced = blas.get("openblas_coretype")
    how = f"forced by OPENBLAS_CORETYPE={forced}" if forced else "chosen by OpenBLAS for this CPU"
    return (f"BLAS (fastrnn and NumPy): numpy's {blas.get('library')} {blas.get('version')}, "
            f"{blas.get('architecture')} kernels ({how})")


def write_json(record, path):
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w") as f:
        json.dump(record, f, indent=1)


def plot_available():
    try:
        import matplotlib  # noqa: F401
    except Exception:
        return False
    return True


def write_plot(record, path):
    """PNG bar chart of fastrnn's speedups (log scale), one panel per (step, dtype)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker

    others = [n for n in record["implementations"] if n != "fastrnn"]
    panels = list(dict.fromkeys((e["mode"], e["dtype"]) for e in record["results"]))
    width_groups = max(len([e for e in record["results"] if (e["mode"], e["dtype"]) == p]) for p in panels)
    fig, axes = plt.subplots(len(panels), 1, figsize=(max(6.0, 0.7 * width_groups), 3.2 * len(panels)),
                             squeeze=False)
    for ax, (mode, dtype) in zip(axes[:, 0], panels):
        es = [e for e in record["results"] if (e["mode"], e["dtype"]) == (mode, dtype)]
        width = 0.8 / max(1, len(others))
        for k, n in enumerate(others):
            xs = [i + (k - (len(others) - 1) / 2) * width for i in range(len(es))]
            ax.bar(xs, [e["speedup"].get(n, 0) for e in es], width, label=f"vs {LABELS[n]}")
        ax.axhline(1.0, color="k", lw=0.8)
        ax.set_yscale("log")
        plain = matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:g}")
        ax.yaxis.set_major_formatter(plain)
        ax.yaxis.set_minor_formatter(plain)
        ax.set_xticks(range(len(es)))
        ax.set_xticklabels([f"{e['cell']}\n{e['size']}" for e in es], fontsize=8)
        ax.set_ylabel("speedup of fastrnn (×)")
        ax.set_title(f"{mode} step, {dtype}, {record['threads']} thread(s)")
        ax.legend()
    fig.tight_layout()
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
