"""Market data into the engine: prices, order books and funding, and what they set off.

A mark update runs the resting orders (limits fill as makers when the mark crosses them, stops
fire on the mark or the last price) and then the liquidation check, both subject to the oracle
guard: a price the guard refuses opens nothing. With ``mark_construction: median`` the mark is
built the way Binance builds it when the feed sends no mark of its own. Funding settles the
current rate into every holder's wallet, so it too ends with the liquidation check.
"""

from __future__ import annotations

import itertools
from decimal import Decimal
from typing import TYPE_CHECKING, Any, NamedTuple

from crossmargin.engine.commands import (
    AssetPrice,
    DepthUpdate,
    MarketUpdate,
    MarksUpdate,
    OrderType,
    Result,
    ResultCode,
    SettleFunding,
)
from crossmargin.engine.depth import DepthLevel, DepthSnapshot
from crossmargin.engine.ledger import AccountKind, LedgerAccount, Transfer
from crossmargin.engine.liquidation import check_liquidations, check_liquidations_of, check_multi_asset_holders
from crossmargin.engine.oracle import Action, funding_time_fraction, median_mark, moving_average_basis
from crossmargin.engine.positions import reduces
from crossmargin.engine.state import AccountState, MarketState, OrderState, PositionState, isolated
from crossmargin.engine.trading import commit_fill, plan_fill, pnl_settled_event, settle_profits, sweep_for
from crossmargin.engine.watch import absorb_payment, forget, pool_key
from crossmargin.margin.funding import funding_payment
from crossmargin.margin.types import MarginMode
from crossmargin.rules.schema import Instrument
from crossmargin.units import ZERO, InputError, Rounding, to_tick

if TYPE_CHECKING:
    from crossmargin.engine.core import Engine


def depth_update(engine: Engine, command: DepthUpdate) -> Result:
    """Store an order-book snapshot for later sweeps (levels best first, not crossed)."""
    if engine.rulebook.find_instrument(command.symbol) is None:
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


def asset_price(engine: Engine, command: AssetPrice) -> Result:
    """A collateral asset's USD price: a multi-asset pool whose price band for the asset it
    leaves is revalued exactly, and liquidated if the new price puts it at or below maintenance."""
    if command.asset not in engine.rulebook.data.assets or command.asset == "USD":
        raise InputError("asset", f"{command.asset} is not a priced asset of {engine.rulebook.venue}")
    if command.price <= 0:
        raise InputError("price", "must be positive")
    engine.asset_prices[command.asset] = command.price
    engine.now_ms = max(engine.now_ms, command.timestamp_ms)
    events: list[dict[str, Any]] = [{"event": "asset_price", "asset": command.asset, "price": str(command.price)}]
    events += check_multi_asset_holders(engine, command.asset)
    return engine.accept(command, events)


def marks_update(engine: Engine, command: MarksUpdate) -> Result:
    """Several marks at once: set them all, run resting orders, then check each affected account once."""
    symbols = []
    for index, (name, mark) in enumerate(command.marks):
        instrument = engine.rulebook.find_instrument(name)
        if instrument is None:
            return engine.reject(command, ResultCode.UNKNOWN_SYMBOL, f"marks[{index}]: {name}")
        if mark <= 0:
            raise InputError(f"marks[{index}].price", "must be positive")
        symbols.append(instrument.symbol)
    if len(set(symbols)) != len(symbols):
        raise InputError("marks", "names a symbol twice")
    engine.now_ms = max(engine.now_ms, command.timestamp_ms)
    events: list[dict[str, Any]] = []
    for symbol, (_, mark) in zip(symbols, command.marks, strict=True):
        market = engine.market(symbol)
        market.mark = mark
        market.timestamp_ms = max(market.timestamp_ms, command.timestamp_ms)
        market.mark_timestamp_ms = max(market.mark_timestamp_ms, command.timestamp_ms)
        events.append({"event": "market", "symbol": symbol, "mark": str(mark)})
    for symbol in symbols:
        events += _run_resting(engine, symbol)
    events += check_liquidations_of(engine, symbols)
    return engine.accept(command, events)


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
    instrument = engine.rulebook.find_instrument(command.symbol)
    if instrument is None:
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
    events += _run_resting(engine, command.symbol)
    events += check_liquidations(engine, command.symbol)
    return engine.accept(command, events)


class _Shortfall(NamedTuple):
    transfers: list[Transfer]
    events: list[dict[str, Any]]
    settled: dict[str, PositionState]
    from_fund: Decimal


def _pay_beyond_balance(
    engine: Engine,
    account: AccountState,
    owner: LedgerAccount,
    pool: LedgerAccount,
    paid: Decimal,
    held: Decimal,
    cross: bool,
    fund_left: Decimal,
) -> _Shortfall:
    """A funding payment larger than the balance it comes from.

    A cross payer first settles its own unrealised profit into the wallet (equity unchanged, as
    for a realised loss beyond the wallet). What still cannot be paid (an account that funding
    makes bankrupt, which the check that follows liquidates) is paid to the receivers by the
    insurance fund, and past the fund by an explicit venue backstop, so receivers are paid in full.
    """
    asset = owner.asset
    settled: dict[str, PositionState] = {}
    transfers: list[Transfer] = []
    events: list[dict[str, Any]] = []
    if cross:
        settled, transfers, gathered = settle_profits(engine, account, asset, "", paid - held)
        held += gathered
        if settled:
            events.append(pnl_settled_event(account.account_id, asset, gathered, settled))
    own = min(paid, held)
    if own > 0:
        transfers.append(Transfer(owner, pool, own, "funding"))
    rest = paid - own
    if rest <= 0:
        return _Shortfall(transfers, events, settled, ZERO)
    from_fund = min(rest, max(fund_left, ZERO))
    if from_fund > 0:
        transfers.append(
            Transfer(LedgerAccount.venue(AccountKind.INSURANCE, asset), pool, from_fund, "funding_shortfall")
        )
    if rest > from_fund:
        transfers.append(Transfer(engine.clearing(asset), pool, rest - from_fund, "venue_backstop"))
    shortfall_event = {
        "event": "funding_shortfall",
        "account": account.account_id,
        "asset": asset,
        "amount": str(rest),
        "insurance_fund": str(from_fund),
        "venue_backstop": str(rest - from_fund),
    }
    return _Shortfall(transfers, [*events, shortfall_event], settled, from_fund)


def settle_funding(engine: Engine, command: SettleFunding) -> Result:
    """Positions open now pay or receive the current rate on the reference price."""
    instrument = engine.rulebook.find_instrument(command.symbol)
    if instrument is None:
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
    payers: list[tuple[str, str, Decimal]] = []  # (account, pool key, amount paid)
    symbol, rate, unit = instrument.symbol, market.funding_rate, engine.unit(asset)
    rate_text, price_text = str(rate), str(reference)  # the same on every event of this settlement
    cross_mode = MarginMode.CROSS
    fund_left = engine.ledger.balance(LedgerAccount.venue(AccountKind.INSURANCE, asset))
    resettled: list[tuple[AccountState, dict[str, PositionState]]] = []  # profits settled to pay
    for account_id, account in engine.accounts.items():
        position = account.positions.get(symbol)
        if position is None:
            continue
        amount = funding_payment(instrument, position.side, position.size, reference, rate, unit=unit)
        cross = position.margin_mode is cross_mode
        owner = account.wallet(asset) if cross else isolated(account_id, asset, symbol)
        if amount < 0:
            paid = -amount
            held = engine.ledger.balance(owner)
            if paid <= held or (cross and account.asset_mode == "multi"):  # a multi pool may owe it
                transfers.append(Transfer(owner, pool, paid, "funding"))
            else:  # rare: the wallet (or isolated margin) cannot pay it all
                shortfall = _pay_beyond_balance(engine, account, owner, pool, paid, held, cross, fund_left)
                transfers += shortfall.transfers
                events += shortfall.events
                fund_left -= shortfall.from_fund
                resettled.append((account, shortfall.settled))
            payers.append((account_id, pool_key(symbol, position.margin_mode, asset), paid))
        elif amount > 0:
            transfers.append(Transfer(pool, owner, amount, "funding"))
        amount_text = str(amount)
        events.append(
            {
                "event": "funding",
                "account": account_id,
                "symbol": symbol,
                "amount": amount_text,
                "rate": rate_text,
                "price": price_text,
            }
        )
    engine.post(transfers)
    for account, settled in resettled:
        account.positions.update(settled)
        forget(engine, account.account_id)
    # A payer's surplus shrank: its reserve absorbs the payment, or it is checked exactly. A
    # receiver's only grew, so the bands it has are still sound (conservative).
    for account_id, key, paid in payers:
        absorb_payment(engine, account_id, key, paid)
    events += check_liquidations(engine, instrument.symbol)
    return engine.accept(command, events)
