"""Static checks run inside the test command: ruff (lint and format) and mypy.

mypy is strict on ``units``, ``rules`` and ``margin`` (configured in pyproject.toml).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

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
LAYER_RANK = {"units": 0, "rules": 1, "margin": 2, "engine": 3, "store": 4, "connect": 5, "risk": 6, "cli": 7}


def test_lower_layers_never_import_upper_ones():
    import ast

    source = Path(__file__).resolve().parents[1] / "src" / "crossmargin"
    found = []
    for layer, rank in LAYER_RANK.items():
        for path in sorted((source / layer).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("crossmargin."):
                    target = node.module.split(".")[1]
                    if LAYER_RANK.get(target, -1) > rank:
                        found.append(f"{path.relative_to(source)} imports {node.module}")
    assert not found, found
