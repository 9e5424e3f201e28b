"""Random streams over multi-asset and single-asset accounts side by side: no money is lost or
invented, debts live only where a multi-asset pool backs them, and the venue's rules hold after
every command.

After each command: every asset balances (debits equal credits), an auditor replaying the posted
transfers by itself finds the ledger's balances, the insurance fund is never negative, a negative
balance is only ever a multi-asset account's wallet, no debt is left above the auto-exchange
threshold, no flat account owes more than its collateral is worth, and after a price update no
pool holding positions is left at or below maintenance. The same stream run with and without
safe-price bands gives the same answers and state (multi-asset accounts are never banded).
"""

from __future__ import annotations

import random
from collections import defaultdict
from decimal import Decimal as D
from typing import NamedTuple

import pytest

from crossmargin.engine import funds
from crossmargin.engine.commands import (
    AssetPrice,
    Command,
    Deposit,
    MarketUpdate,
    MarksUpdate,
    PlaceOrder,
    Result,
    SetAssetMode,
    SetLeverage,
    SettleFunding,
    Withdraw,
)
from crossmargin.engine.core import Engine
from crossmargin.engine.exchange import price_of
from crossmargin.engine.ledger import AccountKind, LedgerAccount
from crossmargin.margin.collateral import collateral_value_usd
from crossmargin.rules import load_rulebook

SYMBOLS = {"BTC-PERP": (D("0.0001"), D("0.1"), D(50000)), "ETH-PERP": (D("0.001"), D("0.01"), D(3000))}
MULTI = [f"m{n}" for n in range(4)]
SINGLE = [f"s{n}" for n in range(3)]


class Audit:
    """The invariants, checked from outside the engine after every command."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.replayed: dict[LedgerAccount, D] = defaultdict(D)
        self.seen = 0

    def check(self, command: Command, result: Result) -> None:
        engine = self.engine
        journal = engine.journal or []
        for transfer in journal[self.seen :]:  # the auditor's own plain ledger
            self.replayed[transfer.debit] -= transfer.amount
            self.replayed[transfer.credit] += transfer.amount
        self.seen = len(journal)
        balances = engine.ledger.balances()
        assert {a: v for a, v in self.replayed.items() if v != 0} == balances
        engine.ledger.check_conservation()
        threshold = engine.rulebook.conventions.auto_exchange_threshold_usd
        assert threshold is not None
        for account, value in balances.items():
            if value >= 0 or account.kind in (AccountKind.CLEARING, AccountKind.FUNDING_POOL):
                continue  # the outside world, and funding owed to or by it (the engine's open interest is one-sided)
            assert account.kind is AccountKind.WALLET, f"{command}: {account} is negative"
            assert engine.accounts[account.owner].asset_mode == "multi", f"{account} owes outside a multi pool"
            assert -value * (price_of(engine, account.asset) or D(0)) <= threshold, f"{account}: debt left"
        for account_id in MULTI:
            account = engine.accounts.get(account_id)
            if account is not None and not account.positions:
                assert not self._ltv_at_least_one(account_id), f"{command}: flat {account_id} owes its collateral"
        if isinstance(command, MarketUpdate | MarksUpdate | AssetPrice) and result.code.accepted:
            for account in engine.accounts.values():
                if account.positions:
                    assert not engine.evaluate(account).liquidatable, f"{command}: {account.account_id} left"

    def _ltv_at_least_one(self, account_id: str) -> bool:
        engine = self.engine
        debts = collateral = D(0)
        for account, value in engine.ledger.owner_items(account_id):
            price = price_of(engine, account.asset)
            if price is None:
                continue
            if value < 0:
                debts -= value * price
            else:
                collateral += collateral_value_usd(value, price, engine.rulebook.collateral(account.asset))
        return debts > 0 and debts >= collateral


class Venue(NamedTuple):
    """What a stream trades: the rulebook, its contracts (lot, tick, first mark), the settlement
    asset, and the collateral asset whose USD price moves (with its first price and a deposit size)."""

    name: str
    symbols: dict[str, tuple[D, D, D]]
    settlement: str
    collateral: str
    collateral_price: D
    collateral_units: D


GENERIC = Venue("generic", SYMBOLS, "USD", "BTC", D(50000), D("0.01"))
# Binance Multi-Assets: USDC backs USDT-margined contracts, and USDC's own price can slip (a depeg)
BINANCE = Venue(
    "binance-usdm",
    {"BTCUSDT": (D("0.001"), D("0.10"), D(50000)), "ETHUSDT": (D("0.001"), D("0.01"), D(3000))},
    "USDT",
    "USDC",
    D(1),
    D(500),
)


class Stream:
    """One seeded stream of commands through one engine, audited after every command."""

    def __init__(self, venue: Venue, seed: int, *, bands: bool) -> None:
        self.venue = venue
        self.engine = Engine(load_rulebook(venue.name), keep_journal=True, bands=bands)
        self.audit = Audit(self.engine)
        self.rng = random.Random(seed)
        self.marks = {symbol: start for symbol, (_, _, start) in venue.symbols.items()}
        self.collateral_price = venue.collateral_price
        self.clock = 1
        self.outcomes: list[tuple[str, tuple[str, ...]]] = []
        self.multi_liquidations = 0

    def execute(self, command: Command) -> None:
        result = self.engine.execute(command)
        self.audit.check(command, result)
        self.outcomes.append((result.code.value, tuple(str(e["event"]) for e in result.events)))
        self.multi_liquidations += sum(
            e["event"] == "liquidation_started" and e["account"] in MULTI for e in result.events
        )

    def open_accounts(self) -> None:
        venue, rng = self.venue, self.rng
        self.execute(Deposit("fund", "insurance", venue.settlement, D(300000)))
        for asset, price in ((venue.collateral, self.collateral_price), (venue.settlement, D(1))):
            if asset != "USD":
                self.execute(AssetPrice(f"p-start-{asset}", asset, self.clock, price))
        for symbol, mark in self.marks.items():
            self.execute(MarketUpdate(f"m-start-{symbol}", symbol, self.clock, mark=mark, funding_rate=D("0.0001")))
        for account in MULTI:
            units = venue.collateral_units * rng.randint(2, 60)
            self.execute(Deposit(f"d-{account}", account, venue.collateral, units))
            self.execute(Deposit(f"du-{account}", account, venue.settlement, D(rng.randint(0, 3000))))
            self.execute(SetAssetMode(f"a-{account}", account, "multi"))
        for account in SINGLE:
            self.execute(Deposit(f"d-{account}", account, venue.settlement, D(rng.randint(1000, 20000))))
        for account in MULTI + SINGLE:
            for symbol in self.marks:
                self.execute(SetLeverage(f"l-{account}-{symbol}", account, symbol, D(25)))

    def step(self, number: int) -> None:
        rng, venue = self.rng, self.venue
        symbol = rng.choice(list(self.marks))
        lot, tick, _ = venue.symbols[symbol]
        draw = rng.random()
        if draw < 0.5:
            most = max(1, int(D(20000) / (self.marks[symbol] * lot)))  # up to 20,000 of notional
            size, side = lot * rng.randint(1, most), rng.choice(["buy", "sell"])
            self.execute(PlaceOrder(f"o{number}", rng.choice(MULTI + SINGLE), symbol, side, size))
        elif draw < 0.75:
            self.clock += 1000
            move = D(rng.choice([-900, -400, -150, -40, -10, 10, 40, 150, 400, 800])) / 10000
            self.marks[symbol] = max(tick, (self.marks[symbol] * (1 + move) / tick).to_integral_value() * tick)
            if rng.random() < 0.3:  # every mark at one instant, the others drifting a little too
                for other in self.marks:
                    if other != symbol:
                        other_tick = venue.symbols[other][1]
                        drift = 1 + D(rng.randint(-100, 100)) / 10000
                        self.marks[other] = (self.marks[other] * drift / other_tick).to_integral_value() * other_tick
                marks = tuple(sorted(self.marks.items()))
                self.execute(MarksUpdate(f"mm{number}", self.clock, marks))
            else:
                self.execute(MarketUpdate(f"m{number}", symbol, self.clock, mark=self.marks[symbol]))
        elif draw < 0.88:
            self.clock += 1000
            moves = [-1500, -800, -300, -100, 100, 300, 800, 1200] if venue.collateral == "BTC" else [-500, -50, 50]
            move = D(rng.choice(moves)) / 10000
            self.collateral_price = max(D("0.01"), (self.collateral_price * (1 + move)).quantize(D("0.0001")))
            self.execute(AssetPrice(f"p{number}", venue.collateral, self.clock, self.collateral_price))
        elif draw < 0.94:
            rate = D(rng.randint(-50, 50)) / 10000
            self.execute(MarketUpdate(f"r{number}", symbol, self.clock, funding_rate=rate))
            funding = self.engine.rulebook.instrument(symbol).funding
            interval_ms = (funding.interval_hours if funding else 1) * 3_600_000
            self.clock = (self.clock // interval_ms + 1) * interval_ms  # funding is exchanged at funding times only
            self.execute(SettleFunding(f"f{number}", symbol, self.clock))
        else:
            self.move_money(number, draw < 0.97)

    def move_money(self, number: int, deposit: bool) -> None:
        rng, venue = self.rng, self.venue
        account = rng.choice(MULTI + SINGLE)
        asset = venue.collateral if account in MULTI and rng.random() < 0.5 else venue.settlement
        if deposit:
            units = (
                venue.collateral_units * rng.randint(1, 20) if asset == venue.collateral else D(rng.randint(500, 5000))
            )
            self.execute(Deposit(f"t{number}", account, asset, units))
            return
        state = self.engine.accounts.get(account)
        allowed = funds.withdrawable(self.engine, state, asset) if state is not None else D(0)
        if allowed > 0:
            self.execute(Withdraw(f"w{number}", account, asset, allowed))


def _run(
    seed: int, *, bands: bool, count: int = 800, venue: Venue = GENERIC
) -> tuple[list[tuple[str, tuple[str, ...]]], str, int]:
    """Every result's code and event names, the final state hash, and how many multi-asset pools
    were liquidated."""
    stream = Stream(venue, seed, bands=bands)
    stream.open_accounts()
    for number in range(count):
        stream.step(number)
    return stream.outcomes, stream.engine.state_hash(), stream.multi_liquidations


@pytest.mark.parametrize("venue", [GENERIC, BINANCE], ids=lambda v: v.name)
@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_multi_asset_streams_keep_every_invariant_and_bands_change_nothing(seed, venue):
    banded, hash_banded, _ = _run(seed, bands=True, venue=venue)
    exact, hash_exact, _ = _run(seed, bands=False, venue=venue)
    for step, (fast, slow) in enumerate(zip(banded, exact, strict=True)):
        assert fast == slow, f"step {step}: with bands {fast}, checked exactly {slow}"
    assert hash_banded == hash_exact
    assert any(code == "accepted" for code, _ in banded)


@pytest.mark.parametrize("venue", [GENERIC, BINANCE], ids=lambda v: v.name)
def test_the_streams_reach_liquidations_and_auto_exchanges(venue):
    """The invariants mean something only if pools do owe, sell and get liquidated."""
    events: set[str] = set()
    liquidations = 0
    for seed in (1, 2, 3, 4):
        outcomes, _, count = _run(seed, bands=True, venue=venue)
        liquidations += count
        events |= {name for _, names in outcomes for name in names}
    assert liquidations >= 10  # multi-asset pools liquidated
    assert "auto_exchange" in events


def _price_walk(seed: int, *, bands: bool, venue: Venue = GENERIC) -> tuple[list[tuple[str, tuple[str, ...]]], int]:
    """Idle multi-asset accounts while asset prices walk, with small mark moves: only the price
    bands decide which of them an update checks. Results and the number of liquidations.

    On the generic venue the collateral (BTC) walks; on Binance the settlement asset (USDT, whose
    debts and requirements the pool counts at its price) walks beside the collateral (USDC)."""
    engine = Engine(load_rulebook(venue.name), bands=bands)
    rng = random.Random(seed)
    outcomes: list[tuple[str, tuple[str, ...]]] = []

    def execute(command: Command) -> None:
        result = engine.execute(command)
        outcomes.append((result.code.value, tuple(str(e["event"]) for e in result.events)))

    prices = {venue.collateral: venue.collateral_price}
    if venue.settlement != "USD":
        prices[venue.settlement] = D(1)
    marks = {symbol: start for symbol, (_, _, start) in venue.symbols.items()}
    for asset, price in prices.items():
        execute(AssetPrice(f"p-start-{asset}", asset, 1, price))
    for symbol, mark in marks.items():
        execute(MarketUpdate(f"m-start-{symbol}", symbol, 1, mark=mark))
    for n in range(12):
        account = f"w{n}"
        units = venue.collateral_units * rng.randint(5, 50)
        execute(Deposit(f"d{n}", account, venue.collateral, units))
        execute(SetAssetMode(f"a{n}", account, "multi"))
        symbol = rng.choice(list(marks))
        execute(SetLeverage(f"l{n}", account, symbol, D(50)))
        lot = engine.rulebook.instrument(symbol).lot_size
        notional = units * venue.collateral_price * rng.randint(20, 45)
        quantity = (notional / marks[symbol] / lot).to_integral_value() * lot
        execute(PlaceOrder(f"o{n}", account, symbol, rng.choice(["buy", "sell"]), quantity))
    for number in range(400):
        if rng.random() < 0.75:
            asset = rng.choice(sorted(prices))
            move = D(rng.randint(-300, 200) if asset == "BTC" else rng.randint(-150, 150)) / 10000
            prices[asset] = max(D("0.01"), (prices[asset] * (1 + move)).quantize(D("0.0001")))
            execute(AssetPrice(f"p{number}", asset, 2 + number, prices[asset]))
        else:
            symbol = rng.choice(list(marks))
            marks[symbol] = (marks[symbol] * (1 + D(rng.randint(-50, 50)) / 10000)).quantize(D("0.1"))
            execute(MarketUpdate(f"m{number}", symbol, 2 + number, mark=marks[symbol]))
    return outcomes, sum(account.liquidations for account in engine.accounts.values())


@pytest.mark.parametrize("venue", [GENERIC, BINANCE], ids=lambda v: v.name)
def test_price_bands_liquidate_on_the_same_update_as_exact_checks(venue):
    """Eight walks per venue; dropping a position's requirement, PnL or mark budget from its
    settlement asset's price exposure makes one of the Binance walks liquidate a step late."""
    liquidations = 0
    for seed in range(1, 9):
        banded, count = _price_walk(seed, bands=True, venue=venue)
        exact, _ = _price_walk(seed, bands=False, venue=venue)
        liquidations += count
        for step, (fast, slow) in enumerate(zip(banded, exact, strict=True)):
            assert fast == slow, f"seed {seed} step {step}: with bands {fast}, checked exactly {slow}"
    assert liquidations >= 10  # the walks do bring pools down
