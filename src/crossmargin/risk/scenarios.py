"""Stress scenarios: uniform moves, moves scaled by each asset's beta to BTC, and scenario files.

A uniform move takes every asset down (or up) by the same fraction. That is the liquidation
move's question, asked of the engine. A beta-scaled move is closer to a real crash: each asset
moves by its beta to BTC times BTC's move, and the betas are estimated from the shipped hourly
history. A scenario file writes any path by hand, per asset and per step, with funding spikes,
collateral depegs, a thinned book and frozen marks. The incident library is written in this format.

An incident's data covers the assets of its day, not every account's: a held asset it never
moves follows BTC by its beta (:func:`follow_btc`), and the report says so. An asset with no
shipped history to estimate a beta from stays at its price, and the report names it.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import replace
from decimal import Decimal
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from crossmargin.margin.account import AccountSnapshot
from crossmargin.margin.evaluate import Evaluation, evaluate_account
from crossmargin.risk.history import load_history
from crossmargin.risk.stress import MAX_STEPS, StressScenario, StressStep, held_assets
from crossmargin.units import InputError, Rounding, div, parse_decimal
from crossmargin.units.jsonio import read_text_file

FILE_KEYS = {"name", "description", "sources", "data", "data_files", "steps"}
STEP_KEYS = {"hours", "moves", "funding", "prices", "depth", "frozen", "clamp", "blackout", "note"}
INCIDENTS = (
    "march-2020", "may-2021", "luna-2022", "mango-2022", "ftx-2022",
    "hyperliquid-eth-whale-2025", "jelly-2025", "binance-october-2025",
)  # fmt: skip


#: The sizes of the moves ``stress`` runs when given no scenario, in each adverse direction.
DEFAULT_MOVE_SIZES = (Decimal("0.1"), Decimal("0.2"), Decimal("0.3"))
#: The lowest a beta-scaled move takes an asset: a price stays positive.
FLOOR_MOVE = Decimal("-0.99")


def uniform(assets: list[str], move: Decimal, steps: int) -> StressScenario:
    """Every asset moves by ``move`` in ``steps`` equal steps, one hour apart."""
    _check_move(move, "uniform")
    path = tuple(StressStep(Decimal(n), {a: move * n / steps for a in assets}) for n in range(1, steps + 1))
    return StressScenario(f"uniform {move:+.1%}", path)


def with_history(assets: Sequence[str]) -> list[str]:
    """The assets the shipped hourly history has prices for (the ones a beta can be estimated for)."""
    known = load_history().assets
    return [a for a in assets if a in known]


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
    """Each asset moves by its beta times ``btc_move`` (never below -99 %), in ``steps`` steps. An
    asset without shipped history has no beta: it is left at its price, and the description and
    the report (``unmoved``) say so rather than move it by a guess."""
    _check_move(btc_move, "beta")
    estimable = with_history(assets)
    scaled = {a: max(FLOOR_MOVE, b * btc_move) for a, b in betas(estimable).items()} if estimable else {}
    path = tuple(StressStep(Decimal(n), {a: m * n / steps for a, m in scaled.items()}) for n in range(1, steps + 1))
    shown = ", ".join(f"{a} {m:+.1%}" for a, m in scaled.items())
    missing = [a for a in assets if a not in scaled]
    if missing:
        shown += f"; not moved, no shipped history: {', '.join(missing)}"
    return StressScenario(f"beta x BTC {btc_move:+.1%}", path, f"betas to BTC: {shown}")


def adverse_directions(evaluation: Evaluation) -> tuple[int, ...]:
    """The directions (-1: a fall, +1: a rise) a uniform move can liquidate the account in, the
    nearer first: the side of the evaluated liquidation move nearest zero, and both sides where
    the account has a liquidation move on both (a hedged book, or pools leaning opposite ways).
    An isolated position counts by its own liquidation price. Where no move liquidates the
    account either way (a perfect hedge), both, the fall first: neither can be left untested."""
    nearest: dict[int, Decimal] = {}

    def found(sign: int, move: Decimal | None) -> None:
        if move is not None:
            nearest[sign] = min(abs(move), nearest.get(sign, abs(move)))

    for pool in evaluation.pools:
        found(-1, pool.move.down)
        found(1, pool.move.up)
    for isolated in evaluation.isolated:
        price, mark = isolated.prices.liquidation_exact, isolated.figures.position.mark_price
        if price is not None:
            found(-1 if price <= mark else 1, div(price - mark, mark, rounding=Rounding.HALF_EVEN))
    if not nearest:
        return (-1, 1)
    return tuple(sorted(nearest, key=lambda sign: (nearest[sign], sign)))


def default_scenarios(snapshot: AccountSnapshot, steps: int, *, beta: bool = True) -> list[StressScenario]:
    """What ``stress`` runs when given no scenario: uniform and beta-scaled moves of 10, 20 and 30 %
    of every held asset, in each direction that can liquidate the account (the nearer first), so
    a net short is stressed by rises and a hedged book both ways. The beta-scaled moves are left
    out where no held asset has the shipped history a beta comes from (they would move nothing),
    and with ``beta=False``."""
    assets = list(held_assets(snapshot))
    chosen = []
    for sign in adverse_directions(evaluate_account(snapshot)):
        moves = [sign * size for size in DEFAULT_MOVE_SIZES]
        chosen += [uniform(assets, move, steps) for move in moves]
        if beta and with_history(assets):
            chosen += [beta_scaled(assets, move, steps) for move in moves]
    return chosen


def follow_btc(scenario: StressScenario, held: Sequence[str]) -> StressScenario:
    """``scenario`` with each held asset it never moves following BTC: at every step that moves
    BTC, the asset moves by its beta to BTC (the shipped history's) times BTC's move, never below
    -99 %. An incident's files hold the assets of its day; a SOL long left flat through May 2021
    would read as a hedge. The betas are kept in ``proxies`` so the report says which assets
    moved by a beta, not by data; an asset without shipped history, or a path without BTC,
    leaves the asset at its price (the report names it as unmoved)."""
    if not any("BTC" in step.moves for step in scenario.steps):
        return scenario
    missing = [a for a in held if a != "BTC" and not scenario.moves_asset(a)]
    proxies = {a: betas([a])[a] for a in with_history(missing)}
    if not proxies:
        return scenario

    def followed(step: StressStep) -> StressStep:
        if "BTC" not in step.moves:
            return step
        btc = step.moves["BTC"]
        return replace(step, moves={**step.moves, **{a: max(FLOOR_MOVE, b * btc) for a, b in proxies.items()}})

    steps = tuple(followed(step) for step in scenario.steps)
    return replace(scenario, steps=steps, proxies={**scenario.proxies, **proxies})


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


def incidents(names: list[str], held: Sequence[str] = ()) -> list[StressScenario]:
    """The named incidents, or the whole library for ``all``; each ``held`` asset an incident
    does not move follows BTC by its beta (:func:`follow_btc`)."""
    chosen = list(INCIDENTS) if "all" in names else names
    return [follow_btc(load_incident(name), held) for name in chosen]
