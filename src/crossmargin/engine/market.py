"""Market data into the engine: marks, index and last prices, order books, collateral prices.

A mark update runs the resting orders (limits fill as makers when the mark crosses them, stops
fire on the mark or the last price) and then the liquidation check, both subject to the oracle
guard: a price the guard refuses opens nothing. When the feed sends no mark of its own, the
rulebook says what margin is computed at: with ``mark_construction: median`` a mark built the way
Binance builds it, with ``price_for_margin: oracle`` the index itself (dYdX margins every position
at its oracle price).
"""

from __future__ import annotations

import itertools
from decimal import Decimal
from typing import Any

from crossmargin.engine.base import EngineBase
from crossmargin.engine.commands import (
    AssetPrice,
    DepthUpdate,
    MarketUpdate,
    MarksUpdate,
    Result,
    ResultCode,
)
from crossmargin.engine.depth import DepthLevel, DepthSnapshot
from crossmargin.engine.liquidation import check_liquidations, check_liquidations_of, check_multi_asset_holders
from crossmargin.engine.oracle import funding_time_fraction, median_mark, moving_average_basis
from crossmargin.engine.state import MarketState
from crossmargin.engine.trading import run_resting
from crossmargin.rules.schema import Instrument
from crossmargin.units import ZERO, InputError, Rounding, to_tick


def depth_update(engine: EngineBase, command: DepthUpdate) -> Result:
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


def asset_price(engine: EngineBase, command: AssetPrice) -> Result:
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


def marks_update(engine: EngineBase, command: MarksUpdate) -> Result:
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
        events += run_resting(engine, symbol)
    events += check_liquidations_of(engine, symbols)
    return engine.accept(command, events)


MAX_BASIS_SAMPLES = 30  # Binance's moving average of the book basis (a sample per update here)


def _median_mark(engine: EngineBase, instrument: Instrument, market: MarketState, now_ms: int) -> Decimal | None:
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


def market_update(engine: EngineBase, command: MarketUpdate) -> Result:
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
    conventions = engine.rulebook.conventions
    if command.mark is None and conventions.mark_construction == "median":
        constructed = _median_mark(engine, instrument, market, command.timestamp_ms)
        if constructed is not None:
            market.mark = constructed
            market.mark_timestamp_ms = max(market.mark_timestamp_ms, command.timestamp_ms)
    elif command.mark is None and command.index is not None and conventions.price_for_margin == "oracle":
        # dYdX v4 values positions, margin and liquidation at the oracle price (the validators'
        # median of spot venues), never at its own book: the index an update brings is that price
        market.mark = command.index
        market.mark_timestamp_ms = max(market.mark_timestamp_ms, command.timestamp_ms)
    events: list[dict[str, Any]] = [{"event": "market", "symbol": command.symbol, "mark": str(market.mark)}]
    if market.mark is None:
        return engine.accept(command, events)
    events += run_resting(engine, command.symbol)
    events += check_liquidations(engine, command.symbol)
    return engine.accept(command, events)
