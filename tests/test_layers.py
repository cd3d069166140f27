"""Imports run one way: no module imports from a layer above its own (docs/architecture.md)."""

from __future__ import annotations

import ast
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent

# From the bottom up. A module may import its own layer and those below it.
LAYERS = ["kernel", "audit", "authorities", "identities", "enrollment", "ziticonsole"]


def _imported_packages(path: Path) -> set[tuple[str, int]]:
    """(top-level package, line) of every absolute import in the file, nested ones too."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found.update((alias.name.split(".")[0], node.lineno) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add((node.module.split(".")[0], node.lineno))
    return found


def upward_imports() -> list[str]:
    rank = {package: level for level, package in enumerate(LAYERS)}
    problems = []
    for package in LAYERS:
        for path in sorted((REPO_ROOT / package).rglob("*.py")):
            for imported, line in sorted(_imported_packages(path)):
                if rank.get(imported, -1) > rank[package]:
                    problems.append(f"{path.relative_to(REPO_ROOT)}:{line} imports {imported}")
    return problems


def test_every_layer_exists():
    assert all((REPO_ROOT / package / "__init__.py").is_file() for package in LAYERS)


def test_no_module_imports_a_layer_above_its_own():
    assert upward_imports() == []


def test_the_check_sees_an_upward_import(tmp_path):
    module = tmp_path / "m.py"
    module.write_text(
        "import os\nfrom enrollment.models import ApiSession\n\ndef f():\n    import ziticonsole\n"
    )

    assert _imported_packages(module) == {("os", 1), ("enrollment", 2), ("ziticonsole", 5)}
