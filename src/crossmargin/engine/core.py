"""The engine: commands in, a result code and events out, money moved only by the ledger.

Every command is answered from one closed list of codes, and remembered by its id: the same
id and body returns the stored answer, the same id with another body is refused. Every check
(initial margin after an order, what may be withdrawn, whether an account is liquidatable)
is asked of the margin functions through the account's :func:`snapshot`.
"""

from __future__ import annotations

import decimal
import functools
import hashlib
import json
from collections.abc import Callable, Iterable
from decimal import Decimal
from typing import Any

from crossmargin.engine import funds
from crossmargin.engine.commands import (
    ApproveCollateral,
    AssetPrice,
    CancelOrder,
    Command,
    Deposit,
    DepthUpdate,
    ImportPosition,
    MarketUpdate,
    MarksUpdate,
    PlaceOrder,
    Result,
    ResultCode,
    SetAssetMode,
    SetLeverage,
    SetMarginMode,
    SettleFunding,
    Stake,
    TransferMargin,
    Unstake,
    Withdraw,
)
from crossmargin.engine.ledger import AccountKind, Ledger, LedgerAccount, Transfer
from crossmargin.engine.oracle import Action, OracleGuardConfig, PriceObservation, Validity, assess, is_allowed
from crossmargin.engine.state import AccountState, MarketState, PositionState, snapshot
from crossmargin.engine.watch import Watch, forget
from crossmargin.margin.evaluate import Evaluation, evaluate_account
from crossmargin.margin.types import MarginMode
from crossmargin.rules import Rulebook
from crossmargin.units import EXACT, InputError, Rounding, quantize

CLEARING = "clearing"


def _text(value: Decimal | None) -> str | None:
    return None if value is None else format(value, "f")


class Engine:
    """One venue's accounts, markets and ledger; ``execute`` is the only way to change them."""

    def __init__(self, rulebook: Rulebook, *, keep_journal: bool = False, bands: bool = True) -> None:
        """``bands=False`` checks every holder exactly on every update instead of using safe-price
        bands: slower, and the reference the bands are tested against (same results, same state)."""
        self.rulebook = rulebook
        self.ledger = Ledger()
        # every posted transfer, in order, for an auditor kept apart from the ledger
        self.journal: list[Transfer] | None = [] if keep_journal else None
        self.accounts: dict[str, AccountState] = {}
        self.markets: dict[str, MarketState] = {}
        self.asset_prices: dict[str, Decimal] = {}  # USD price per collateral asset (multi-asset pools)
        # id -> the command as first received, and its result; a retry's body is compared by value
        # (two maps rather than one of pairs: a pair per command is one more object the
        # collector walks for as long as the engine lives)
        self._commands: dict[str, Command] = {}
        self._results: dict[str, Result] = {}
        self._order_sequence = 0
        self._exact = EXACT.copy()  # installed as the decimal context while a command runs
        self.now_ms = 0  # the engine's clock: the latest market time it has seen
        self.resting: dict[str, set[tuple[str, str]]] = {}  # symbol -> (account, order id) resting on it
        self.watch = Watch()  # safe bands per position: which accounts a mark update can affect
        if not bands:
            self.watch.sound = False
        self._handlers: dict[type, Callable[[Any], Result]] = {
            Deposit: functools.partial(funds.deposit, self),
            Withdraw: functools.partial(funds.withdraw, self),
            TransferMargin: functools.partial(funds.transfer_margin, self),
            SetLeverage: self._set_leverage,
            SetMarginMode: self._set_margin_mode,
            ApproveCollateral: self._approve,
            SetAssetMode: self._set_asset_mode,
            CancelOrder: self._cancel,
            Stake: functools.partial(funds.stake, self),
            Unstake: functools.partial(funds.unstake, self),
        }
        from crossmargin.engine import imports, market, trading

        self._handlers[PlaceOrder] = functools.partial(trading.place_order, self)
        self._handlers[MarketUpdate] = functools.partial(market.market_update, self)
        self._handlers[SettleFunding] = functools.partial(market.settle_funding, self)
        self._handlers[DepthUpdate] = functools.partial(market.depth_update, self)
        self._handlers[AssetPrice] = functools.partial(market.asset_price, self)
        self._handlers[ImportPosition] = functools.partial(imports.import_position, self)
        self._handlers[MarksUpdate] = functools.partial(market.marks_update, self)

    # -- the one entry point -------------------------------------------------------------

    def execute(self, command: Command) -> Result:
        """Apply a command once; a retry with the same id and body gets the same answer."""
        caller_context = decimal.getcontext()
        decimal.setcontext(self._exact)  # the engine's own exact context: installed, not copied
        try:
            return self._execute(command)
        finally:
            decimal.setcontext(caller_context)

    def _execute(self, command: Command) -> Result:
        stored = self._commands.get(command.command_id)
        if stored is not None:
            if stored == command:  # same class and equal fields (decimals by value)
                return self._results[command.command_id]
            return Result(command.command_id, ResultCode.DUPLICATE_ID_MISMATCH, "id reused with another body")
        try:
            result = self._handlers[type(command)](command)
        except InputError as error:
            result = self.reject(command, ResultCode.INVALID_ARGUMENT, str(error))
        if type(command) is not PlaceOrder and result.code.accepted:
            account_id = getattr(command, "account", None)
            if isinstance(account_id, str):
                forget(self, account_id)  # its money or settings moved: check it exactly next time
        self._commands[command.command_id] = command
        self._results[command.command_id] = result
        return result

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

    def state_hash(self) -> str:
        """SHA-256 of the whole state in canonical form: ledger, accounts (positions, orders,
        settings, stakes), markets (mark, index, last price, funding rate) and the clock.

        Replaying the same commands rebuilds byte-identical state, hence the same hash.
        """
        state = {
            "ledger": sorted(
                [a.owner, a.kind.value, a.asset, a.symbol, format(v, "f")] for a, v in self.ledger.balances().items()
            ),
            "accounts": {
                account_id: {
                    "asset_mode": account.asset_mode,
                    "leverage": {s: format(v, "f") for s, v in sorted(account.leverage.items())},
                    "margin_mode": {s: m.value for s, m in sorted(account.margin_mode.items())},
                    "revoked": sorted(account.revoked),
                    "positions": {
                        s: [p.side.value, format(p.size, "f"), format(p.entry_price, "f"), p.margin_mode.value]
                        for s, p in sorted(account.positions.items())
                    },
                    "orders": sorted(account.orders),
                    "liquidations": account.liquidations,
                    "cooldown_until_ms": account.cooldown_until_ms,
                    "stakes": [
                        [lot.asset, format(lot.amount, "f"), lot.start_ms, lot.unlock_ms, format(lot.annual_rate, "f")]
                        for lot in account.stakes
                    ],
                }
                for account_id, account in sorted(self.accounts.items())
            },
            "markets": {
                s: [_text(m.mark), _text(m.index), _text(m.last), _text(m.funding_rate), m.timestamp_ms]
                for s, m in sorted(self.markets.items())
            },
            "asset_prices": {a: format(p, "f") for a, p in sorted(self.asset_prices.items())},
            "now_ms": self.now_ms,
        }
        text = json.dumps(state, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()

    # -- helpers shared by the handlers --------------------------------------------------

    def reject(self, command: Command, code: ResultCode, message: str = "") -> Result:
        return Result(command.command_id, code, message)

    def accept(self, command: Command, events: list[dict[str, Any]]) -> Result:
        ledger = self.ledger
        repriced = ledger.debts and type(command) is AssetPrice  # every debt's worth may have moved
        if ledger.fresh_debts or repriced:  # a multi-asset pool owes: the venue's auto-exchange triggers
            from crossmargin.engine.exchange import settle_debts

            candidates = set(ledger.debts) if repriced else ledger.fresh_debts & ledger.debts
            ledger.fresh_debts = set()
            events += settle_debts(self, candidates)
        for event in events:  # each handler builds its events fresh for this command
            event["command_id"] = command.command_id
        return Result(command.command_id, ResultCode.ACCEPTED, "", tuple(events))

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

    def unit(self, asset: str) -> Decimal:
        return self.rulebook.asset_unit(asset)

    def money(self, amount: Decimal, asset: str, *, rounding: Rounding) -> Decimal:
        return quantize(amount, self.unit(asset), rounding=rounding)

    def evaluate(
        self,
        account: AccountState,
        *,
        with_prices: bool = False,
        overrides: dict[str, PositionState | None] | None = None,
        balance_changes: dict[str, Decimal] | None = None,
    ) -> Evaluation:
        """The margin functions' view of the account, optionally after hypothetical changes
        (see :func:`snapshot`). Checks need only the figures; ``with_prices`` adds liquidation
        prices and the move."""
        view = snapshot(
            self.rulebook, self.ledger, account, self.markets, overrides, balance_changes, self.asset_prices
        )
        return evaluate_account(view, with_prices=with_prices)

    def post(self, transfers: list[Transfer]) -> None:
        if transfers:
            self.ledger.post(transfers)
            if self.journal is not None:
                self.journal.extend(transfers)

    def next_order_id(self) -> str:
        self._order_sequence += 1
        return f"o{self._order_sequence}"

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

    # -- settings ------------------------------------------------------------------------

    def _set_leverage(self, command: SetLeverage) -> Result:
        instrument = self.rulebook.find_instrument(command.symbol)
        if instrument is None:
            return self.reject(command, ResultCode.UNKNOWN_SYMBOL)
        if command.leverage <= 0:
            raise InputError("leverage", "must be positive")
        account = self.account(command.account)
        if instrument.tiers and command.leverage > instrument.tiers[0].max_leverage:
            return self.reject(command, ResultCode.LEVERAGE_ABOVE_TIER)
        symbol = instrument.symbol  # settings are kept under the native name, as positions are
        previous = account.leverage.get(symbol)
        account.leverage[symbol] = command.leverage
        if symbol in account.positions and not self._meets_initial(account, instrument.settlement_asset):
            if previous is None:
                account.leverage.pop(symbol)
            else:
                account.leverage[symbol] = previous
            return self.reject(command, ResultCode.INSUFFICIENT_MARGIN)
        leverage = str(command.leverage)
        return self.accept(
            command, [{"event": "leverage_set", "account": command.account, "symbol": symbol, "leverage": leverage}]
        )

    def _meets_initial(
        self, account: AccountState, asset: str, balance_changes: dict[str, Decimal] | None = None
    ) -> bool:
        evaluation = self.evaluate(account, balance_changes=balance_changes)
        pools = [p for p in evaluation.pools if p.figures.pool.settlement_asset in (asset, "USD")]
        return all(p.figures.meets_initial_margin() for p in pools)

    def _set_margin_mode(self, command: SetMarginMode) -> Result:
        instrument = self.rulebook.find_instrument(command.symbol)
        if instrument is None:
            return self.reject(command, ResultCode.UNKNOWN_SYMBOL)
        if command.mode not in ("cross", "isolated"):
            raise InputError("mode", "must be cross or isolated")
        account = self.account(command.account)
        symbol = instrument.symbol
        if symbol in account.positions:
            return self.reject(command, ResultCode.POSITION_OPEN)
        if command.mode == "isolated" and account.asset_mode == "multi":  # Binance: cross only
            return self.reject(command, ResultCode.INVALID_ARGUMENT, "multi-asset mode is cross margin only")
        account.margin_mode[symbol] = MarginMode(command.mode)
        return self.accept(
            command,
            [{"event": "margin_mode_set", "account": command.account, "symbol": symbol, "mode": command.mode}],
        )

    def _set_asset_mode(self, command: SetAssetMode) -> Result:
        """Binance's Multi-Assets switch: only with nothing open; a debt must be repaid before
        leaving, since a single-asset wallet may not be negative."""
        conventions = self.rulebook.conventions
        if command.mode not in ("single", "multi"):
            raise InputError("mode", "must be single or multi")
        offered = conventions.multi_asset_mode_offered or conventions.asset_mode == "multi"
        if command.mode == "multi" and not offered:
            return self.reject(command, ResultCode.INVALID_ARGUMENT, f"{self.rulebook.venue} has no multi-asset mode")
        account = self.account(command.account)
        if account.positions or account.orders:
            return self.reject(command, ResultCode.POSITION_OPEN, "close positions and cancel orders first")
        owed = sorted(a.asset for a in self.ledger.debts if a.owner == account.account_id)
        if command.mode == "single" and owed:
            return self.reject(command, ResultCode.INSUFFICIENT_BALANCE, f"repay the debt in {owed[0]} first")
        if command.mode == "multi" and any(m is MarginMode.ISOLATED for m in account.margin_mode.values()):
            return self.reject(command, ResultCode.INVALID_ARGUMENT, "multi-asset mode is cross margin only")
        account.asset_mode = command.mode
        if command.mode == "multi":
            self.ledger.debt_owners.add(account.account_id)
        else:
            self.ledger.debt_owners.discard(account.account_id)
        forget(self, account.account_id)
        return self.accept(command, [{"event": "asset_mode_set", "account": account.account_id, "mode": command.mode}])

    def _approve(self, command: ApproveCollateral) -> Result:
        account = self.account(command.account)
        if command.approved:
            account.revoked.discard(command.asset)
        else:
            account.revoked.add(command.asset)
            if account.positions and not self._meets_initial(account, command.asset):
                account.revoked.discard(command.asset)  # like a withdrawal, it may not strand positions
                return self.reject(command, ResultCode.INSUFFICIENT_MARGIN, "positions rely on this collateral")
        return self.accept(
            command,
            [
                {
                    "event": "collateral_approval",
                    "account": command.account,
                    "asset": command.asset,
                    "approved": command.approved,
                }
            ],
        )

    def _cancel(self, command: CancelOrder) -> Result:
        account = self.accounts.get(command.account)
        if account is None or command.order_id not in account.orders:
            return self.reject(command, ResultCode.UNKNOWN_ORDER)
        order = account.orders.pop(command.order_id)
        self.resting.get(order.symbol, set()).discard((account.account_id, order.order_id))
        return self.accept(
            command,
            [{"event": "order_cancelled", "account": command.account, "order_id": command.order_id, "reason": "user"}],
        )
