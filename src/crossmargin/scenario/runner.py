"""Running a scenario: each step through the real engine (and a store, when one is given), then its checks.

After every step the expectations are checked against figures read from the engine itself
(:mod:`crossmargin.scenario.figures`), and every asset's ledger must still balance. Assets and
symbols an expectation names are checked against the venue before any step changes state.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from crossmargin.engine.commands import Command, Result
from crossmargin.engine.core import Engine
from crossmargin.engine.ledger import LedgerError
from crossmargin.engine.state import AccountState, key_symbol
from crossmargin.rules import load_rulebook
from crossmargin.scenario.figures import display, figure, text
from crossmargin.scenario.script import COMPARE, Scenario, Step
from crossmargin.units import InputError, exact_context

Executor = Callable[[Command], Result]


@dataclass(frozen=True)
class StepReport:
    """One step's outcome: the engine's answer, the subject account's figures, failed checks."""

    number: int
    step_id: str
    kind: str
    code: str
    message: str
    events: tuple[str, ...]
    figures: dict[str, str]
    checks: int
    failures: tuple[str, ...]


def run_scenario(
    scenario: Scenario, *, engine: Engine | None = None, executor: Executor | None = None
) -> list[StepReport]:
    """Run the steps in order, checking expectations; ``executor`` (a store's durable wrapper around ``engine``)
    replaces ``engine.execute`` so each command is also stored, and figures are always read from ``engine``."""
    engine = engine or Engine(load_rulebook(scenario.venue))
    _preflight(engine, scenario)
    execute = executor or engine.execute
    return [_run_step(engine, execute, step) for step in scenario.steps]


def _run_step(engine: Engine, execute: Executor, step: Step) -> StepReport:
    """Execute one step, then check its expectations and that every asset still balances."""
    result = execute(step.command)
    with exact_context():
        failures = _failures(engine, step, result)
        checks = step.expect.count
        try:
            engine.ledger.check_conservation()
        except LedgerError as error:
            failures.append(f"ledger: {error}")
            checks += 1
        labels = [label for label, _ in step.expect.figures]
        figures = display(engine, step.kind, step.command, step.expect.account or "", step.expect.pool, labels, result)
    names = tuple(str(event.get("event")) for event in result.events)
    command_id, code = step.command.command_id, result.code.value
    return StepReport(step.number, command_id, step.kind, code, result.message, names, figures, checks, tuple(failures))


def _preflight(engine: Engine, scenario: Scenario) -> None:
    """Refuse assets and symbols the venue does not have, before any step changes state."""
    rulebook = engine.rulebook
    for step in scenario.steps:
        where = f"step {step.number} ({step.kind}).expect"
        pool_names = {*rulebook.data.assets, "USD"}  # USD: a multi-asset pool
        if step.expect.pool is not None and step.expect.pool not in pool_names:
            raise InputError(f"{where}.pool", f"{step.expect.pool} is not an asset of {rulebook.venue}")
        for label, _ in step.expect.figures:
            group, _, key = label.partition(".")
            if group in ("wallet", "insurance") and key not in rulebook.data.assets:
                raise InputError(f"{where}.{label}", f"is not an asset of {rulebook.venue}")
            if group == "position":  # a symbol, or a hedge leg's key (BTCUSDT#long)
                rulebook.instrument(key_symbol(key), field_name=f"{where}.{label}")


def _failures(engine: Engine, step: Step, result: Result) -> list[str]:
    """Every expectation of the step that does not hold, one line each."""
    expect = step.expect
    failures = []
    if expect.code is not None and result.code is not expect.code:
        why = f" ({result.message})" if result.message else ""
        failures.append(f"code: expected {expect.code.value}, got {result.code.value}{why}")
    # an account the engine never saw reads as empty; it is not created here
    account = engine.accounts.get(expect.account or "") or AccountState(expect.account or "")
    for label, bounds in expect.figures:
        value = figure(engine, account, expect.pool, label)
        if isinstance(value, str):
            failures.append(f"{label}: {value}")
            continue
        missed = [f"{name.replace('_', ' ')} {text(b)}" for name, b in bounds if not COMPARE[name](value, b)]
        missed = [m.removeprefix("equals ") for m in missed]
        if missed:
            failures.append(f"{label}: expected {' and '.join(missed)}, got {text(value)}")
    if expect.liquidated is not None and (account.liquidations > 0) is not expect.liquidated:
        got = f"{str(account.liquidations > 0).lower()} ({account.liquidations} liquidations)"
        failures.append(f"liquidated: expected {str(expect.liquidated).lower()}, got {got}")
    happened = [str(event.get("event")) for event in result.events]
    for name in expect.events:
        if name not in happened:
            failures.append(f"events: no {name} (happened: {', '.join(dict.fromkeys(happened)) or 'none'})")
    return failures
