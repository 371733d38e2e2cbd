"""What every model shares: seeded initialisation and ``save_params`` / ``load_params`` in ``.npz``.

A model keeps ``params`` / ``grads``: lists of the layers' arrays in the book's order (the
optimizer and the trainer work on them in place). The file format is a NumPy ``.npz``
(never pickle): ``param_000``, ``param_001``, ... in ``params`` order, plus ``model`` (the
model's name) and ``config`` (its constructor arguments as JSON), both plain strings.
"""
import json
import zipfile
import numbers
import os

import numpy as np

__all__ = ["BaseModel", "Init", "check_sizes"]

_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


class Init:
    """Weight initialisation from one NumPy Generator (``seed``: None, an int or a Generator)."""

    def __init__(self, seed=None, dtype=np.float32):
        dtype = np.dtype(dtype)
        if dtype not in _DTYPES:
            raise ValueError(f"dtype: expected float32 or float64, got {dtype}")
        self.rng, self.dtype = np.random.default_rng(seed), dtype

    def randn(self, *shape, div=1.0):
        """``standard_normal(shape) / div`` in the model's dtype (the book's ``(rn(*shape) / div).astype('f')``)."""
        return (self.rng.standard_normal(shape) / div).astype(self.dtype)

    def zeros(self, *shape):
        return np.zeros(shape, self.dtype)


def check_sizes(**sizes):
    """Every size must be an int >= 1 (TypeError / ValueError naming it); returns them as ints."""
    out = []
    for name, value in sizes.items():
        if isinstance(value, bool) or not isinstance(value, numbers.Integral):
            raise TypeError(f"{name}: expected an int, got {type(value).__name__}")
        if value < 1:
            raise ValueError(f"{name}: expected an int >= 1, got {value}")
        out.append(int(value))
    return out


def _npz_path(path):
    path = os.fspath(path)
    return path if path.endswith(".npz") else path + ".npz"


class BaseModel:
    """``params`` / ``grads`` lists and their ``.npz`` persistence (subclasses set ``_config``)."""

    params = None
    grads = None
    _config = None
    _save_name = None        # models saving the same parameters share it (RnnlmGen loads Rnnlm files)

    @classmethod
    def _name(cls):
        return cls._save_name or cls.__name__

    def _collect(self, layers):
        self.params, self.grads = [], []
        for layer in layers:
            self.params += layer.params
            self.grads += layer.grads

    def save_params(self, path=None):
        """Write ``params`` to ``path`` (default ``'<ModelName>.npz'``; ``.npz`` is appended if missing)."""
        path = _npz_path(path if path is not None else self._name())
        arrays = {f"param_{i:03d}": np.asarray(p) for i, p in enumerate(self.params)}
        arrays["model"] = np.array(self._name())
        arrays["config"] = np.array(json.dumps(self._config or {}))
        with open(path, "wb") as f:
            np.savez(f, **arrays)
        return path

    def load_params(self, path=None):
        """Copy the arrays of a file written by ``save_params`` into ``params`` (in place).

        The whole file is read and checked first: a file of another model, another number of
        parameters, or another shape raises ``ValueError`` and the model is left unchanged.
        """
        given = path if path is not None else self._name()
        path = os.fspath(given)
        if not os.path.exists(path) and os.path.exists(_npz_path(path)):
            path = _npz_path(path)
        try:
            with np.load(path, allow_pickle=False) as data:
                files = {k: data[k] for k in data.files}
        except FileNotFoundError:
            raise
        except (ValueError, OSError, EOFError, zipfile.BadZipFile, KeyError) as exc:
            raise ValueError(f"path: {path!r} is not a fastrnn .npz parameter file "
                             f"({type(exc).__name__}: {exc})") from exc
        name = str(files["model"]) if "model" in files else None
        if name != self._name():
            raise ValueError(f"path: expected a file of {self._name()} parameters, "
                             f"got one of {name if name else 'unknown origin'} ({path!r})")
        keys = sorted(k for k in files if k.startswith("param_"))
        if keys != [f"param_{i:03d}" for i in range(len(self.params))]:
            raise ValueError(f"path: expected {len(self.params)} parameters, got {len(keys)} in {path!r}")
        loaded = [files[k] for k in keys]
        for i, (p, a) in enumerate(zip(self.params, loaded)):
            if a.shape != p.shape:
                raise ValueError(f"path: parameter {i} expected shape {p.shape}, got {a.shape} in {path!r}")
            if a.dtype.kind != "f":
                raise ValueError(f"path: parameter {i} expected a float array, got dtype {a.dtype} in {path!r}")
        for p, a in zip(self.params, loaded):
            p[...] = a
