"""``crossmargin run SCENARIO``: a scenario script through the real engine, step by step.

Why a command of its own: a scenario is how a user scripts a what-if and how a rule of the engine is
pinned in a readable file, so its output must say at a glance what each step did and whether every
expectation held, and its exit code must be usable in CI (0 held, 1 an expectation failed, 2 the file
is malformed).
"""

from __future__ import annotations

import importlib
import json
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from crossmargin.cli.errors import EXIT_FAILED, fail, input_errors_exit, store_failure
from crossmargin.cli.progress import progress
from crossmargin.engine.commands import Command, Result
from crossmargin.engine.core import Engine
from crossmargin.rules import load_rulebook
from crossmargin.scenario import Executor, Scenario, StepReport, parse_scenario, run_scenario
from crossmargin.units import InputError
from crossmargin.units.jsonio import read_text_file

EXIT_EXPECTATION_FAILED = EXIT_FAILED
#: Largest scenario run: its file (read whole before any step runs) and its steps.
MAX_SCENARIO_BYTES = 32 * 1024 * 1024
MAX_SCENARIO_STEPS = 100_000
#: From this many steps a run reports its progress in a log too (a terminal always has a bar).
LONG_RUN_STEPS = 5_000

HELP = """Run a scenario script through the engine and check its expectations.

\b
A scenario is a YAML file naming a venue and a list of steps:
  venue: generic
  steps:
    - deposit: {account: alice, asset: USD, amount: "10000"}
    - market_update: {symbol: BTC-PERP, timestamp_ms: 1, mark: "50000"}
    - place_order:
        {account: alice, symbol: BTC-PERP, side: buy, quantity: "1"}
      expect: {code: accepted, position: {BTC-PERP: "1"}}
    - id: crash
      market_update: {symbol: BTC-PERP, timestamp_ms: 2, mark: "40400"}
      expect: {account: alice, liquidated: true}

\b
Each step is one command under its kind: deposit, withdraw, transfer_margin,
set_leverage, set_margin_mode, set_asset_mode, approve_collateral, stake,
unstake, place_order, cancel_order, import_position, import_balance, market_update,
marks_update, depth_update, asset_price, settle_funding. `id` is the idempotency key (default step-N).
`expect` is a result code (accepted, insufficient_margin, ...) or a mapping
of: code, account (default: the command's), pool (settlement asset), health,
margin_ratio, withdrawable, wallet {ASSET: v}, position {SYMBOL: signed
size}, insurance {ASSET: v}, liquidated (true/false), events (a list of
names). A value is exact ("9950") or bounded ({above|below|at_least|at_most:
"1"}). Numbers are quoted decimal strings or integers; floats are refused.

\b
Exit codes: 0 every expectation held, 1 one failed (or the --db store
failed), 2 malformed file. At most 100,000 steps and 32 MiB per file.
The whole format: docs/scenarios.md; examples: scenarios/.
"""


@dataclass
class _Backend:
    """Where the steps run: the bare engine, or the store's durable engine (figures read from its engine)."""

    engine: Engine
    execute: Executor | None = None
    close: Callable[[], None] = lambda: None
    errors: tuple[type[Exception], ...] = ()


def _backend(venue: str, url: str | None) -> _Backend:
    """The engine for ``venue``; with ``--db``, the store's durable engine writing every command to ``url``.

    The store is optional in a build, so it is looked up here rather than imported at the top; it
    offers ``open_store(url)`` and ``DurableEngine(store, rulebook)`` with ``.engine``, ``.execute``
    and ``.close``. An existing store is continued (its state and command ids stay), not reset.
    """
    rulebook = load_rulebook(venue)
    if url is None:
        return _Backend(Engine(rulebook))
    try:
        store = importlib.import_module("crossmargin.store")
    except ImportError:
        store = None
    if store is None or not hasattr(store, "open_store") or not hasattr(store, "DurableEngine"):
        raise fail("--db: the store is not available in this build")
    errors: tuple[type[Exception], ...] = (getattr(store, "StoreError", OSError),)
    try:
        durable = store.DurableEngine(store.open_store(url), rulebook)
    except errors as error:
        raise store_failure(error) from None
    return _Backend(durable.engine, durable.execute, durable.close, errors)


def _events_text(events: tuple[str, ...]) -> str:
    """Event names in order, repeats counted (``liquidation_fill x2``); price ticks left out."""
    counts = Counter(name for name in events if name != "market")
    return ", ".join(name if n == 1 else f"{name} x{n}" for name, n in counts.items())


def _verdict(report: StepReport) -> Text:
    """✗ if any check failed, ✓ if all held, blank for a step that checks nothing."""
    if report.failures:
        return Text("✗", style="bold red")
    return Text("✓", style="green") if report.checks else Text("")


def _render(scenario: Scenario, source: str, reports: list[StepReport], console: Console) -> None:
    """One row per step, then every failed expectation on a line of its own.

    A step's command and result code share a column and each figure has a line of its own, so
    that at 80 columns the figures keep room enough never to be cut."""
    title = f"{source} · {scenario.venue}" + (f"\n{scenario.description}" if scenario.description else "")
    table = Table(title=Text(title))
    table.add_column("#", justify="right", no_wrap=True)
    table.add_column("id", overflow="fold", max_width=20)
    table.add_column("command\nresult", no_wrap=True)
    table.add_column("figures and events", overflow="fold")
    table.add_column("expect", no_wrap=True)
    for report in reports:
        step = Text(report.kind + "\n")
        step.append(report.code, style="green" if report.code == "accepted" else "yellow")
        figures = [f"{k} {v}" for k, v in report.figures.items()]
        detail = "\n".join(part for part in (*figures, _events_text(report.events), report.message) if part)
        # ids and messages as Text: brackets in them are not Rich markup
        table.add_row(str(report.number), Text(report.step_id), step, Text(detail), _verdict(report))
    console.print(table)
    for report in reports:
        for failure in report.failures:
            console.print(Text(f"✗ step {report.number} ({report.kind}) {report.step_id}: {failure}", style="red"))


def _document(scenario: Scenario, source: str, reports: list[StepReport]) -> dict[str, Any]:
    """The ``--json`` document; ``passed`` + ``failed`` counts every check, as the table's last line does."""
    steps = [
        {
            "number": r.number,
            "id": r.step_id,
            "kind": r.kind,
            "code": r.code,
            "message": r.message,
            "events": list(r.events),
            "figures": r.figures,
            "checks": r.checks,
            "failures": list(r.failures),
        }
        for r in reports
    ]
    failed = sum(len(r.failures) for r in reports)
    passed = sum(r.checks for r in reports) - failed
    head = {"scenario": source, "venue": scenario.venue, "description": scenario.description}
    return {**head, "steps": steps, "passed": passed, "failed": failed}


def _load(path: Path) -> Scenario:
    """Read and validate the whole file (no step runs), within the documented limits."""
    try:
        size = path.stat().st_size
    except OSError as error:
        raise InputError(str(path), f"cannot be read ({error.strerror or error})") from None
    if size > MAX_SCENARIO_BYTES:
        raise InputError(str(path), f"is {size:,} bytes; a scenario file holds at most {MAX_SCENARIO_BYTES:,}")
    text = read_text_file(path)
    try:
        parsed = parse_scenario(text, source=path.name)
    except RecursionError:
        raise InputError(path.name, "nests lists or mappings too deeply") from None
    if len(parsed.steps) > MAX_SCENARIO_STEPS:
        raise InputError("steps", f"{len(parsed.steps):,} steps; a scenario runs at most {MAX_SCENARIO_STEPS:,}")
    return parsed


@input_errors_exit
def run(
    scenario: Annotated[Path, typer.Argument(help="Scenario YAML file (format: docs/scenarios.md).")],
    db: Annotated[
        str | None, typer.Option("--db", help="Also write every command to this store (a database URL).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON document instead of the table.")] = False,
) -> None:
    """Registered with :data:`HELP` as its help; the file is validated whole before any step runs."""
    parsed = _load(scenario)
    backend = _backend(parsed.venue, db)
    execute = backend.execute or backend.engine.execute
    try:
        with progress(len(parsed.steps), "run", "steps", long_from=LONG_RUN_STEPS) as advance:

            def counted(command: Command) -> Result:
                result = execute(command)
                advance(1)
                return result

            reports = run_scenario(parsed, engine=backend.engine, executor=counted)
    except backend.errors as error:
        raise store_failure(error) from None
    finally:
        backend.close()
    document = _document(parsed, scenario.name, reports)
    if as_json:
        typer.echo(json.dumps(document, indent=2))
    else:
        console = Console()
        if not console.is_terminal:  # a log or a pipe: wide enough for a row per line
            console.width = max(console.width, 140)
        _render(parsed, scenario.name, reports, console)
        passed, failed = document["passed"], document["failed"]
        style = "bold red" if failed else "bold green"
        steps = f"{len(reports)} step" + ("s" if len(reports) != 1 else "")
        console.print(Text(f"{passed} expectations passed, {failed} failed ({steps}).", style=style))
    if document["failed"]:
        raise typer.Exit(EXIT_EXPECTATION_FAILED)
