"""The documentation is executable and complete.

- every ```python block of README.md and docs/*.md runs (``>>>`` blocks as doctests, others
  with exec), one namespace per file, in a temporary directory; a block preceded by
  ``<!-- skip: reason -->`` is not run, one preceded by ``<!-- needs: torch -->`` only when
  torch is importable;
- every name in each public module's ``__all__`` appears in docs/api.md;
- relative links point at files that exist; every ``python -m fastrnn ...`` command shown
  parses; README's two set-up commands are the ones .ci/run executes.
"""
import doctest
import importlib
import os
import re
import shlex

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DOCS = os.path.join(ROOT, "docs")
PAGES = ["README.md"] + sorted(os.path.join("docs", f) for f in os.listdir(DOCS) if f.endswith(".md"))
PUBLIC = ["fastrnn", "fastrnn.functional", "fastrnn.nn", "fastrnn.layers", "fastrnn.optim", "fastrnn.clip",
          "fastrnn.models", "fastrnn.train", "fastrnn.datasets", "fastrnn.oracle", "fastrnn.torch", "fastrnn.examples",
          "fastrnn.onnx", "fastrnn.convert"]
README_INSTALL = 'pip install -e ".[test]" && python -m fastrnn bench --quick'
README_TESTS = 'pip install -e ".[test]" && python -m pytest -q tests bench --benchmark-disable'


def read(page):
    with open(os.path.join(ROOT, page), encoding="utf-8") as f:
        return f.read()


def code_blocks(text, lang="python"):
    """-> [(line number, code, marker or None)] for the fenced blocks of ``lang``."""
    blocks, lines, i = [], text.splitlines(), 0
    while i < len(lines):
        m = re.match(r"^(\s*)```(\w*)\s*$", lines[i])
        if not m:
            i += 1
            continue
        indent, kind, start = m.group(1), m.group(2), i + 1
        j = start
        while j < len(lines) and lines[j].strip() != "```":
            j += 1
        if kind == lang:
            k = i - 1
            while k >= 0 and not lines[k].strip():
                k -= 1
            marker = re.match(r"\s*<!--\s*(.*?)\s*-->", lines[k]) if k >= 0 else None
            code = "\n".join(line[len(indent):] for line in lines[start:j])
            blocks.append((start + 1, code, marker.group(1) if marker else None))
        i = j + 1
    return blocks


def have(module):
    try:
        importlib.import_module(module)
    except ImportError:
        return False
    return True


@pytest.mark.parametrize("page", PAGES)
def test_code_blocks_run(page, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    namespace = {"__name__": "__docs__"}
    ran, missing = 0, set()
    for lineno, code, marker in code_blocks(read(page)):
        where = f"{page}:{lineno}"
        if marker and marker.startswith("skip"):
            continue
        if marker and marker.startswith("needs:"):
            needs = [m.strip() for m in marker[len("needs:"):].split(",")]
            if not all(have(m) for m in needs):
                missing.update(m for m in needs if not have(m))
                continue
        if code.lstrip().startswith(">>>"):
            test = doctest.DocTestParser().get_doctest(code, namespace, where, page, lineno)
            report = []
            runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
            runner.run(test, out=report.append, clear_globs=False)
            assert runner.failures == 0, "".join(report)
            namespace.update(test.globs)            # DocTest works on a copy of the namespace
        else:
            exec(compile(code, where, "exec"), namespace)
        ran += 1
    if not ran and missing:
        pytest.skip(f"every example of {page} needs {', '.join(sorted(missing))}, which is not installed")
    assert ran or not code_blocks(read(page)) or page.endswith("api.md")


def test_markers_are_known():
    for page in PAGES:
        for lineno, _, marker in code_blocks(read(page)):
            if marker is not None:
                assert marker.startswith(("skip:", "needs:")), f"{page}:{lineno}: unknown marker {marker!r}"


@pytest.mark.parametrize("module", PUBLIC)
def test_api_reference_is_complete(module):
    if module == "fastrnn.torch" and not have("torch"):
        pytest.skip("fastrnn.torch needs torch")
    api = read(os.path.join("docs", "api.md"))
    mod = importlib.import_module(module)
    missing = [name for name in mod.__all__ if f"`{module}.{name}`" not in api]
    assert not missing, f"docs/api.md lacks {module}: {missing} (run python docs/gen_api.py)"


def test_api_generator_covers_every_name():
    import runpy
    gen = runpy.run_path(os.path.join(DOCS, "gen_api.py"))
    text = gen["generate"]()
    for module in PUBLIC:
        if module == "fastrnn.torch" and not have("torch"):
            continue
        for name in importlib.import_module(module).__all__:
            assert f"### `{module}.{name}`" in text


@pytest.mark.parametrize("page", PAGES)
def test_relative_links_exist(page):
    base = os.path.dirname(os.path.join(ROOT, page))
    for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", read(page)):
        if re.match(r"^[a-z]+:", target):
            continue
        assert os.path.exists(os.path.join(base, target)), f"{page}: broken link {target}"


def _cli_commands():
    for page in PAGES:
        for line in read(page).splitlines():
            for m in re.finditer(r"python -m fastrnn ([^`#\n]*)", line):
                cmd = m.group(1).split("&&")[0].strip().rstrip("|").strip()
                if cmd and "<" not in cmd and "..." not in cmd:
                    yield page, cmd


@pytest.mark.parametrize("page, cmd", sorted(set(_cli_commands())))
def test_cli_commands_in_docs_parse(page, cmd):
    from fastrnn.__main__ import build_parser
    try:
        args = build_parser().parse_args(shlex.split(cmd))
    except SystemExit as e:                     # --help prints and exits 0; anything else is a doc bug
        assert e.code == 0 and "--help" in cmd, f"{page}: {cmd!r} does not parse"
        return
    assert args.command in ("bench", "train")
    if args.command == "train" and args.name:
        from fastrnn.examples import EXAMPLES
        assert args.name in EXAMPLES, f"{page}: no example named {args.name!r}"


def test_readme_opens_with_the_ci_commands():
    readme = read("README.md")
    commands = [code.strip() for _, code, _ in code_blocks(readme, "bash")]
    assert commands[:2] == [README_INSTALL, README_TESTS]
    ci = os.path.join(ROOT, ".ci", "run")
    if os.path.exists(ci):
        assert README_TESTS in read(os.path.join(".ci", "run"))
