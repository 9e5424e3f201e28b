"""The venues' partial liquidation rules, tried before a full close at the bankruptcy price.

- Binance (``reduce_then_bankruptcy``): one order reduces the largest position by the least
  that makes the pool compliant again after the realised loss and the liquidation fee.
- Bybit and OKX (``tier_step_down``): the largest position is cut back to a lower risk tier,
  the nearest whose maintenance is met.
- Hyperliquid (``chunks``): positions above the minimum notional lose a fraction per step,
  and for the cooldown after a partial step the next liquidation takes everything.

Each returns whether the pool was made compliant; if not, the caller closes it in full.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, NamedTuple

from crossmargin.engine.base import EngineBase
from crossmargin.engine.fills import sweep_for
from crossmargin.engine.ledger import AccountKind, LedgerAccount, Transfer, signed_transfer
from crossmargin.engine.positions import apply_fill, notional_of
from crossmargin.engine.state import AccountState, PositionState, isolated, key_symbol, wallet
from crossmargin.margin.types import MarginMode, PositionSide, Side
from crossmargin.units import ZERO, Rounding, div, steps_of


class ClosePlan(NamedTuple):
    """What closing part of a position in the market would book, and the position it leaves."""

    transfers: list[Transfer]
    wallet_change: Decimal
    event: dict[str, Any]
    remaining: PositionState | None


def _close_plan(engine: EngineBase, account: AccountState, key: str, quantity: Decimal) -> ClosePlan | None:
    """Transfers, wallet change and event of closing ``quantity`` of a position (by key) in the market.

    ``None`` when the book cannot take it, or when the realised loss would leave the paying
    balance negative outside a multi-asset pool (then only the full close with its settlement
    can follow).
    """
    position = account.positions[key]
    symbol = position.symbol
    instrument = engine.rulebook.instrument(symbol)
    mark = engine.market(symbol).mark
    assert mark is not None
    side = "sell" if position.side is Side.LONG else "buy"
    filled, average, _ = sweep_for(engine, instrument, side, quantity, mark)
    if average is None or filled < quantity:
        return None
    asset = instrument.settlement_asset
    outcome = apply_fill(instrument, position, side, quantity, average, position.margin_mode)
    realized = engine.money(outcome.realized_pnl, asset, rounding=Rounding.FLOOR)
    fee_rate = instrument.liquidation_fee or ZERO
    fee = engine.money(notional_of(instrument, quantity, average) * fee_rate, asset, rounding=Rounding.CEILING)
    owner = account.account_id
    target = wallet(owner, asset) if position.margin_mode is MarginMode.CROSS else isolated(owner, asset, key)
    transfers = signed_transfer(engine.clearing(asset), target, realized, "partial_liquidation")
    if fee > 0:
        insurance = LedgerAccount.venue(AccountKind.INSURANCE, asset)
        transfers.append(Transfer(target, insurance, fee, "liquidation_fee"))
    event = {
        "event": "liquidation_fill",
        "account": owner,
        "symbol": symbol,
        "side": side,
        "quantity": format(quantity.normalize(), "f"),
        "price": str(average),
        "realized_pnl": str(realized),
        "fee": str(fee),
        "partial": quantity < position.size,
    }
    if position.position_side is not PositionSide.BOTH:
        event["position_side"] = position.position_side.value
    # a multi-asset pool may owe the settlement asset (the auto-exchange covers it afterwards)
    if account.asset_mode != "multi" and engine.ledger.balance(target) + realized - fee < 0:
        return None
    change = realized - fee if position.margin_mode is MarginMode.CROSS else ZERO
    return ClosePlan(transfers, change, event, outcome.position)


def _compliant_after(engine: EngineBase, account: AccountState, key: str, quantity: Decimal) -> bool | None:
    """Whether closing ``quantity`` leaves the pool above maintenance (``None``: not fillable)."""
    plan = _close_plan(engine, account, key, quantity)
    if plan is None:
        return None
    asset = engine.rulebook.instrument(key_symbol(key)).settlement_asset
    evaluation = engine.evaluate(account, overrides={key: plan.remaining}, balance_changes={asset: plan.wallet_change})
    pools = [p for p in evaluation.pools if p.figures.pool.settlement_asset in (asset, "USD")]
    return not any(p.liquidatable for p in pools)


def execute_close(engine: EngineBase, account: AccountState, key: str, quantity: Decimal) -> list[dict[str, Any]]:
    """Close ``quantity`` of a position (by key) in the market, booking PnL and the liquidation fee."""
    plan = _close_plan(engine, account, key, quantity)
    assert plan is not None
    engine.post(plan.transfers)
    position = account.positions[key]
    if quantity >= position.size:
        del account.positions[key]
    else:
        position.size -= quantity
    return [plan.event]


def _lots(engine: EngineBase, key: str, quantity: Decimal) -> int:
    return steps_of(quantity, engine.rulebook.instrument(key_symbol(key)).lot_size, rounding=Rounding.CEILING)


def _notional(engine: EngineBase, account: AccountState, key: str) -> Decimal:
    symbol = key_symbol(key)
    return notional_of(
        engine.rulebook.instrument(symbol), account.positions[key].size, engine.market(symbol).mark or ZERO
    )


def reduce_until_compliant(engine: EngineBase, account: AccountState, keys: list[str]) -> list[dict[str, Any]] | None:
    """Binance: the least reduction of the largest position that restores compliance, or ``None``."""
    largest = max(keys, key=lambda k: _notional(engine, account, k))
    lot = engine.rulebook.instrument(key_symbol(largest)).lot_size
    most = _lots(engine, largest, account.positions[largest].size) - 1  # a full close is the bankruptcy path
    # Compliance is not monotone in the size closed (each lot frees its maintenance but pays the
    # fee), so probe upward by doubling for a compliant size, then bisect down to the least one.
    known_bad, probe = 0, 1
    while probe <= most and not _compliant_after(engine, account, largest, lot * probe):
        known_bad, probe = probe, probe * 2
    if probe > most:
        if most < 1 or not _compliant_after(engine, account, largest, lot * most):
            return None
        probe = most
    low, high = known_bad + 1, probe
    while low < high:
        middle = (low + high) // 2
        if _compliant_after(engine, account, largest, lot * middle):
            high = middle
        else:
            low = middle + 1
    return execute_close(engine, account, largest, lot * low)


def step_down(engine: EngineBase, account: AccountState, keys: list[str]) -> list[dict[str, Any]] | None:
    """Bybit / OKX: cut the largest position back to the nearest lower tier that is compliant."""
    for key in sorted(keys, key=lambda k: -len(engine.rulebook.instrument(key_symbol(k)).tiers)):
        symbol = key_symbol(key)
        instrument = engine.rulebook.instrument(symbol)
        position = account.positions[key]
        mark = engine.market(symbol).mark
        if mark is None or not instrument.tiers:
            continue
        for floor in reversed(instrument.tier_floors[1:]):
            if instrument.tier_basis == "contracts":
                target = floor * (instrument.contract_size if instrument.kind == "linear" else 1)
            elif instrument.kind == "linear":
                target = div(floor, mark, rounding=Rounding.FLOOR)
            else:
                target = div(floor * mark, instrument.contract_size, rounding=Rounding.FLOOR)
            target -= target % instrument.lot_size
            if not ZERO < target < position.size:
                continue
            if _compliant_after(engine, account, key, position.size - target):
                return execute_close(engine, account, key, position.size - target)
    return None


def chunks(engine: EngineBase, account: AccountState, keys: list[str], now_ms: int) -> list[dict[str, Any]] | None:
    """Hyperliquid: a fraction of each large position, then a cooldown in which the next is full."""
    rule = engine.rulebook.conventions.liquidation
    if rule.chunk_fraction is None or now_ms < account.cooldown_until_ms:
        return None
    events: list[dict[str, Any]] = []
    for key in keys:
        position = account.positions[key]
        instrument = engine.rulebook.instrument(position.symbol)
        mark = engine.market(position.symbol).mark or position.entry_price
        if notional_of(instrument, position.size, mark) <= (rule.chunk_min_notional or ZERO):
            continue
        chunk = position.size * rule.chunk_fraction
        chunk = chunk - chunk % instrument.lot_size + (instrument.lot_size if chunk % instrument.lot_size else ZERO)
        if ZERO < chunk < position.size and _close_plan(engine, account, key, chunk) is not None:
            events += execute_close(engine, account, key, chunk)
    if not events:
        return None
    account.cooldown_until_ms = now_ms + 1000 * (rule.cooldown_seconds or 0)
    return events
