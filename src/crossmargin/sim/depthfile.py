"""Read recorded order-book snapshots into the engine's ``DepthSnapshot`` records, exactly.

Why: a backtest's fills walk a depth model; where a book was recorded, the engine should walk that book
rather than a parametric curve. The file is long format, one row per level (Parquet, CSV or Feather)::

    timestamp, side (bid|ask), level (1 = best), price, qty

Prices and quantities become decimals through the shortest repr of the file's float, as every float
entering the project does. A snapshot whose levels are out of order, repeated or not strictly
improving toward the best, or whose best bid is at or above its best ask (a crossed book, a feed error),
is refused with one line naming the file, the time and the side.
"""

from __future__ import annotations

from decimal import Decimal
from itertools import pairwise
from pathlib import Path

import numpy as np

from crossmargin.engine.depth import DepthLevel, DepthSnapshot
from crossmargin.sim.frames import column_times_ms, iso, read_table
from crossmargin.units import InputError

COLUMNS = ("timestamp", "side", "level", "price", "qty")


def _levels(path: Path, at_ms: int, side: str, rows: list[tuple[int, float, float]]) -> tuple[DepthLevel, ...]:
    """One side's levels, best first, checked: ranks 1..n, positive figures, prices moving away."""
    rows.sort()
    ranks = [rank for rank, _, _ in rows]
    if ranks != list(range(1, len(rows) + 1)):
        raise InputError(str(path), f"{side} levels at {iso(at_ms)} are not numbered 1, 2, 3, ... ({ranks[:5]})")
    if any(price <= 0 or qty <= 0 for _, price, qty in rows):
        raise InputError(str(path), f"{side} side at {iso(at_ms)} has a price or qty that is not positive")
    levels = tuple(DepthLevel(Decimal(repr(price)), Decimal(repr(qty))) for _, price, qty in rows)
    away = -1 if side == "bid" else 1  # bids descend from the best, asks ascend
    if any((b.price - a.price) * away <= 0 for a, b in pairwise(levels)):
        raise InputError(str(path), f"{side} prices at {iso(at_ms)} do not move away from the best level by level")
    return levels


def load_depth_snapshots(path: str | Path) -> list[tuple[int, DepthSnapshot]]:
    """Every snapshot in the file as (time in ms UTC, book), in time order."""
    file = Path(path)
    table = read_table(file)
    missing = [name for name in COLUMNS if name not in table.column_names]
    if missing:
        raise InputError(str(file), f"has no column {missing[0]!r} (depth files need {', '.join(COLUMNS)})")
    empty = [name for name in COLUMNS if table[name].null_count]
    if empty:
        raise InputError(f"{file}: {empty[0]}", "has empty values")
    times = column_times_ms(table["timestamp"], file, "timestamp")
    sides = table["side"].to_pylist()
    ranks = table["level"].to_numpy()
    prices = table["price"].cast("float64").to_numpy()
    quantities = table["qty"].cast("float64").to_numpy()
    books: dict[int, dict[str, list[tuple[int, float, float]]]] = {}
    for row in range(table.num_rows):
        side = sides[row]
        if side not in ("bid", "ask"):
            raise InputError(f"{file}: side", f"{side!r} at {iso(int(times[row]))} is neither bid nor ask")
        if not (np.isfinite(prices[row]) and np.isfinite(quantities[row])):
            raise InputError(str(file), f"empty price or qty at {iso(int(times[row]))}")
        book = books.setdefault(int(times[row]), {"bid": [], "ask": []})
        book[side].append((int(ranks[row]), float(prices[row]), float(quantities[row])))
    snapshots = []
    for at_ms in sorted(books):
        bids = _levels(file, at_ms, "bid", books[at_ms]["bid"])
        asks = _levels(file, at_ms, "ask", books[at_ms]["ask"])
        if bids and asks and bids[0].price >= asks[0].price:
            raise InputError(
                str(file), f"book at {iso(at_ms)} is crossed (best bid {bids[0].price} >= best ask {asks[0].price})"
            )
        snapshots.append((at_ms, DepthSnapshot(bids=bids, asks=asks)))
    return snapshots
