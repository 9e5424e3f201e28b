"""Importing an account as it stands: how a copy of a real account enters the engine.

Stress tests, incident replays and the paper exchange start from an account that already holds
positions. Opening them with orders would charge fees and slippage and move the entry price;
an import sets the position directly (the wallet, deposited first, already holds whatever the
real fills cost). No money moves but isolated margin, from the wallet to the position. What the
account file can say of a position the import can too: a hedge-mode leg (a long and a short leg
of one symbol, where the venue offers hedge mode) and a maintenance rate the venue fixed for it,
kept at every price. A balance is imported as it stands too, a debt included where a multi-asset
pool backs it. Every field is still checked, and the account is checked for liquidation at once:
an imported account is no safer than the real one.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from crossmargin.engine.base import EngineBase
from crossmargin.engine.commands import ImportBalance, ImportPosition, Result, ResultCode
from crossmargin.engine.ledger import Transfer, signed_transfer
from crossmargin.engine.liquidation import check_account, check_holder
from crossmargin.engine.state import AccountState, PositionState, isolated, position_key, wallet
from crossmargin.engine.watch import forget
from crossmargin.margin.types import MarginMode, PositionSide, Side
from crossmargin.rules.schema import Instrument
from crossmargin.units import InputError, Rounding


def import_position(engine: EngineBase, command: ImportPosition) -> Result:
    instrument = engine.rulebook.find_instrument(command.symbol)
    if instrument is None:
        return engine.reject(command, ResultCode.UNKNOWN_SYMBOL)
    side, mode, leg = _checked(engine, command, instrument)
    margin = command.isolated_margin
    symbol, asset = instrument.symbol, instrument.settlement_asset
    if engine.market(symbol).mark is None:
        return engine.reject(command, ResultCode.NO_MARK_PRICE)
    account = engine.account(command.account)
    key = position_key(symbol, leg)
    if key in account.positions:
        return engine.reject(command, ResultCode.POSITION_OPEN)
    mixed = _mixes_modes(account, symbol, leg)
    if mixed:
        return engine.reject(command, ResultCode.INVALID_ARGUMENT, mixed)
    if mode is MarginMode.ISOLATED and account.asset_mode == "multi":
        return engine.reject(command, ResultCode.INVALID_ARGUMENT, "multi-asset mode is cross margin only")
    if margin is not None:
        checked = _isolated_margin(engine, account.account_id, asset, margin)
        if isinstance(checked, Result):
            return engine.reject(command, checked.code, checked.message)
        source, target = wallet(account.account_id, asset), isolated(account.account_id, asset, key)
        engine.post([Transfer(source, target, checked, "isolated_margin")])
    account.margin_mode[symbol] = mode
    account.positions[key] = PositionState(
        symbol, side, command.size, command.entry_price, mode, leg, command.mmr, command.maintenance_amount
    )
    forget(engine, account.account_id)
    return engine.accept(command, [_imported_event(account, command, symbol), *check_account(engine, account, symbol)])


def _checked(
    engine: EngineBase, command: ImportPosition, instrument: Instrument
) -> tuple[Side, MarginMode, PositionSide]:
    """The position's side, margin mode and leg, every field checked (one error naming it)."""
    if command.side not in ("long", "short"):
        raise InputError("side", "must be long or short")
    if command.margin_mode not in ("cross", "isolated"):
        raise InputError("margin_mode", "must be cross or isolated")
    if command.position_side not in ("both", "long", "short"):
        raise InputError("position_side", "must be both, long or short")
    if command.size <= 0 or command.size % instrument.lot_size != 0:
        raise InputError("size", f"must be a positive multiple of {instrument.lot_size}")
    if command.entry_price <= 0:
        raise InputError("entry_price", "must be positive")
    mode = MarginMode(command.margin_mode)
    if (mode is MarginMode.ISOLATED) != (command.isolated_margin is not None):
        raise InputError("isolated_margin", "goes with margin_mode isolated, and only with it")
    leg = PositionSide(command.position_side)
    if leg is not PositionSide.BOTH and leg.value != command.side:
        raise InputError("position_side", f"a {leg.value} leg cannot be {command.side}")
    if leg is not PositionSide.BOTH and not engine.rulebook.conventions.hedge_mode_offered:
        raise InputError("position_side", f"{engine.rulebook.venue} has no hedge mode")
    if command.mmr is not None and command.mmr < 0:
        raise InputError("mmr", "must not be negative")
    if command.maintenance_amount is not None and (command.mmr is None or command.maintenance_amount < 0):
        raise InputError("maintenance_amount", "needs mmr beside it and must not be negative")
    return Side(command.side), mode, leg


def _mixes_modes(account: AccountState, symbol: str, leg: PositionSide) -> str | None:
    """Why a position on ``leg`` cannot join the account's positions in ``symbol``: one-way and
    hedge-mode legs never mix on a symbol."""
    held = {p.position_side for p in account.positions.values() if p.symbol == symbol}
    if leg is PositionSide.BOTH and held:
        return f"{symbol} is held in hedge mode: import the position as a leg (position_side long or short)"
    if leg is not PositionSide.BOTH and PositionSide.BOTH in held:
        return f"{symbol} is held one-way: a hedge-mode leg cannot join it"
    return None


def _imported_event(account: AccountState, command: ImportPosition, symbol: str) -> dict[str, Any]:
    event: dict[str, Any] = {
        "event": "position_imported",
        "account": account.account_id,
        "symbol": symbol,
        "side": command.side,
        "size": format(command.size, "f"),
        "entry_price": format(command.entry_price, "f"),
        "margin_mode": command.margin_mode,
    }
    if command.position_side != "both":
        event["position_side"] = command.position_side
    if command.mmr is not None:
        event["mmr"] = format(command.mmr, "f")
    if command.maintenance_amount is not None:
        event["maintenance_amount"] = format(command.maintenance_amount, "f")
    return event


def _isolated_margin(engine: EngineBase, account_id: str, asset: str, margin: Decimal) -> Decimal | Result:
    if margin <= 0 or engine.money(margin, asset, rounding=Rounding.FLOOR) != margin:
        raise InputError("isolated_margin", f"must be positive in units of {engine.unit(asset)}")
    if margin > engine.ledger.balance(wallet(account_id, asset)):
        return Result("", ResultCode.INSUFFICIENT_BALANCE, "deposit the isolated margin into the wallet first")
    return margin


def import_balance(engine: EngineBase, command: ImportBalance) -> Result:
    """A wallet balance as it stands: from the outside world (clearing), or owed to it."""
    asset, amount = command.asset, command.amount
    if asset not in engine.rulebook.data.assets:
        raise InputError("asset", f"{asset} is not an asset of {engine.rulebook.venue}")
    if amount == 0 or engine.money(amount, asset, rounding=Rounding.FLOOR) != amount:
        raise InputError("amount", f"must be a non-zero multiple of {engine.unit(asset)}, got {amount}")
    account = engine.account(command.account)
    if amount < 0 and account.asset_mode != "multi":
        return engine.reject(
            command,
            ResultCode.INVALID_ARGUMENT,
            "only a multi-asset account may owe: set its asset mode to multi first",
        )
    if amount < 0 and asset != "USD" and asset not in engine.asset_prices:
        return engine.reject(
            command, ResultCode.NO_MARK_PRICE, f"a debt in {asset} needs its price (asset_price) first"
        )
    engine.post(signed_transfer(engine.clearing(asset), account.wallet(asset), amount, "balance_imported"))
    forget(engine, account.account_id)
    event = {"event": "balance_imported", "account": account.account_id, "asset": asset, "amount": format(amount, "f")}
    return engine.accept(command, [event, *check_holder(engine, account)])
