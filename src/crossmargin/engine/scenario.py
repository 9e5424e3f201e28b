"""Scenario scripts: a venue and a list of steps, run through the real engine, with expectations.

Why: a script is how a user states a what-if without writing Python, and how the engine's rules are pinned,
one file per rule (``scenarios/``). A step is one command under its snake_case kind (``- place_order: {...}``)
with an optional ``id`` (the idempotency key, default ``step-<n>``) and ``expect``; see ``docs/scenarios.md``.
Numbers are decimal strings or integers: a YAML float (``0.5``) is refused, its binary value is not the decimal
the author wrote. A malformed file is one :class:`InputError` naming the step and the field
(``step 3 (place_order).quantity``), raised before any step runs. Figures are read from the engine itself (its
ledger, its positions, ``engine.evaluate``), never recomputed here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from operator import eq, ge, gt, le, lt
from pathlib import Path
from typing import Any

import yaml
from yaml.constructor import ConstructorError

from crossmargin.engine.codec import KIND_ALIASES, decode_command
from crossmargin.engine.commands import Command, Result, ResultCode
from crossmargin.engine.core import Engine
from crossmargin.engine.ledger import LedgerError
from crossmargin.engine.scenario_figures import display, figure, text
from crossmargin.engine.state import AccountState
from crossmargin.rules import load_rulebook
from crossmargin.units import InputError, exact_context, parse_decimal

Executor = Callable[[Command], Result]
#: ``(operator, value)`` pairs that must all hold: ``equals``, ``above``, ``below``, ``at_least``, ``at_most``.
Bounds = tuple[tuple[str, Decimal], ...]
COMPARE = {"equals": eq, "above": gt, "below": lt, "at_least": ge, "at_most": le}
#: Figures of the account's cross pool (``engine.evaluate``), one value each.
POOL_FIGURES = ("health", "margin_ratio", "withdrawable")
#: Figures keyed by asset or symbol: ``wallet: {USD: ...}``.
KEYED_FIGURES = ("wallet", "position", "insurance")
EXPECT_KEYS = ("code", "account", "pool", *POOL_FIGURES, *KEYED_FIGURES, "liquidated", "events")
STEP_KEYS = ("id", "expect")


@dataclass(frozen=True)
class Expectation:
    """What must hold after a step; every figure is ``(label, bounds)`` such as ``("wallet.USD", ...)``."""

    code: ResultCode | None = None
    account: str | None = None
    pool: str | None = None
    figures: tuple[tuple[str, Bounds], ...] = ()
    liquidated: bool | None = None
    events: tuple[str, ...] = ()

    @property
    def count(self) -> int:
        """How many checks this expectation makes (each figure and each event name is one)."""
        return (self.code is not None) + len(self.figures) + (self.liquidated is not None) + len(self.events)


@dataclass(frozen=True)
class Step:
    number: int
    kind: str
    command: Command
    expect: Expectation


@dataclass(frozen=True)
class Scenario:
    venue: str
    steps: tuple[Step, ...]
    description: str = ""


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


class _StrictLoader(yaml.SafeLoader):
    """Safe YAML that refuses a key given twice, the usual trace of a forgotten ``- `` between steps."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[object] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            tagged = (type(key), key) if isinstance(key, str | int | bool) else None  # hashable ones
            if tagged is not None and tagged in seen:
                raise ConstructorError(None, None, f"duplicate key {key!r}", key_node.start_mark)
            seen.add(tagged)
        return super().construct_mapping(node, deep=deep)


def _step_lines(text: str) -> list[int]:
    """First line of each item of the top-level ``steps`` list, as far as the YAML parses: a syntax
    error carries only a line, and this names the step it falls in."""
    lines: list[int] = []
    depth, expecting_key, key = 0, True, None
    try:
        for event in yaml.parse(text, Loader=yaml.SafeLoader):
            starts = isinstance(event, yaml.MappingStartEvent | yaml.SequenceStartEvent | yaml.ScalarEvent)
            if starts and depth == 2 and key == "steps" and event.start_mark:
                lines.append(event.start_mark.line + 1)
            if isinstance(event, yaml.ScalarEvent) and depth == 1:
                key, expecting_key = (event.value, False) if expecting_key else (key, True)
            elif isinstance(event, yaml.MappingStartEvent | yaml.SequenceStartEvent):
                depth += 1
            elif isinstance(event, yaml.MappingEndEvent | yaml.SequenceEndEvent):
                depth -= 1
                expecting_key = expecting_key or depth == 1
    except yaml.YAMLError:
        pass
    return lines


def _load_yaml(text: str, source: str) -> object:
    """Parse with the strict loader; a syntax error becomes one line naming the step and position."""
    try:
        return yaml.load(text, Loader=_StrictLoader)  # a SafeLoader subclass
    except yaml.YAMLError as error:
        mark: yaml.Mark | None = getattr(error, "problem_mark", None)
        problem = " ".join(str(getattr(error, "problem", None) or error).split())
        if mark is None:
            raise InputError(source, f"is not valid YAML ({problem})") from None
        line = mark.line + 1
        step = sum(1 for start in _step_lines(text) if start <= line)
        where = f"step {step}" if step else source
        raise InputError(where, f"is not valid YAML at line {line}, column {mark.column + 1}: {problem}") from None


def load_scenario(path: Path) -> Scenario:
    """Read and validate a scenario file (no step runs)."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise InputError(str(path), f"cannot be read ({error})") from None
    return parse_scenario(text, source=path.name)


def parse_scenario(text: str, *, source: str = "scenario") -> Scenario:
    """Validate a scenario's text into a venue and its steps, or raise one :class:`InputError`."""
    raw = _load_yaml(text, source)
    if not isinstance(raw, dict):
        raise InputError(source, "must be a mapping with venue: and steps:")
    unknown = sorted(str(k) for k in raw if k not in ("venue", "steps", "description"))
    if unknown:
        raise InputError(unknown[0], "is not a scenario key (venue, description, steps)")
    venue = raw.get("venue")
    if not isinstance(venue, str) or not venue:
        raise InputError("venue", "must name a venue, such as generic")
    description = raw.get("description", "")
    if not isinstance(description, str):
        raise InputError("description", "must be text")
    steps = raw.get("steps")
    if not isinstance(steps, list) or not steps:
        raise InputError("steps", "must be a non-empty list of steps")
    return Scenario(venue, tuple(_parse_step(item, n) for n, item in enumerate(steps, start=1)), description)


def _parse_step(raw: object, number: int) -> Step:
    """One command under its kind, with ``id:`` and ``expect:``; the command is decoded by the codec."""
    where = f"step {number}"
    if not isinstance(raw, dict):
        raise InputError(where, "must be a mapping with one command, such as deposit: {...}")
    keys = [str(key) for key in raw if key not in STEP_KEYS]
    if not keys:
        raise InputError(where, "names no command (such as deposit: {...})")
    kind = next((key for key in keys if key in KIND_ALIASES), keys[0])
    if kind not in KIND_ALIASES:
        raise InputError(f"{where} ({kind})", f"unknown command (known: {', '.join(sorted(KIND_ALIASES))})")
    where = f"{where} ({kind})"
    if len(keys) > 1:
        other = next(key for key in keys if key != kind)
        raise InputError(f"{where}.{other}", "is not a step key (a step holds one command, id: and expect:)")
    step_id = raw.get("id", f"step-{number}")
    if isinstance(step_id, bool) or not isinstance(step_id, str | int) or step_id == "":
        raise InputError(f"{where}.id", "must be a non-empty string")
    body = raw[kind]
    if not isinstance(body, dict):
        raise InputError(where, "must hold the command's fields as a mapping")
    for reserved in ("kind", "command_id"):
        if reserved in body:
            raise InputError(f"{where}.{reserved}", "is set by the step itself (the kind key and id:)")
    command = decode_command({**body, "kind": kind, "command_id": str(step_id)}, where=where)
    return Step(number, kind, command, _parse_expect(raw.get("expect"), f"{where}.expect", command))


def _bounds(raw: object, where: str) -> Bounds:
    """An exact value, or a mapping of one or more of above, below, at_least, at_most."""
    if not isinstance(raw, dict):
        return (("equals", parse_decimal(raw, field=where)),)
    if not raw:
        raise InputError(where, "names no bound (above, below, at_least, at_most)")
    bounds = []
    for name, value in raw.items():
        if name not in COMPARE or name == "equals":
            raise InputError(f"{where}.{name}", "is not a bound (above, below, at_least, at_most)")
        bounds.append((str(name), parse_decimal(value, field=f"{where}.{name}")))
    return tuple(bounds)


def _parse_figures(raw: dict[Any, Any], where: str) -> list[tuple[str, Bounds]]:
    """Pool figures by name, and wallet, position and insurance figures keyed by asset or symbol."""
    figures = [(name, _bounds(raw[name], f"{where}.{name}")) for name in POOL_FIGURES if name in raw]
    for group in (g for g in KEYED_FIGURES if g in raw):
        table = raw[group]
        if not isinstance(table, dict) or not table:
            raise InputError(f"{where}.{group}", 'must map an asset or symbol to a value, such as {USD: "100"}')
        figures += [(f"{group}.{key}", _bounds(value, f"{where}.{group}.{key}")) for key, value in table.items()]
    return figures


def _parse_expect(raw: object, where: str, command: Command) -> Expectation:
    """A bare result code, or a mapping of checks about the account the command names."""
    if raw is None:
        return Expectation(account=getattr(command, "account", None))
    raw = {"code": raw} if isinstance(raw, str) else raw
    if not isinstance(raw, dict):
        raise InputError(where, "must be a result code or a mapping of expectations")
    unknown = sorted(str(k) for k in raw if k not in EXPECT_KEYS)
    if unknown:
        raise InputError(f"{where}.{unknown[0]}", f"is not an expectation ({', '.join(EXPECT_KEYS)})")
    codes = {c.value: c for c in ResultCode}
    if "code" in raw and str(raw["code"]) not in codes:
        raise InputError(f"{where}.code", f"must be a result code ({', '.join(codes)}), got {raw['code']!r}")
    figures = _parse_figures(raw, where)
    liquidated = raw.get("liquidated")
    if liquidated is not None and not isinstance(liquidated, bool):
        raise InputError(f"{where}.liquidated", "must be true or false")
    events = raw.get("events", [])
    if not isinstance(events, list) or not all(isinstance(e, str) and e for e in events):
        raise InputError(f"{where}.events", "must be a list of event names")
    account = raw.get("account", getattr(command, "account", None))
    if account is not None and (not isinstance(account, str) or not account):
        raise InputError(f"{where}.account", "must be an account name")
    pool = raw.get("pool")
    if pool is not None and not isinstance(pool, str):
        raise InputError(f"{where}.pool", "must be a settlement asset")
    if account is None and (liquidated is not None or any(not f[0].startswith("insurance.") for f in figures)):
        raise InputError(f"{where}.account", "is needed: this command names no account")
    code = codes[str(raw["code"])] if "code" in raw else None
    return Expectation(code, account, pool, tuple(figures), liquidated, tuple(events))


# -- running -------------------------------------------------------------------------------------


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
            if group == "position":
                rulebook.instrument(key, field_name=f"{where}.{label}")


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
