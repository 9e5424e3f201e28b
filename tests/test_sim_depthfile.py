"""Recorded order books read into the engine's depth snapshots: exact levels, bad books refused.

The files are written here in the long format of the project's offline order-book data
(``timestamp, side, level, price, qty``, one row per level; see ``/work/shared/data/MANIFEST.md``).
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from crossmargin.sim.depthfile import load_depth_snapshots
from crossmargin.units import InputError

T0 = 1_723_161_260_000  # 2024-08-08T23:54:20Z


def _book(path: Path, rows: list[tuple[int, str, int, float, float]]) -> Path:
    columns = list(zip(*rows, strict=True))
    table = pa.table(
        {
            "timestamp": pa.array(columns[0], pa.timestamp("ms", tz="UTC")),
            "side": pa.array(columns[1]),
            "level": pa.array(columns[2], pa.int64()),
            "price": pa.array(columns[3], pa.float64()),
            "qty": pa.array(columns[4], pa.float64()),
        }
    )
    pq.write_table(table, path)
    return path


def test_snapshots_in_time_order_with_exact_levels(tmp_path: Path) -> None:
    rows = [
        (T0 + 10_000, "ask", 1, 61809.6, 1.0),
        (T0, "ask", 2, 61809.9, 0.1),
        (T0, "bid", 2, 61809.0, 0.452),
        (T0, "bid", 1, 61809.4, 4.428),
        (T0, "ask", 1, 61809.5, 2.309),
        (T0 + 10_000, "bid", 1, 61809.5, 3.0),
    ]
    books = load_depth_snapshots(_book(tmp_path / "book.parquet", rows))
    assert [at for at, _ in books] == [T0, T0 + 10_000]
    first = books[0][1]
    assert [(lv.price, lv.quantity) for lv in first.bids] == [
        (Decimal("61809.4"), Decimal("4.428")),
        (Decimal("61809.0"), Decimal("0.452")),
    ]
    assert [(lv.price, lv.quantity) for lv in first.asks] == [
        (Decimal("61809.5"), Decimal("2.309")),
        (Decimal("61809.9"), Decimal("0.1")),
    ]


@pytest.mark.parametrize(
    ("rows", "pattern"),
    [
        ([(T0, "bid", 1, 100.0, 1.0), (T0, "ask", 1, 99.9, 1.0)], r"book at 2024-08-08T23:54:20Z is crossed"),
        ([(T0, "bid", 1, 100.0, 1.0), (T0, "bid", 3, 99.0, 1.0)], r"bid levels at .* are not numbered"),
        ([(T0, "ask", 1, 100.0, 1.0), (T0, "ask", 2, 99.0, 1.0)], r"ask prices at .* do not move away"),
        ([(T0, "ask", 1, 100.0, 0.0)], r"ask side at .* has a price or qty that is not positive"),
        ([(T0, "buy", 1, 100.0, 1.0)], r"side: 'buy' at .* is neither bid nor ask"),
    ],
)
def test_bad_books_are_refused_naming_time_and_side(
    tmp_path: Path, rows: list[tuple[int, str, int, float, float]], pattern: str
) -> None:
    with pytest.raises(InputError, match=pattern):
        load_depth_snapshots(_book(tmp_path / "book.parquet", rows))


def test_missing_column_is_named(tmp_path: Path) -> None:
    path = tmp_path / "book.csv"
    path.write_text("timestamp,side,price,qty\n2024-08-08T23:54:20Z,bid,1.0,1.0\n")
    with pytest.raises(InputError, match=r"book\.csv: has no column 'level'"):
        load_depth_snapshots(path)
