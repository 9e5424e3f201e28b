"""Orders, fills, market updates and funding: the engine's handlers that move positions.

A market order sweeps the depth model (the symbol's snapshot when market data has one,
otherwise the parametric curve around the mark). A fill is checked against the state it
would leave: the account must still meet initial margin, unless the fill only reduces a
position. Limit orders rest and fill as makers when the mark crosses them; stop orders wait
for their trigger on the mark or the last price. Every mark update ends with the liquidation
check.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from crossmargin.engine.commands import (
    DepthUpdate,
    MarketUpdate,
    OrderType,
    PlaceOrder,
    Result,
    ResultCode,
    SettleFunding,
)
from crossmargin.engine.depth import DepthLevel, DepthSnapshot, ParametricDepth, depth_for, sweep
from crossmargin.engine.ledger import AccountKind, LedgerAccount, Transfer
from crossmargin.engine.oracle import Action, funding_time_fraction, median_mark, moving_average_basis
from crossmargin.engine.positions import apply_fill, notional_of, reduces, taker_fee
from crossmargin.engine.state import AccountState, MarketState, OrderState, PositionState, isolated, wallet
from crossmargin.margin.evaluate import Evaluation
from crossmargin.margin.funding import funding_payment
from crossmargin.margin.position import unrealized_pnl
from crossmargin.margin.types import MarginMode
from crossmargin.rules.schema import Instrument
from crossmargin.units import ZERO, InputError, Rounding, div, to_tick

if TYPE_CHECKING:
    from crossmargin.engine.core import Engine


@dataclass(frozen=True, slots=True)
class FillPlan:
    """A fill worked out but not yet booked: the position after it and the ledger transfers."""

    symbol: str
    position: PositionState | None
    transfers: list[Transfer]
    events: list[dict[str, Any]]
    reducing: bool
    after: Evaluation | None = None  # the account after the fill, when the margin check computed it
    settled: dict[str, PositionState] = field(default_factory=dict)  # positions re-based at the mark


def commit_fill(engine: Engine, account: AccountState, plan: FillPlan) -> list[dict[str, Any]]:
    """Book a planned fill: the ledger group first, then the position it leaves."""
    from crossmargin.engine.watch import forget

    engine.post(plan.transfers)
    account.positions.update(plan.settled)
    forget(engine, account.account_id)  # its bands no longer hold: check it exactly next time
    if plan.position is None:
        account.positions.pop(plan.symbol, None)
    else:
        account.positions[plan.symbol] = plan.position
    return plan.events


def _book(engine: Engine, symbol: str) -> ParametricDepth | DepthSnapshot:
    """The symbol's last order-book snapshot, else the calibrated curve for its base asset."""
    snapshot = engine.market(symbol).depth
    return snapshot if snapshot is not None else depth_for(engine.rulebook.instrument(symbol).base_asset)


def depth_update(engine: Engine, command: DepthUpdate) -> Result:
    """Store an order-book snapshot for later sweeps (levels best first, not crossed)."""
    try:
        engine.rulebook.instrument(command.symbol, field_name="symbol")
    except InputError:
        return engine.reject(command, ResultCode.UNKNOWN_SYMBOL)
    bids = tuple(DepthLevel(price, quantity) for price, quantity in command.bids)
    asks = tuple(DepthLevel(price, quantity) for price, quantity in command.asks)
    ordered = all(a.price > b.price for a, b in itertools.pairwise(bids)) and all(
        a.price < b.price for a, b in itertools.pairwise(asks)
    )
    if not ordered or (bids and asks and bids[0].price >= asks[0].price):
        raise InputError("bids", "levels must be best first and the book must not be crossed")
    engine.market(command.symbol).depth = DepthSnapshot(bids, asks)
    engine.now_ms = max(engine.now_ms, command.timestamp_ms)
    return engine.accept(command, [{"event": "depth", "symbol": command.symbol, "levels": len(bids) + len(asks)}])


def sweep_for(
    engine: Engine, instrument: Instrument, side: str, quantity: Decimal, mark: Decimal, limit: Decimal | None = None
) -> tuple[Decimal, Decimal | None, Decimal | None]:
    """``(filled quantity, average price, worst price)`` of a taker order in the instrument's units.

    The depth model counts base units; an inverse order counts contracts, so it walks the book
    for the coin its contracts are worth at the mark and fills the contracts in proportion.
    """
    book = _book(engine, instrument.symbol)
    if instrument.kind == "linear":
        fill = sweep(book, side, quantity, mark, limit_price=limit)
        return fill.quantity, fill.average_price, fill.worst_price
    base = div(quantity * instrument.contract_size, mark, rounding=Rounding.HALF_EVEN)
    fill = sweep(book, side, base, mark, limit_price=limit)
    if fill.quantity >= base:
        return quantity, fill.average_price, fill.worst_price
    share = div(quantity * fill.quantity, base, rounding=Rounding.FLOOR)
    contracts = share - share % instrument.lot_size
    return contracts, fill.average_price if contracts > 0 else None, fill.worst_price


def plan_fill(
    engine: Engine,
    account: AccountState,
    instrument: Instrument,
    side: str,
    quantity: Decimal,
    price: Decimal,
    fee_rate: Decimal,
    reason: str,
) -> FillPlan | ResultCode:
    """Work out a fill and check it against initial margin (reductions always pass)."""
    symbol, asset = instrument.symbol, instrument.settlement_asset
    state = account.positions.get(symbol)
    mode = state.margin_mode if state else account.margin_mode.get(symbol, MarginMode.CROSS)
    outcome = apply_fill(instrument, state, side, quantity, price, mode)
    fee = engine.money(taker_fee(instrument, quantity, price, fee_rate), asset, rounding=Rounding.CEILING)
    realized = engine.money(outcome.realized_pnl, asset, rounding=Rounding.FLOOR)
    owner = account.account_id
    target = wallet(owner, asset) if mode is MarginMode.CROSS else isolated(owner, asset, symbol)
    transfers: list[Transfer] = []
    if realized > 0:
        transfers.append(Transfer(engine.clearing(asset), target, realized, f"realized_pnl:{reason}"))
    elif realized < 0:
        transfers.append(Transfer(target, engine.clearing(asset), -realized, f"realized_pnl:{reason}"))
    if fee > 0:  # fees come out of the cross wallet, so isolated margin stays what was put in
        transfers.append(
            Transfer(wallet(owner, asset), LedgerAccount.venue(AccountKind.FEES, asset), fee, f"fee:{reason}")
        )
    wallet_change = (realized if mode is MarginMode.CROSS else ZERO) - fee
    opened = quantity - outcome.closed
    if mode is MarginMode.ISOLATED and opened > 0:
        leverage = account.leverage.get(symbol, engine.rulebook.conventions.default_leverage)
        margin = engine.money(
            div(notional_of(instrument, opened, price), leverage, rounding=Rounding.CEILING),
            asset,
            rounding=Rounding.CEILING,
        )
        transfers.append(Transfer(wallet(owner, asset), target, margin, "isolated_margin_on_open"))
        wallet_change -= margin
    reducing = reduces(state, side, quantity)
    after: Evaluation | None = None
    if not reducing:
        after = engine.evaluate(account, overrides={symbol: outcome.position}, balance_changes={asset: wallet_change})
        pools = [p for p in after.pools if p.figures.pool.settlement_asset in (asset, "USD")]
        if not all(p.figures.meets_initial_margin() for p in pools):
            return ResultCode.INSUFFICIENT_MARGIN
        if mode is MarginMode.ISOLATED:
            after = None  # the isolated margin it moves is not in that picture yet
    if outcome.position is None and mode is MarginMode.ISOLATED:
        remaining = engine.ledger.balance(target) + realized
        if remaining > 0:
            transfers.append(Transfer(target, wallet(owner, asset), remaining, "isolated_margin_released"))
    settled: dict[str, PositionState] = {}
    shortfall = -(engine.ledger.balance(wallet(owner, asset)) + wallet_change)
    if shortfall > 0:  # a realised loss beyond the wallet: settle the account's own profits first
        settled, settled_transfers = _settle_profits(engine, account, asset, symbol, shortfall)
        if settled_transfers is None:
            return ResultCode.INSUFFICIENT_BALANCE
        transfers = settled_transfers + transfers
    event = {
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
    plan = FillPlan(symbol, outcome.position, transfers, [event], reducing, after)
    plan.settled.update(settled)
    return plan


def _settle_profits(
    engine: Engine, account: AccountState, asset: str, excluded: str, needed: Decimal
) -> tuple[dict[str, PositionState], list[Transfer] | None]:
    """Move other cross positions' unrealised profit into the wallet, re-basing them at the mark.

    Equity does not change (the profit is the same money, now settled), but the wallet can then
    absorb a realised loss that exceeds it. ``None`` when the profits do not reach ``needed``.
    """
    settled: dict[str, PositionState] = {}
    transfers: list[Transfer] = []
    gathered = ZERO
    for symbol, position in sorted(account.positions.items()):
        instrument = engine.rulebook.instrument(symbol)
        mark = engine.market(symbol).mark
        if symbol == excluded or position.margin_mode is not MarginMode.CROSS or mark is None:
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
        transfers.append(Transfer(engine.clearing(asset), wallet(account.account_id, asset), profit, "pnl_settled"))
        settled[symbol] = replace(position, entry_price=mark)
        gathered += profit
        if gathered >= needed:
            return settled, transfers
    return settled, None


def _validated(engine: Engine, command: PlaceOrder) -> Instrument | ResultCode:
    try:
        instrument = engine.rulebook.instrument(command.symbol, field_name="symbol")
    except InputError:
        return ResultCode.UNKNOWN_SYMBOL
    if command.side not in ("buy", "sell"):
        raise InputError("side", "must be buy or sell")
    if command.quantity <= 0 or command.quantity % instrument.lot_size != 0:
        raise InputError("quantity", f"must be a positive multiple of {instrument.lot_size}")
    if engine.market(instrument.symbol).mark is None:
        return ResultCode.NO_MARK_PRICE
    account = engine.account(command.account)
    position = account.positions.get(instrument.symbol)
    if command.reduce_only and not reduces(position, command.side, command.quantity):
        return ResultCode.REDUCE_ONLY_VIOLATION
    adds_risk = not reduces(position, command.side, command.quantity)
    if adds_risk and instrument.settlement_asset in account.revoked:
        return ResultCode.COLLATERAL_NOT_APPROVED
    if adds_risk and engine.now_ms < account.cooldown_until_ms:
        return ResultCode.ACCOUNT_LIQUIDATING
    action = Action.REDUCE_ORDER if reduces(position, command.side, command.quantity) else Action.OPEN_ORDER
    if not engine.allowed(action, [instrument.symbol]):
        return ResultCode.STALE_PRICE
    return instrument


def place_order(engine: Engine, command: PlaceOrder) -> Result:
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
    engine: Engine,
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
    plan = plan_fill(engine, account, instrument, command.side, filled, average, instrument.fee("taker_fee"), "taker")
    if isinstance(plan, ResultCode):
        return engine.reject(command, plan)
    events = commit_fill(engine, account, plan)
    if plan.after is not None:  # it met initial margin, so it is above maintenance: file its bands
        from crossmargin.engine import watch

        watch.remember(engine, account, plan.after)
    else:
        from crossmargin.engine.liquidation import check_account

        events += check_account(engine, account, instrument.symbol)
    return engine.accept(command, events)


def _rest(engine: Engine, command: PlaceOrder, account: AccountState, instrument: Instrument) -> Result:
    order_id = engine.next_order_id()
    engine.resting.setdefault(instrument.symbol, set()).add((account.account_id, order_id))
    account.orders[order_id] = OrderState(
        order_id,
        account.account_id,
        instrument.symbol,
        command.side,
        command.quantity,
        command.order_type.value,
        command.price,
        command.trigger_price,
        command.trigger_on,
        command.reduce_only,
    )
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


def _run_resting(engine: Engine, symbol: str) -> list[dict[str, Any]]:
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
        adds = not reduces(account.positions.get(symbol), order.side, order.quantity)
        if not engine.allowed(Action.OPEN_ORDER if adds else Action.REDUCE_ORDER, [symbol]):
            continue  # a resting order does not fill on a price the guard refuses
        del account.orders[order.order_id]
        engine.resting[symbol].discard((account_id, order_id))
        if order.reduce_only and not reduces(account.positions.get(symbol), order.side, order.quantity):
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
        plan = plan_fill(engine, account, instrument, order.side, quantity, price, fee_rate, order.order_id)
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


MAX_BASIS_SAMPLES = 30  # Binance's moving average of the book basis (a sample per update here)


def _median_mark(engine: Engine, instrument: Instrument, market: MarketState, now_ms: int) -> Decimal | None:
    """Binance's mark: the median of index x (1 + funding basis), index + book basis, and last."""
    if market.index is None or market.last is None:
        return None
    if market.depth is not None and market.depth.bids and market.depth.asks:
        market.basis_samples.append((market.depth.bids[0].price, market.depth.asks[0].price, market.index))
        del market.basis_samples[:-MAX_BASIS_SAMPLES]
    basis = moving_average_basis(market.basis_samples) if market.basis_samples else ZERO
    funding = instrument.funding
    fraction = ZERO
    if funding is not None and market.funding_rate is not None:
        interval = funding.interval_hours * 3_600_000
        next_funding = (now_ms // interval + 1) * interval
        fraction = funding_time_fraction(now_ms, next_funding, interval)
    rate = market.funding_rate or ZERO
    mark = median_mark(market.index, rate, fraction, basis, market.last)
    return to_tick(mark, instrument.tick_size, rounding=Rounding.HALF_EVEN)


def market_update(engine: Engine, command: MarketUpdate) -> Result:
    """New prices: run resting orders, then check every account holding the symbol."""
    try:
        instrument = engine.rulebook.instrument(command.symbol, field_name="symbol")
    except InputError:
        return engine.reject(command, ResultCode.UNKNOWN_SYMBOL)
    market = engine.market(command.symbol)
    for name in ("mark", "index", "last", "funding_rate"):
        value = getattr(command, name)
        if value is not None:
            if name != "funding_rate" and value <= 0:
                raise InputError(name, "must be positive")
            setattr(market, name, value)
    market.timestamp_ms = max(market.timestamp_ms, command.timestamp_ms)
    if command.mark is not None:
        market.mark_timestamp_ms = max(market.mark_timestamp_ms, command.timestamp_ms)
    engine.now_ms = max(engine.now_ms, command.timestamp_ms)
    if command.mark is None and engine.rulebook.conventions.mark_construction == "median":
        constructed = _median_mark(engine, instrument, market, command.timestamp_ms)
        if constructed is not None:
            market.mark = constructed
            market.mark_timestamp_ms = max(market.mark_timestamp_ms, command.timestamp_ms)
    events: list[dict[str, Any]] = [{"event": "market", "symbol": command.symbol, "mark": str(market.mark)}]
    if market.mark is None:
        return engine.accept(command, events)
    from crossmargin.engine.liquidation import check_liquidations

    events += _run_resting(engine, command.symbol)
    events += check_liquidations(engine, command.symbol)
    return engine.accept(command, events)


def settle_funding(engine: Engine, command: SettleFunding) -> Result:
    """Positions open now pay or receive the current rate on the reference price."""
    try:
        instrument = engine.rulebook.instrument(command.symbol, field_name="symbol")
    except InputError:
        return engine.reject(command, ResultCode.UNKNOWN_SYMBOL)
    market = engine.market(instrument.symbol)
    if instrument.funding is None:
        return engine.reject(command, ResultCode.INVALID_ARGUMENT, "not a perpetual")
    engine.now_ms = max(engine.now_ms, command.timestamp_ms)
    if not engine.allowed(Action.SETTLE_FUNDING, [instrument.symbol]):
        return engine.reject(command, ResultCode.STALE_PRICE, "the mark is not valid for settling funding")
    reference = market.index if instrument.funding.reference_price != "mark" and market.index else market.mark
    if reference is None or market.funding_rate is None:
        return engine.reject(command, ResultCode.NO_MARK_PRICE, "no reference price or funding rate yet")
    asset = instrument.settlement_asset
    pool = LedgerAccount.venue(AccountKind.FUNDING_POOL, asset)
    transfers: list[Transfer] = []
    events: list[dict[str, Any]] = []
    for account in engine.accounts.values():
        position = account.positions.get(instrument.symbol)
        if position is None:
            continue
        amount = funding_payment(
            instrument, position.side, position.size, reference, market.funding_rate, unit=engine.unit(asset)
        )
        owner = wallet(account.account_id, asset)
        if position.margin_mode is MarginMode.ISOLATED:
            owner = isolated(account.account_id, asset, instrument.symbol)
        if amount < 0:
            transfers.append(Transfer(owner, pool, -amount, "funding"))
        elif amount > 0:
            transfers.append(Transfer(pool, owner, amount, "funding"))
        events.append(
            {
                "event": "funding",
                "account": account.account_id,
                "symbol": instrument.symbol,
                "amount": str(amount),
                "rate": str(market.funding_rate),
                "price": str(reference),
            }
        )
    engine.post(transfers)
    from crossmargin.engine.liquidation import check_liquidations
    from crossmargin.engine.watch import forget

    for account in engine.accounts.values():  # every payer's surplus moved: check them exactly
        if instrument.symbol in account.positions:
            forget(engine, account.account_id)
    events += check_liquidations(engine, instrument.symbol)
    return engine.accept(command, events)
