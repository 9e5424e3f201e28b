"""Read one market-data file (Parquet, CSV or Feather) into plain numpy columns, checked.

Why separate from the layouts: the flat folder, freqtrade's tree and the shipped dataset name their files
differently but hold the same tables; this module knows only columns and timestamps. It refuses what a
backtest cannot trust (no time column, unparsable times, times out of order or repeated, missing or
non-finite prices) with one line naming the file, the column and the time, and never fills anything.

Time columns: the first of ``timestamp``, ``date``, ``time``, ``open_time``. An Arrow timestamp of any
unit (a zone-less one is read as UTC), an ISO 8601 string in a CSV, or an integer count of milliseconds
since the epoch. Decimal columns (the shipped dataset stores prices that way) are read exactly: the
unscaled integer divided by its power of ten, which is the nearest float64 to the stored decimal.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
from pyarrow import feather

from crossmargin.sim.types import FloatArray, TimeArray
from crossmargin.units import InputError

TIME_COLUMNS = ("timestamp", "date", "time", "open_time")
SUFFIXES = (".parquet", ".csv", ".feather")


def iso(ms: int) -> str:
    """An ISO 8601 UTC time for messages and notes (seconds shown, milliseconds when present)."""
    moment = datetime.fromtimestamp(ms / 1000, tz=UTC)
    if ms % 1000:
        return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z")


@dataclass(frozen=True)
class Frame:
    """One file's rows: times (int64 ms UTC, strictly increasing) and float64 columns by name."""

    path: Path
    times_ms: TimeArray
    columns: dict[str, FloatArray]

    def column(self, name: str) -> FloatArray:
        if name not in self.columns:
            found = ", ".join(sorted(self.columns)) or "none"
            raise InputError(str(self.path), f"has no column {name!r} (columns: {found})")
        return self.columns[name]

    def window(self, start_ms: int, end_ms: int) -> Frame:
        """The rows with start <= time < end (times are sorted, so a slice)."""
        lo = int(np.searchsorted(self.times_ms, start_ms, side="left"))
        hi = int(np.searchsorted(self.times_ms, end_ms, side="left"))
        return Frame(self.path, self.times_ms[lo:hi], {k: v[lo:hi] for k, v in self.columns.items()})


def read_table(path: Path) -> pa.Table:
    """The file as an Arrow table, by its suffix; an unreadable file is an InputError naming it."""
    try:
        if path.suffix == ".parquet":
            return pq.read_table(path)
        if path.suffix == ".feather":
            return feather.read_table(path)
        if path.suffix == ".csv":
            return pacsv.read_csv(path)
    except (OSError, pa.ArrowException) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise InputError(str(path), f"cannot be read ({first})") from exc
    raise InputError(str(path), f"has suffix {path.suffix!r}; expected one of {', '.join(SUFFIXES)}")


def _time_column(table: pa.Table, path: Path) -> str:
    for name in TIME_COLUMNS:
        if name in table.column_names:
            return name
    raise InputError(str(path), f"has no time column (one of {', '.join(TIME_COLUMNS)})")


def column_times_ms(column: pa.ChunkedArray, path: Path, name: str) -> TimeArray:
    """Milliseconds since the epoch, UTC, from a timestamp, ISO string or integer column."""
    kind = column.type
    if column.null_count:
        raise InputError(f"{path}: {name}", "has empty values")
    try:
        if pa.types.is_string(kind) or pa.types.is_large_string(kind):
            column = pc.cast(column, pa.timestamp("ms", tz="UTC"))
            kind = column.type
        if pa.types.is_timestamp(kind):
            values = pc.cast(column, pa.timestamp(kind.unit, tz=kind.tz)).combine_chunks()
            raw = values.cast(pa.int64()).to_numpy(zero_copy_only=False)
            per_ms = {"s": None, "ms": 1, "us": 1000, "ns": 1_000_000}[kind.unit]
            if per_ms is None:
                return np.asarray(raw, dtype=np.int64) * 1000
            if np.any(raw % per_ms):
                at = iso(int(raw[np.flatnonzero(raw % per_ms)[0]] // per_ms))
                raise InputError(f"{path}: {name}", f"has a time finer than a millisecond near {at}")
            return np.asarray(raw // per_ms, dtype=np.int64)
        if pa.types.is_integer(kind):
            return np.asarray(column.to_numpy(), dtype=np.int64)
    except pa.ArrowInvalid as exc:
        raise InputError(f"{path}: {name}", f"has a value that is not a time ({exc})") from exc
    raise InputError(f"{path}: {name}", f"is {kind}; expected timestamps, ISO 8601 strings or integer ms")


def _floats(column: pa.ChunkedArray) -> FloatArray:
    """float64 values; a decimal column divides its exact unscaled integers by its power of ten."""
    kind = column.type
    if pa.types.is_decimal(kind) and kind.precision <= 18 and column.null_count == 0:
        array = column.combine_chunks()
        words = np.frombuffer(array.buffers()[1], dtype="<i8")
        stride = kind.byte_width // 8  # decimal128 keeps its low word first (little-endian)
        first = array.offset * stride
        unscaled = words[first : first + len(array) * stride : stride]
        exact: FloatArray = unscaled.astype(np.float64) / (10.0**kind.scale)
        return exact
    values: FloatArray = np.asarray(pc.cast(column, pa.float64()).to_numpy(zero_copy_only=False), dtype=np.float64)
    return values


def read_frame(path: Path, needed: tuple[str, ...], optional: tuple[str, ...] = ()) -> Frame:
    """Read ``path``: its time column and the ``needed`` (and present ``optional``) value columns.

    Refuses rows out of order or repeated (naming the time), and empty or non-finite values.
    """
    table = read_table(path)
    time_name = _time_column(table, path)
    times = column_times_ms(table[time_name], path, time_name)
    steps = np.diff(times)
    if np.any(steps <= 0):
        bad = int(np.flatnonzero(steps <= 0)[0])
        what = "repeats" if steps[bad] == 0 else "comes before"
        raise InputError(
            f"{path}: {time_name}",
            f"row {bad + 1} at {iso(int(times[bad + 1]))} {what} the previous row's time "
            f"{iso(int(times[bad]))}; rows must be sorted and unique",
        )
    columns: dict[str, FloatArray] = {}
    for name in needed + optional:
        if name not in table.column_names:
            if name in optional:
                continue
            found = ", ".join(table.column_names)
            raise InputError(str(path), f"has no column {name!r} (columns: {found})")
        values = _floats(table[name])
        bad_rows = np.flatnonzero(~np.isfinite(values))
        if bad_rows.size:
            at = iso(int(times[bad_rows[0]]))
            raise InputError(f"{path}: {name}", f"is empty or not a number at {at}")
        columns[name] = values
    return Frame(path, times, columns)
