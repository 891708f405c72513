"""The package's import graph: no circles between modules, and the layers hold.

``lint-imports`` (run by ``make test``) checks the contracts in ``pyproject.toml``; this test
checks with grimp what those contracts cannot see (a module importing its own package's
``__init__`` back, say), and that the contracts cover every top-level folder.
"""

from __future__ import annotations

import pkgutil
import tomllib
from pathlib import Path

import grimp

import wandb_frames

ROOT = Path(__file__).resolve().parents[1]


def _strongly_connected(graph: grimp.ImportGraph) -> list[list[str]]:
    """Tarjan's algorithm, iteratively: every group of modules that import each other in a circle."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    groups: list[list[str]] = []
    counter = 0
    for start in sorted(graph.modules):
        if start in index:
            continue
        work = [(start, iter(sorted(graph.find_modules_directly_imported_by(start))))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            advanced = False
            for child in children:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.find_modules_directly_imported_by(child)))))
                    advanced = True
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            if advanced:
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                group = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    group.append(member)
                    if member == node:
                        break
                if len(group) > 1:
                    groups.append(sorted(group))
    return groups


def test_no_module_of_the_package_is_part_of_an_import_circle() -> None:
    graph = grimp.build_graph("wandb_frames")  # TYPE_CHECKING imports count too
    assert _strongly_connected(graph) == []


def test_the_circle_finder_finds_a_circle() -> None:
    graph = grimp.ImportGraph()
    for name in ("p", "p.a", "p.b", "p.c"):
        graph.add_module(name)
    graph.add_import(importer="p.a", imported="p.b")
    graph.add_import(importer="p.b", imported="p.c")
    graph.add_import(importer="p.c", imported="p.a")
    assert _strongly_connected(graph) == [["p.a", "p.b", "p.c"]]


def test_the_layers_contract_names_every_top_level_module_and_folder() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    layers = next(c for c in config["contracts"] if c["type"] == "layers")["layers"]
    named = {part.strip() for layer in layers for part in layer.replace(":", "|").split("|")}
    top_level = {f"wandb_frames.{m.name}" for m in pkgutil.iter_modules(wandb_frames.__path__)}
    assert top_level == named


def test_no_private_module_at_the_top_level() -> None:
    names = [m.name for m in pkgutil.iter_modules(wandb_frames.__path__)]
    assert [n for n in names if n.startswith("_")] == []


MAX_LINES = 500
REASON = "Why this module is long:"


def test_no_module_over_500_lines_without_a_reason_at_its_top() -> None:
    package = ROOT / "wandb_frames"
    unexplained = []
    for path in sorted(package.rglob("*.py")):
        text = path.read_text()
        if text.count("\n") > MAX_LINES and REASON not in text[:3000]:
            unexplained.append(f"{path.relative_to(ROOT)} ({text.count(chr(10))} lines)")
    assert unexplained == [], f"over {MAX_LINES} lines with no '{REASON}' paragraph in the docstring"
