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
from typing import TYPE_CHECKING, Any, NamedTuple

from crossmargin.engine.ledger import AccountKind, LedgerAccount, Transfer, signed_transfer
from crossmargin.engine.positions import apply_fill, notional_of
from crossmargin.engine.state import AccountState, PositionState, isolated, wallet
from crossmargin.margin.position import notional, tier_basis_value, tier_index_for
from crossmargin.margin.types import MarginMode, Side
from crossmargin.rules.schema import Instrument
from crossmargin.units import ZERO, Rounding, div, steps_of

if TYPE_CHECKING:
    from crossmargin.engine.core import Engine


class ClosePlan(NamedTuple):
    """What closing part of a position in the market would book, and the position it leaves."""

    transfers: list[Transfer]
    wallet_change: Decimal
    event: dict[str, Any]
    remaining: PositionState | None


def _close_plan(engine: Engine, account: AccountState, symbol: str, quantity: Decimal) -> ClosePlan | None:
    """Transfers, wallet change and event of closing ``quantity`` of a position in the market.

    ``None`` when the book cannot take it, or when the realised loss would leave the paying
    balance negative outside a multi-asset pool (then only the full close with its settlement
    can follow).
    """
    from crossmargin.engine.trading import sweep_for

    instrument = engine.rulebook.instrument(symbol)
    position = account.positions[symbol]
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
    target = wallet(owner, asset) if position.margin_mode is MarginMode.CROSS else isolated(owner, asset, symbol)
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
    # a multi-asset pool may owe the settlement asset (the auto-exchange covers it afterwards)
    if account.asset_mode != "multi" and engine.ledger.balance(target) + realized - fee < 0:
        return None
    change = realized - fee if position.margin_mode is MarginMode.CROSS else ZERO
    return ClosePlan(transfers, change, event, outcome.position)


def _compliant_after(engine: Engine, account: AccountState, symbol: str, quantity: Decimal) -> bool | None:
    """Whether closing ``quantity`` leaves the pool above maintenance (``None``: not fillable)."""
    plan = _close_plan(engine, account, symbol, quantity)
    if plan is None:
        return None
    asset = engine.rulebook.instrument(symbol).settlement_asset
    evaluation = engine.evaluate(
        account, overrides={symbol: plan.remaining}, balance_changes={asset: plan.wallet_change}
    )
    pools = [p for p in evaluation.pools if p.figures.pool.settlement_asset in (asset, "USD")]
    return not any(p.liquidatable for p in pools)


def execute_close(engine: Engine, account: AccountState, symbol: str, quantity: Decimal) -> list[dict[str, Any]]:
    """Close ``quantity`` of a position in the market, booking PnL and the liquidation fee."""
    plan = _close_plan(engine, account, symbol, quantity)
    assert plan is not None
    engine.post(plan.transfers)
    position = account.positions[symbol]
    if quantity >= position.size:
        del account.positions[symbol]
    else:
        position.size -= quantity
    return [plan.event]


def _lots(engine: Engine, symbol: str, quantity: Decimal) -> int:
    return steps_of(quantity, engine.rulebook.instrument(symbol).lot_size, rounding=Rounding.CEILING)


def reduce_until_compliant(engine: Engine, account: AccountState, symbols: list[str]) -> list[dict[str, Any]] | None:
    """Binance: the least reduction of the largest position that restores compliance, or ``None``."""
    largest = max(
        symbols,
        key=lambda s: notional_of(
            engine.rulebook.instrument(s), account.positions[s].size, engine.market(s).mark or ZERO
        ),
    )
    lot = engine.rulebook.instrument(largest).lot_size
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


def step_down(engine: Engine, account: AccountState, symbols: list[str]) -> list[dict[str, Any]] | None:
    """Bybit / OKX: cut the largest position back to the nearest lower tier that is compliant.

    The tier is the one the margin functions look up: on the position's value at the mark, or at
    its entry price where the venue values positions there (Bybit until 2025-09-02), and a value
    on a tier's floor belongs to the tier the rulebook's boundary rule says.
    """
    at_entry = engine.rulebook.conventions.position_value_basis == "entry"
    for symbol in sorted(symbols, key=lambda s: -len(engine.rulebook.instrument(s).tiers)):
        instrument = engine.rulebook.instrument(symbol)
        position = account.positions[symbol]
        mark = engine.market(symbol).mark
        if mark is None or not instrument.tiers:
            continue
        price = position.entry_price if at_entry else mark
        for index in range(len(instrument.tiers) - 1, 0, -1):
            target = _size_below_tier(instrument, index, price)
            if not ZERO < target < position.size:
                continue
            if _compliant_after(engine, account, symbol, position.size - target):
                return execute_close(engine, account, symbol, position.size - target)
    return None


def _size_below_tier(instrument: Instrument, index: int, price: Decimal) -> Decimal:
    """The largest size, in whole lots, whose tier at ``price`` lies below tier ``index``."""
    floor = instrument.tiers[index].floor
    if instrument.tier_basis == "contracts":
        target = floor * (instrument.contract_size if instrument.kind == "linear" else 1)
    elif instrument.kind == "linear":
        target = div(floor, price, rounding=Rounding.FLOOR)
    else:
        target = div(floor * price, instrument.contract_size, rounding=Rounding.FLOOR)
    target -= target % instrument.lot_size
    while target > 0 and _tier_at(instrument, target, price) >= index:  # on the floor, floor-inclusive
        target -= instrument.lot_size
    return target


def _tier_at(instrument: Instrument, size: Decimal, price: Decimal) -> int:
    return tier_index_for(instrument, tier_basis_value(instrument, size, notional(instrument, size, price)))


def chunks(engine: Engine, account: AccountState, symbols: list[str], now_ms: int) -> list[dict[str, Any]] | None:
    """Hyperliquid: a fraction of each large position, then a cooldown in which the next is full."""
    rule = engine.rulebook.conventions.liquidation
    if rule.chunk_fraction is None or now_ms < account.cooldown_until_ms:
        return None
    events: list[dict[str, Any]] = []
    for symbol in symbols:
        instrument = engine.rulebook.instrument(symbol)
        position = account.positions[symbol]
        mark = engine.market(symbol).mark or position.entry_price
        if notional_of(instrument, position.size, mark) <= (rule.chunk_min_notional or ZERO):
            continue
        chunk = position.size * rule.chunk_fraction
        chunk = chunk - chunk % instrument.lot_size + (instrument.lot_size if chunk % instrument.lot_size else ZERO)
        if ZERO < chunk < position.size and _close_plan(engine, account, symbol, chunk) is not None:
            events += execute_close(engine, account, symbol, chunk)
    if not events:
        return None
    account.cooldown_until_ms = now_ms + 1000 * (rule.cooldown_seconds or 0)
    return events
