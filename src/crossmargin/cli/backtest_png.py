"""``--png FILE``: the HTML report's charts as one still image, for papers and chat.

The same panels as the page, stacked on one date axis: equity (both modes overlaid when both ran) with
liquidations crossed, drawdown from the peak, health on a log axis against the liquidation line and the
configured levels, cumulative funding, then one panel per symbol with its mark, each mode's liquidation
price and the fills. matplotlib draws off screen (the Agg backend), so no display is needed.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from crossmargin.cli import backtest_series as series
from crossmargin.sim.stats import health_level_key
from crossmargin.sim.types import BacktestResult
from crossmargin.units import InputError

WIDTH_INCHES = 11.0
DPI = 110


def write_png(results: Sequence[BacktestResult], path: Path) -> None:
    """Draw every panel for one mode or both into the PNG at ``path``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    symbols = series.symbols_of(results)
    heights = [3.0, 1.5, 2.0, 1.6] + [2.2] * len(symbols)
    figure, axes = plt.subplots(
        len(heights), 1, figsize=(WIDTH_INCHES, sum(heights) + 1.2), sharex=True,
        gridspec_kw={"height_ratios": heights}, layout="constrained",
    )  # fmt: skip
    title, line = series.page_heading(results)
    figure.suptitle(f"{title}\n{line}", fontsize=10)
    asset = results[0].settlement_asset
    _equity_panels(results, axes[0], axes[1], asset)
    _health_panel(results, axes[2])
    _funding_panel(results, axes[3], asset)
    for axis, symbol in zip(axes[4:], symbols, strict=True):
        _price_panel(results, axis, symbol)
    _date_axis(axes[-1])
    try:
        figure.savefig(path, dpi=DPI)
    except OSError as error:
        raise InputError("--png", f"cannot write {path} ({error.strerror or error})") from None
    finally:
        plt.close(figure)


def _date_axis(axis: Any) -> None:
    import matplotlib.dates as mdates

    locator = mdates.AutoDateLocator()  # type: ignore[no-untyped-call]  # matplotlib leaves it unannotated
    axis.xaxis.set_major_locator(locator)
    axis.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))  # type: ignore[no-untyped-call]
    axis.set_xlabel("date (UTC)")


def _equity_panels(results: Sequence[BacktestResult], equity: Any, drawdown: Any, asset: str) -> None:
    for result in results:
        lines, colour = series.curves(result), series.mode_colour(result.mode)
        equity.plot(lines.times, lines.equity, color=colour, linewidth=1.4, label=f"equity, {result.mode}")
        if len(results) == 1:  # two fills would blend into a third colour
            drawdown.fill_between(lines.times, lines.drawdown_percent, 0, color=colour, alpha=0.25)
        drawdown.plot(lines.times, lines.drawdown_percent, color=colour, linewidth=1, label=result.mode)
        if result.liquidations:
            times = [q.time_ms for q in result.liquidations]
            equity.scatter(series.dates(times), series.equity_at(result, times), marker="x", s=60, zorder=3,
                           color=series.LIQUIDATION_COLOUR, label=f"liquidation, {result.mode}")  # fmt: skip
    equity.set_ylabel(f"equity ({asset})")
    equity.set_title("Equity" + (": cross against isolated" if len(results) > 1 else ""), fontsize=10)
    equity.legend(fontsize=8, loc="best")
    drawdown.set_ylabel("drawdown (%)")
    equity.grid(alpha=0.3)
    drawdown.grid(alpha=0.3)


def _health_panel(results: Sequence[BacktestResult], axis: Any) -> None:
    for result in results:
        lines = series.curves(result)
        axis.plot(lines.times, lines.health, color=series.mode_colour(result.mode), linewidth=1.2,
                  label=f"health, {result.mode}")  # fmt: skip
    axis.axhline(1.0, color=series.LIQUIDATION_COLOUR, linestyle=":", label="liquidation (1)")
    for level in results[0].health_levels:
        axis.axhline(float(level), color="#888888", linestyle="--", linewidth=1,
                     label=f"health {health_level_key(level)}")  # fmt: skip
    import matplotlib.ticker as mticker

    axis.set_yscale("log")
    axis.yaxis.set_major_locator(mticker.LogLocator(base=10, subs=(1.0, 1.5, 2.0, 3.0, 5.0)))
    axis.yaxis.set_major_formatter(mticker.FormatStrFormatter("%g"))  # 1.5, 2, 3 rather than 2 x 10^0
    axis.yaxis.set_minor_formatter(mticker.NullFormatter())
    axis.set_ylabel("health (log)")
    axis.set_title("Health: margin balance / maintenance margin", fontsize=10)
    axis.legend(fontsize=8, loc="best")
    axis.grid(alpha=0.3, which="both")


def _funding_panel(results: Sequence[BacktestResult], axis: Any, asset: str) -> None:
    for result in results:
        times, total = series.funding_curve(result)
        axis.step(times, total, where="post", color=series.mode_colour(result.mode), label=f"funding, {result.mode}")
    axis.axhline(0.0, color="#888888", linewidth=0.8)
    axis.set_ylabel(f"funding ({asset})")
    axis.set_title("Cumulative funding (received +)", fontsize=10)
    axis.legend(fontsize=8, loc="best")
    axis.grid(alpha=0.3)


def _price_panel(results: Sequence[BacktestResult], axis: Any, symbol: str) -> None:
    first = next(r for r in results if symbol in r.marks)
    keep = series.keep_indices(first.marks[symbol])
    mark = first.marks[symbol][keep]
    axis.plot(series.dates(first.times_ms)[keep], mark, color=series.MARK_COLOUR, linewidth=1.2, label="mark")
    finite = mark[np.isfinite(mark)]
    low, high = (float(finite.min()), float(finite.max())) if finite.size else (0.0, np.inf)
    for result in results:
        line = result.liquidation_prices.get(symbol)
        if line is not None:
            shown = np.where((line > low * 0.5) & (line < high * 1.5), line, np.nan)[keep]
            axis.plot(series.dates(result.times_ms)[keep], shown, color=series.mode_colour(result.mode),
                      linestyle="--", linewidth=1.2, label=f"liquidation price, {result.mode}")  # fmt: skip
        if result is first or not series.same_fills(results, symbol):
            _fill_markers(axis, result, symbol, "" if series.same_fills(results, symbol) else f", {result.mode}")
        liquidated = [q for q in result.liquidations if q.symbol == symbol]
        if liquidated:
            axis.scatter(series.dates([q.time_ms for q in liquidated]), [float(q.price) for q in liquidated],
                         marker="x", s=70, zorder=4, color=series.LIQUIDATION_COLOUR,
                         label=f"liquidation, {result.mode}")  # fmt: skip
    axis.set_ylabel(f"price ({series.quote_asset(first.venue, symbol)})")
    axis.set_title(f"{symbol}: mark and liquidation price", fontsize=10)
    axis.legend(fontsize=7, loc="best", ncol=2)
    axis.grid(alpha=0.3)


def _fill_markers(axis: Any, result: BacktestResult, symbol: str, suffix: str) -> None:
    for side, shape, colour in (("buy", "^", series.BUY_COLOUR), ("sell", "v", series.SELL_COLOUR)):
        fills = series.trades_of(result, symbol, side)
        if fills:
            axis.scatter(series.dates([t.time_ms for t in fills]), [float(t.price) for t in fills], marker=shape,
                         color=colour, s=45, zorder=3, label=f"{side}s{suffix}")  # fmt: skip
