"""What the backtest's charts draw, shared by the HTML page and the PNG so both show the same thing.

Series arrive as float64 per bar; a year of minute bars is half a million points per line, more than a
browser draws smoothly and far more than a screen has pixels. :func:`keep_indices` thins a long series to
the first point, the last, and each bucket's lowest and highest: every extreme a reader looks for (the
deepest drawdown, the lowest health, a mark touching its liquidation price) stays on the chart.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from crossmargin.cli.backtest_tables import run_heading
from crossmargin.sim.stats import drawdown_series
from crossmargin.sim.types import BacktestResult, FloatArray, Trade

#: Lines longer than this are thinned to their extremes per bucket.
MAX_POINTS = 20_000
#: One colour per mode, from Okabe and Ito's colour-blind-safe hues (the risk report's palette).
MODE_COLOURS = {"cross": "#0072B2", "isolated": "#E69F00"}
MARK_COLOUR = "#222222"
BUY_COLOUR, SELL_COLOUR = "#009E73", "#CC79A7"
LIQUIDATION_COLOUR = "#B00020"
#: Health is drawn on a log axis (1, 1.5 and 60 all readable); zero or below sits at this floor.
HEALTH_FLOOR = 0.1


def mode_colour(mode: str) -> str:
    return MODE_COLOURS.get(mode, "#56B4E9")


def dates(times_ms: npt.ArrayLike) -> npt.NDArray[np.datetime64]:
    """Bar times as UTC datetimes for date axes."""
    return np.asarray(times_ms, dtype=np.int64).astype("datetime64[ms]")


def keep_indices(values: FloatArray, limit: int = MAX_POINTS) -> npt.NDArray[np.int64]:
    """Indices of ``values`` to draw: all of them when few, else the first, the last and each bucket's
    lowest and highest (NaN ignored), in order."""
    size = len(values)
    if size <= limit:
        return np.arange(size, dtype=np.int64)
    buckets = max(1, limit // 2)
    edges = np.linspace(0, size, buckets + 1, dtype=np.int64)
    kept = {0, size - 1}
    filled = np.where(np.isnan(values), np.nanmean(values) if np.isfinite(values).any() else 0.0, values)
    for start, stop in itertools.pairwise(edges):
        if stop > start:
            chunk = filled[start:stop]
            kept.update((int(start + np.argmin(chunk)), int(start + np.argmax(chunk))))
    return np.asarray(sorted(kept), dtype=np.int64)


@dataclass(frozen=True)
class Curves:
    """One mode's lines against time, thinned for drawing; drawdown and health as the charts show them."""

    mode: str
    times: npt.NDArray[np.datetime64]
    equity: FloatArray
    drawdown_percent: FloatArray
    health: FloatArray


def curves(result: BacktestResult) -> Curves:
    """Equity, drawdown from the running peak (in %, negative) and floored health of ``result``."""
    equity = np.asarray(result.equity, dtype=np.float64)
    falls = drawdown_series(np.concatenate(([float(result.initial_equity)], equity)))[1:]
    keep = keep_indices(equity)
    health = np.asarray(result.health, dtype=np.float64)[keep]
    health = np.where(np.isfinite(health), np.maximum(health, HEALTH_FLOOR), np.nan)
    return Curves(result.mode, dates(result.times_ms)[keep], equity[keep], -100.0 * falls[keep], health)


def funding_curve(result: BacktestResult) -> tuple[npt.NDArray[np.datetime64], FloatArray]:
    """Cumulative funding (received positive) at the start, after each payment and at the end, in the
    settlement asset."""
    times = [result.start_ms, *(payment.time_ms for payment in result.funding), result.end_ms]
    amounts = [0.0, *(float(payment.amount) for payment in result.funding), 0.0]
    return dates(times), np.cumsum(np.asarray(amounts, dtype=np.float64))


def equity_at(result: BacktestResult, times_ms: Sequence[int]) -> FloatArray:
    """The close equity of the bar each time falls in (to mark fills on the equity curve)."""
    grid = np.asarray(result.times_ms, dtype=np.int64)
    index = np.clip(np.searchsorted(grid, np.asarray(times_ms, dtype=np.int64), side="right") - 1, 0, len(grid) - 1)
    return np.asarray(result.equity, dtype=np.float64)[index]


def symbols_of(results: Sequence[BacktestResult]) -> list[str]:
    """Every symbol with a mark series, in the order the runs list them."""
    return list(dict.fromkeys(symbol for result in results for symbol in result.marks))


def trades_of(result: BacktestResult, symbol: str, side: str) -> list[Trade]:
    return [t for t in result.trades if t.symbol == symbol and t.side == side]


def same_fills(results: Sequence[BacktestResult], symbol: str) -> bool:
    """Whether every mode filled the strategy's orders in ``symbol`` alike (drawn once, then)."""
    fills = [[t for t in result.trades if t.symbol == symbol] for result in results]
    return all(f == fills[0] for f in fills[1:])


@functools.cache
def quote_asset(venue: str, symbol: str) -> str:
    """The asset a symbol's price is quoted in, from the venue's rulebook (``quote`` if it cannot say)."""
    from crossmargin.rules.registry import load_rulebook

    try:
        instrument = load_rulebook(venue).find_instrument(symbol)
    except (OSError, ValueError):  # InputError is a ValueError: an unknown or unreadable rulebook
        return "quote"
    return instrument.quote_asset if instrument is not None else "quote"


def page_heading(results: Sequence[BacktestResult]) -> tuple[str, str]:
    """The report's title and the line under it: venue, rulebook date, strategy, span, bar, modes."""
    first = results[0]
    title = f"Backtest: {first.strategy or 'strategy'} on {first.venue}"
    modes = " and ".join(result.mode for result in results)
    line = f"{run_heading(first).replace(chr(10), '; ')}; modes: {modes}; amounts in {first.settlement_asset}"
    return title, line
