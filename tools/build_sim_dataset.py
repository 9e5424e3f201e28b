"""Build the backtester's shipped dataset (``src/crossmargin/sim/data/``) from the offline market data.

Usage: ``python tools/build_sim_dataset.py [SOURCE_DIR]`` (default ``/work/shared/data``).

Why a tool: the package carries a few MB of real history so the demo and the tests run offline; the
files must be reproducible from their sources, and every value must come back bit for bit. Prices,
volumes and funding rates are stored as Parquet DECIMAL columns on INT64 (each column at the fewest
decimals that hold every value of that symbol exactly), delta-encoded and zstd-compressed: about half
the size of float64, and self-describing, so the ordinary folder loader reads them. The tool checks,
for every column, that the decimal read back and divided by its scale gives the source float again.

Layout written (the folder loader's flat layout): ``<SYMBOL>.parquet`` trade bars,
``<SYMBOL>_mark.parquet`` mark bars, ``<SYMBOL>_funding.parquet`` funding events. Each file keeps the
source's provenance in its schema metadata.
"""

from __future__ import annotations

import hashlib
import json
import sys
from decimal import Decimal
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parents[1]
TARGET = ROOT / "src" / "crossmargin" / "sim" / "data"

# Hourly trade bars, hourly mark bars and funding: the USD-M perpetuals with all three before 2021.
HOURLY_SYMBOLS = ("BTCUSDT", "ETHUSDT", "ADAUSDT", "LTCUSDT", "XRPUSDT")
HOURLY_START = "2021-01-01T00:00:00Z"  # covers 2021-05-19, LUNA (2022-05) and FTX (2022-11)
HOURLY_END = "2023-01-01T00:00:00Z"
# One-minute perpetual trade bars (no mark files exist for them): the bootstrap's returns.
MINUTE_SYMBOLS = ("DOGEUSDT", "LINKUSDT", "1000SHIBUSDT")
# The COIN-M inverse perpetual's minute day and its funding prints.
INVERSE_BARS = "inverse/binance_coinm_BTCUSD_PERP_1m_2022-12-13.parquet"
INVERSE_FUNDING = "inverse/binance_coinm_BTCUSD_PERP_funding_lean.parquet"
INVERSE_SYMBOL = "BTCUSD_PERP"

MAX_DECIMALS = 12


def _ms(iso: str) -> pa.Scalar:
    millis = int(np.datetime64(iso.rstrip("Z"), "ms").astype(np.int64))
    return pa.scalar(millis, pa.timestamp("ms", tz="UTC"))


def _decimals_needed(values: np.ndarray, path: str, column: str) -> int:
    """The fewest decimals d with every value == round(value * 10**d) / 10**d (division round-trip)."""
    for decimals in range(MAX_DECIMALS + 1):
        scale = 10.0**decimals
        if np.array_equal(np.round(values * scale) / scale, values):
            return decimals
    raise SystemExit(f"{path}: column {column} needs more than {MAX_DECIMALS} decimals")


def _as_decimal_column(values: np.ndarray, path: str, column: str) -> pa.Array:
    decimals = _decimals_needed(values, path, column)
    unscaled = np.round(values * 10.0**decimals).astype(np.int64)
    array = pa.array([Decimal(int(u)).scaleb(-decimals) for u in unscaled], pa.decimal128(18, decimals))
    back = unscaled / 10.0**decimals
    if not np.array_equal(back, values):
        raise SystemExit(f"{path}: column {column} does not round-trip at {decimals} decimals")
    return array


def _window(table: pa.Table, start: str | None, end: str | None) -> pa.Table:
    if start is not None:
        table = table.filter(pc.greater_equal(table["timestamp"], _ms(start)))
    if end is not None:
        table = table.filter(pc.less(table["timestamp"], _ms(end)))
    return table


NOTICE_HEAD = """# Market data shipped with the backtester

Real exchange market data, so `crossmargin demo` and the tests run offline. Built by
`tools/build_sim_dataset.py` from the project's offline market data (Parquet with provenance per file);
nothing is synthesised, interpolated or filled. The figures are exchange market data (Binance) that third
parties published in the public GitHub repositories below, under the licences noted; only the figures are
used, no code. The exchange's own terms of use may also apply.

Layout (the folder loader's flat layout): `<SYMBOL>.parquet` trade bars (timestamp = bar open time, UTC;
open, high, low, close, volume in base units or, for BTCUSD_PERP, contracts of 100 USD),
`<SYMBOL>_mark.parquet` mark-price bars (open, high, low, close), `<SYMBOL>_funding.parquet` funding events
(funding_rate, a fraction per event; positive: longs pay shorts; times rounded to the minute at the
source). Values are Parquet DECIMAL columns stored as delta-encoded INT64, each at the fewest decimals
that hold every value exactly (read back as float64 they equal the source's floats bit for bit).

Known gaps, kept as they are: BTCUSD_PERP has no trade bar at 2022-12-13T04:29Z (no trades that minute) and
no mark file (the loader says the traded price stands in for it); the one-minute USD-M files have no mark
or funding files.

| file | rows | first (UTC) | last (UTC) | source file (sha256) | published in | licence |
|---|---|---|---|---|---|---|
"""


def _notice_row(target: str, table: pa.Table, relative: str, digest: str, metadata: dict[bytes, bytes]) -> str:
    times = table["timestamp"].cast(pa.int64()).to_numpy()
    first, last = (str(np.datetime64(int(t), "ms")) + "Z" for t in (times[0], times[-1]))
    origins = json.loads(metadata.get(b"provenance", b"[]"))
    published = "; ".join(f"`{o['repo']}` `{o['path']}` at `{o['commit']}`" for o in origins)
    licences = "; ".join(sorted({o["license"] for o in origins}))
    return (
        f"| `{target}` | {len(times)} | {first} | {last} | `{relative}` (`{digest[:16]}`) | {published} | {licences} |"
    )


NOTICE_ROWS: list[str] = []


def _convert(source: Path, relative: str, target: str, start: str | None, end: str | None) -> int:
    """Copy one source file's rows in [start, end) as decimal columns; return the bytes written."""
    table = pq.read_table(source / relative)
    digest = hashlib.sha256((source / relative).read_bytes()).hexdigest()
    metadata = table.schema.metadata or {}
    table = _window(table, start, end)
    columns: dict[str, pa.Array] = {"timestamp": table["timestamp"].combine_chunks()}
    for name in table.column_names[1:]:
        values = table[name].to_numpy()
        columns[name] = _as_decimal_column(values, relative, name)
    out = pa.table(columns)
    keep = {k: v for k, v in metadata.items() if k in (b"provenance", b"description")}
    keep[b"source_file"] = relative.encode()
    out = out.replace_schema_metadata(keep)
    path = TARGET / target
    NOTICE_ROWS.append(_notice_row(target, out, relative, digest, metadata))
    pq.write_table(
        out,
        path,
        compression="zstd",
        compression_level=19,
        use_dictionary=False,
        store_decimal_as_integer=True,
        column_encoding={name: "DELTA_BINARY_PACKED" for name in out.column_names},
    )
    return path.stat().st_size


def main(argv: list[str]) -> int:
    source = Path(argv[1]) if len(argv) > 1 else Path("/work/shared/data")
    TARGET.mkdir(parents=True, exist_ok=True)
    for old in TARGET.glob("*.parquet"):
        old.unlink()
    total = 0
    for symbol in HOURLY_SYMBOLS:
        for folder, suffix in (("perp_1h", ""), ("mark_1h", "_mark"), ("funding", "_funding")):
            relative = f"binance_usdm_{folder}/{symbol}.parquet"
            total += _convert(source, relative, f"{symbol}{suffix}.parquet", HOURLY_START, HOURLY_END)
    for symbol in MINUTE_SYMBOLS:
        relative = f"binance_usdm_perp_1m/{symbol}.parquet"
        total += _convert(source, relative, f"{symbol}.parquet", None, None)
    total += _convert(source, INVERSE_BARS, f"{INVERSE_SYMBOL}.parquet", None, None)
    total += _convert(source, INVERSE_FUNDING, f"{INVERSE_SYMBOL}_funding.parquet", None, None)
    (TARGET / "NOTICE.md").write_text(NOTICE_HEAD + "\n".join(NOTICE_ROWS) + "\n")
    print(f"wrote {TARGET} ({total / 1e6:.2f} MB of Parquet)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
