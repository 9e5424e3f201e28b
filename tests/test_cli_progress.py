"""Work that can run for minutes shows its progress on stderr and refuses sizes past its limits.

``crossmargin run`` used to print nothing until the last of its steps had run, and accepted a
scenario of any length; the report printed nothing for the minutes its Monte Carlo takes.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from crossmargin.cli import run as run_module
from crossmargin.cli.main import app

HEAD = 'venue: generic\nsteps:\n  - deposit: {account: alice, asset: USD, amount: "100000"}\n'


def scenario(tmp_path: Path, updates: int) -> Path:
    lines = [
        f'  - market_update: {{symbol: BTC-PERP, timestamp_ms: {n}, mark: "{50000 + n % 7}"}}' for n in range(updates)
    ]
    path = tmp_path / "long.yaml"
    path.write_text(HEAD + "\n".join(lines) + "\n")
    return path


def crossmargin(*args: str | Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "crossmargin", *map(str, args)],
        capture_output=True, text=True, check=False, timeout=600, env={**os.environ, **env},
    )  # fmt: skip


def test_a_long_run_reports_its_progress_in_a_log(tmp_path: Path):
    path = scenario(tmp_path, run_module.LONG_RUN_STEPS)
    done = crossmargin("run", path, "--json")
    assert done.returncode == 0, done.stderr
    lines = done.stderr.splitlines()
    total = run_module.LONG_RUN_STEPS + 1
    assert len(lines) == 10 and lines[-1] == f"run: {total:,}/{total:,} steps"
    assert done.stdout.startswith("{")  # stdout stays the answer


def test_a_short_run_in_a_log_stays_quiet_and_a_terminal_gets_a_bar(tmp_path: Path):
    path = scenario(tmp_path, 20)
    assert crossmargin("run", path).stderr == ""
    on_terminal = crossmargin("run", path, TTY_COMPATIBLE="1", COLUMNS="100")
    assert on_terminal.returncode == 0 and "━" in on_terminal.stderr and "steps" in on_terminal.stderr


def test_a_scenario_past_the_limits_is_refused_before_a_step_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    path = scenario(tmp_path, 30)
    monkeypatch.setattr(run_module, "MAX_SCENARIO_STEPS", 25)
    result = CliRunner().invoke(app, ["run", str(path)])
    assert result.exit_code == 2 and "steps: 31 steps; a scenario runs at most 25" in result.output
    monkeypatch.setattr(run_module, "MAX_SCENARIO_BYTES", 100)
    result = CliRunner().invoke(app, ["run", str(path)])
    assert result.exit_code == 2 and "a scenario file holds at most 100" in result.output
