"""Replaying Monte Carlo paths through the margin functions: the exact decision on each path.

The float64 simulation decides when a path is liquidated. This module draws the same paths (same
seed, same chunks) and decides them exactly, in one of two ways:

- with the margin functions: each step re-marks the account's positions, books funding into the
  wallet at each funding time (rounded to the settlement asset's unit, as the engine does), and
  asks ``evaluate_account`` whether the pool is liquidatable;
- with the engine itself, on a fresh copy of the account: all marks at once each step, then
  funding at the funding times.

A disagreement can only come from a float rounding right at the boundary.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import numpy as np
import numpy.typing as npt

from crossmargin.margin.account import AccountSnapshot
from crossmargin.margin.evaluate import evaluate_account
from crossmargin.margin.funding import funding_payment
from crossmargin.margin.types import MarginMode
from crossmargin.risk.models import ReturnModel
from crossmargin.risk.montecarlo import Pool, chunk_paths, funding_events
from crossmargin.units import exact_context

I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]
HOUR_MS = 3_600_000


def _paths(model: ReturnModel, steps: int, paths: int, seed: int) -> Iterator[F64]:
    """The simulation's first ``paths`` paths of log returns, one at a time (same seeds, same chunks)."""
    chunk = chunk_paths(model, steps)
    done = 0
    for child in np.random.SeedSequence(seed).spawn(-(-paths // chunk)):
        count = min(chunk, paths - done)
        yield from model.draw(np.random.default_rng(child), count, steps)
        done += count


def _published_rates(snapshot: AccountSnapshot, pool: Pool) -> list[Decimal | None]:
    """Each position's funding rate as the venue publishes it (per its rate basis, where the pool
    holds it per interval); ``None`` where the contract has no funding."""
    rates: list[Decimal | None] = []
    for k, position in enumerate(snapshot.positions):
        funding = position.instrument.funding
        per_interval = Decimal(repr(float(pool.funding_rate[k])))
        rates.append(per_interval * funding.rate_basis_hours / funding.interval_hours if funding else None)
    return rates


def _exact_marks(pool: Pool, log_price: F64) -> list[Decimal]:
    """Each position's mark on the path, the float price taken at its exact binary value."""
    return [
        Decimal.from_float(float(pool.mark[k] * np.exp(log_price[pool.asset_of[k]]))) for k in range(len(pool.mark))
    ]


def exact_decisions(
    snapshot: AccountSnapshot, pool: Pool, model: ReturnModel, *, steps: int, paths: int, seed: int
) -> I64:
    """The step at which each of the first ``paths`` paths liquidates (-1: never), exactly."""
    events = funding_events(pool, steps, model.step_hours)
    rates = _published_rates(snapshot, pool)
    walks = (_walk(snapshot, pool, rates, returns, events) for returns in _paths(model, steps, paths, seed))
    return np.fromiter(walks, dtype=np.int64, count=paths)


def _walk(snapshot: AccountSnapshot, pool: Pool, rates: list[Decimal | None], returns: F64, events: I64) -> int:
    """One path, step by step, with the margin functions; the step it liquidates at, or -1 (an
    account liquidatable as it stands is liquidated at step 0, before any move)."""
    balances = dict(snapshot.balances)
    margins = [p.isolated_margin for p in snapshot.positions]  # funding moves an isolated margin
    log_price = np.zeros(len(pool.assets))
    with exact_context():
        if evaluate_account(snapshot, with_prices=False).liquidatable:
            return 0
        for step in range(len(returns)):
            log_price += returns[step]
            marks = _exact_marks(pool, log_price)
            prices = _exact_prices(snapshot, pool, log_price)
            paid = [Decimal(0)] * len(marks)
            for k, position in enumerate(snapshot.positions):
                for _ in range(int(events[step, k])):
                    rate = rates[k]
                    assert rate is not None  # funding times only exist where the contract has funding
                    unit = snapshot.rulebook.asset_unit(position.settlement_asset)
                    paid[k] += funding_payment(
                        position.instrument, position.side, position.size, marks[k], rate, unit=unit
                    )
            # the venue checks the new marks first, then settles funding and checks again
            for stage in (0, 1) if any(paid) else (0,):
                positions = []
                for k, (position, mark) in enumerate(zip(snapshot.positions, marks, strict=True)):
                    if stage and position.margin_mode is MarginMode.ISOLATED:
                        margins[k] = (margins[k] or Decimal(0)) + paid[k]
                    elif stage:
                        asset = position.settlement_asset
                        balances[asset] = balances.get(asset, Decimal(0)) + paid[k]
                    positions.append(position._replace(isolated_margin=margins[k]).with_mark(mark))
                view = snapshot._replace(positions=tuple(positions), balances=dict(balances), prices=prices)
                if evaluate_account(view, with_prices=False).liquidatable:
                    return step
    return -1


def _moving_prices(pool: Pool, log_price: F64) -> dict[str, Decimal]:
    """The collateral prices the model moves, on the path, each at its exact binary value."""
    collateral = pool.collateral
    return {
        asset: Decimal.from_float(float(collateral.price[c] * np.exp(log_price[collateral.driver[c]])))
        for c, asset in enumerate(collateral.assets)
        if collateral.driver[c] >= 0
    }


def _exact_prices(snapshot: AccountSnapshot, pool: Pool, log_price: F64) -> dict[str, Decimal]:
    """The account's collateral prices on the path."""
    return {**snapshot.prices, **_moving_prices(pool, log_price)}


def engine_decisions(
    snapshot: AccountSnapshot, pool: Pool, model: ReturnModel, *, steps: int, paths: int, seed: int
) -> I64:
    """The step at which the engine itself liquidates each of the first ``paths`` paths (-1: never).

    Each path starts from a fresh copy of the account in the engine. Every step publishes all the
    path's marks at once (``marks_update``), then settles funding at the funding times, exactly
    as a venue's feed would; the first ``liquidation_started`` decides.
    """
    from crossmargin.engine import commands as c
    from crossmargin.risk.engine_copy import copy_into_engine

    events = funding_events(pool, steps, model.step_hours)
    symbols = [p.symbol for p in snapshot.positions]
    rates = _published_rates(snapshot, pool)
    # funding times settle symbol by symbol; the account's receipts first, so that no moment
    # between two settlements is worse than the funding time as a whole
    order = sorted(range(len(symbols)), key=lambda k: float(pool.signed_size[k] * pool.funding_rate[k]))
    decided = np.full(paths, -1, dtype=np.int64)
    for number, returns in enumerate(_paths(model, steps, paths, seed)):
        setup: list[dict[str, Any]] = []
        engine = copy_into_engine(snapshot, setup)
        if any(e["event"] == "liquidation_started" for e in setup):
            decided[number] = 0  # liquidatable as it stands: the copy itself is liquidated
            continue
        for symbol, rate in zip(symbols, rates, strict=True):
            if rate is not None:
                engine.execute(c.MarketUpdate(f"rate-{symbol}", symbol, 0, funding_rate=rate))
        decided[number] = _engine_walk(engine, pool, symbols, order, returns, events, model.step_hours)
    return decided


def _engine_walk(
    engine: Any, pool: Pool, symbols: list[str], order: list[int], returns: F64, events: I64, step_hours: int
) -> int:
    from crossmargin.engine import commands as c

    log_price = np.zeros(len(pool.assets))
    for step in range(len(returns)):
        log_price += returns[step]
        time_ms = (step + 1) * step_hours * HOUR_MS
        marks = tuple(dict(zip(symbols, _exact_marks(pool, log_price), strict=True)).items())
        happened = []
        for asset, price in _moving_prices(pool, log_price).items():  # collateral first, then every mark
            happened += [
                e["event"] for e in engine.execute(c.AssetPrice(f"p{step}-{asset}", asset, time_ms, price)).events
            ]
        happened += [e["event"] for e in engine.execute(c.MarksUpdate(f"m{step}", time_ms, marks)).events]
        for k in order:  # at each funding time the step crossed, once per symbol and time
            if events[step, k] == 0:
                continue
            interval_ms = int(pool.funding_hours[k]) * HOUR_MS
            first = (step * step_hours * HOUR_MS) // interval_ms * interval_ms + interval_ms
            for at in range(first, time_ms + 1, interval_ms):
                settled = engine.execute(c.SettleFunding(f"f{step}-{k}-{at}", symbols[k], at))
                happened += [e["event"] for e in settled.events]
        if "liquidation_started" in happened:
            return step
    return -1
