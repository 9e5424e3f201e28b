"""The backtester's shared records: its configuration, the orders a strategy sends, and what a run returns.

Why one module: the data loaders, the loop, the strategies, the statistics and the reports are separate
modules that all speak in these records. Money, sizes and prices are :class:`~decimal.Decimal` (exact, the
engine's own figures); the per-bar series a report plots are float64 arrays, because they only draw.
Times are integer milliseconds since the epoch, UTC.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import numpy as np
import numpy.typing as npt

CROSS = "cross"
ISOLATED = "isolated"
MODES = (CROSS, ISOLATED)


@dataclass(frozen=True, slots=True)
class BacktestConfig:
    """A backtest as its YAML file states it, checked (``crossmargin.sim.config`` parses and validates).

    ``data`` is ``"shipped"`` or a folder; ``strategy`` is a built-in name or ``"package.module:ClassName"``;
    ``policies`` are ``{"name": ..., **params}`` mappings in the order they apply.
    """

    venue: str
    data: str
    timeframe: str
    start_ms: int
    end_ms: int
    balances: Mapping[str, Decimal]
    margin_mode: str
    strategy: str
    strategy_params: Mapping[str, Any] = field(default_factory=dict)
    policies: tuple[Mapping[str, Any], ...] = ()
    symbols: tuple[str, ...] = ()  # the symbols the run loads; empty: those the strategy names
    health_levels: tuple[Decimal, ...] = (Decimal("1.5"),)  # for time_below_health
    gaps: str = "refuse"  # refuse | skip: a gap in the data inside [start, end)


class OrderKind(enum.Enum):
    MARKET = "market"
    LIMIT = "limit"
    STOP = "stop"  # a stop-market order triggered on the mark


@dataclass(frozen=True, slots=True)
class Order:
    """What a strategy asks for; the loop turns it into an engine ``PlaceOrder`` at the next bar's open.

    ``quantity`` is signed: positive buys, negative sells (base units, contracts for inverse symbols).
    It is rounded to the symbol's lot toward zero when placed; an order that rounds to zero is dropped
    and said in the run's notes.
    """

    symbol: str
    quantity: Decimal
    kind: OrderKind = OrderKind.MARKET
    price: Decimal | None = None  # limit price
    trigger_price: Decimal | None = None  # stop trigger (on the mark)
    reduce_only: bool = False
    tag: str = ""


@dataclass(frozen=True, slots=True)
class Trade:
    """A fill of one of the strategy's own orders, as the engine reported it."""

    time_ms: int
    symbol: str
    side: str  # buy | sell
    size: Decimal
    price: Decimal
    fee: Decimal
    realized_pnl: Decimal = Decimal(0)


@dataclass(frozen=True, slots=True)
class Liquidation:
    """A liquidation fill or an auto-deleveraging of the account; ``kind`` is full, partial or adl."""

    time_ms: int
    symbol: str
    side: str  # the side of the closing fill: sell closes a long
    size: Decimal
    price: Decimal
    kind: str
    realized_pnl: Decimal = Decimal(0)
    fee: Decimal = Decimal(0)


@dataclass(frozen=True, slots=True)
class FundingPayment:
    """One funding exchange at a funding timestamp: ``amount`` > 0 received, < 0 paid (settlement asset)."""

    time_ms: int
    symbol: str
    rate: Decimal
    price: Decimal
    amount: Decimal


FloatArray = npt.NDArray[np.float64]
TimeArray = npt.NDArray[np.int64]


@dataclass(slots=True)
class BacktestResult:
    """One mode's run: the exact records from the engine and the per-bar series for the reports.

    ``equity`` and ``health`` are sampled at every bar's close (float64, for statistics and charts);
    ``final_equity`` is the engine's exact margin balance at the last close. ``liquidation_prices`` maps a
    symbol to its liquidation price at each close (NaN where it has none or no position).
    """

    mode: str
    venue: str
    rulebook_as_of: str
    settlement_asset: str
    start_ms: int
    end_ms: int
    initial_equity: Decimal
    final_equity: Decimal
    times_ms: TimeArray
    equity: FloatArray
    health: FloatArray
    marks: dict[str, FloatArray]
    liquidation_prices: dict[str, FloatArray]
    trades: list[Trade]
    liquidations: list[Liquidation]
    funding: list[FundingPayment]
    fills: int  # every fill of the account: the strategy's own and the liquidations'
    fills_sha256: str
    notes: list[str] = field(default_factory=list)  # gaps skipped, orders dropped, policies acting
    strategy: str = ""  # the strategy's name as the config gives it, for the reports' headers
    health_levels: tuple[Decimal, ...] = (Decimal("1.5"),)  # the config's levels for time_below_health
