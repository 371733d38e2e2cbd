"""Generate docs/api.md from the docstrings of every public name.

    python docs/gen_api.py            # rewrites docs/api.md
    python docs/gen_api.py --check    # exit 1 if docs/api.md is out of date

A public name is one listed in its module's ``__all__``. A name exported by several
modules (``fastrnn.LSTM`` is ``fastrnn.nn.LSTM``) is documented once, where it is
defined, and the other entries link there.
"""
import argparse
import importlib
import inspect
import os
import re
import sys

MODULES = [
    ("fastrnn", "Top level: the `fastrnn.nn` modules, gradient clipping, the version."),
    ("fastrnn.nn", "PyTorch-compatible modules with an explicit `backward`."),
    ("fastrnn.functional", "One layer, one direction: sequence and single-step forward/backward, "
                           "PyTorch layout."),
    ("fastrnn.layers", "Drop-in replacements for the book's NumPy layers."),
    ("fastrnn.optim", "The book's optimizers and gradient clipping."),
    ("fastrnn.clip", "Gradient clipping over any iterable of arrays."),
    ("fastrnn.models", "Language models, seq2seq, attention, sequence regression and classification."),
    ("fastrnn.train", "Training loops and evaluation."),
    ("fastrnn.datasets", "Toy datasets and text corpora."),
    ("fastrnn.oracle", "The pure NumPy reference of every kernel."),
    ("fastrnn.torch", "`torch.nn.Module` drop-ins running the fastrnn kernels (needs torch)."),
    ("fastrnn.examples", "Example training scripts behind `python -m fastrnn train <name>`."),
    ("fastrnn.onnx", "Export the `fastrnn.nn` LSTM/GRU/RNN modules to ONNX (needs onnx)."),
    ("fastrnn.convert", "Keras 3 import and export of the `fastrnn.nn` modules (needs keras)."),
]

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "api.md")


def anchor(qualname):
    """GitHub's heading anchor for a heading consisting of ``qualname`` in backticks."""
    return re.sub(r"[^a-z0-9_\- ]", "", qualname.lower()).replace(" ", "-")


def signature(obj):
    try:
        sig = str(inspect.signature(obj))
    except (TypeError, ValueError):
        return "(...)"
    sig = re.sub(r"<class '(?:numpy\.)?([\w.]+)'>", r"np.\1", sig)     # dtype=<class 'numpy.float32'>
    sig = re.sub(r"<function (\w+) at 0x[0-9a-f]+>", r"\1", sig)
    return sig


def _dedent(doc):
    """Like inspect.cleandoc, but the margin is the closing quotes' indentation when there is
    one, so a body that is all literal block keeps its indentation."""
    m = re.search(r"\n([ \t]*)\Z", doc)
    if not m:
        return inspect.cleandoc(doc).splitlines()
    margin = len(m.group(1))
    raw = doc.expandtabs().splitlines()
    body = [line[margin:] if line[:margin].strip() == "" else line.lstrip() for line in raw[1:]]
    lines = [raw[0].strip()] + body
    while lines and not lines[0].strip():
        lines.pop(0)
    while lines and not lines[-1].strip():
        lines.pop()
    return lines


def docstring_md(doc):
    """Docstring -> Markdown: ``>>>`` sessions and indented literal blocks fenced, RST underlines bolded."""
    if not doc:
        return "*(no docstring)*"
    doc = re.sub(r":(?:func|class|mod|data|meth|attr|obj):`~?([^`]+)`", r"``\1``", doc)
    lines = _dedent(doc)
    out, i = [], 0
    while i < len(lines):
        line = lines[i]
        if line.lstrip().startswith(">>>"):
            block = []
            while i < len(lines) and lines[i].strip():
                block.append(lines[i])
                i += 1
            out += ["```pycon"] + [b[len(block[0]) - len(block[0].lstrip()):] for b in block] + ["```"]
            continue
        if line.startswith("    ") and (not out or not out[-1].strip() or out[-1].rstrip().endswith("::")):
            block = []
            while i < len(lines) and (lines[i].startswith("    ") or not lines[i].strip()):
                block.append(lines[i][4:])
                i += 1
            while block and not block[-1].strip():
                block.pop()
            k = max((j for j, o in enumerate(out) if o.strip()), default=None)
            if k is not None and out[k].rstrip().endswith("::"):
                out[k] = out[k].rstrip()[:-1]
            if out and out[-1].strip():
                out.append("")
            out += ["```text"] + block + ["```", ""]
            continue
        if re.fullmatch(r"\s*([-=~])\1{2,}\s*", line) and out and out[-1].strip():
            out[-1] = f"**{out[-1].strip()}**"
            i += 1
            continue
        out.append(line)
        i += 1
    return "\n".join(out).strip()


def defining_module(obj):
    return getattr(obj, "__module__", None) or ""


def canonical_names():
    """object id -> the qualified name where it is documented in full."""
    best = {}
    for modname, _ in MODULES:
        mod = _import(modname)
        if mod is None:
            continue
        for name in getattr(mod, "__all__", []):
            obj = getattr(mod, name)
            if inspect.ismodule(obj) or not (inspect.isclass(obj) or callable(obj)):
                continue
            home = defining_module(obj)
            score = len(modname) if (home == modname or home.startswith(modname + ".")) else -1
            if id(obj) not in best or score > best[id(obj)][0]:
                best[id(obj)] = (score, f"{modname}.{name}")
    return {k: v[1] for k, v in best.items()}


def _import(modname):
    try:
        return importlib.import_module(modname)
    except ImportError as e:
        print(f"gen_api: cannot import {modname}: {e}", file=sys.stderr)
        return None


def own_members(cls, documented):
    """Public methods and properties a fastrnn class defines or inherits from an undocumented
    fastrnn base; -> (members, documented public bases)."""
    seen, members, bases = set(), [], []
    for klass in cls.__mro__:
        if not getattr(klass, "__module__", "").startswith("fastrnn"):
            continue
        if klass is not cls and id(klass) in documented:
            bases.append(documented[id(klass)])
            seen.update(vars(klass))
            continue
        for name, value in vars(klass).items():
            if name.startswith("_") or name in seen:
                continue
            seen.add(name)
            if isinstance(value, (staticmethod, classmethod)):
                value = value.__func__
            if inspect.isfunction(value) or isinstance(value, property):
                members.append((name, value))
    return members, bases


def render_object(qual, obj, canon):
    lines = []
    if inspect.isclass(obj):
        lines += [f"### `{qual}`", "", f"```text\nclass {qual}{signature(obj)}\n```", "",
                  docstring_md(obj.__doc__)]
        init_doc = getattr(obj.__init__, "__doc__", None)
        if init_doc and obj.__init__ is not object.__init__ and init_doc != object.__init__.__doc__ \
                and getattr(obj.__init__, "__module__", "").startswith("fastrnn"):
            lines += ["", docstring_md(init_doc)]
        members, bases = own_members(obj, canon)
        if bases:
            lines += ["", "Inherits the methods of " + ", ".join(f"[`{b}`](#{anchor(b)})" for b in bases) + "."]
        for name, value in members:
            if isinstance(value, property):
                pdoc = (inspect.getdoc(value) or "").replace("\n", " ")
                lines += ["", f"- **`{name}`** (property)" + (f": {pdoc}" if pdoc else "")]
            else:
                doc = docstring_md(value.__doc__) if value.__doc__ else ""
                head = f"- **`{name}{signature(value).replace('(self, ', '(').replace('(self)', '()')}`**"
                lines += ["", head + (":" if doc else "")]
                if doc:
                    lines += ["", "\n".join(("  " + d) if d else "" for d in doc.splitlines())]
    elif callable(obj):
        lines += [f"### `{qual}`", "", f"```text\n{qual}{signature(obj)}\n```", "", docstring_md(obj.__doc__)]
    else:
        lines += [f"### `{qual}`", "", f"`{qual} = {obj!r}`"]
    return "\n".join(lines)


def generate():
    canon = canonical_names()
    parts = ["# API reference", "",
             "<!-- Generated by docs/gen_api.py from the docstrings; edit the docstrings, then run "
             "`python docs/gen_api.py`. -->", "",
             "Every name in each module's `__all__`, with its signature and docstring. Shapes use "
             "T (time), N (batch), I or D (input features), H (hidden), G (gates: 4 LSTM, 3 GRU, 1 RNN).",
             "", "Modules:", ""]
    parts += [f"- [`{m}`](#{anchor(m)}): {what}" for m, what in MODULES]
    for modname, what in MODULES:
        mod = _import(modname)
        parts += ["", f"## `{modname}`", ""]
        if mod is None:
            parts += [what, "", "*(not importable here; install its extra)*"]
            continue
        parts += [docstring_md(mod.__doc__) if mod.__doc__ else what, ""]
        for name in getattr(mod, "__all__", []):
            obj = getattr(mod, name)
            qual = f"{modname}.{name}"
            if inspect.ismodule(obj):
                parts += [f"### `{qual}`", "", f"The module [`{obj.__name__}`](#{anchor(obj.__name__)}).", ""]
            elif id(obj) in canon and canon[id(obj)] != qual:
                home = canon[id(obj)]
                parts += [f"### `{qual}`", "", f"The same object as [`{home}`](#{anchor(home)}).", ""]
            else:
                parts += [render_object(qual, obj, canon), ""]
    return "\n".join(parts).rstrip() + "\n"


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--check", action="store_true", help="compare with docs/api.md instead of writing it")
    a = p.parse_args(argv)
    text = generate()
    if a.check:
        with open(OUT) as f:
            same = f.read() == text
        print("docs/api.md is up to date" if same else "docs/api.md is out of date: run python docs/gen_api.py")
        return 0 if same else 1
    with open(OUT, "w") as f:
        f.write(text)
    print(f"wrote {OUT}")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(HERE))
    raise SystemExit(main())
