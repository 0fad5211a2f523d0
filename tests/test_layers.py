"""No import circles between the package's parts, lazy (in-function) imports included.

A part is a sub-package (`engine`, `protocol`, `timeline`, ...) or a top-level module. The graph
of "part A imports part B" must have no cycle, and the pure layers never import the thin ones.
"""

from __future__ import annotations

import ast
from pathlib import Path

import vasoguide

ROOT = Path(vasoguide.__file__).parent
PURE = {"engine", "protocol", "state", "assessment", "units", "display", "dosing", "errors"}
THIN = {
    "cli",
    "service",
    "interop",
    "timeline",
    "report",
    "sim",
    "scaleout",
    "rule_examples",
    "roundtrip",
}


def _part(module: Path) -> str:
    rel = module.relative_to(ROOT).parts
    # A sub-package's command-line module belongs to the CLI layer, the top of the stack: it
    # registers commands and may call any layer (timeline/cli.py runs the Spark audit).
    if module.name == "cli.py" or module.name.endswith("_cli.py"):
        return "cli"
    return rel[0] if len(rel) > 1 else rel[0].removesuffix(".py")


def _imported_parts(module: Path) -> set[str]:
    tree = ast.parse(module.read_text(encoding="utf-8"))
    pkg = module.relative_to(ROOT).parent.parts
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level == 0:
                mod = node.module or ""
                if not mod.startswith("vasoguide"):
                    continue
                parts = mod.split(".")[1:]
            else:
                base = list(pkg[: len(pkg) - (node.level - 1)]) if node.level > 1 else list(pkg)
                parts = base + (node.module.split(".") if node.module else [])
            if parts and (parts[-1] == "cli" or parts[-1].endswith("_cli")):
                found.add("cli")
            elif parts:
                found.add(parts[0])
            else:  # "from . import x" at the top level
                found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("vasoguide."):
                    found.add(alias.name.split(".")[1])
    return found


def _graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for module in ROOT.rglob("*.py"):
        if module.name == "__main__.py" or module == ROOT / "__init__.py":
            continue
        part = _part(module)
        graph.setdefault(part, set()).update(p for p in _imported_parts(module) if p != part)
    return graph


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(n: str) -> list[str] | None:
        state[n] = 1
        stack.append(n)
        for m in sorted(graph.get(n, ())):
            if state.get(m) == 1:
                return [*stack[stack.index(m) :], m]
            if m not in state and (found := visit(m)):
                return found
        stack.pop()
        state[n] = 2
        return None

    for n in sorted(graph):
        if n not in state and (found := visit(n)):
            return found
    return None


def test_the_parts_import_each_other_without_a_circle() -> None:
    assert _cycle(_graph()) is None


def test_pure_layers_never_import_the_thin_ones() -> None:
    graph = _graph()
    bad = {p: sorted(graph.get(p, set()) & THIN) for p in PURE}
    assert {p: v for p, v in bad.items() if v} == {}


def test_the_cycle_finder_finds_a_cycle() -> None:
    # The check must be able to fail: the old protocol <-> engine circle is found.
    assert _cycle({"protocol": {"engine"}, "engine": {"protocol"}}) == [
        "engine",
        "protocol",
        "engine",
    ]
