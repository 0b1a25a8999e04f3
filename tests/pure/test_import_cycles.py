"""No import cycles inside synthhuman, counting imports inside functions (STYLE.md: one job per module).

A cycle hidden behind a lazy import still means two modules cannot be understood, tested or
moved apart (config <-> pose_sampling and inspect <-> report were such pairs). The graph is
read from the source with `ast`, so it sees imports a test run never executes; imports under
`if TYPE_CHECKING:` are for annotations only and do not count.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
# Source folder -> import name (pyproject.toml's package-dir maps render/ and train/ into synthhuman).
PACKAGES = {"synthhuman": "synthhuman", "render": "synthhuman.render", "train": "synthhuman.train"}


def module_files() -> dict[str, Path]:
    out = {}
    for folder, package in PACKAGES.items():
        for path in sorted((REPO / folder).rglob("*.py")):
            parts = list(path.relative_to(REPO / folder).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            out[".".join([package, *parts])] = path
    return out


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def imported_names(tree: ast.AST, module: str, is_package: bool) -> set[str]:
    """Every module name an `import` / `from ... import` anywhere in `tree` may load."""
    names: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = module.split(".")
                anchor = anchor if is_package else anchor[:-1]
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base]) if base else ".".join(anchor)
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return names


def import_graph() -> dict[str, set[str]]:
    files = module_files()
    graph = {}
    for module, path in files.items():
        names = imported_names(ast.parse(path.read_text()), module, path.name == "__init__.py")
        graph[module] = {name for name in names if name in files and name != module}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def connect(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for succ in sorted(graph.get(node, ())):
            if succ not in index:
                connect(succ)
                low[node] = min(low[node], low[succ])
            elif succ in on_stack:
                low[node] = min(low[node], index[succ])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            connect(node)
    return found


def test_the_package_has_no_import_cycle():
    graph = import_graph()
    assert {"synthhuman.config", "synthhuman.pose_sampling", "synthhuman.train.losses"} <= set(graph)
    assert "synthhuman.distributions" in graph["synthhuman.config"]  # edges are seen at all
    assert cycles(graph) == []


@pytest.mark.parametrize("source, expected", [
    # a lazy import inside a function still closes the cycle
    ({"a": "import b\n", "b": "def f():\n    from a import x\n"}, [["a", "b"]]),
    ({"a": "import b\n", "b": "import c\n", "c": "import a\n"}, [["a", "b", "c"]]),
    ({"a": "import b\n", "b": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import a\n"}, []),
])
def test_cycle_finder_catches_planted_cycles(source, expected):
    graph = {m: {n for n in imported_names(ast.parse(code), m, False) if n in source and n != m}
             for m, code in source.items()}
    assert cycles(graph) == expected
