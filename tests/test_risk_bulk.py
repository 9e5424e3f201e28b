"""Bulk health against the margin functions: the float64 pass must give each account's health to
1e-9 and the same liquidatable verdict away from the boundary; near it, the exact re-check decides."""

from __future__ import annotations

from collections import Counter
from decimal import Decimal

import numpy as np
import pytest

from crossmargin.margin.evaluate import evaluate_account
from crossmargin.risk.book import Book, InstrumentTable, build_book
from crossmargin.risk.bulk import bulk_health, exact_liquidatable, remark, snapshot_of
from crossmargin.rules import load_rulebook
from crossmargin.units import InputError

#: Every shipped rulebook with tier tables; together they cover linear and inverse contracts, tiers
#: by notional, contracts and base quantity, both boundary rules, profit not counted (none here
#: yet), a liquidation fee inside the ratio (OKX) and a fee to close inside maintenance (Bybit).
VENUES = ["binance-usdm", "binance-coinm", "bybit", "okx", "hyperliquid", "dydx", "generic"]


def _table(venue: str) -> InstrumentTable:
    """The venue's instruments with tiers, in the settlement asset most of them share."""
    rulebook = load_rulebook(venue)
    tiered = [i for i in rulebook.data.instruments if i.tiers]
    asset = Counter(i.settlement_asset for i in tiered).most_common(1)[0][0]
    return InstrumentTable.from_rulebook(rulebook, [i.symbol for i in tiered if i.settlement_asset == asset])


def _random_book(table: InstrumentTable, accounts: int, seed: int) -> tuple[Book, np.ndarray]:
    """Accounts of 0-4 positions near the marks, sized across several tiers, some near liquidation."""
    rng = np.random.default_rng(seed)
    rulebook = table.rulebook
    instruments = [rulebook.instrument(s) for s in table.symbols]
    marks = np.array([rng.uniform(0.5, 80000) for _ in instruments])
    marks = np.array(
        [float(Decimal(m).quantize(i.tick_size)) or float(i.tick_size) for m, i in zip(marks, instruments, strict=True)]
    )
    counts = rng.integers(0, 5, accounts)
    starts = np.concatenate([[0], np.cumsum(counts)])
    rows = rng.integers(0, len(instruments), starts[-1])
    # a notional (coin value for inverse) spread over several tiers, in whole lots
    value = np.exp(rng.uniform(np.log(50), np.log(5e6), starts[-1]))
    lots = np.array([float(instruments[r].lot_size) for r in rows])
    inverse = table.inverse[rows]
    face = np.array([float(instruments[r].contract_size) for r in rows])
    raw = np.where(inverse, value / face, value / marks[rows])
    size = np.maximum(np.round(raw / lots), 1) * lots * rng.choice([-1.0, 1.0], starts[-1])
    entry = marks[rows] * rng.uniform(0.85, 1.15, starts[-1])
    notional_quote = np.where(inverse, np.abs(size) * face / marks[rows], np.abs(size) * marks[rows])
    per_account = np.bincount(np.repeat(np.arange(accounts), counts), weights=notional_quote, minlength=accounts)
    wallet = per_account * rng.uniform(0.0, 0.2, accounts) + rng.uniform(0, 100, accounts)
    return build_book(table, wallet, starts, rows, size, entry), marks


@pytest.mark.parametrize("venue", VENUES)
def test_vectorised_health_matches_the_margin_functions(venue):
    """1,500 random accounts per venue (10,500 in all) against `evaluate_account` one by one."""
    book, marks = _random_book(_table(venue), 1500, seed=VENUES.index(venue))
    margin, requirement, health, status = remark(book, marks)
    flagged = status == 1
    compared = 0
    for account in range(book.accounts):
        (pool,) = evaluate_account(snapshot_of(book, account, marks), with_prices=False).pools
        exact_margin, exact_requirement = float(pool.figures.margin_balance), float(pool.figures.requirement)
        scale = max(abs(exact_margin), abs(exact_requirement), 1.0)
        assert abs(margin[account] - exact_margin) <= 1e-9 * scale, account
        assert abs(requirement[account] - exact_requirement) <= 1e-9 * scale, account
        exact_health = pool.figures.health()
        if exact_health is None:
            assert np.isnan(health[account])
            continue
        assert abs(health[account] - float(exact_health)) <= 1e-9 * max(1.0, abs(float(exact_health))), account
        if abs(float(exact_health) - 1) > 1e-6:  # away from the boundary the verdicts agree
            assert flagged[account] == pool.liquidatable, account
            compared += 1
    assert compared > 1000


@pytest.mark.parametrize("venue", ["binance-usdm", "okx", "bybit"])
def test_every_verdict_near_the_boundary_is_the_exact_one(venue):
    book, marks = _random_book(_table(venue), 3000, seed=11)
    result = bulk_health(book, marks, tolerance=0.05)  # a wide band: many accounts re-checked
    assert result.liquidatable.any() and (~result.liquidatable).any()
    assert len(result.rechecked) > result.liquidatable.sum()  # the band holds more than the flagged
    for account in result.rechecked:
        assert result.liquidatable[account] == exact_liquidatable(book, int(account), marks)
    flagged = remark(book, marks).status == 1
    assert set(np.flatnonzero(flagged)) <= set(result.rechecked.tolist())


def test_an_account_on_the_boundary_gets_the_exact_verdict():
    """Health exactly 1 liquidates on Binance (MB <= MM). A float pass may land either side of the
    boundary; the re-check must report the exact verdict whatever the float one was."""
    table = _table("generic")
    # one long 1 BTC-PERP @ 50,000 marked 40,000: MM = 1 % x 40,000 = 400; MB = wallet - 10,000
    index = table.symbols.index("BTC-PERP")
    book = build_book(table, [10400.0], [0, 1], [index], [1.0], [50000.0])
    marks = np.full(len(table.symbols), 100.0)
    marks[index] = 40000.0
    result = bulk_health(book, marks)
    assert result.liquidatable[0] and 0 in result.rechecked
    assert exact_liquidatable(book, 0, marks)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"account_start": [0, 2]}, "account_start"),
        ({"signed_size": [0.0]}, r"signed_size\[0\]"),
        ({"entry_price": [-1.0]}, r"entry_price\[0\]"),
        ({"wallet": [float("nan")]}, r"wallet\[0\]"),
        ({"instrument": [99]}, r"instrument\[0\]"),
    ],
)
def test_bad_columns_are_refused_naming_the_column(change, field):
    table = _table("generic")
    columns = {"wallet": [100.0], "account_start": [0, 1], "instrument": [0], "signed_size": [1.0]}
    columns |= {"entry_price": [100.0]}
    columns.update(change)
    with pytest.raises(InputError, match=field):
        build_book(table, **columns)


def test_bad_prices_and_books_are_refused():
    table = _table("generic")
    book = build_book(table, [100.0], [0, 1], [0], [1.0], [100.0])
    with pytest.raises(InputError, match="prices"):
        remark(book, [1.0])
    with pytest.raises(InputError, match=r"prices\[0\]"):
        remark(book, np.zeros(len(table.symbols)))
    with pytest.raises(InputError, match="no tier table"):
        InstrumentTable.from_rulebook(load_rulebook("bybit"))  # its inverse contracts publish no tiers
    mixed = InstrumentTable.from_rulebook(load_rulebook("generic"))  # USD linear and BTC inverse
    rows = [mixed.symbols.index("BTC-PERP"), mixed.symbols.index("BTC-INV")]
    with pytest.raises(InputError, match="one settlement asset"):
        build_book(mixed, [1.0], [0, 2], rows, [1.0, 1.0], [100.0, 100.0])


def test_dask_partitions_give_the_single_machine_result():
    """A local Dask cluster re-marks the book part by part; joined, it is the same answer."""
    from crossmargin.risk.distributed import bulk_health_dask, partition

    book, marks = _random_book(_table("binance-usdm"), 4000, seed=21)
    alone = bulk_health(book, marks, tolerance=0.01)
    spread = bulk_health_dask(book, marks, partitions=5, tolerance=0.01)
    for name in ("margin_balance", "requirement", "health", "liquidatable", "rechecked"):
        np.testing.assert_array_equal(getattr(spread, name), getattr(alone, name), err_msg=name)
    assert spread.corrected == alone.corrected
    pieces = partition(book, 5)
    assert sum(piece.accounts for _, piece in pieces) == book.accounts
    assert sum(piece.positions for _, piece in pieces) == book.positions
    with pytest.raises(InputError, match="partitions"):
        partition(book, 0)
