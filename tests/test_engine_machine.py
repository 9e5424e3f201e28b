"""Random command sequences over several accounts and instruments, checked after every step.

A Hypothesis state machine drives the engine; after each command the ledger must conserve
every asset, no user balance may be negative (but for the wallet of a multi-asset account, whose
pool backs its debt, and then never beyond the auto-exchange threshold), the insurance fund never
negative, and an auditor kept apart from the engine must agree: plain sums over every transfer the engine
journaled (each checked against money rules written here, not in the engine) equal the
ledger's balances, and the events' fees and funding equal the ledger's.
"""

from __future__ import annotations

import os
from collections import defaultdict
from decimal import Decimal as D

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from crossmargin.engine import funds
from crossmargin.engine.commands import (
    ApproveCollateral,
    AssetPrice,
    CancelOrder,
    Deposit,
    ImportPosition,
    MarketUpdate,
    MarksUpdate,
    OrderType,
    PlaceOrder,
    SetAssetMode,
    SetLeverage,
    SetMarginMode,
    SettleFunding,
    Stake,
    TransferMargin,
    Unstake,
    Withdraw,
)
from crossmargin.engine.core import Engine
from crossmargin.engine.ledger import USER_KINDS, AccountKind, LedgerAccount
from crossmargin.engine.oracle import Action
from crossmargin.rules import load_rulebook

ACCOUNTS = ["a", "b", "c", "m"]  # m: a multi-asset account, BTC collateral backing USD contracts
WAL, ISO, STK = AccountKind.WALLET, AccountKind.ISOLATED, AccountKind.STAKED
CLEAR, FEES, FUND, POOL = AccountKind.CLEARING, AccountKind.FEES, AccountKind.INSURANCE, AccountKind.FUNDING_POOL
# The money rules, written apart from the engine: which kinds of account each reason may move between.
ALLOWED: dict[str, set[tuple[AccountKind, AccountKind]]] = {
    "deposit": {(CLEAR, WAL), (CLEAR, FUND)},
    "withdraw": {(WAL, CLEAR)},
    "fee": {(WAL, FEES)},
    "realized_pnl": {(CLEAR, WAL), (WAL, CLEAR), (CLEAR, ISO), (ISO, CLEAR)},
    "pnl_settled": {(CLEAR, WAL)},
    "funding": {(WAL, POOL), (ISO, POOL), (POOL, WAL), (POOL, ISO)},
    "isolated_margin": {(WAL, ISO), (ISO, WAL)},
    "isolated_margin_on_open": {(WAL, ISO)},
    "isolated_margin_released": {(ISO, WAL)},
    "liquidation_close": {(CLEAR, WAL), (WAL, CLEAR), (CLEAR, ISO), (ISO, CLEAR)},
    "partial_liquidation": {(CLEAR, WAL), (WAL, CLEAR), (CLEAR, ISO), (ISO, CLEAR)},
    "liquidation_fee": {(WAL, FUND), (ISO, FUND)},
    "bankruptcy_settlement": {(WAL, FUND), (ISO, FUND), (STK, FUND)},  # a multi pool's staked collateral too
    "insurance_cover": {(FUND, WAL), (FUND, ISO)},
    "staked_collateral_seized": {(STK, WAL), (STK, ISO)},
    "adl_close": {(CLEAR, WAL), (CLEAR, ISO)},
    "adl_cover": {(WAL, WAL), (WAL, ISO), (ISO, WAL), (ISO, ISO)},
    "venue_backstop": {(CLEAR, WAL), (CLEAR, ISO), (CLEAR, POOL)},
    "funding_shortfall": {(FUND, POOL)},  # what a bankrupt payer could not pay, from the fund
    "stake": {(WAL, STK)},
    "unstake": {(STK, WAL)},
    "staking_reward": {(CLEAR, WAL)},
    "auto_exchange": {(WAL, CLEAR), (STK, CLEAR), (CLEAR, WAL)},  # collateral sold, the debt's asset bought
}


def _key(account: LedgerAccount) -> tuple[str, str, str, str]:
    return account.owner, account.kind.value, account.asset, account.symbol


SYMBOLS = {"BTC-PERP": D(50000), "ETH-PERP": D(3000)}


class EngineMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.engine = Engine(load_rulebook("generic"), keep_journal=True)
        self.audited = 0
        self.books: dict[tuple[str, str, str, str], D] = defaultdict(lambda: D(0))
        self.sequence = 0
        self.fees = D(0)
        self.funding = D(0)
        self.external = defaultdict(lambda: D(0))  # what came in minus what went out, per asset
        self.execute(Deposit(self.next_id(), "insurance", "USD", D(1000000)))
        for symbol, price in SYMBOLS.items():
            self.execute(MarketUpdate(self.next_id(), symbol, 0, mark=price, funding_rate=D("0.0001")))
        self.execute(AssetPrice(self.next_id(), "BTC", 0, D(50000)))
        for account in ACCOUNTS[:-1]:  # funded from the start, so that most sequences trade
            self.execute(Deposit(self.next_id(), account, "USD", D(20000)))
        self.execute(Deposit(self.next_id(), "m", "BTC", D("0.5")))
        self.execute(SetAssetMode(self.next_id(), "m", "multi"))

    def next_id(self) -> str:
        self.sequence += 1
        return f"c{self.sequence}"

    def execute(self, command):  # type: ignore[no-untyped-def]
        result = self.engine.execute(command)
        self.last = (command, result)
        for event in result.events:
            if event["event"] == "deposited":
                self.external[event["asset"]] += D(event["amount"])
            elif event["event"] == "withdrew":
                self.external[event["asset"]] -= D(event["amount"])
            elif event["event"] == "filled":
                self.fees += D(event["fee"])
            elif event["event"] == "funding":
                self.funding += D(event["amount"])
        return result

    @rule(account=st.sampled_from(ACCOUNTS), amount=st.integers(min_value=1, max_value=50000))
    def deposit(self, account, amount):
        self.execute(Deposit(self.next_id(), account, "USD", D(amount)))

    @rule(account=st.sampled_from(ACCOUNTS), amount=st.integers(min_value=1, max_value=50000))
    def withdraw(self, account, amount):
        self.execute(Withdraw(self.next_id(), account, "USD", D(amount)))

    @rule(account=st.sampled_from(ACCOUNTS))
    def withdraw_all(self, account):
        """Drain the wallet to what the venue lets leave: a wallet near zero next to open profit is
        where a payment can exceed the wallet (funding, a realised loss)."""
        state = self.engine.accounts.get(account)
        if state is None:
            return
        allowed = funds.withdrawable(self.engine, state, "USD")
        if allowed > 0:
            self.execute(Withdraw(self.next_id(), account, "USD", allowed))

    @rule(
        account=st.sampled_from(ACCOUNTS),
        symbol=st.sampled_from(sorted(SYMBOLS)),
        side=st.sampled_from(["buy", "sell"]),
        lots=st.integers(min_value=1, max_value=3000),
        reduce_only=st.booleans(),
    )
    def market_order(self, account, symbol, side, lots, reduce_only):
        lot = self.engine.rulebook.instrument(symbol).lot_size
        self.execute(PlaceOrder(self.next_id(), account, symbol, side, lot * lots, reduce_only=reduce_only))

    @rule(
        account=st.sampled_from(ACCOUNTS),
        symbol=st.sampled_from(sorted(SYMBOLS)),
        side=st.sampled_from(["buy", "sell"]),
        share=st.integers(min_value=50, max_value=98),
    )
    def lever_up(self, account, symbol, side, share):
        """Spend most of what is available, so that later moves reach maintenance."""
        instrument = self.engine.rulebook.instrument(symbol)
        mark = self.engine.market(symbol).mark
        pools = self.engine.evaluate(self.engine.account(account)).pools
        available = sum((p.figures.available_balance for p in pools), D(0))
        leverage = self.engine.account(account).leverage.get(symbol, D(10))
        lots = int(available * leverage * share / 100 / mark / instrument.lot_size)
        if lots > 0:
            self.execute(PlaceOrder(self.next_id(), account, symbol, side, instrument.lot_size * lots))

    @rule(
        account=st.sampled_from(ACCOUNTS),
        symbol=st.sampled_from(sorted(SYMBOLS)),
        side=st.sampled_from(["buy", "sell"]),
        offset=st.integers(min_value=-300, max_value=300),
    )
    def limit_order(self, account, symbol, side, offset):
        mark = self.engine.market(symbol).mark
        instrument = self.engine.rulebook.instrument(symbol)
        price = (mark * (1 + D(offset) / 10000)).quantize(instrument.tick_size)
        self.execute(
            PlaceOrder(self.next_id(), account, symbol, side, instrument.lot_size * 10, OrderType.LIMIT, price=price)
        )

    @rule(account=st.sampled_from(ACCOUNTS), index=st.integers(min_value=0, max_value=5))
    def cancel(self, account, index):
        orders = sorted(self.engine.accounts.get(account).orders) if account in self.engine.accounts else []
        self.execute(CancelOrder(self.next_id(), account, orders[index % len(orders)] if orders else "none"))

    @rule(symbol=st.sampled_from(sorted(SYMBOLS)), move=st.integers(min_value=-1500, max_value=1500))
    def move_mark(self, symbol, move):
        market = self.engine.market(symbol)
        instrument = self.engine.rulebook.instrument(symbol)
        mark = max(instrument.tick_size, (market.mark * (1 + D(move) / 10000)).quantize(instrument.tick_size))
        self.execute(MarketUpdate(self.next_id(), symbol, market.timestamp_ms + 1, mark=mark))

    @rule(
        symbol=st.sampled_from(sorted(SYMBOLS)),
        down=st.booleans(),
        steps=st.integers(min_value=2, max_value=12),
    )
    def crash(self, symbol, down, steps):
        """A move in 1 % steps, each one a mark update: a crash crosses bands on its way."""
        market = self.engine.market(symbol)
        instrument = self.engine.rulebook.instrument(symbol)
        factor = D("0.99") if down else D("1.01")
        for _ in range(steps):
            mark = max(instrument.tick_size, (market.mark * factor).quantize(instrument.tick_size))
            self.execute(MarketUpdate(self.next_id(), symbol, market.timestamp_ms + 1, mark=mark))

    @rule(symbol=st.sampled_from(sorted(SYMBOLS)), rate=st.integers(min_value=-30, max_value=30))
    def funding(self, symbol, rate):
        market = self.engine.market(symbol)
        self.execute(MarketUpdate(self.next_id(), symbol, market.timestamp_ms + 1, funding_rate=D(rate) / 10000))
        # funding is exchanged at the instrument's funding times only: the next one not yet settled
        interval_ms = self.engine.rulebook.instrument(symbol).funding.interval_hours * 3_600_000
        after = max(market.timestamp_ms, market.funding_settled_ms or 0)
        self.execute(SettleFunding(self.next_id(), symbol, (after // interval_ms + 1) * interval_ms))

    @rule(account=st.sampled_from(ACCOUNTS), mode=st.sampled_from(["cross", "isolated"]))
    def margin_mode(self, account, mode):
        self.execute(SetMarginMode(self.next_id(), account, "ETH-PERP", mode))

    @rule(account=st.sampled_from(ACCOUNTS), amount=st.integers(min_value=-500, max_value=500))
    def move_isolated_margin(self, account, amount):
        if amount:
            self.execute(TransferMargin(self.next_id(), account, "ETH-PERP", D(amount)))

    @rule(
        account=st.sampled_from(ACCOUNTS),
        amount=st.integers(min_value=1, max_value=5000),
        lock=st.integers(min_value=0, max_value=5),
    )
    def stake(self, account, amount, lock):
        now = self.engine.now_ms
        self.execute(Stake(self.next_id(), account, "USD", D(amount), now, now + lock, D("0.05")))

    @rule(account=st.sampled_from(ACCOUNTS))
    def unstake(self, account):
        self.execute(Unstake(self.next_id(), account, "USD", self.engine.now_ms))

    @rule(account=st.sampled_from(ACCOUNTS), approved=st.booleans())
    def approval(self, account, approved):
        self.execute(ApproveCollateral(self.next_id(), account, "USD", approved))

    @rule(btc=st.integers(min_value=-1500, max_value=1500), eth=st.integers(min_value=-1500, max_value=1500))
    def move_marks_together(self, btc, eth):
        """Both marks at one instant: each account is checked once, at both new marks."""
        marks = []
        for symbol, move in (("BTC-PERP", btc), ("ETH-PERP", eth)):
            market = self.engine.market(symbol)
            tick = self.engine.rulebook.instrument(symbol).tick_size
            marks.append((symbol, max(tick, (market.mark * (1 + D(move) / 10000)).quantize(tick))))
        now = max(m.timestamp_ms for m in self.engine.markets.values()) + 1
        self.execute(MarksUpdate(self.next_id(), now, tuple(marks)))

    @rule(
        account=st.sampled_from(ACCOUNTS),
        symbol=st.sampled_from(sorted(SYMBOLS)),
        side=st.sampled_from(["long", "short"]),
        lots=st.integers(min_value=1, max_value=2000),
        offset=st.integers(min_value=-500, max_value=500),
    )
    def import_position(self, account, symbol, side, lots, offset):
        """A position brought in as it stands (no fee, no margin check): liquidated at once if under water."""
        instrument = self.engine.rulebook.instrument(symbol)
        entry = (self.engine.market(symbol).mark * (1 + D(offset) / 10000)).quantize(instrument.tick_size)
        self.execute(ImportPosition(self.next_id(), account, symbol, side, instrument.lot_size * lots, entry))

    @rule(move=st.integers(min_value=-3000, max_value=2000))
    def collateral_price(self, move):
        """BTC as collateral moves on its own: a multi-asset pool can fall with no mark moving."""
        price = max(D(1), (self.engine.asset_prices["BTC"] * (1 + D(move) / 10000)).quantize(D("0.01")))
        self.execute(AssetPrice(self.next_id(), "BTC", self.engine.now_ms, price))

    @rule(account=st.sampled_from(ACCOUNTS), cents=st.integers(min_value=1, max_value=100))
    def deposit_btc(self, account, cents):
        self.execute(Deposit(self.next_id(), account, "BTC", D(cents) / 100))

    @rule(account=st.sampled_from(ACCOUNTS), mode=st.sampled_from(["single", "multi"]))
    def asset_mode(self, account, mode):
        self.execute(SetAssetMode(self.next_id(), account, mode))

    @rule(account=st.sampled_from(ACCOUNTS), leverage=st.sampled_from([1, 2, 5, 10, 20, 50]))
    def leverage(self, account, leverage):
        self.execute(SetLeverage(self.next_id(), account, "BTC-PERP", D(leverage)))

    @rule()
    def retry_last(self):
        """Replaying the last id with its body returns the stored answer and changes nothing."""
        if getattr(self, "last", None) is None:
            return
        command, result = self.last
        before = self.engine.ledger.balances()
        assert self.engine.execute(command) is result
        assert self.engine.ledger.balances() == before

    @invariant()
    def ledger_balances(self):
        ledger = self.engine.ledger
        ledger.check_conservation()
        threshold = self.engine.rulebook.conventions.auto_exchange_threshold_usd
        assert threshold is not None
        for account, value in ledger.balances().items():
            multi = account.owner in self.engine.accounts and self.engine.accounts[account.owner].asset_mode == "multi"
            if account.kind is AccountKind.WALLET and multi:  # a debt the pool backs, within the threshold
                assert -value <= threshold, (account, value)
            elif account.kind in USER_KINDS or account.kind is AccountKind.INSURANCE:
                assert value >= 0, (account, value)

    @invariant()
    def auditor_agrees(self):
        assert self.engine.ledger.balance(LedgerAccount.venue(AccountKind.FEES, "USD")) == self.fees
        # money that entered and left through deposits and withdrawals is what sits in the venue,
        # less what the market (clearing) paid or received as PnL
        for asset in ("USD", "BTC"):
            balances = self.engine.ledger.balances().items()
            inside = sum((v for a, v in balances if a.asset == asset and a.kind is not AccountKind.CLEARING), D(0))
            clearing = self.engine.ledger.balance(LedgerAccount.venue(AccountKind.CLEARING, asset))
            assert inside == -clearing, asset
        pool = self.engine.ledger.balance(LedgerAccount.venue(AccountKind.FUNDING_POOL, "USD"))
        assert pool == -self.funding

    @invariant()
    def independent_ledger_agrees(self):
        """Replay the journal into plain sums, checking each transfer against the money rules."""
        journal = self.engine.journal
        assert journal is not None
        for transfer in journal[self.audited :]:
            reason = transfer.reason.split(":")[0]
            debit, credit = transfer.debit.kind, transfer.credit.kind
            allowed = ALLOWED.get(reason)
            assert allowed is not None, f"unknown movement of money: {transfer.reason}"
            assert (debit, credit) in allowed, (transfer.reason, debit, credit)
            self.books[_key(transfer.debit)] -= transfer.amount
            self.books[_key(transfer.credit)] += transfer.amount
        self.audited = len(journal)
        ledger = {_key(a): v for a, v in self.engine.ledger.balances().items()}
        assert {k: v for k, v in self.books.items() if v != 0} == ledger

    @invariant()
    def nothing_left_liquidatable(self):
        """The safe-price bands may skip accounts only when they are sound: after any step, an
        exact evaluation finds no pool or isolated position at or below maintenance."""
        for account in self.engine.accounts.values():
            symbols = list(account.positions)
            if not symbols or not self.engine.allowed(Action.LIQUIDATE, symbols):
                continue
            evaluation = self.engine.evaluate(account)
            for report in evaluation.pools:
                assert not (report.liquidatable and report.figures.positions), account.account_id
            for iso in evaluation.isolated:
                assert not iso.liquidatable, (account.account_id, iso.figures.position.symbol)

    @invariant()
    def positions_are_positive(self):
        for account in self.engine.accounts.values():
            for position in account.positions.values():
                assert position.size > 0 and position.entry_price > 0


EngineMachine.TestCase.settings = settings(
    max_examples=int(os.environ.get("MACHINE_EXAMPLES", "200")),  # more by hand: MACHINE_EXAMPLES=3000
    stateful_step_count=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestEngineMachine = EngineMachine.TestCase
