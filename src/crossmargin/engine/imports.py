"""Importing a position as it stands: how a copy of a real account enters the engine.

Stress tests, incident replays and the paper exchange start from an account that already holds
positions. Opening them with orders would charge fees and slippage and move the entry price;
an import sets the position directly (the wallet, deposited first, already holds whatever the
real fills cost). No money moves but isolated margin, from the wallet to the position. Every
field is still checked, and the account is checked for liquidation at once: an imported account
is no safer than the real one.
"""

from __future__ import annotations

from decimal import Decimal

from crossmargin.engine.base import EngineBase
from crossmargin.engine.commands import ImportPosition, Result, ResultCode
from crossmargin.engine.ledger import Transfer
from crossmargin.engine.liquidation import check_account
from crossmargin.engine.state import PositionState, isolated, wallet
from crossmargin.engine.watch import forget
from crossmargin.margin.types import MarginMode, Side
from crossmargin.units import InputError, Rounding


def import_position(engine: EngineBase, command: ImportPosition) -> Result:
    instrument = engine.rulebook.find_instrument(command.symbol)
    if instrument is None:
        return engine.reject(command, ResultCode.UNKNOWN_SYMBOL)
    if command.side not in ("long", "short"):
        raise InputError("side", "must be long or short")
    if command.margin_mode not in ("cross", "isolated"):
        raise InputError("margin_mode", "must be cross or isolated")
    if command.size <= 0 or command.size % instrument.lot_size != 0:
        raise InputError("size", f"must be a positive multiple of {instrument.lot_size}")
    if command.entry_price <= 0:
        raise InputError("entry_price", "must be positive")
    mode = MarginMode(command.margin_mode)
    margin = command.isolated_margin
    if (mode is MarginMode.ISOLATED) != (margin is not None):
        raise InputError("isolated_margin", "goes with margin_mode isolated, and only with it")
    symbol, asset = instrument.symbol, instrument.settlement_asset
    if engine.market(symbol).mark is None:
        return engine.reject(command, ResultCode.NO_MARK_PRICE)
    account = engine.account(command.account)
    if symbol in account.positions:
        return engine.reject(command, ResultCode.POSITION_OPEN)
    if mode is MarginMode.ISOLATED and account.asset_mode == "multi":
        return engine.reject(command, ResultCode.INVALID_ARGUMENT, "multi-asset mode is cross margin only")
    if margin is not None:
        checked = _isolated_margin(engine, account.account_id, asset, margin)
        if isinstance(checked, Result):
            return engine.reject(command, checked.code, checked.message)
        source, target = wallet(account.account_id, asset), isolated(account.account_id, asset, symbol)
        engine.post([Transfer(source, target, checked, "isolated_margin")])
    side = Side.LONG if command.side == "long" else Side.SHORT
    account.margin_mode[symbol] = mode
    account.positions[symbol] = PositionState(symbol, side, command.size, command.entry_price, mode)
    forget(engine, account.account_id)
    event = {
        "event": "position_imported",
        "account": account.account_id,
        "symbol": symbol,
        "side": command.side,
        "size": format(command.size, "f"),
        "entry_price": format(command.entry_price, "f"),
        "margin_mode": command.margin_mode,
    }
    return engine.accept(command, [event, *check_account(engine, account, symbol)])


def _isolated_margin(engine: EngineBase, account_id: str, asset: str, margin: Decimal) -> Decimal | Result:
    if margin <= 0 or engine.money(margin, asset, rounding=Rounding.FLOOR) != margin:
        raise InputError("isolated_margin", f"must be positive in units of {engine.unit(asset)}")
    if margin > engine.ledger.balance(wallet(account_id, asset)):
        return Result("", ResultCode.INSUFFICIENT_BALANCE, "deposit the isolated margin into the wallet first")
    return margin
