"""The layering of the package, read from its imports and calls (AST, no import)."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "operator" / "podpatterns"


def _modules(folder: str) -> dict[str, ast.Module]:
    base = PACKAGE / folder
    return {
        str(path.relative_to(PACKAGE)): ast.parse(path.read_text(), filename=str(path))
        for path in sorted(base.rglob("*.py"))
    }


def _imported(tree: ast.Module) -> set[str]:
    """Every module an import statement names, under TYPE_CHECKING too."""
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def _called(tree: ast.Module, name: str) -> bool:
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
            if called == name:
                return True
    return False


def test_presets_sit_below_the_composition() -> None:
    for path, tree in _modules("presets").items():
        assert not any(
            name.startswith("podpatterns.render.pattern") for name in _imported(tree)
        ), f"{path} imports the composition it is part of"


def test_the_pod_or_workload_switch_is_written_once() -> None:
    """Only render/pattern.py wraps the template in a workload object; the controller and
    the command line get it from `render_pattern`."""
    callers = [
        str(path.relative_to(PACKAGE))
        for path in sorted(PACKAGE.rglob("*.py"))
        if path.parent.name != "render"
        and _called(ast.parse(path.read_text()), "render_workload")
    ]
    assert callers == []
    render = _modules("render")
    assert [path for path, tree in render.items() if _called(tree, "render_workload")] == [
        "render/pattern.py"
    ]
