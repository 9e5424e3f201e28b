"""Replaying Monte Carlo paths through the margin functions: the exact decision on each path.

The float64 simulation decides when a path is liquidated. This module draws the same paths (same
seed, same chunks) and walks them with exact decimals: each step re-marks the account's
positions, books funding into the wallet at each funding time (rounded to the settlement asset's
unit, payers rounded up, as the engine does), and asks ``evaluate_account`` whether the pool is
liquidatable. A disagreement can only come from a float rounding right at the boundary.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import numpy as np
import numpy.typing as npt

from crossmargin.margin.account import AccountSnapshot
from crossmargin.margin.evaluate import evaluate_account
from crossmargin.margin.funding import funding_payment
from crossmargin.risk.models import ReturnModel
from crossmargin.risk.montecarlo import CHUNK_PATHS, Pool, funding_events
from crossmargin.units import exact_context

I64 = npt.NDArray[np.int64]


def exact_decisions(
    snapshot: AccountSnapshot, pool: Pool, model: ReturnModel, *, steps: int, paths: int, seed: int
) -> I64:
    """The step at which each of the first ``paths`` paths liquidates (-1: never), exactly."""
    events = funding_events(pool, steps, model.step_hours)
    decided = np.full(paths, -1, dtype=np.int64)
    chunks = np.random.SeedSequence(seed).spawn(-(-paths // CHUNK_PATHS))
    done = 0
    for child in chunks:
        count = min(CHUNK_PATHS, paths - done)
        returns = model.draw(np.random.default_rng(child), count, steps)
        for offset in range(count):
            decided[done + offset] = _walk(snapshot, pool, returns[offset], events)
        done += count
        if done >= paths:
            break
    return decided


def _walk(snapshot: AccountSnapshot, pool: Pool, returns: npt.NDArray[np.float64], events: I64) -> int:
    """One path, step by step, with the margin functions; the step it liquidates at, or -1."""
    asset = snapshot.positions[0].settlement_asset
    unit = snapshot.rulebook.asset_unit(asset)
    rates = []  # as the venue publishes them: per its rate basis, not per interval
    for k, position in enumerate(snapshot.positions):
        funding = position.instrument.funding
        per_interval = Decimal(repr(float(pool.funding_rate[k])))
        rates.append(per_interval * funding.rate_basis_hours / funding.interval_hours if funding else Decimal(0))
    balances = dict(snapshot.balances)
    log_price = np.zeros(len(pool.assets))
    with exact_context():
        for step in range(len(returns)):
            log_price += returns[step]
            positions = []
            payments = Decimal(0)
            for k, position in enumerate(snapshot.positions):
                # the float path's price, taken at its exact binary value
                price = Decimal.from_float(float(pool.mark[k] * np.exp(log_price[pool.asset_of[k]])))
                positions.append(position.with_mark(price))
                for _ in range(int(events[step, k])):
                    payments += funding_payment(
                        position.instrument, position.side, position.size, price, rates[k], unit=unit
                    )
            # the venue checks the new marks first, then settles funding and checks again
            for paid in (Decimal(0), payments) if payments else (Decimal(0),):
                balances[asset] = balances.get(asset, Decimal(0)) + paid
                view = snapshot._replace(positions=tuple(positions), balances=dict(balances))
                if any(report.liquidatable for report in evaluate_account(view, with_prices=False).pools):
                    return step
    return -1


def engine_decisions(
    snapshot: AccountSnapshot, pool: Pool, model: ReturnModel, *, steps: int, paths: int, seed: int
) -> I64:
    """The step at which the engine itself liquidates each of the first ``paths`` paths (-1: never).

    Each path starts from a fresh copy of the account in the engine. Every step publishes all the
    path's marks at once (``marks_update``), then settles funding at the funding times, exactly
    as a venue's feed would; the first ``liquidation_started`` decides.
    """
    from crossmargin.engine import commands as c
    from crossmargin.risk.stress import copy_into_engine

    events = funding_events(pool, steps, model.step_hours)
    decided = np.full(paths, -1, dtype=np.int64)
    symbols = [p.symbol for p in snapshot.positions]
    published = []  # the rate as the venue publishes it: per its rate basis
    for k, position in enumerate(snapshot.positions):
        funding = position.instrument.funding
        per_interval = Decimal(repr(float(pool.funding_rate[k])))
        published.append(per_interval * funding.rate_basis_hours / funding.interval_hours if funding else None)
    done = 0
    for child in np.random.SeedSequence(seed).spawn(-(-paths // CHUNK_PATHS)):
        count = min(CHUNK_PATHS, paths - done)
        returns = model.draw(np.random.default_rng(child), count, steps)
        for offset in range(count):
            engine = copy_into_engine(snapshot)
            for symbol, rate in zip(symbols, published, strict=True):
                if rate is not None:
                    engine.execute(c.MarketUpdate(f"rate-{symbol}", symbol, 0, funding_rate=rate))
            decided[done + offset] = _engine_walk(engine, pool, symbols, returns[offset], events, model.step_hours)
        done += count
        if done >= paths:
            break
    return decided


def _engine_walk(
    engine: Any, pool: Pool, symbols: list[str], returns: npt.NDArray[np.float64], events: I64, step_hours: int
) -> int:
    from crossmargin.engine import commands as c

    log_price = np.zeros(len(pool.assets))
    for step in range(len(returns)):
        log_price += returns[step]
        time_ms = (step + 1) * step_hours * 3_600_000
        marks = tuple(
            (symbol, Decimal.from_float(float(pool.mark[k] * np.exp(log_price[pool.asset_of[k]]))))
            for k, symbol in enumerate(symbols)
        )
        result = engine.execute(c.MarksUpdate(f"m{step}", time_ms, marks))
        happened = [e["event"] for e in result.events]
        # funding times settle symbol by symbol; the account's receipts first, so that no moment
        # between two settlements is worse than the funding time as a whole
        order = sorted(range(len(symbols)), key=lambda k: float(pool.signed_size[k] * pool.funding_rate[k]))
        for k in order:
            symbol = symbols[k]
            for n in range(int(events[step, k])):
                settled = engine.execute(c.SettleFunding(f"f{step}-{k}-{n}", symbol, time_ms))
                happened += [e["event"] for e in settled.events]
        if "liquidation_started" in happened:
            return step
    return -1
