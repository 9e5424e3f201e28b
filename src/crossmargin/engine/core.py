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

from crossmargin.engine.commands import (
    ApproveCollateral,
    CancelOrder,
    Command,
    Deposit,
    DepthUpdate,
    MarketUpdate,
    PlaceOrder,
    Result,
    ResultCode,
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
from crossmargin.engine.state import AccountState, MarketState, StakeLot, isolated, snapshot, staked, wallet
from crossmargin.engine.watch import Watch, forget
from crossmargin.margin.evaluate import Evaluation, evaluate_account
from crossmargin.margin.types import MarginMode
from crossmargin.rules import Rulebook
from crossmargin.units import EXACT, InputError, Rounding, div, quantize

CLEARING = "clearing"


class Engine:
    """One venue's accounts, markets and ledger; ``execute`` is the only way to change them."""

    def __init__(self, rulebook: Rulebook, *, keep_journal: bool = False) -> None:
        self.rulebook = rulebook
        self.ledger = Ledger()
        # every posted transfer, in order, for an auditor kept apart from the ledger
        self.journal: list[Transfer] | None = [] if keep_journal else None
        self.accounts: dict[str, AccountState] = {}
        self.markets: dict[str, MarketState] = {}
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
        self._handlers: dict[type, Callable[[Any], Result]] = {
            Deposit: self._deposit,
            Withdraw: self._withdraw,
            TransferMargin: self._transfer_margin,
            SetLeverage: self._set_leverage,
            SetMarginMode: self._set_margin_mode,
            ApproveCollateral: self._approve,
            CancelOrder: self._cancel,
            Stake: self._stake,
            Unstake: self._unstake,
        }
        from crossmargin.engine import market, trading

        self._handlers[PlaceOrder] = functools.partial(trading.place_order, self)
        self._handlers[MarketUpdate] = functools.partial(market.market_update, self)
        self._handlers[SettleFunding] = functools.partial(market.settle_funding, self)
        self._handlers[DepthUpdate] = functools.partial(market.depth_update, self)

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
        """SHA-256 of the whole state in canonical form: ledger, positions, orders, markets.

        Replaying the same commands rebuilds byte-identical state, hence the same hash.
        """
        state = {
            "ledger": sorted(
                [a.owner, a.kind.value, a.asset, a.symbol, format(v, "f")] for a, v in self.ledger.balances().items()
            ),
            "accounts": {
                account_id: {
                    "leverage": {s: format(v, "f") for s, v in sorted(account.leverage.items())},
                    "margin_mode": {s: m.value for s, m in sorted(account.margin_mode.items())},
                    "revoked": sorted(account.revoked),
                    "positions": {
                        s: [p.side.value, format(p.size, "f"), format(p.entry_price, "f"), p.margin_mode.value]
                        for s, p in sorted(account.positions.items())
                    },
                    "orders": sorted(account.orders),
                    "liquidations": account.liquidations,
                }
                for account_id, account in sorted(self.accounts.items())
            },
            "markets": {
                s: [None if m.mark is None else format(m.mark, "f"), m.timestamp_ms]
                for s, m in sorted(self.markets.items())
            },
        }
        text = json.dumps(state, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()

    # -- helpers shared by the handlers --------------------------------------------------

    def reject(self, command: Command, code: ResultCode, message: str = "") -> Result:
        return Result(command.command_id, code, message)

    def accept(self, command: Command, events: list[dict[str, Any]]) -> Result:
        for event in events:  # each handler builds its events fresh for this command
            event["command_id"] = command.command_id
        return Result(command.command_id, ResultCode.ACCEPTED, "", tuple(events))

    def account(self, account_id: str) -> AccountState:
        found = self.accounts.get(account_id)
        if found is None:
            found = self.accounts[account_id] = AccountState(account_id)
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

    def evaluate(self, account: AccountState, *, with_prices: bool = False, **changes: Any) -> Evaluation:
        """The margin functions' view of the account, optionally after hypothetical changes.

        Checks need only the figures; ``with_prices`` adds liquidation prices and the move.
        """
        return evaluate_account(
            snapshot(self.rulebook, self.ledger, account, self.markets, **changes), with_prices=with_prices
        )

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

    # -- money in and out ----------------------------------------------------------------

    def _checked_amount(self, amount: Decimal, asset: str, field: str) -> Decimal:
        if asset not in self.rulebook.data.assets:
            raise InputError(field, f"{asset} is not an asset of {self.rulebook.venue}")
        if amount <= 0 or self.money(amount, asset, rounding=Rounding.FLOOR) != amount:
            raise InputError(field, f"must be positive in units of {self.unit(asset)}, got {amount}")
        return amount

    def _deposit(self, command: Deposit) -> Result:
        amount = self._checked_amount(command.amount, command.asset, "amount")
        target = wallet(command.account, command.asset)
        if command.account == "insurance":  # seeding the venue's insurance fund
            target = LedgerAccount.venue(AccountKind.INSURANCE, command.asset)
        else:
            self.account(command.account)
        self.post([Transfer(self.clearing(command.asset), target, amount, "deposit")])
        return self.accept(
            command, [{"event": "deposited", "account": command.account, "asset": command.asset, "amount": str(amount)}]
        )

    def _withdrawable(self, account: AccountState, asset: str) -> Decimal:
        balance = self.ledger.balance(wallet(account.account_id, asset))
        if asset in account.revoked:
            return balance  # it backs nothing, so nothing holds it back
        pools = [p for p in self.evaluate(account).pools if p.figures.pool.settlement_asset == asset]
        if not pools:
            return balance
        limit = self.money(pools[0].figures.max_withdrawable, asset, rounding=Rounding.FLOOR)
        return min(balance, limit)

    def _withdraw(self, command: Withdraw) -> Result:
        amount = self._checked_amount(command.amount, command.asset, "amount")
        if command.account not in self.accounts:
            return self.reject(command, ResultCode.UNKNOWN_ACCOUNT)
        account = self.accounts[command.account]
        if not self.allowed(Action.WITHDRAW, account.positions):
            return self.reject(command, ResultCode.STALE_PRICE, "a mark behind a position is not valid now")
        if amount > self._withdrawable(account, command.asset):
            return self.reject(
                command,
                ResultCode.WOULD_BREACH_WITHDRAWABLE,
                f"at most {self._withdrawable(account, command.asset)} may leave",
            )
        self.post([Transfer(wallet(command.account, command.asset), self.clearing(command.asset), amount, "withdraw")])
        return self.accept(
            command, [{"event": "withdrew", "account": command.account, "asset": command.asset, "amount": str(amount)}]
        )

    def _transfer_margin(self, command: TransferMargin) -> Result:
        if command.account not in self.accounts:
            return self.reject(command, ResultCode.UNKNOWN_ACCOUNT)
        account = self.accounts[command.account]
        position = account.positions.get(command.symbol)
        if position is None or position.margin_mode is not MarginMode.ISOLATED:
            return self.reject(command, ResultCode.INVALID_ARGUMENT, "no isolated position in that symbol")
        asset = self.rulebook.instrument(command.symbol).settlement_asset
        amount = self._checked_amount(abs(command.amount), asset, "amount")
        if not self.allowed(Action.TRANSFER, account.positions):
            return self.reject(command, ResultCode.STALE_PRICE, "a mark behind a position is not valid now")
        source, target = wallet(account.account_id, asset), isolated(account.account_id, asset, command.symbol)
        if command.amount > 0:
            if amount > self._withdrawable(account, asset):
                return self.reject(command, ResultCode.WOULD_BREACH_WITHDRAWABLE)
        else:
            source, target = target, source
            report = next(r for r in self.evaluate(account).isolated if r.figures.position.symbol == command.symbol)
            removable = min(
                report.isolated_margin - report.figures.maintenance_margin,
                report.margin_balance - report.figures.initial_margin,
            )
            if amount > removable:
                return self.reject(command, ResultCode.WOULD_BREACH_WITHDRAWABLE)
        self.post([Transfer(source, target, amount, "isolated_margin")])
        return self.accept(
            command,
            [
                {
                    "event": "margin_moved",
                    "account": account.account_id,
                    "symbol": command.symbol,
                    "amount": str(command.amount),
                }
            ],
        )

    def _stake(self, command: Stake) -> Result:
        amount = self._checked_amount(command.amount, command.asset, "amount")
        if command.unlock_ms < command.timestamp_ms or command.annual_rate < 0:
            raise InputError("unlock_ms", "must not be before the stake's time, with a non-negative rate")
        account = self.accounts.get(command.account)
        if account is None:
            return self.reject(command, ResultCode.UNKNOWN_ACCOUNT)
        if amount > self._withdrawable(account, command.asset):
            return self.reject(command, ResultCode.INSUFFICIENT_BALANCE)
        source = wallet(account.account_id, command.asset)
        self.post([Transfer(source, staked(account.account_id, command.asset), amount, "stake")])
        account.stakes.append(
            StakeLot(command.asset, amount, command.timestamp_ms, command.unlock_ms, command.annual_rate)
        )
        self.now_ms = max(self.now_ms, command.timestamp_ms)
        return self.accept(
            command,
            [
                {
                    "event": "staked",
                    "account": account.account_id,
                    "asset": command.asset,
                    "amount": str(amount),
                    "unlock_ms": command.unlock_ms,
                }
            ],
        )

    def _unstake(self, command: Unstake) -> Result:
        account = self.accounts.get(command.account)
        if account is None:
            return self.reject(command, ResultCode.UNKNOWN_ACCOUNT)
        lots = [lot for lot in account.stakes if lot.asset == command.asset]
        ready = [lot for lot in lots if lot.unlock_ms <= command.timestamp_ms]
        if not ready:
            return self.reject(command, ResultCode.LOCKED_COLLATERAL, "nothing of that asset has unlocked yet")
        year_ms = Decimal(365 * 24 * 3600 * 1000)
        transfers: list[Transfer] = []
        released = reward = Decimal(0)
        holding = staked(account.account_id, command.asset)
        for lot in ready:
            # a stake seized by a liquidation releases only what is left of it
            amount = min(lot.amount, self.ledger.balance(holding) - released)
            released += amount
            elapsed = Decimal(min(command.timestamp_ms, lot.unlock_ms) - lot.start_ms)
            accrued = div(amount * lot.annual_rate * elapsed, year_ms, rounding=Rounding.FLOOR)
            reward += self.money(accrued, command.asset, rounding=Rounding.FLOOR)
            account.stakes.remove(lot)
        if released > 0:
            transfers.append(Transfer(holding, wallet(account.account_id, command.asset), released, "unstake"))
        if reward > 0:
            transfers.append(
                Transfer(
                    self.clearing(command.asset), wallet(account.account_id, command.asset), reward, "staking_reward"
                )
            )
        self.post(transfers)
        self.now_ms = max(self.now_ms, command.timestamp_ms)
        return self.accept(
            command,
            [
                {
                    "event": "unstaked",
                    "account": account.account_id,
                    "asset": command.asset,
                    "amount": str(released),
                    "reward": str(reward),
                }
            ],
        )

    # -- settings ------------------------------------------------------------------------

    def _set_leverage(self, command: SetLeverage) -> Result:
        instrument = self.rulebook.instrument(command.symbol, field_name="symbol")
        if command.leverage <= 0:
            raise InputError("leverage", "must be positive")
        account = self.account(command.account)
        if instrument.tiers and command.leverage > instrument.tiers[0].max_leverage:
            return self.reject(command, ResultCode.LEVERAGE_ABOVE_TIER)
        previous = account.leverage.get(command.symbol)
        account.leverage[command.symbol] = command.leverage
        if command.symbol in account.positions and not self._meets_initial(account, instrument.settlement_asset):
            if previous is None:
                account.leverage.pop(command.symbol)
            else:
                account.leverage[command.symbol] = previous
            return self.reject(command, ResultCode.INSUFFICIENT_MARGIN)
        return self.accept(
            command,
            [
                {
                    "event": "leverage_set",
                    "account": command.account,
                    "symbol": command.symbol,
                    "leverage": str(command.leverage),
                }
            ],
        )

    def _meets_initial(self, account: AccountState, asset: str, **changes: Any) -> bool:
        evaluation = self.evaluate(account, **changes)
        pools = [p for p in evaluation.pools if p.figures.pool.settlement_asset in (asset, "USD")]
        return all(p.figures.meets_initial_margin() for p in pools)

    def _set_margin_mode(self, command: SetMarginMode) -> Result:
        self.rulebook.instrument(command.symbol, field_name="symbol")
        if command.mode not in ("cross", "isolated"):
            raise InputError("mode", "must be cross or isolated")
        account = self.account(command.account)
        if command.symbol in account.positions:
            return self.reject(command, ResultCode.POSITION_OPEN)
        account.margin_mode[command.symbol] = MarginMode(command.mode)
        return self.accept(
            command,
            [{"event": "margin_mode_set", "account": command.account, "symbol": command.symbol, "mode": command.mode}],
        )

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
