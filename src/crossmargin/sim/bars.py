"""The market data a backtest runs on: every symbol's bars on one common time grid.

Why a module of its own: the loaders build these records and the loop, the strategies and the reports
read them, so the shape lives below all of them. Prices stay float64 arrays (bulk history; the loop
converts the values it hands to the engine with their shortest repr and snaps them to the rulebook's
tick); funding rates are exact decimals because the engine charges them to the unit.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from crossmargin.sim.types import FloatArray, TimeArray


@dataclass(frozen=True)
class SymbolBars:
    """One symbol on the run's grid: bars whose open time lies in [start, end).

    ``times_ms`` are bar open times (int64 ms UTC), strictly increasing and regular unless gaps were
    skipped. ``open`` .. ``close`` are the traded (last) price, ``mark_*`` the venue's mark bars on the
    same times. ``funding_ms`` are the funding events inside [start, end) at their exact (snapped)
    timestamps, ``funding_rate`` the rate of each (a fraction; positive: longs pay shorts).
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
    funding_rate: list[Decimal] = field(default_factory=list)


@dataclass(frozen=True)
class MarketData:
    """Every symbol of a run on one grid (each has every bar, or the load was refused).

    ``notes`` says, in one line each, what the loader handled rather than refused: funding times
    snapped to the hour, gaps skipped, bars resampled, the traded price standing in for a missing mark
    file. A report prints them so nothing is filled silently.
    """

    timeframe_ms: int
    times_ms: TimeArray
    bars: dict[str, SymbolBars]
    notes: list[str] = field(default_factory=list)
