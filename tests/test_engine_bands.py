"""Safe-price bands are a shortcut, never a different answer: per venue, an engine that uses them
and one that checks every holder exactly on every update give the same result to every command
and end in the same state.

The streams lean on what the bands skip: marks drifting and gapping both ways, funding at high
rates, reductions into the book, wallets drained to what may leave. Venues differ in what the
bands rest on (liquidation fee inside the ratio on OKX, profit not counted toward maintenance
where a venue says so, partial liquidation styles), so each shipped single-asset venue is run.
"""

from __future__ import annotations

import random
from decimal import Decimal as D

import pytest

from crossmargin.engine import funds
from crossmargin.engine.commands import (
    Command,
    Deposit,
    MarketUpdate,
    MarksUpdate,
    PlaceOrder,
    SettleFunding,
    Withdraw,
)
from crossmargin.engine.core import Engine
from crossmargin.rules import load_rulebook

VENUES = ["generic", "binance-usdm", "okx", "hyperliquid", "dydx"]
START_MARK = {"BTC": D(50000), "ETH": D(3000)}
ACCOUNTS = [f"t{n}" for n in range(8)]


def _instruments(venue: str) -> list[tuple[str, str, D, D]]:
    """(symbol, settlement asset, lot, tick) of the venue's linear BTC and ETH contracts with tiers."""
    rulebook = load_rulebook(venue)
    return [
        (i.symbol, i.settlement_asset, i.lot_size, i.tick_size)
        for i in rulebook.data.instruments
        if i.kind == "linear" and i.base_asset in START_MARK and i.tiers and i.funding is not None
    ]


def _drift_others(marks: dict[str, D], moved: str, ticks: dict[str, D], rng: random.Random) -> None:
    """The other marks drift a little, to the tick, so that one update moves them all."""
    for other, mark in marks.items():
        if other != moved:
            drift = 1 + D(rng.choice([-120, -40, 40, 120])) / 10000
            marks[other] = (mark * drift / ticks[other]).to_integral_value() * ticks[other]


def _next_funding_time(engine: Engine, symbol: str, clock: int) -> int:
    """The first funding time of the symbol after ``clock`` (the clock itself without funding)."""
    funding = engine.rulebook.instrument(symbol).funding
    if funding is None:
        return clock
    interval_ms = funding.interval_hours * 3_600_000
    return (clock // interval_ms + 1) * interval_ms


def _run(venue: str, seed: int, *, bands: bool, count: int = 400) -> tuple[list[tuple[str, tuple[str, ...]]], str]:
    """Drive one engine with a seeded stream; every result's code and event names, and the final hash."""
    engine = Engine(load_rulebook(venue), bands=bands)
    rng = random.Random(seed)
    instruments = _instruments(venue)
    asset = instruments[0][1]
    marks = {symbol: START_MARK["BTC" if "BTC" in symbol else "ETH"] for symbol, *_ in instruments}
    clock = 1
    outcomes: list[tuple[str, tuple[str, ...]]] = []

    def execute(command: Command) -> None:
        result = engine.execute(command)
        outcomes.append((result.code.value, tuple(str(event["event"]) for event in result.events)))

    execute(Deposit("fund", "insurance", asset, D(10_000_000)))
    for symbol, mark in marks.items():
        execute(MarketUpdate(f"m0-{symbol}", symbol, clock, mark=mark, index=mark, funding_rate=D("0.0001")))
    for account in ACCOUNTS:
        execute(Deposit(f"d-{account}", account, asset, D(rng.randint(500, 20000))))
    for number in range(count):
        symbol, _, lot, tick = rng.choice(instruments)
        draw = rng.random()
        if draw < 0.55:
            size = lot * rng.randint(1, 400) * (10 if "ETH" in symbol else 1)
            side = rng.choice(["buy", "sell"])
            execute(PlaceOrder(f"o{number}", rng.choice(ACCOUNTS), symbol, side, size))
        elif draw < 0.9:
            clock += 1000
            step = D(rng.choice([-300, -120, -40, -10, 10, 40, 120, 300])) / 10000
            marks[symbol] = max(tick, (marks[symbol] * (1 + step) / tick).to_integral_value() * tick)
            if rng.random() < 0.25:  # all marks at one instant: each holder checked once, at all of them
                _drift_others(marks, symbol, {s: t for s, _, _, t in instruments}, rng)
                execute(MarksUpdate(f"mm{number}", clock, tuple(sorted(marks.items()))))
            else:
                execute(MarketUpdate(f"m{number}", symbol, clock, mark=marks[symbol], index=marks[symbol]))
        elif draw < 0.95:
            rate = D(rng.randint(-30, 30)) / 10000
            execute(MarketUpdate(f"r{number}", symbol, clock, funding_rate=rate))
            clock = _next_funding_time(engine, symbol, clock)  # funding is exchanged at funding times only
            execute(SettleFunding(f"f{number}", symbol, clock))
        else:
            account = engine.accounts.get(rng.choice(ACCOUNTS))
            if account is not None:
                allowed = funds.withdrawable(engine, account, asset)
                if allowed > 0:
                    execute(Withdraw(f"w{number}", account.account_id, asset, allowed))
    engine.ledger.check_conservation()
    return outcomes, engine.state_hash()


@pytest.mark.parametrize("venue", VENUES)
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_bands_change_nothing_but_the_work(venue, seed):
    with_bands = _run(venue, seed, bands=True)
    exact = _run(venue, seed, bands=False)
    codes = {code for code, _ in exact[0]}
    assert "accepted" in codes  # the stream did trade
    for step, (fast, slow) in enumerate(zip(with_bands[0], exact[0], strict=True)):
        assert fast == slow, f"step {step}: with bands {fast}, checked exactly {slow}"
    assert with_bands[1] == exact[1]


def test_the_streams_reach_liquidations():
    """The comparison means something only if accounts do get liquidated along the way."""
    liquidations = 0
    for venue in VENUES:
        outcomes, _ = _run(venue, 1, bands=True)
        liquidations += sum("liquidation_started" in events for _, events in outcomes)
    assert liquidations > 0
