"""The bars a backtest runs on: every symbol on one common grid of bar open times.

Why a module of its own: the loaders (``crossmargin.sim.data``) build these records and the loop
(``crossmargin.sim.loop``) reads them; neither should import the other. Prices are float64 arrays
because the loop screens and charts them in bulk; a price that reaches the engine is converted
exactly, from the float's shortest repr, and snapped to the instrument's tick. Funding rates stay
exact from the start, since each one moves money.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from crossmargin.sim.types import FloatArray, TimeArray


@dataclass(frozen=True)
class SymbolBars:
    """One symbol on the run's grid, bars ``[start, end)``.

    ``open .. close`` are the traded price (last), ``mark_open .. mark_close`` the venue's mark on
    the same grid; ``funding_ms`` are the funding events inside the run at their exact funding
    timestamps, with ``funding_rate`` (exact) beside them.
    """

    symbol: str
    times_ms: TimeArray
    open: FloatArray
    high: FloatArray
    low: FloatArray
    close: FloatArray
    volume: FloatArray
    mark_open: FloatArray
    mark_high: FloatArray
    mark_low: FloatArray
    mark_close: FloatArray
    funding_ms: TimeArray
    funding_rate: list[Decimal]


@dataclass(frozen=True)
class MarketData:
    """Every symbol of a run on the common grid ``times_ms`` (every symbol has every bar, or the run
    is refused); ``notes`` say what the loader handled (jitter snapped, gaps skipped, ...)."""

    timeframe_ms: int
    times_ms: TimeArray
    bars: dict[str, SymbolBars]
    notes: list[str]
