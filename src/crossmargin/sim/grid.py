"""Put a file's bars on the run's regular time grid, and find what is missing from it.

Why these rules: a backtest that quietly forward-fills a missing hour, or charges funding a few
milliseconds off the bar it belongs to, reports a result the venue never produced. So bars are either
on the grid or refused; finer bars are aggregated only into complete buckets (a bucket with a missing
minute is itself missing); funding times that jitter by less than a minute are snapped to the whole
hour, since every supported venue settles funding on the hour, and the count is reported.
"""

from __future__ import annotations

import re

import numpy as np

from crossmargin.sim.frames import Frame, iso
from crossmargin.sim.types import TimeArray
from crossmargin.units import InputError

MINUTE_MS = 60_000
HOUR_MS = 3_600_000
FUNDING_GRID_MS = HOUR_MS
FUNDING_JITTER_MS = MINUTE_MS  # a funding time this close to an hour is that hour's event
_UNITS = {"m": MINUTE_MS, "h": HOUR_MS, "d": 24 * HOUR_MS}
_TIMEFRAME = re.compile(r"^([1-9][0-9]*)([mhd])$")


def parse_timeframe(text: str) -> int:
    """``1m``, ``5m``, ``1h``, ``4h``, ``1d`` ... as milliseconds; anything else is an InputError."""
    match = _TIMEFRAME.match(text.strip()) if isinstance(text, str) else None
    if match is None:
        raise InputError("timeframe", f"{text!r} is not a timeframe like 1m, 15m, 1h, 4h or 1d")
    return int(match.group(1)) * _UNITS[match.group(2)]


def timeframe_text(timeframe_ms: int) -> str:
    """The short name of a timeframe (``3600000`` -> ``1h``), for messages."""
    for unit in ("d", "h", "m"):
        if timeframe_ms % _UNITS[unit] == 0:
            return f"{timeframe_ms // _UNITS[unit]}{unit}"
    return f"{timeframe_ms} ms"


def file_step_ms(frame: Frame, timeframe_ms: int) -> int:
    """The file's bar spacing: its smallest step between rows (a one-row file is taken as the run's)."""
    if frame.times_ms.size < 2:
        return timeframe_ms
    return int(np.min(np.diff(frame.times_ms)))


def to_grid(frame: Frame, timeframe_ms: int, start_ms: int, end_ms: int, label: str) -> Frame:
    """The file's bars with open times in [start, end) on the ``timeframe_ms`` grid.

    Bars at the run's timeframe are taken as they are; finer bars are aggregated (open of the first,
    highest high, lowest low, close of the last, summed volume) into the buckets where every finer bar
    is present. Bars off their own grid, or coarser than the run's, are refused.
    """
    step = file_step_ms(frame, timeframe_ms)
    off = np.flatnonzero(frame.times_ms % step)
    if off.size:
        at = iso(int(frame.times_ms[off[0]]))
        raise InputError(str(frame.path), f"bar at {at} is not on the file's {timeframe_text(step)} grid")
    if step > timeframe_ms or timeframe_ms % step:
        raise InputError(
            str(frame.path),
            f"{label} bars are {timeframe_text(step)} apart; {timeframe_text(timeframe_ms)} bars "
            f"need bars at {timeframe_text(timeframe_ms)} or a finer step that divides it",
        )
    inside = frame.window(start_ms, end_ms)
    if step == timeframe_ms:
        return inside
    return _resample(inside, step, timeframe_ms, start_ms)


def _resample(frame: Frame, step_ms: int, timeframe_ms: int, start_ms: int) -> Frame:
    per_bucket = timeframe_ms // step_ms
    buckets = (frame.times_ms - start_ms) // timeframe_ms
    if buckets.size == 0:
        return frame
    starts = np.flatnonzero(np.r_[True, buckets[1:] != buckets[:-1]])
    counts = np.diff(np.r_[starts, buckets.size])
    complete = counts == per_bucket
    columns: dict[str, np.ndarray] = {}
    ends = np.r_[starts[1:], buckets.size] - 1
    reducers = {"open": None, "close": None, "high": np.maximum, "low": np.minimum, "volume": np.add}
    for name, values in frame.columns.items():
        if name == "open":
            column = values[starts]
        elif name == "close":
            column = values[ends]
        else:
            reducer = reducers.get(name) or np.add
            column = reducer.reduceat(values, starts)
        columns[name] = np.asarray(column[complete], dtype=np.float64)
    times = (start_ms + buckets[starts] * timeframe_ms)[complete].astype(np.int64)
    return Frame(frame.path, times, columns)


def missing_ranges(grid_ms: TimeArray, present_ms: TimeArray, step_ms: int) -> list[tuple[int, int, int]]:
    """Runs of grid times absent from ``present_ms``: (first missing, last missing, count) each."""
    missing = grid_ms[~np.isin(grid_ms, present_ms)]
    if missing.size == 0:
        return []
    breaks = np.flatnonzero(np.diff(missing) != step_ms)
    firsts = np.r_[0, breaks + 1]
    lasts = np.r_[breaks, missing.size - 1]
    return [(int(missing[a]), int(missing[b]), int(b - a + 1)) for a, b in zip(firsts, lasts, strict=True)]


def describe_ranges(ranges: list[tuple[int, int, int]], limit: int = 3) -> str:
    """``2021-05-03T04:00:00Z .. 2021-05-03T05:00:00Z (2 bars)``, the first few, then how many more."""
    parts = []
    for first, last, count in ranges[:limit]:
        span = iso(first) if first == last else f"{iso(first)} .. {iso(last)}"
        parts.append(f"{span} ({count} bar{'s' if count != 1 else ''})")
    if len(ranges) > limit:
        parts.append(f"and {len(ranges) - limit} more range(s)")
    return ", ".join(parts)


def snap_funding(times_ms: TimeArray, path: str) -> tuple[TimeArray, int]:
    """Funding times snapped to the whole hour they jitter around, and how many moved.

    A time more than a minute from any hour is refused: it is not jitter but a different event.
    Two events that land on the same hour are refused too (the file repeats an event).
    """
    offset = times_ms % FUNDING_GRID_MS
    nearest = np.where(offset * 2 < FUNDING_GRID_MS, times_ms - offset, times_ms - offset + FUNDING_GRID_MS)
    distance = np.abs(times_ms - nearest)
    far = np.flatnonzero(distance > FUNDING_JITTER_MS)
    if far.size:
        at = iso(int(times_ms[far[0]]))
        raise InputError(path, f"funding time {at} is more than a minute from the whole hour")
    repeated = np.flatnonzero(np.diff(nearest) <= 0)
    if repeated.size:
        at = iso(int(nearest[repeated[0] + 1]))
        raise InputError(path, f"two funding events fall on {at} once snapped to the hour")
    return nearest.astype(np.int64), int(np.count_nonzero(distance))
