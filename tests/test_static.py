"""Static checks run inside the test command: ruff (lint and format), mypy, and the import layers.

mypy is strict on ``units``, ``rules`` and ``margin`` (configured in pyproject.toml).
"""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Container, Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CHECKED = ["src", "tests", "benchmarks", "tools"]


def _run(*command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", *command], cwd=ROOT, capture_output=True, text=True, check=False)


def test_ruff_lint_is_clean():
    result = _run("ruff", "check", *CHECKED)
    assert result.returncode == 0, result.stdout + result.stderr


def test_ruff_format_is_clean():
    result = _run("ruff", "format", "--check", *CHECKED)
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_is_clean_and_strict_on_exact_layers():
    result = _run("mypy")
    assert result.returncode == 0, result.stdout + result.stderr


#: DESIGN "Layers": each package may import its own layer and the ones below, never one above.
LAYER_RANK = {
    "units": 0,
    "rules": 1,
    "margin": 2,
    "engine": 3,
    "store": 4,
    "connect": 5,
    "risk": 6,
    "scenario": 6,
    "sim": 6,
    "cli": 7,
}
SOURCE = ROOT / "src" / "crossmargin"
PACKAGES = sorted(path.parent.name for path in SOURCE.glob("*/__init__.py"))


def _imported_names(tree: ast.AST, module: str, is_package: bool, known: Container[str] = ()) -> Iterator[str]:
    """What every import statement anywhere in the tree imports (top level, inside functions, under
    ``TYPE_CHECKING``): ``import a.b`` imports ``a.b``; ``from a import b`` imports the module ``a.b``
    when ``known`` lists it (``a`` is then only the package it is found in), else ``a``."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: resolved against the importing module's package
                parts = module.split(".")
                parts = parts[: len(parts) - node.level + (1 if is_package else 0)]
                base = ".".join([*parts, base] if base else parts)
            for alias in node.names:
                submodule = f"{base}.{alias.name}"
                yield submodule if submodule in known else base


def _modules(package: str) -> dict[str, Path]:
    """Dotted name -> file of every module of a ``crossmargin`` package, its subpackages included."""
    found = {}
    for path in sorted((SOURCE / package).rglob("*.py")):
        parts = path.relative_to(SOURCE.parent).with_suffix("").parts
        found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def import_graph(package: str) -> dict[str, set[str]]:
    """Which modules of the package each of its modules imports (imports from outside it left out)."""
    modules = _modules(package)
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        imported = set(_imported_names(tree, name, path.name == "__init__.py", modules))
        graph[name] = {target for target in imported if target in modules and target != name}
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str]:
    """One import circle of the graph as ``[a, b, ..., a]``, or ``[]`` when it has none."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str]:
        state[node] = 1
        path.append(node)
        for target in sorted(graph.get(node, ())):
            if state.get(target) == 1:
                return [*path[path.index(target) :], target]
            if target not in state:
                found = visit(target)
                if found:
                    return found
        state[node] = 2
        path.pop()
        return []

    for start in sorted(graph):
        if start not in state:
            found = visit(start)
            if found:
                return found
    return []


def test_lower_layers_never_import_upper_ones():
    found = []
    for layer, rank in LAYER_RANK.items():
        for name, path in _modules(layer).items():
            tree = ast.parse(path.read_text(encoding="utf-8"))
            for target in set(_imported_names(tree, name, path.name == "__init__.py")):
                parts = target.split(".")
                if parts[0] == "crossmargin" and len(parts) > 1 and LAYER_RANK.get(parts[1], -1) > rank:
                    found.append(f"{path.relative_to(SOURCE)} imports {target}")
    assert not found, sorted(found)


#: Known circles in packages this check does not fix: (package, why).
KNOWN_CIRCLES: dict[str, str] = {}


@pytest.mark.parametrize(
    "package",
    [
        pytest.param(p, marks=pytest.mark.xfail(strict=True, reason=KNOWN_CIRCLES[p])) if p in KNOWN_CIRCLES else p
        for p in PACKAGES
    ],
)
def test_no_import_circle_inside_a_package(package):
    """DESIGN "Layers": inside a package, modules import one way too. Every import statement counts,
    including those inside functions and under ``TYPE_CHECKING`` (a circle hidden there is still one)."""
    assert find_cycle(import_graph(package)) == []


#: The engine's own layers, bottom up: plain data; the primitives every handler shares; the
#: handlers, by concern; the dispatch. A module imports its own layer and the ones below.
ENGINE_LAYERS = {
    "data": ["codec", "commands", "depth", "ledger", "oracle", "positions", "state"],
    "primitives": ["base", "watch"],
    "handlers": [
        *("funds", "settings", "imports"),
        *("trading", "fills"),
        *("market", "funding"),
        *("liquidation", "partial", "multi_liquidation", "exchange", "settlement", "deleverage"),
    ],
    "dispatch": ["core"],
}


def test_engine_handlers_sit_between_their_primitives_and_the_dispatch():
    rank = {f"crossmargin.engine.{m}": r for r, modules in enumerate(ENGINE_LAYERS.values()) for m in modules}
    rank["crossmargin.engine"] = len(ENGINE_LAYERS)  # the package's face re-exports the dispatch
    graph = import_graph("engine")
    unplaced = sorted(set(graph) - set(rank))
    assert not unplaced, f"place these modules in ENGINE_LAYERS: {unplaced}"
    upward = [f"{m} imports {t}" for m, targets in graph.items() for t in targets if rank[t] > rank[m]]
    assert not upward, sorted(upward)


def test_the_circle_finder_finds_circles():
    """The check above can fail: a circle through a function-level import is found, a chain is not."""
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": set()}) == []
    tree = ast.parse("def f():\n    from crossmargin.engine import core, Engine\n")
    known = {"crossmargin.engine", "crossmargin.engine.core"}
    assert set(_imported_names(tree, "crossmargin.engine.x", False, known)) == known
