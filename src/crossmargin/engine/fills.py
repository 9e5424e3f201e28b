"""Fills: what a taker order gets from the book, and what booking a fill does to the account.

A market order, a fired stop, a limit order the mark crossed and a liquidation all fill through
here. ``sweep_for`` walks the depth model (the symbol's snapshot when market data has one,
otherwise the parametric curve around the mark); ``plan_fill`` works out the position a fill
leaves, its realised PnL, fee and isolated margin, and checks it against initial margin (a fill
that only reduces always passes); ``commit_fill`` books it. A realised loss beyond the wallet
first settles the account's own unrealised profits (``settle_profits``).
"""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from typing import Any, NamedTuple

from crossmargin.engine import watch
from crossmargin.engine.base import EngineBase
from crossmargin.engine.commands import ResultCode
from crossmargin.engine.depth import depth_for, sweep
from crossmargin.engine.ledger import Transfer, signed_transfer
from crossmargin.engine.positions import apply_fill, notional_of, reduces, taker_fee
from crossmargin.engine.state import AccountState, PositionState, isolated, position_key
from crossmargin.margin.evaluate import Evaluation
from crossmargin.margin.pool import counted_pnl
from crossmargin.margin.position import close_fee_at_bankruptcy, unrealized_pnl
from crossmargin.margin.types import MarginMode, PositionSide
from crossmargin.rules.schema import Instrument
from crossmargin.units import ZERO, Rounding, div, quantize


class FillPlan(NamedTuple):
    """A fill worked out but not yet booked: the position (by key) after it and the ledger transfers."""

    key: str
    position: PositionState | None
    transfers: list[Transfer]
    events: list[dict[str, Any]]
    reducing: bool
    after: Evaluation | None  # the account after the fill, when the margin check computed it
    settled: dict[str, PositionState]  # other positions re-based at the mark to settle a loss
    # a cross reduction's exact change of its pool's margin balance at the current marks
    margin_change: Decimal | None


def commit_fill(
    engine: EngineBase, account: AccountState, plan: FillPlan, *, bands_hold: bool = False
) -> list[dict[str, Any]]:
    """Book a planned fill: the ledger group first, then the position it leaves.

    Unless ``bands_hold`` (a reduction the pool's reserve absorbed), the account's bands no
    longer hold and it is checked exactly next time.
    """
    engine.post(plan.transfers)
    account.positions.update(plan.settled)
    if not bands_hold:
        watch.forget(engine, account.account_id)
    if plan.position is None:
        account.positions.pop(plan.key, None)
    else:
        account.positions[plan.key] = plan.position
    return plan.events


def sweep_for(
    engine: EngineBase,
    instrument: Instrument,
    side: str,
    quantity: Decimal,
    mark: Decimal,
    limit: Decimal | None = None,
) -> tuple[Decimal, Decimal | None, Decimal | None]:
    """``(filled quantity, average price, worst price)`` of a taker order in the instrument's units.

    The depth model counts base units; an inverse order counts contracts, so it walks the book
    for the coin its contracts are worth at the mark and fills the contracts in proportion.
    """
    market = engine.market(instrument.symbol)
    # the symbol's last order-book snapshot, else the calibrated curve for its base asset
    book = market.depth if market.depth is not None else depth_for(instrument.base_asset)
    memo = market.curve_memos["ask" if side == "buy" else "bid"]
    if instrument.kind == "linear":
        fill = sweep(book, side, quantity, mark, limit_price=limit, memo=memo)
        return fill.quantity, fill.average_price, fill.worst_price
    base = div(quantity * instrument.contract_size, mark, rounding=Rounding.HALF_EVEN)
    fill = sweep(book, side, base, mark, limit_price=limit, memo=memo)
    if fill.quantity >= base:
        return quantity, fill.average_price, fill.worst_price
    share = div(quantity * fill.quantity, base, rounding=Rounding.FLOOR)
    contracts = share - share % instrument.lot_size
    return contracts, fill.average_price if contracts > 0 else None, fill.worst_price


def plan_fill(
    engine: EngineBase,
    account: AccountState,
    instrument: Instrument,
    side: str,
    quantity: Decimal,
    price: Decimal,
    fee_rate: Decimal,
    reason: str,
    position_side: PositionSide = PositionSide.BOTH,
) -> FillPlan | ResultCode:
    """Work out a fill (on the hedge-mode leg ``position_side`` names) and check it against
    initial margin (reductions always pass)."""
    symbol, asset = instrument.symbol, instrument.settlement_asset
    key = symbol if position_side is PositionSide.BOTH else position_key(symbol, position_side)
    state = account.positions.get(key)
    mode = state.margin_mode if state else account.margin_mode.get(symbol, MarginMode.CROSS)
    outcome = apply_fill(instrument, state, side, quantity, price, mode, position_side)
    unit = engine.unit(asset)
    fee = quantize(taker_fee(instrument, quantity, price, fee_rate), unit, rounding=Rounding.CEILING)
    realized = quantize(outcome.realized_pnl, unit, rounding=Rounding.FLOOR)
    owner = account.account_id
    cross_wallet = account.wallet(asset)
    target = cross_wallet if mode is MarginMode.CROSS else isolated(owner, asset, key)
    transfers = signed_transfer(engine.clearing(asset), target, realized, f"realized_pnl:{reason}")
    if fee > 0:  # fees come out of the cross wallet, so isolated margin stays what was put in
        transfers.append(Transfer(cross_wallet, engine.fees(asset), fee, f"fee:{reason}"))
    wallet_change = (realized if mode is MarginMode.CROSS else ZERO) - fee
    if mode is MarginMode.ISOLATED and quantity > outcome.closed:
        margin = _isolated_margin(engine, account, instrument, quantity - outcome.closed, price)
        transfers.append(Transfer(cross_wallet, target, margin, "isolated_margin_on_open"))
        wallet_change -= margin
    reducing = reduces(state, side, quantity)
    after: Evaluation | None = None
    if not reducing:
        after = engine.evaluate(account, overrides={key: outcome.position}, balance_changes={asset: wallet_change})
        if engine.conventions.order_cost_includes_fees or not _meets_initial(after, asset):
            opened = quantity - outcome.closed  # the venue's order cost decides
            covered, as_booked = _covers_order_cost(
                engine, account, instrument, after, outcome.position, (wallet_change, fee), opened, price
            )
            if not covered:
                return ResultCode.INSUFFICIENT_MARGIN
            after = after if as_booked else None  # None: the check had to adjust it
        if mode is MarginMode.ISOLATED:
            after = None  # the isolated margin it moves is not in that picture yet
    if outcome.position is None and mode is MarginMode.ISOLATED:
        remaining = engine.ledger.balance(target) + realized
        if remaining > 0:
            transfers.append(Transfer(target, cross_wallet, remaining, "isolated_margin_released"))
    settled: dict[str, PositionState] = {}
    gathered = ZERO
    shortfall = -(engine.ledger.balance(cross_wallet) + wallet_change)
    # a realised loss beyond the wallet: settle the account's own profits first (a multi-asset
    # pool may owe it instead: its other collateral backs the debt)
    if shortfall > 0 and account.asset_mode != "multi":
        settled, settled_transfers, gathered = settle_profits(engine, account, asset, key, shortfall)
        if gathered < shortfall:
            return ResultCode.INSUFFICIENT_BALANCE
        transfers = settled_transfers + transfers
    event = _filled_event(owner, symbol, side, quantity, price, fee, realized, reason, position_side)
    events = [pnl_settled_event(owner, asset, gathered, settled), event] if settled else [event]
    margin_change = None
    if reducing and mode is MarginMode.CROSS and not settled:
        margin_change = realized - fee + _counted_pnl_change(engine, instrument, state, outcome.position)
    return FillPlan(key, outcome.position, transfers, events, reducing, after, settled, margin_change)


def _meets_initial(after: Evaluation, asset: str) -> bool:
    """Whether the pool ``asset`` settles in (a multi-asset pool is "USD") meets initial margin."""
    for report in after.pools:
        figures = report.figures
        if figures.pool.settlement_asset in (asset, "USD") and not figures.meets_initial_margin():
            return False
    return True


def _covers_order_cost(
    engine: EngineBase,
    account: AccountState,
    instrument: Instrument,
    after: Evaluation,
    position: PositionState | None,
    wallet_change_and_fee: tuple[Decimal, Decimal],
    opened: Decimal,
    price: Decimal,
) -> tuple[bool, bool]:
    """Whether the pool the fill settles in (a multi-asset pool is "USD") still covers its initial
    margin and the order's cost, and whether ``after`` (the account as booked) shows it as it is.

    The venue's cost to open is initial margin plus the open loss, which the new position's PnL at
    the mark shows. Where the rulebook's ``order_cost_includes_fees`` holds (Bybit), the fee to open
    and the fee to close at the bankruptcy price are part of it; elsewhere (Binance) the fee is
    charged but is no part of the cost, so the check adds it back (one for one in a single-asset
    pool; a multi-asset pool is evaluated again without it).
    """
    conventions = engine.rulebook.conventions
    asset = instrument.settlement_asset
    wallet_change, fee = wallet_change_and_fee
    needed = ZERO
    if conventions.order_cost_includes_fees and not conventions.close_fee_in_initial and position and opened > 0:
        leverage = account.leverage.get(instrument.symbol, conventions.default_leverage)
        needed = close_fee_at_bankruptcy(instrument, position.side.sign, opened, price, leverage)
    pools = [r.figures for r in after.pools if r.figures.pool.settlement_asset in (asset, "USD")]
    covered = True
    for figures in pools:
        if figures.initial_surplus < needed:
            covered = False
            break
    if covered:
        return True, True
    if conventions.order_cost_includes_fees or fee <= 0:
        return False, True
    if all(f.pool.valuation is None for f in pools):
        return all(f.initial_surplus + fee >= needed for f in pools), False
    key = position_key(instrument.symbol, position.position_side) if position else instrument.symbol
    without_fee = engine.evaluate(account, overrides={key: position}, balance_changes={asset: wallet_change + fee})
    pools = [r.figures for r in without_fee.pools if r.figures.pool.settlement_asset in (asset, "USD")]
    return all(f.initial_surplus >= needed for f in pools), False


def _isolated_margin(
    engine: EngineBase, account: AccountState, instrument: Instrument, opened: Decimal, price: Decimal
) -> Decimal:
    """Margin an isolated position takes from the wallet for what a fill opens: notional over
    leverage, rounded up (the venue wins the last unit)."""
    leverage = account.leverage.get(instrument.symbol, engine.rulebook.conventions.default_leverage)
    needed = div(notional_of(instrument, opened, price), leverage, rounding=Rounding.CEILING)
    return engine.money(needed, instrument.settlement_asset, rounding=Rounding.CEILING)


def _filled_event(
    owner: str,
    symbol: str,
    side: str,
    quantity: Decimal,
    price: Decimal,
    fee: Decimal,
    realized: Decimal,
    reason: str,
    position_side: PositionSide,
) -> dict[str, Any]:
    event: dict[str, Any] = {
        "event": "filled",
        "account": owner,
        "symbol": symbol,
        "side": side,
        "quantity": format(quantity.normalize(), "f"),
        "price": str(price),
        "fee": str(fee),
        "realized_pnl": str(realized),
        "reason": reason,
    }
    if position_side is not PositionSide.BOTH:  # a hedge-mode leg
        event["position_side"] = position_side.value
    return event


def _counted_pnl_change(
    engine: EngineBase, instrument: Instrument, before: PositionState | None, after: PositionState | None
) -> Decimal:
    """How a position's unrealised PnL, as the pool's margin balance counts it, changes at the
    current mark when the position goes from ``before`` to ``after``."""
    mark = engine.market(instrument.symbol).mark
    assert mark is not None
    rule = engine.rulebook.conventions.positive_pnl.maintenance
    change = ZERO
    for state, sign in ((after, 1), (before, -1)):
        if state is not None:
            pnl = unrealized_pnl(instrument, state.side.sign, state.size, state.entry_price, mark)
            change += sign * counted_pnl(pnl, rule)
    return change


def pnl_settled_event(
    account_id: str, asset: str, amount: Decimal, settled: dict[str, PositionState]
) -> dict[str, Any]:
    """The event of profits settled into the wallet (positions re-based at their marks)."""
    return {
        "event": "pnl_settled",
        "account": account_id,
        "asset": asset,
        "amount": str(amount),
        "symbols": sorted(settled),
    }


def settle_profits(
    engine: EngineBase, account: AccountState, asset: str, excluded: str, needed: Decimal
) -> tuple[dict[str, PositionState], list[Transfer], Decimal]:
    """Move cross positions' unrealised profit (all but the position keyed ``excluded``) into the wallet, re-basing
    them at the mark, until ``needed`` is gathered or no profit is left.

    Equity does not change (the profit is the same money, now settled), but the wallet can then
    absorb a realised loss or a payment that exceeds it. Returns the re-based positions, the
    transfers and the amount gathered (less than ``needed`` when the profits fall short).
    """
    settled: dict[str, PositionState] = {}
    transfers: list[Transfer] = []
    gathered = ZERO
    for key, position in sorted(account.positions.items()):
        instrument = engine.rulebook.instrument(position.symbol)
        mark = engine.market(position.symbol).mark
        if key == excluded or position.margin_mode is not MarginMode.CROSS or mark is None:
            continue
        if instrument.settlement_asset != asset:
            continue
        profit = engine.money(
            unrealized_pnl(instrument, position.side.sign, position.size, position.entry_price, mark),
            asset,
            rounding=Rounding.FLOOR,
        )
        if profit <= 0:
            continue
        transfers.append(Transfer(engine.clearing(asset), account.wallet(asset), profit, "pnl_settled"))
        settled[key] = replace(position, entry_price=mark)
        gathered += profit
        if gathered >= needed:
            break
    return settled, transfers, gathered
