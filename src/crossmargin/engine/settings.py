"""An account's settings: leverage, margin mode, asset mode (single or multi-asset) and which
collateral it approves.

A setting that changes what the account's margin is worth is checked like an order: leverage
raised on an open position, or collateral revoked under one, must leave the pool meeting initial
margin, or it is refused and nothing changes.
"""

from __future__ import annotations

from crossmargin.engine.base import EngineBase
from crossmargin.engine.commands import (
    ApproveCollateral,
    Result,
    ResultCode,
    SetAssetMode,
    SetLeverage,
    SetMarginMode,
)
from crossmargin.engine.watch import forget
from crossmargin.margin.types import MarginMode
from crossmargin.units import InputError


def set_leverage(engine: EngineBase, command: SetLeverage) -> Result:
    instrument = engine.rulebook.find_instrument(command.symbol)
    if instrument is None:
        return engine.reject(command, ResultCode.UNKNOWN_SYMBOL)
    if command.leverage <= 0:
        raise InputError("leverage", "must be positive")
    account = engine.account(command.account)
    if instrument.tiers and command.leverage > instrument.tiers[0].max_leverage:
        return engine.reject(command, ResultCode.LEVERAGE_ABOVE_TIER)
    symbol = instrument.symbol  # settings are kept under the native name, as positions are
    previous = account.leverage.get(symbol)
    account.leverage[symbol] = command.leverage
    if account.holds(symbol) and not engine.meets_initial(account, instrument.settlement_asset):
        if previous is None:
            account.leverage.pop(symbol)
        else:
            account.leverage[symbol] = previous
        return engine.reject(command, ResultCode.INSUFFICIENT_MARGIN)
    leverage = str(command.leverage)
    return engine.accept(
        command, [{"event": "leverage_set", "account": command.account, "symbol": symbol, "leverage": leverage}]
    )


def set_margin_mode(engine: EngineBase, command: SetMarginMode) -> Result:
    instrument = engine.rulebook.find_instrument(command.symbol)
    if instrument is None:
        return engine.reject(command, ResultCode.UNKNOWN_SYMBOL)
    if command.mode not in ("cross", "isolated"):
        raise InputError("mode", "must be cross or isolated")
    account = engine.account(command.account)
    symbol = instrument.symbol
    if account.holds(symbol):
        return engine.reject(command, ResultCode.POSITION_OPEN)
    if command.mode == "isolated" and account.asset_mode == "multi":  # Binance: cross only
        return engine.reject(command, ResultCode.INVALID_ARGUMENT, "multi-asset mode is cross margin only")
    account.margin_mode[symbol] = MarginMode(command.mode)
    return engine.accept(
        command,
        [{"event": "margin_mode_set", "account": command.account, "symbol": symbol, "mode": command.mode}],
    )


def set_asset_mode(engine: EngineBase, command: SetAssetMode) -> Result:
    """Binance's Multi-Assets switch: only with nothing open; a debt must be repaid before
    leaving, since a single-asset wallet may not be negative."""
    conventions = engine.rulebook.conventions
    if command.mode not in ("single", "multi"):
        raise InputError("mode", "must be single or multi")
    offered = conventions.multi_asset_mode_offered or conventions.asset_mode == "multi"
    if command.mode == "multi" and not offered:
        return engine.reject(command, ResultCode.INVALID_ARGUMENT, f"{engine.rulebook.venue} has no multi-asset mode")
    account = engine.account(command.account)
    if account.positions or account.orders:
        return engine.reject(command, ResultCode.POSITION_OPEN, "close positions and cancel orders first")
    owed = sorted(a.asset for a in engine.ledger.debts if a.owner == account.account_id)
    if command.mode == "single" and owed:
        return engine.reject(command, ResultCode.INSUFFICIENT_BALANCE, f"repay the debt in {owed[0]} first")
    if command.mode == "multi" and any(m is MarginMode.ISOLATED for m in account.margin_mode.values()):
        return engine.reject(command, ResultCode.INVALID_ARGUMENT, "multi-asset mode is cross margin only")
    account.asset_mode = command.mode
    if command.mode == "multi":
        engine.ledger.debt_owners.add(account.account_id)
    else:
        engine.ledger.debt_owners.discard(account.account_id)
    forget(engine, account.account_id)
    return engine.accept(command, [{"event": "asset_mode_set", "account": account.account_id, "mode": command.mode}])


def approve_collateral(engine: EngineBase, command: ApproveCollateral) -> Result:
    account = engine.account(command.account)
    if command.approved:
        account.revoked.discard(command.asset)
    else:
        account.revoked.add(command.asset)
        if account.positions and not engine.meets_initial(account, command.asset):
            account.revoked.discard(command.asset)  # like a withdrawal, it may not strand positions
            return engine.reject(command, ResultCode.INSUFFICIENT_MARGIN, "positions rely on this collateral")
    return engine.accept(
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
