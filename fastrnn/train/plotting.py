"""Plot a training history (matplotlib is the optional extra ``fastrnn[plot]``)."""
__all__ = ["plot_history"]

_MISSING = 'plot() needs matplotlib, which is not installed: pip install "fastrnn[plot]"'


def plot_history(values, ylabel, eval_interval, ylim=None, path=None):
    """Line plot of ``values`` against iterations; saved to ``path`` (any matplotlib format) or shown.

    Returns the matplotlib Figure.
    """
    try:
        import matplotlib  # noqa: F401  (the optional extra)
    except ImportError as exc:
        raise ImportError(_MISSING) from exc
    if path is not None:
        from matplotlib.figure import Figure
        fig = Figure()
    else:
        import matplotlib.pyplot as plt
        fig = plt.figure()
    ax = fig.add_subplot()
    ax.plot(range(len(values)), values, label="train")
    if ylim is not None:
        ax.set_ylim(*ylim)
    ax.set_xlabel(f"iterations (x{eval_interval})")
    ax.set_ylabel(ylabel)
    if path is not None:
        fig.savefig(path)
    else:
        import matplotlib.pyplot as plt
        plt.show()
    return fig
