"""Stress scenarios: uniform moves, moves scaled by each asset's beta to BTC, and scenario files.

A uniform move takes every asset down (or up) by the same fraction. That is the liquidation
move's question, asked of the engine. A beta-scaled move is closer to a real crash: each asset
moves by its beta to BTC times BTC's move, and the betas are estimated from the shipped hourly
history. A scenario file writes any path by hand, per asset and per step, with funding spikes,
collateral depegs, a thinned book and frozen marks. The incident library is written in this format.
"""

from __future__ import annotations

import itertools
from decimal import Decimal
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from crossmargin.risk.history import load_history
from crossmargin.risk.stress import MAX_STEPS, StressScenario, StressStep
from crossmargin.units import InputError, parse_decimal
from crossmargin.units.jsonio import read_text_file

FILE_KEYS = {"name", "description", "sources", "data", "data_files", "steps"}
STEP_KEYS = {"hours", "moves", "funding", "prices", "depth", "frozen", "clamp", "blackout", "note"}
INCIDENTS = (
    "march-2020", "may-2021", "luna-2022", "mango-2022", "ftx-2022",
    "hyperliquid-eth-whale-2025", "jelly-2025", "binance-october-2025",
)  # fmt: skip


def uniform(assets: list[str], move: Decimal, steps: int) -> StressScenario:
    """Every asset moves by ``move`` in ``steps`` equal steps, one hour apart."""
    _check_move(move, "uniform")
    path = tuple(StressStep(Decimal(n), {a: move * n / steps for a in assets}) for n in range(1, steps + 1))
    return StressScenario(f"uniform {move:+.1%}", path)


def betas(assets: list[str]) -> dict[str, Decimal]:
    """Each asset's beta to BTC from the shipped hourly returns (over the hours they all trade)."""
    names = ["BTC", *[a for a in assets if a != "BTC"]]
    returns = load_history().joint(names, field="beta")
    btc = returns[:, 0]
    variance = float(np.var(btc))
    out = {"BTC": Decimal(1)}
    for n, asset in enumerate(names[1:], start=1):
        slope = float(np.cov(returns[:, n], btc, bias=True)[0, 1]) / variance
        out[asset] = Decimal(repr(round(slope, 4)))
    return {a: out[a] for a in assets}


def beta_scaled(assets: list[str], btc_move: Decimal, steps: int) -> StressScenario:
    """Each asset moves by its beta times ``btc_move`` (never below -99 %), in ``steps`` steps."""
    _check_move(btc_move, "beta")
    scaled = {a: max(Decimal("-0.99"), b * btc_move) for a, b in betas(assets).items()}
    path = tuple(StressStep(Decimal(n), {a: m * n / steps for a, m in scaled.items()}) for n in range(1, steps + 1))
    shown = ", ".join(f"{a} {m:+.1%}" for a, m in scaled.items())
    return StressScenario(f"beta x BTC {btc_move:+.1%}", path, f"betas to BTC: {shown}")


def _check_move(move: Decimal, field: str) -> None:
    if not Decimal(-1) < move < Decimal(10):
        raise InputError(field, f"a move is a fraction above -1 (-0.2 is 20 % down), got {move}")


def load_scenario_file(path: str | Path) -> StressScenario:
    """A scenario file (YAML); every refusal names the step and the field."""
    try:
        raw = yaml.safe_load(read_text_file(path))
    except yaml.YAMLError as error:
        raise InputError(str(path), f"is not valid YAML ({' '.join(str(error).split())})") from None
    except RecursionError:
        raise InputError(str(path), "nests lists or mappings too deeply") from None
    return parse_scenario(raw, source=str(path))


def parse_scenario(raw: Any, *, source: str = "scenario") -> StressScenario:
    if not isinstance(raw, dict):
        raise InputError(source, "must be a mapping with name and steps")
    unknown = sorted(set(raw) - FILE_KEYS)
    if unknown:
        raise InputError(unknown[0], "is not a known key")
    if not isinstance(raw.get("name"), str) or not raw["name"]:
        raise InputError("name", "is missing")
    steps = raw.get("steps")
    if not isinstance(steps, list) or not steps:
        raise InputError("steps", "must be a non-empty list")
    if len(steps) > MAX_STEPS:
        raise InputError("steps", f"at most {MAX_STEPS:,} steps per scenario, got {len(steps):,}")
    parsed = tuple(_step(item, f"steps[{n}]") for n, item in enumerate(steps))
    for n, (before, after) in enumerate(itertools.pairwise(parsed), start=1):
        if after.hours <= before.hours:
            raise InputError(f"steps[{n}].hours", "must come after the step before")
    return StressScenario(raw["name"], parsed, str(raw.get("description", "")))


def _step(raw: Any, where: str) -> StressStep:
    if not isinstance(raw, dict):
        raise InputError(where, "must be a mapping")
    unknown = sorted(set(raw) - STEP_KEYS)
    if unknown:
        raise InputError(f"{where}.{unknown[0]}", "is not a known key")

    def numbers(key: str, **checks: bool) -> dict[str, Decimal]:
        value = raw.get(key, {})
        if not isinstance(value, dict):
            raise InputError(f"{where}.{key}", "must map assets to numbers")
        return {str(a): parse_decimal(v, field=f"{where}.{key}.{a}", **checks) for a, v in value.items()}

    moves = numbers("moves")
    for asset, move in moves.items():
        if move <= -1:
            raise InputError(f"{where}.moves.{asset}", f"must be above -1 (a price stays positive), got {move}")
    frozen = raw.get("frozen", [])
    if not isinstance(frozen, list) or not all(isinstance(a, str) for a in frozen):
        raise InputError(f"{where}.frozen", "must be a list of assets")
    depth = raw.get("depth")
    blackout = raw.get("blackout", False)
    if not isinstance(blackout, bool):
        raise InputError(f"{where}.blackout", "must be true or false")
    return StressStep(
        hours=parse_decimal(raw.get("hours"), field=f"{where}.hours", non_negative=True),
        moves=moves,
        funding=numbers("funding"),
        prices=numbers("prices", positive=True),
        depth=None if depth is None else parse_decimal(depth, field=f"{where}.depth", positive=True),
        frozen=frozenset(frozen),
        clamp=numbers("clamp"),
        blackout=blackout,
    )


def load_incident(name: str) -> StressScenario:
    """One file of the incident library (``all`` is expanded by :func:`incidents`)."""
    if name not in INCIDENTS:
        raise InputError("incident", f"unknown incident {name!r} (known: all, {', '.join(INCIDENTS)})")
    text = resources.files("crossmargin.risk.incidents").joinpath(f"{name}.yaml").read_text(encoding="utf-8")
    return parse_scenario(yaml.safe_load(text), source=name)


def incidents(names: list[str]) -> list[StressScenario]:
    """The named incidents, or the whole library for ``all``."""
    chosen = list(INCIDENTS) if "all" in names else names
    return [load_incident(name) for name in chosen]
