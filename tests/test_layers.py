"""The layer order of the package (docs/architecture.md): a module imports only its own layer or an
earlier one, and never another package's `cli` module (only the top-level `synthgap/cli.py` gathers
the commands). An AST walk over every import, lazy ones inside functions included."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent / "synthgap"

# earlier first; packages on one line are one layer (they may import each other)
LAYERS = [
    {"errors", "records", "cache", "outputs", "progress", "scale", "templates", "seeds", "nlp", "lexicon", "embedding", "labels"},
    {"corpora", "llm"},
    {"personas"},
    {"generators"},
    {"extractors"},
    {"verifiers"},
    {"comparators"},
    {"reports"},
    {"pipeline"},
    {"cli"},
]
RANK = {name: i for i, layer in enumerate(LAYERS) for name in layer}

def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(source: str, module: str, is_package: bool) -> set[str]:
    """Every synthgap module `source` imports (absolute or relative, at any depth of the code)."""
    package = module if is_package else module.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.split(".")[0] == "synthgap")
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[:len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.split(".")[0] != "synthgap":
                continue
            # `from . import distances` names a module; `from .x import f` names x
            names = [f"{target}.{a.name}" for a in node.names] if not node.module else [target]
            found.update(names)
    return found


def layer_of(module: str) -> tuple[str, int]:
    parts = module.split(".")
    top = parts[1] if len(parts) > 1 else "cli"  # `synthgap` itself (its __init__) sits with the commands
    return top, RANK.get(top, -1)


def violations(module: str, targets: set[str]) -> set[tuple[str, str]]:
    """(module, target) pairs that import a later layer or another package's cli module."""
    top, rank = layer_of(module)
    out = set()
    for target in targets:
        t_top, t_rank = layer_of(target)
        if t_top not in RANK:
            continue
        later = t_rank > rank
        other_cli = target.endswith(".cli") and t_top != top and module != "synthgap.cli" and target != "synthgap.cli"
        if later or other_cli:
            out.add((module, target))
    return out


def all_violations() -> set[tuple[str, str]]:
    out = set()
    for path in sorted(ROOT.rglob("*.py")):
        module = module_name(path)
        out |= violations(module, imported_modules(path.read_text(), module, path.name == "__init__.py"))
    return out


def test_every_package_has_a_layer():
    packages = {p.name for p in ROOT.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    modules = {p.stem for p in ROOT.glob("*.py") if p.stem != "__init__"}
    assert packages | modules <= set(RANK), sorted((packages | modules) - set(RANK))


def test_no_module_imports_a_later_layer_or_another_packages_cli():
    found = all_violations()
    assert not found, "imports against the layer order (docs/architecture.md):\n" + "\n".join(
        f"  {a} -> {b}" for a, b in sorted(found))


def test_a_planted_upward_import_in_a_real_module_fails_the_walk(tmp_path, monkeypatch):
    """The whole check, not only `violations`: a copy of the package with one lazy upward import planted
    in corpora/reader.py is caught by `all_violations`."""
    import shutil

    copy = tmp_path / "synthgap"
    shutil.copytree(ROOT, copy, ignore=shutil.ignore_patterns("__pycache__"))
    reader = copy / "corpora" / "reader.py"
    reader.write_text(reader.read_text() + "\n\ndef _planted():\n    from ..reports.files import read_results\n")
    monkeypatch.setitem(globals(), "ROOT", copy)
    assert ("synthgap.corpora.reader", "synthgap.reports.files") in all_violations()


@pytest.mark.parametrize("source,module,bad", [
    ("from ..comparators.comparison import Comparison\n", "synthgap.corpora.reader", True),  # upward
    ("def f():\n    from synthgap.reports import render\n", "synthgap.extractors.rules", True),  # lazy, upward
    ("from ..corpora.cli import corpora_group\n", "synthgap.personas.sampler", True),  # another package's cli
    ("from ..records import Conversation\n", "synthgap.comparators.samples", False),  # downward
    ("from .comparison import Comparison\n", "synthgap.comparators.cli", False),  # own package
    ("from . import distances as D\n", "synthgap.comparators.comparison", False),
])
def test_a_planted_import_is_caught(source, module, bad):
    assert bool(violations(module, imported_modules(source, module, False))) is bad
