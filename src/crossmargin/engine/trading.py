"""Orders: placing, resting, cancelling, and running resting orders when the mark moves.

A market order fills now; a limit order fills what crosses and rests the rest; a stop rests
until its trigger. Each is validated first (symbol, lot, mark, reduce-only, collateral, the
oracle guard) and filled through :mod:`crossmargin.engine.fills`, which checks the fill against
initial margin. When a mark moves, ``run_resting`` fills the limits it crossed (as makers) and
fires the stops it triggered (as takers).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from crossmargin.engine import watch
from crossmargin.engine.base import EngineBase
from crossmargin.engine.commands import (
    CancelOrder,
    OrderType,
    PlaceOrder,
    Result,
    ResultCode,
)
from crossmargin.engine.fills import commit_fill, plan_fill, sweep_for
from crossmargin.engine.liquidation import check_account
from crossmargin.engine.oracle import Action
from crossmargin.engine.positions import order_side, reduces
from crossmargin.engine.state import LEGS, AccountState, OrderState, leg_keys, position_key
from crossmargin.margin.evaluate import Evaluation
from crossmargin.margin.orders import cost_to_open
from crossmargin.margin.pool import PoolFigures
from crossmargin.margin.types import PositionSide
from crossmargin.rules.schema import Instrument
from crossmargin.units import ZERO, InputError, Rounding


def _validated(engine: EngineBase, command: PlaceOrder) -> Instrument | ResultCode:
    instrument = engine.rulebook.find_instrument(command.symbol)
    if instrument is None:
        return ResultCode.UNKNOWN_SYMBOL
    if command.side not in ("buy", "sell"):
        raise InputError("side", "must be buy or sell")
    if command.quantity <= 0 or command.quantity % instrument.lot_size != 0:
        raise InputError("quantity", f"must be a positive multiple of {instrument.lot_size}")
    if engine.market(instrument.symbol).mark is None:
        return ResultCode.NO_MARK_PRICE
    account = engine.account(command.account)
    symbol = instrument.symbol
    if command.position_side == "both" and symbol in account.positions:  # one-way, held: the usual case
        leg, key = PositionSide.BOTH, symbol
    else:
        leg = _leg(engine, account, symbol, command.position_side)
        key = symbol if leg is PositionSide.BOTH else position_key(symbol, leg)
    adds_risk = not reduces(account.positions.get(key), command.side, command.quantity)
    if adds_risk and (command.reduce_only or (leg is not PositionSide.BOTH and _closes_leg(leg, command.side))):
        return ResultCode.REDUCE_ONLY_VIOLATION
    if adds_risk and instrument.settlement_asset in account.revoked:
        return ResultCode.COLLATERAL_NOT_APPROVED
    settlement = instrument.settlement_asset  # a multi-asset pool values it in USD: it needs a price
    if account.asset_mode == "multi" and settlement != "USD" and settlement not in engine.asset_prices:
        return ResultCode.NO_MARK_PRICE
    if adds_risk and engine.now_ms < account.cooldown_until_ms:
        return ResultCode.ACCOUNT_LIQUIDATING
    if not engine.allowed(Action.OPEN_ORDER if adds_risk else Action.REDUCE_ORDER, [instrument.symbol]):
        return ResultCode.STALE_PRICE
    return instrument


def _leg(engine: EngineBase, account: AccountState, symbol: str, name: str) -> PositionSide:
    """The position side an order names, where the venue and the account's positions allow it."""
    leg = LEGS.get(name)
    if leg is None:
        raise InputError("position_side", "must be both, long or short")
    positions = account.positions
    if leg is PositionSide.BOTH:
        long_key, short_key = leg_keys(symbol)
        if symbol not in positions and (long_key in positions or short_key in positions):
            raise InputError("position_side", f"{symbol} is held in hedge mode: name the leg, long or short")
        return leg
    if not engine.rulebook.conventions.hedge_mode_offered:
        raise InputError("position_side", f"{engine.rulebook.venue} has no hedge mode")
    if symbol in positions:
        raise InputError("position_side", f"{symbol} is held one-way: an order on it names no leg")
    return leg


def _closes_leg(leg: PositionSide, side: str) -> bool:
    """Whether an order closes a hedge-mode leg (a sell on the long leg, a buy on the short one): it
    may only reduce it, never open the other side."""
    return leg is not PositionSide.BOTH and order_side(side).value != leg.value


def place_order(engine: EngineBase, command: PlaceOrder) -> Result:
    """Market orders fill now; limit orders fill what crosses and rest; stops rest."""
    checked = _validated(engine, command)
    if isinstance(checked, ResultCode):
        return engine.reject(command, checked)
    instrument = checked
    account = engine.account(command.account)
    mark = engine.market(instrument.symbol).mark
    assert mark is not None
    if command.order_type is OrderType.MARKET:
        return _take(engine, command, account, instrument, command.quantity, None)
    if command.order_type is OrderType.STOP_MARKET:
        if command.trigger_price is None or command.trigger_price <= 0:
            raise InputError("trigger_price", "is required for a stop order")
        return _rest(engine, command, account, instrument)
    if command.price is None or command.price <= 0:
        raise InputError("price", "is required for a limit order")
    crosses = command.price >= mark if command.side == "buy" else command.price <= mark
    if crosses and command.post_only:
        return engine.reject(command, ResultCode.POST_ONLY_WOULD_TAKE)
    if crosses:
        return _take(engine, command, account, instrument, command.quantity, command.price)
    return _rest(engine, command, account, instrument)


def _take(
    engine: EngineBase,
    command: PlaceOrder,
    account: AccountState,
    instrument: Instrument,
    quantity: Decimal,
    limit: Decimal | None,
) -> Result:
    mark = engine.market(instrument.symbol).mark
    assert mark is not None
    filled, average, _ = sweep_for(engine, instrument, command.side, quantity, mark, limit)
    if (filled <= 0 or average is None) and limit is not None:
        return _rest(engine, command, account, instrument)  # nothing on the book at its price yet
    if filled <= 0 or average is None:
        return engine.reject(command, ResultCode.NO_LIQUIDITY)
    leg = LEGS[command.position_side]
    fee_rate = instrument.fee("taker_fee")
    plan = plan_fill(engine, account, instrument, command.side, filled, average, fee_rate, "taker", leg)
    if isinstance(plan, ResultCode):
        return engine.reject(command, plan)
    bands_hold = plan.margin_change is not None and watch.absorb_reduction(
        engine, account.account_id, instrument.settlement_asset, plan.margin_change
    )
    events = commit_fill(engine, account, plan, bands_hold=bands_hold)
    if plan.after is not None:  # it met initial margin, so it is above maintenance: file its bands
        watch.remember(engine, account, plan.after)
    elif not bands_hold:
        events += check_account(engine, account, instrument.symbol)
    return engine.accept(command, events)


def _rest(engine: EngineBase, command: PlaceOrder, account: AccountState, instrument: Instrument) -> Result:
    order = OrderState(
        "",  # numbered once it is accepted
        account.account_id,
        instrument.symbol,
        command.side,
        command.quantity,
        command.order_type.value,
        command.price,
        command.trigger_price,
        command.trigger_on,
        command.reduce_only,
        LEGS[command.position_side],
    )
    shortfall = _cost_not_covered(engine, account, instrument, order)
    if shortfall is not None:
        return engine.reject(command, ResultCode.INSUFFICIENT_MARGIN, shortfall)
    order_id = order.order_id = engine.next_order_id()
    engine.resting.setdefault(instrument.symbol, set()).add((account.account_id, order_id))
    account.orders[order_id] = order
    return engine.accept(
        command,
        [
            {
                "event": "order_resting",
                "account": account.account_id,
                "order_id": order_id,
                "symbol": instrument.symbol,
                "side": command.side,
                "quantity": str(command.quantity),
                "type": command.order_type.value,
            }
        ],
    )


def _cost_not_covered(
    engine: EngineBase, account: AccountState, instrument: Instrument, order: OrderState
) -> str | None:
    """Why the account cannot afford to rest a limit order, or ``None`` when it can.

    The order's cost to open (the margin it holds back, with the fees to open and to close where
    the venue counts them, and its open loss at the mark) must fit the available balance.
    An order that holds nothing more (reduce-only, or only offsetting the position) is not
    checked, as the venues do not check closing orders; a stop holds nothing until it triggers.
    """
    if order.order_type != OrderType.LIMIT.value or order.reduce_only or order.price is None:
        return None
    asset = instrument.settlement_asset
    before = _pool_figures(engine.evaluate(account), asset)
    after = _pool_figures(engine.evaluate(account, added_orders=(order,)), asset)
    if after is None or after.open_order_initial_margin <= (before.open_order_initial_margin if before else ZERO):
        return None
    needed = ZERO  # the open loss at the mark: none for a limit that does not cross it
    mark = engine.market(instrument.symbol).mark
    if mark is not None:
        leverage = account.leverage.get(instrument.symbol, engine.rulebook.conventions.default_leverage)
        needed = cost_to_open(instrument, order_side(order.side), order.quantity, order.price, mark, leverage).open_loss
    if after.initial_surplus >= needed:
        return None
    held = after.open_order_initial_margin - (before.open_order_initial_margin if before else ZERO)
    unit = asset if after.pool.valuation is None else "USD"
    cost = engine.money(held + needed, unit, rounding=Rounding.CEILING)
    available = engine.money(max(after.initial_surplus + held, ZERO), unit, rounding=Rounding.FLOOR)
    return f"the order costs {cost.normalize():f} {unit} to open; {available.normalize():f} {unit} is available"


def _pool_figures(evaluation: Evaluation, asset: str) -> PoolFigures | None:
    """The figures of the pool that ``asset`` settles in (the account's USD pool in multi-asset mode)."""
    return next((p.figures for p in evaluation.pools if p.figures.pool.settlement_asset in (asset, "USD")), None)


def cancel_order(engine: EngineBase, command: CancelOrder) -> Result:
    account = engine.accounts.get(command.account)
    if account is None or command.order_id not in account.orders:
        return engine.reject(command, ResultCode.UNKNOWN_ORDER)
    order = account.orders.pop(command.order_id)
    engine.resting.get(order.symbol, set()).discard((account.account_id, order.order_id))
    return engine.accept(
        command,
        [{"event": "order_cancelled", "account": command.account, "order_id": command.order_id, "reason": "user"}],
    )


def _triggered(order: OrderState, mark: Decimal, last: Decimal | None) -> Decimal | None:
    """The price a resting order executes at now, or ``None`` if it does not."""
    if order.order_type == OrderType.LIMIT.value:
        assert order.price is not None
        crossed = mark <= order.price if order.side == "buy" else mark >= order.price
        return order.price if crossed else None
    assert order.trigger_price is not None
    price = last if (order.trigger_on == "last" and last is not None) else mark
    fired = price >= order.trigger_price if order.side == "buy" else price <= order.trigger_price
    return mark if fired else None


def run_resting(engine: EngineBase, symbol: str) -> list[dict[str, Any]]:
    """Fill limit orders the mark crossed (as makers) and fire triggered stops (as takers)."""
    market = engine.market(symbol)
    assert market.mark is not None
    instrument = engine.rulebook.instrument(symbol)
    events: list[dict[str, Any]] = []
    for account_id, order_id in sorted(engine.resting.get(symbol, ())):
        account = engine.accounts[account_id]
        order = account.orders[order_id]
        price = _triggered(order, market.mark, market.last)
        if price is None:
            continue
        if order.order_type != OrderType.LIMIT.value and not engine.allowed(Action.TRIGGER_STOP, [symbol]):
            continue  # a stop waits for a valid price
        adds = not reduces(account.positions.get(order.key), order.side, order.quantity)
        if not engine.allowed(Action.OPEN_ORDER if adds else Action.REDUCE_ORDER, [symbol]):
            continue  # a resting order does not fill on a price the guard refuses
        del account.orders[order.order_id]
        engine.resting[symbol].discard((account_id, order_id))
        if adds and (order.reduce_only or _closes_leg(order.position_side, order.side)):
            events.append(
                {
                    "event": "order_cancelled",
                    "account": account.account_id,
                    "order_id": order.order_id,
                    "reason": "reduce_only_violation",
                }
            )
            continue
        if order.order_type != OrderType.LIMIT.value:  # a stop becomes a market order
            filled, average, _ = sweep_for(engine, instrument, order.side, order.quantity, market.mark)
            if average is None or filled <= 0:
                continue
            quantity, price, fee_rate = filled, average, instrument.fee("taker_fee")
        else:
            quantity, fee_rate = order.quantity, instrument.fee("maker_fee")
        plan = plan_fill(
            engine, account, instrument, order.side, quantity, price, fee_rate, order.order_id, order.position_side
        )
        if isinstance(plan, ResultCode):
            events.append(
                {
                    "event": "order_cancelled",
                    "account": account.account_id,
                    "order_id": order.order_id,
                    "reason": plan.value,
                }
            )
            continue
        events += commit_fill(engine, account, plan)
    return events
