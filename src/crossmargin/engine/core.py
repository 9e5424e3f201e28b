"""The engine's dispatch: commands in, a result code and events out, money moved only by the ledger.

Every command is answered from one closed list of codes, and remembered by its id: the same
id and body returns the stored answer, the same id with another body is refused. Each command
goes to the handler of its concern (funds, settings, orders, market data, funding, imports);
every check a handler makes (initial margin after an order, what may be withdrawn, whether an
account is liquidatable) is asked of the margin functions through the primitives of
:class:`~crossmargin.engine.base.EngineBase`. After an accepted command the venue's
auto-exchange runs on the debts it left.
"""

from __future__ import annotations

import decimal
import functools
import hashlib
import json
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from crossmargin.engine import funding, funds, imports, market, settings, trading
from crossmargin.engine.base import EngineBase
from crossmargin.engine.commands import (
    ApproveCollateral,
    AssetPrice,
    CancelOrder,
    Command,
    Deposit,
    DepthUpdate,
    ImportBalance,
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
from crossmargin.engine.exchange import settle_debts
from crossmargin.engine.state import PositionState
from crossmargin.engine.watch import forget
from crossmargin.rules import Rulebook
from crossmargin.units import EXACT, InputError

#: Each command's handler, by the command's class: ``handler(engine, command) -> Result``.
HANDLERS: dict[type, Callable[[Any, Any], Result]] = {
    Deposit: funds.deposit,
    Withdraw: funds.withdraw,
    TransferMargin: funds.transfer_margin,
    Stake: funds.stake,
    Unstake: funds.unstake,
    SetLeverage: settings.set_leverage,
    SetMarginMode: settings.set_margin_mode,
    ApproveCollateral: settings.approve_collateral,
    SetAssetMode: settings.set_asset_mode,
    CancelOrder: trading.cancel_order,
    PlaceOrder: trading.place_order,
    MarketUpdate: market.market_update,
    MarksUpdate: market.marks_update,
    DepthUpdate: market.depth_update,
    AssetPrice: market.asset_price,
    SettleFunding: funding.settle_funding,
    ImportPosition: imports.import_position,
    ImportBalance: imports.import_balance,
}


def _text(value: Decimal | None) -> str | None:
    return None if value is None else format(value, "f")


def _position_state(position: PositionState) -> list[str | None]:
    """A position in the state hash (under its key, which names a hedge leg); a maintenance rate
    fixed at import is appended only where there is one, so one-way accounts hash as they always did."""
    state = [position.side.value, format(position.size, "f"), format(position.entry_price, "f")]
    state.append(position.margin_mode.value)
    if position.mmr_override is not None:
        state += [_text(position.mmr_override), _text(position.maintenance_amount_override)]
    return state


class Engine(EngineBase):
    """One venue's accounts, markets and ledger; ``execute`` is the only way to change them."""

    def __init__(self, rulebook: Rulebook, *, keep_journal: bool = False, bands: bool = True) -> None:
        """``bands=False`` checks every holder exactly on every update instead of using safe-price
        bands: slower, and the reference the bands are tested against (same results, same state)."""
        super().__init__(rulebook, keep_journal=keep_journal, bands=bands)
        # id -> the command as first received, and its result; a retry's body is compared by value
        # (two maps rather than one of pairs: a pair per command is one more object the
        # collector walks for as long as the engine lives)
        self._commands: dict[str, Command] = {}
        self._results: dict[str, Result] = {}
        self._exact = EXACT.copy()  # installed as the decimal context while a command runs
        self._handlers: dict[type, Callable[[Any], Result]] = {
            kind: functools.partial(handler, self) for kind, handler in HANDLERS.items()
        }

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
            ledger = self.ledger
            if result.code is ResultCode.ACCEPTED and (ledger.fresh_debts or ledger.debts):
                result = self._settle_debts(command, result)
        except InputError as error:
            result = self.reject(command, ResultCode.INVALID_ARGUMENT, str(error))
        if type(command) is not PlaceOrder and result.code.accepted:
            account_id = getattr(command, "account", None)
            if isinstance(account_id, str):
                forget(self, account_id)  # its money or settings moved: check it exactly next time
        self._commands[command.command_id] = command
        self._results[command.command_id] = result
        return result

    def _settle_debts(self, command: Command, result: Result) -> Result:
        """The venue's auto-exchange after an accepted command: a multi-asset pool that the command
        left owing (or, after a collateral price, any that owes) may have collateral sold."""
        ledger = self.ledger
        repriced = ledger.debts and type(command) is AssetPrice  # every debt's worth may have moved
        if not (ledger.fresh_debts or repriced):
            return result
        candidates = set(ledger.debts) if repriced else ledger.fresh_debts & ledger.debts
        ledger.fresh_debts = set()
        events = settle_debts(self, candidates)
        for event in events:
            event["command_id"] = command.command_id
        return result._replace(events=result.events + tuple(events))

    def state_hash(self) -> str:
        """SHA-256 of the whole state in canonical form: ledger, accounts (positions, orders,
        settings, stakes), markets (mark, index, last price, funding rate, the last funding time
        settled) and the clock.

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
                    "positions": {key: _position_state(p) for key, p in sorted(account.positions.items())},
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
                s: [
                    _text(m.mark),
                    _text(m.index),
                    _text(m.last),
                    _text(m.funding_rate),
                    m.timestamp_ms,
                    m.funding_settled_ms,
                ]
                for s, m in sorted(self.markets.items())
            },
            "asset_prices": {a: format(p, "f") for a, p in sorted(self.asset_prices.items())},
            "now_ms": self.now_ms,
        }
        text = json.dumps(state, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()
