"""What every handler of the engine stands on: its state and the primitives that read and change it.

The engine is layered so that its imports run one way. Below this module lie plain data (commands,
ledger, state, depth, oracle rules, position arithmetic); here lies :class:`EngineBase`, the state a
handler reads and writes (accounts, markets, prices, resting orders, safe bands, the clock) and the
primitives every handler shares: accept and reject, account and market lookup, money rounding in an
asset's unit, the margin functions' view of an account, posting to the ledger, order ids. Above it
sit the handlers, grouped by concern (funds and settings; orders and fills; market data and funding;
liquidation and its settlement), and on top the dispatch, :class:`crossmargin.engine.core.Engine`,
which routes each command to its handler. A handler types against this class, never the dispatch.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from crossmargin.engine.commands import Command, Result, ResultCode
from crossmargin.engine.ledger import AccountKind, Ledger, LedgerAccount, Transfer
from crossmargin.engine.oracle import Action, OracleGuardConfig, PriceObservation, Validity, assess, is_allowed
from crossmargin.engine.state import (
    AccountState,
    MarketState,
    OrderState,
    PositionState,
    Watch,
    open_interest_notionals,
    snapshot,
    with_overrides,
)
from crossmargin.margin.evaluate import Evaluation, evaluate_account
from crossmargin.rules import Rulebook
from crossmargin.units import Rounding, quantize


class EngineBase:
    """One venue's accounts, markets and ledger, and the primitives the handlers share."""

    def __init__(self, rulebook: Rulebook, *, keep_journal: bool = False, bands: bool = True) -> None:
        """``bands=False`` checks every holder exactly on every update instead of using safe-price
        bands: slower, and the reference the bands are tested against (same results, same state)."""
        self.rulebook = rulebook
        self.conventions = rulebook.conventions  # read on every order: looked up once
        self.ledger = Ledger()
        # every posted transfer, in order, for an auditor kept apart from the ledger
        self.journal: list[Transfer] | None = [] if keep_journal else None
        self.accounts: dict[str, AccountState] = {}
        self.markets: dict[str, MarketState] = {}
        self.asset_prices: dict[str, Decimal] = {}  # USD price per collateral asset (multi-asset pools)
        self._order_sequence = 0
        self.now_ms = 0  # the engine's clock: the latest market time it has seen
        self.resting: dict[str, set[tuple[str, str]]] = {}  # symbol -> (account, order id) resting on it
        self.watch = Watch()  # safe bands per position: which accounts a mark update can affect
        if not bands:
            self.watch.sound = False

    # -- answers -------------------------------------------------------------------------

    def reject(self, command: Command, code: ResultCode, message: str = "") -> Result:
        return Result(command.command_id, code, message)

    def accept(self, command: Command, events: list[dict[str, Any]]) -> Result:
        """The command is accepted with these events (each stamped with its id). The venue's
        auto-exchange, which any accepted command may trigger, is run by the dispatch after it."""
        for event in events:  # each handler builds its events fresh for this command
            event["command_id"] = command.command_id
        return Result(command.command_id, ResultCode.ACCEPTED, "", tuple(events))

    # -- lookups -------------------------------------------------------------------------

    def account(self, account_id: str) -> AccountState:
        found = self.accounts.get(account_id)
        if found is None:
            found = self.accounts[account_id] = AccountState(account_id, self.rulebook.conventions.asset_mode)
            if found.asset_mode == "multi":
                self.ledger.debt_owners.add(account_id)
        return found

    def market(self, symbol: str) -> MarketState:
        found = self.markets.get(symbol)
        if found is None:
            found = self.markets[symbol] = MarketState()
        return found

    def validity(self, symbol: str) -> Validity:
        """The oracle guard's verdict on the symbol's mark now (always valid without rails)."""
        rules = self.rulebook.conventions.oracle
        market = self.market(symbol)
        if rules is None or market.mark is None:
            return Validity.VALID
        config = OracleGuardConfig(rules.max_age_seconds * 1000, rules.band_fraction, rules.clamp_low, rules.clamp_high)
        return assess(PriceObservation(market.mark, market.mark_timestamp_ms), market.index, self.now_ms, config)

    def allowed(self, action: Action, symbols: Iterable[str]) -> bool:
        """Whether ``action`` may proceed on the marks of every one of ``symbols``."""
        if self.rulebook.conventions.oracle is None:  # no rails: every price is valid
            return is_allowed(action, Validity.VALID)
        return all(is_allowed(action, self.validity(symbol)) for symbol in symbols)

    # -- money ---------------------------------------------------------------------------

    def unit(self, asset: str) -> Decimal:
        return self.rulebook.asset_unit(asset)

    def money(self, amount: Decimal, asset: str, *, rounding: Rounding) -> Decimal:
        return quantize(amount, self.unit(asset), rounding=rounding)

    def post(self, transfers: list[Transfer]) -> None:
        if transfers:
            self.ledger.post(transfers)
            if self.journal is not None:
                self.journal.extend(transfers)

    @staticmethod
    @functools.cache
    def clearing(asset: str) -> LedgerAccount:
        """The outside world's account in ``asset`` (one key per asset, built once)."""
        return LedgerAccount.venue(AccountKind.CLEARING, asset)

    @staticmethod
    @functools.cache
    def fees(asset: str) -> LedgerAccount:
        """The venue's fee income in ``asset`` (one key per asset, built once)."""
        return LedgerAccount.venue(AccountKind.FEES, asset)

    # -- the margin functions' view --------------------------------------------------------

    def evaluate(
        self,
        account: AccountState,
        *,
        with_prices: bool = False,
        overrides: dict[str, PositionState | None] | None = None,
        balance_changes: dict[str, Decimal] | None = None,
        added_orders: tuple[OrderState, ...] = (),
    ) -> Evaluation:
        """The margin functions' view of the account, optionally after hypothetical changes
        (see :func:`snapshot`). Checks need only the figures; ``with_prices`` adds liquidation
        prices and the move."""
        view = snapshot(
            self.rulebook,
            self.ledger,
            account,
            self.markets,
            overrides,
            balance_changes,
            self.asset_prices,
            added_orders,
            self._open_interest(account, overrides) if self._scaled_by_open_interest else None,
        )
        return evaluate_account(view, with_prices=with_prices)

    @functools.cached_property
    def _scaled_by_open_interest(self) -> frozenset[str]:
        """Symbols whose initial margin grows with the market's open interest (dYdX's liquidity
        tiers with open-interest caps); empty on every other venue."""
        return frozenset(
            i.symbol
            for i in self.rulebook.data.instruments
            if i.open_interest_imf is not None and i.open_interest_imf.upper_cap > 0
        )

    def _open_interest(
        self, account: AccountState, overrides: dict[str, PositionState | None] | None
    ) -> dict[str, Decimal] | None:
        """The open interest of each scaled symbol the account holds (or would hold after
        ``overrides``), counting its own positions as they would be."""
        states = with_overrides(account.positions, overrides)
        symbols = {p.symbol for p in states.values()} & self._scaled_by_open_interest
        if not symbols:
            return None
        return open_interest_notionals(self.rulebook, self.accounts, self.markets, account, states, symbols)

    def meets_initial(
        self, account: AccountState, asset: str, balance_changes: dict[str, Decimal] | None = None
    ) -> bool:
        """Whether the pool settling in ``asset`` (or the account's USD pool) meets initial margin."""
        evaluation = self.evaluate(account, balance_changes=balance_changes)
        pools = [p for p in evaluation.pools if p.figures.pool.settlement_asset in (asset, "USD")]
        return all(p.figures.meets_initial_margin() for p in pools)

    # -- ids -----------------------------------------------------------------------------

    def next_order_id(self) -> str:
        self._order_sequence += 1
        return f"o{self._order_sequence}"
