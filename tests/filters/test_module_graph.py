"""The modules of ``wandb_frames.filters`` import each other without cycles (issue 14).

Every import counts, including those inside functions (a lazy import only hides a cycle).
``from wandb_frames.filters import nodes`` is an edge to ``nodes``; the package's
``__init__`` (which re-exports the public names) is left out.
"""

from __future__ import annotations

import ast
from pathlib import Path

import wandb_frames.filters

PACKAGE = "wandb_frames.filters"
ROOT = Path(wandb_frames.filters.__file__).parent
MODULES = sorted(p.stem for p in ROOT.glob("*.py") if p.stem != "__init__")


def _imports(module: str) -> set[str]:
    tree = ast.parse((ROOT / f"{module}.py").read_text())
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            if node.module == PACKAGE:
                found.update(alias.name for alias in node.names if alias.name in MODULES)
            elif node.module.startswith(PACKAGE + "."):
                found.add(node.module.split(".")[2])
        elif isinstance(node, ast.Import):
            found.update(a.name.split(".")[2] for a in node.names if a.name.startswith(PACKAGE + "."))
    return found - {module}


def _cycle() -> list[str] | None:
    graph = {m: _imports(m) for m in MODULES}
    state: dict[str, int] = {}  # 1: on the path, 2: done
    path: list[str] = []

    def visit(m: str) -> list[str] | None:
        state[m] = 1
        path.append(m)
        for n in sorted(graph.get(m, ())):
            if state.get(n) == 1:
                return [*path[path.index(n):], n]
            if n not in state and (found := visit(n)) is not None:
                return found
        path.pop()
        state[m] = 2
        return None

    for m in MODULES:
        if m not in state and (found := visit(m)) is not None:
            return found
    return None


def test_graph_is_read() -> None:
    assert "expr" in _imports("parse") and "values" in _imports("expr")


def test_no_import_cycle_inside_filters() -> None:
    assert _cycle() is None, " -> ".join(_cycle() or [])
