"""Load the bars a backtest runs on: every symbol's trade bars, mark bars and funding on one grid.

Why it refuses so much: a backtest's liquidations and funding are only as true as its bars. A missing
hour is refused (naming the symbol and the range) unless the run says ``gaps: skip``, and then that hour
is dropped for every symbol and listed in the notes; mark bars missing where trade bars exist are
refused; funding times are snapped to the hour only when they jitter by less than a minute, and counted.
Nothing is filled. When a source has no mark file at all for a symbol the traded price stands in for
the mark and the notes say so; with no funding file the symbol has no funding events, also noted.

Sources: ``shipped`` (the package's dataset), a folder in the flat layout, or a freqtrade data folder
(see :mod:`crossmargin.sim.layouts`). Rates become exact decimals through the shortest repr of the
file's float, the same edge rule as every float that enters the project.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import numpy as np

from crossmargin.sim.bars import MarketData, SymbolBars
from crossmargin.sim.dataset import SHIPPED, shipped_dir
from crossmargin.sim.frames import Frame, iso, read_frame
from crossmargin.sim.grid import (
    describe_ranges,
    file_step_ms,
    missing_ranges,
    parse_timeframe,
    snap_funding,
    timeframe_text,
    to_grid,
)
from crossmargin.sim.layouts import FolderLayout, FreqtradeLayout, SymbolFiles
from crossmargin.sim.types import TimeArray
from crossmargin.units import InputError

GAPS = ("refuse", "skip")
OHLC = ("open", "high", "low", "close")


@dataclass(frozen=True)
class _Loaded:
    """One symbol read and put on the grid, before the common grid is decided."""

    files: SymbolFiles
    trades: Frame
    mark: Frame
    funding_ms: TimeArray
    funding_rate: list[Decimal]


def open_source(source: str) -> FolderLayout | FreqtradeLayout:
    """The layout behind a config's ``data`` value: ``shipped``, a freqtrade folder or a flat folder."""
    if source == SHIPPED:
        return FolderLayout(shipped_dir())
    folder = Path(source).expanduser()
    if not folder.is_dir():
        raise InputError("data", f"{source!r} is neither 'shipped' nor a folder")
    freqtrade = FreqtradeLayout.holds(folder)
    return FreqtradeLayout(freqtrade) if freqtrade is not None else FolderLayout(folder)


def _check_request(symbols: Sequence[str], start_ms: int, end_ms: int, tf_ms: int, gaps: str) -> None:
    if gaps not in GAPS:
        raise InputError("gaps", f"{gaps!r} is not one of {', '.join(GAPS)}")
    if not symbols:
        raise InputError("symbols", "no symbols to load")
    repeated = sorted({s for s in symbols if list(symbols).count(s) > 1})
    if repeated:
        raise InputError("symbols", f"{', '.join(repeated)} named more than once")
    if start_ms >= end_ms:
        raise InputError("start", f"{iso(start_ms)} is not before end {iso(end_ms)}")
    for name, value in (("start", start_ms), ("end", end_ms)):
        if value % tf_ms:
            raise InputError(name, f"{iso(value)} is not on the {timeframe_text(tf_ms)} grid")


def _load_funding(files: SymbolFiles, start_ms: int, end_ms: int, notes: list[str]) -> tuple[TimeArray, list[Decimal]]:
    if files.funding is None:
        notes.append(f"{files.symbol}: no funding file, so no funding events")
        return np.zeros(0, dtype=np.int64), []
    frame = read_frame(files.funding, (files.funding_column,))
    snapped, moved = snap_funding(frame.times_ms, str(files.funding))
    if moved:
        notes.append(f"{files.symbol}: {moved} funding time(s) snapped to the whole hour (jitter under a minute)")
    inside = (snapped >= start_ms) & (snapped < end_ms)
    rates = frame.column(files.funding_column)[inside]
    return snapped[inside], [Decimal(repr(float(rate))) for rate in rates]


def _load_symbol(files: SymbolFiles, tf_ms: int, start_ms: int, end_ms: int, notes: list[str]) -> _Loaded:
    raw = read_frame(files.trades, OHLC, ("volume",))
    if "volume" not in raw.columns:
        raise InputError(str(files.trades), "has no column 'volume' (trade bars need it)")
    trades = to_grid(raw, tf_ms, start_ms, end_ms, "trade")
    if trades.times_ms.size == 0:
        covers = f"{iso(int(raw.times_ms[0]))} .. {iso(int(raw.times_ms[-1]))}" if raw.times_ms.size else "nothing"
        raise InputError(files.symbol, f"no bars in {iso(start_ms)} .. {iso(end_ms)}; {files.trades} covers {covers}")
    step = file_step_ms(raw, tf_ms)
    if step != tf_ms:
        notes.append(f"{files.symbol}: {timeframe_text(step)} trade bars aggregated to {timeframe_text(tf_ms)}")
    if files.mark is None:
        notes.append(f"{files.symbol}: no mark file, so the traded price stands in for the mark")
        mark = Frame(files.trades, trades.times_ms, {k: trades.columns[k] for k in OHLC})
    else:
        raw_mark = read_frame(files.mark, OHLC)
        mark = to_grid(raw_mark, tf_ms, start_ms, end_ms, "mark")
        mark_step = file_step_ms(raw_mark, tf_ms)
        if mark_step != tf_ms:
            notes.append(f"{files.symbol}: {timeframe_text(mark_step)} mark bars aggregated to {timeframe_text(tf_ms)}")
    funding_ms, funding_rate = _load_funding(files, start_ms, end_ms, notes)
    return _Loaded(files, trades, mark, funding_ms, funding_rate)


def _common_grid(
    loaded: dict[str, _Loaded], tf_ms: int, start_ms: int, end_ms: int, gaps: str, notes: list[str]
) -> TimeArray:
    """The grid every symbol has: the full one, or (``gaps: skip``) without any symbol's missing bars."""
    grid = np.arange(start_ms, end_ms, tf_ms, dtype=np.int64)
    keep = np.ones(grid.size, dtype=bool)
    tf_text = timeframe_text(tf_ms)
    for symbol, item in loaded.items():
        ranges = missing_ranges(grid, item.trades.times_ms, tf_ms)
        if not ranges:
            continue
        count = sum(r[2] for r in ranges)
        where = describe_ranges(ranges)
        if gaps == "refuse":
            raise InputError(
                symbol,
                f"{count} {tf_text} bar(s) missing in {item.files.trades}: {where}; "
                "set gaps: skip to drop them from every symbol",
            )
        keep &= np.isin(grid, item.trades.times_ms)
        notes.append(f"{symbol}: {count} missing {tf_text} bar(s) skipped for every symbol: {where}")
    if not keep.any():
        raise InputError("data", "no bar remains once the gaps are skipped")
    return grid[keep]


def _check_mark(symbol: str, item: _Loaded, times: TimeArray) -> None:
    absent = times[~np.isin(times, item.mark.times_ms)]
    if absent.size:
        raise InputError(
            symbol,
            f"mark bars missing where trade bars exist in {item.mark.path}: "
            f"{absent.size} bar(s), the first at {iso(int(absent[0]))}",
        )


def _assemble(symbol: str, item: _Loaded, times: TimeArray, notes: list[str]) -> SymbolBars:
    _check_mark(symbol, item, times)
    at = np.searchsorted(item.trades.times_ms, times)
    mark_at = np.searchsorted(item.mark.times_ms, times)
    trade = {k: np.ascontiguousarray(v[at]) for k, v in item.trades.columns.items()}
    mark = {k: np.ascontiguousarray(item.mark.columns[k][mark_at]) for k in OHLC}
    off_grid = item.funding_ms[~np.isin(item.funding_ms, times)]
    if off_grid.size:
        notes.append(
            f"{symbol}: {off_grid.size} funding event(s) fall on no bar open of the run, "
            f"the first at {iso(int(off_grid[0]))}"
        )
    return SymbolBars(
        symbol=symbol,
        times_ms=times,
        open=trade["open"],
        high=trade["high"],
        low=trade["low"],
        close=trade["close"],
        volume=trade["volume"],
        mark_open=mark["open"],
        mark_high=mark["high"],
        mark_low=mark["low"],
        mark_close=mark["close"],
        funding_ms=item.funding_ms,
        funding_rate=item.funding_rate,
    )


def load_market_data(
    source: str,
    symbols: Sequence[str],
    timeframe: str,
    start_ms: int,
    end_ms: int,
    *,
    gaps: str = "refuse",
) -> MarketData:
    """Every symbol's bars with open times in [start, end) on one ``timeframe`` grid.

    Raises :class:`~crossmargin.units.InputError` (one line naming the file, symbol, field or time) for
    a missing symbol, start not before end, rows out of order or repeated, a gap (unless ``gaps`` is
    ``"skip"``), mark bars missing where trade bars exist, or funding times off the hour.
    """
    tf_ms = parse_timeframe(timeframe)
    _check_request(symbols, start_ms, end_ms, tf_ms, gaps)
    layout = open_source(source)
    notes: list[str] = []
    loaded = {s: _load_symbol(layout.files(s, tf_ms), tf_ms, start_ms, end_ms, notes) for s in symbols}
    times = _common_grid(loaded, tf_ms, start_ms, end_ms, gaps, notes)
    bars = {s: _assemble(s, loaded[s], times, notes) for s in symbols}
    return MarketData(timeframe_ms=tf_ms, times_ms=times, bars=bars, notes=notes)
