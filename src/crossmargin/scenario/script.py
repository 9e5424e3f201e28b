"""Scenario scripts: a venue and a list of steps with expectations, read and validated before any runs.

Why: a script is how a user states a what-if without writing Python, and how the engine's rules are pinned,
one file per rule (``scenarios/``). A step is one command under its snake_case kind (``- place_order: {...}``)
with an optional ``id`` (the idempotency key, default ``step-<n>``) and ``expect``; see ``docs/scenarios.md``.
Numbers are decimal strings or integers: a YAML float (``0.5``) is refused, its binary value is not the decimal
the author wrote. A malformed file is one :class:`InputError` naming the step and the field
(``step 3 (place_order).quantity``), raised before any step runs (:mod:`crossmargin.scenario.runner` runs them).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from operator import eq, ge, gt, le, lt
from pathlib import Path
from typing import Any

import yaml
from yaml.constructor import ConstructorError

from crossmargin.engine.codec import KIND_ALIASES, decode_command
from crossmargin.engine.commands import Command, ResultCode
from crossmargin.units import InputError, parse_decimal

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
