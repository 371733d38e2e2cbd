"""template.instantiate (fastrnn/_kernels/template.py) and the shared time loop (loop.py):
a part is bound by name, each instance is compiled and cached on its own, and the cells'
kernels made from the loop release the GIL."""
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from numba import njit

from fastrnn._kernels import loop, lstm, rnn
from fastrnn._kernels.template import Part, instantiate

part = Part("(v) -> a number")


@njit(cache=False)
def _apply_template(x):
    out = np.empty_like(x)
    for i in range(x.shape[0]):
        out[i] = part(x[i])
    return out


@njit(inline="always")
def _double(v):
    return 2.0 * v


@njit(inline="always")
def _square(v):
    return v * v


def test_each_instance_calls_the_part_bound_to_it():
    doubled = instantiate(_apply_template, "test_template_doubled", part=_double)
    squared = instantiate(_apply_template, "test_template_squared", part=_square)
    x = np.arange(4.0)
    np.testing.assert_array_equal(doubled(x), 2 * x)
    np.testing.assert_array_equal(squared(x), x * x)
    assert doubled.__name__ == "test_template_doubled"


def test_a_name_used_twice_or_a_part_the_template_defines_is_refused():
    instantiate(_apply_template, "test_template_once", part=_double)
    with pytest.raises(ValueError, match="an instance named 'test_template_once' exists"):
        instantiate(_apply_template, "test_template_once", part=_square)
    with pytest.raises(ValueError, match="np already defined"):
        instantiate(_apply_template, "test_template_other", part=_double, np=None)
    with pytest.raises(ValueError, match=r"needs the part\(s\) part; got none"):
        instantiate(_apply_template, "test_template_unbound")


MODULE = textwrap.dedent('''
    import numpy as np
    from numba import njit
    from fastrnn._kernels.template import Part, instantiate

    part = Part("(v) -> a number")

    @njit(cache=True)
    def template(x):
        total = 0.0
        for i in range(x.shape[0]):
            total += part(x[i])
        return total

    @njit(cache=True, inline="always")
    def cube(v):
        return v * v * v

    cubed = instantiate(template, "cubed_sum", part=cube)
    print(cubed(np.arange(4.0)), sum(cubed.stats.cache_hits.values()))
''')


def test_an_instance_loads_from_the_cache_in_a_new_process(tmp_path):
    (tmp_path / "templated.py").write_text(MODULE)
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path / "cache"), PYTHONPATH=os.pathsep.join(
        [str(tmp_path), os.path.dirname(os.path.dirname(os.path.abspath(__file__)))]))
    runs = [subprocess.run([sys.executable, "-c", "import templated"], cwd=tmp_path, env=env, capture_output=True,
                           text=True, check=True).stdout.split() for _ in range(2)]
    assert [r[0] for r in runs] == ["36.0", "36.0"]          # 0 + 1 + 8 + 27
    assert runs[0][1] == "0" and runs[1][1] == "1"          # compiled, then loaded


@pytest.mark.parametrize("kernel", [lstm.lstm_forward, lstm.lstm_backward, rnn.rnn_forward, rnn.rnn_backward],
                         ids=lambda k: k.__name__)
def test_the_kernels_made_from_the_loop_release_the_gil_and_cache(kernel):
    assert kernel.targetoptions.get("nogil") is True
    assert type(kernel._cache).__name__ != "NullCache"


def test_the_loop_templates_and_their_instances_keep_nogil():
    from fastrnn._kernels import gru, layernorm_gru, layernorm_lstm, lstm_variants
    for template in (loop.sequence_forward, loop.sequence_backward):
        assert template.targetoptions.get("nogil") is True
    for module in (lstm, rnn, gru, lstm_variants, layernorm_lstm, layernorm_gru):
        for instance in (module._forward_loop, module._backward_loop):
            assert instance.targetoptions.get("nogil") is True
            assert instance.targetoptions.get("inline") == "always"


def test_every_registered_cells_kernels_release_the_gil():
    """Each registered cell's forward and backward kernels (those of the kernel module its
    entry calls) are nogil, so the parts of a split call (batch_split.py) and calls from
    several threads run at once."""
    import inspect
    import sys as _sys

    from fastrnn import _cells
    from numba.core.registry import CPUDispatcher

    found = []
    for cell in _cells.CELLS.values():
        entry = _sys.modules[inspect.unwrap(cell.oracle_forward).__module__]   # the entry file
        kernels = getattr(entry, "_kernels", None)
        if not inspect.ismodule(kernels):          # a test-only cell without a kernel module
            continue
        for name, value in vars(kernels).items():
            if (isinstance(value, CPUDispatcher) and value.__module__ == kernels.__name__
                    and name.endswith(("_forward", "_backward")) and not name.startswith("_")):
                found.append((f"{cell.name}: {name}", value.targetoptions.get("nogil")))
    assert {"lstm: lstm_forward", "gru: gru_backward", "rnn: rnn_forward"} <= {n for n, _ in found}
    assert [n for n, nogil in found if nogil is not True] == []
