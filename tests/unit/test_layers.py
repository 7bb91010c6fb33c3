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


def _controller_imports() -> dict[str, set[str]]:
    """controller module -> the controller modules it imports (TYPE_CHECKING included)."""
    modules = _modules("controller")
    names = {f"podpatterns.{path[:-3].replace('/', '.')}": tree for path, tree in modules.items()}
    return {
        name: {other for other in _imported(tree) if other in names and other != name}
        for name, tree in names.items()
    }


def test_no_import_cycle_between_controller_modules() -> None:
    graph = _controller_imports()
    # Depth-first search; a module met again while still on the path closes a cycle.
    cycles: list[list[str]] = []

    def visit(name: str, path: list[str], done: set[str]) -> None:
        if name in path:
            cycles.append([*path[path.index(name) :], name])
            return
        if name in done:
            return
        for other in sorted(graph[name]):
            visit(other, [*path, name], done)
        done.add(name)

    done: set[str] = set()
    for name in sorted(graph):
        visit(name, [], done)
    assert cycles == []
    assert graph, "no controller modules found"


def test_a_cycle_would_be_found() -> None:
    # The check above must be able to fail: a module importing its importer is a cycle.
    graph = _controller_imports()
    assert "podpatterns.controller.context" in graph["podpatterns.controller.reconciler"]
    assert "podpatterns.controller.reconciler" not in graph["podpatterns.controller.context"]


# The reconciler itself, and the Kopf wiring that builds it and hands it keys.
MAY_KNOW_THE_RECONCILER = {"controller/reconciler.py", "controller/handlers.py"}


def test_only_the_reconciler_and_the_wiring_refer_to_the_reconciler() -> None:
    found: list[str] = []
    for path, tree in _modules("controller").items():
        if path in MAY_KNOW_THE_RECONCILER:
            continue
        for node in ast.walk(tree):
            named = (
                node.id
                if isinstance(node, ast.Name)
                else node.attr
                if isinstance(node, ast.Attribute)
                else node.value
                if isinstance(node, ast.Constant) and isinstance(node.value, str)
                else None
            )
            if isinstance(named, str) and "Reconciler" in named.split("."):
                found.append(f"{path}:{node.lineno}: {named}")
        found.extend(
            f"{path}: imports {name}"
            for name in _imported(tree)
            if name.startswith("podpatterns.controller.reconciler")
        )
    assert found == []


def test_no_step_reaches_into_another_objects_private_members() -> None:
    """`x._name` only on `self` (or a class's own `cls`): a step never calls back into a
    private member of its caller."""
    found: list[str] = []
    for path, tree in _modules("controller").items():
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Attribute)
                and node.attr.startswith("_")
                and not node.attr.startswith("__")
                and not (isinstance(node.value, ast.Name) and node.value.id in ("self", "cls"))
            ):
                found.append(f"{path}:{node.lineno}: .{node.attr}")
    assert found == []


MAX_LINES = 80


def _is_table(node: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    """A declarative table: a body that is a docstring and one return of a literal."""
    body = [
        statement
        for statement in node.body
        if not (isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Constant))
    ]
    return (
        len(body) == 1
        and isinstance(body[0], ast.Return)
        and isinstance(body[0].value, ast.Dict | ast.List | ast.Tuple)
    )


def test_no_function_in_the_controller_or_the_renderer_is_over_80_lines() -> None:
    long: list[str] = []
    for folder in ("controller", "render"):
        for path, tree in _modules(folder).items():
            for node in ast.walk(tree):
                if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                    length = (node.end_lineno or node.lineno) - node.lineno + 1
                    if length > MAX_LINES and not _is_table(node):
                        long.append(f"{path}:{node.lineno} {node.name}: {length} lines")
    assert long == []
