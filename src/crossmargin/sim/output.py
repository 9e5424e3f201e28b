"""``--output DIR``: a run's files for further work, the JSON document and two Parquet tables per mode.

``backtest.json`` is what ``--json`` prints. ``equity-MODE.parquet`` has a row per bar: its open time
(UTC, millisecond timestamps), the equity and health at its close and the drawdown from the running peak,
float64 as the loop sampled them. ``fills-MODE.parquet`` has every fill of the account in order (the
strategy's own, kind ``trade``, and the liquidations'): size, price, fee and realised PnL are Parquet
decimals at the widest scale of their column, so they load exactly as the engine computed them (a column
whose digits would not fit 38 falls back to decimal strings).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path

import numpy as np

from crossmargin.sim.result_json import TRADE_KIND, ordered_fills, results_document
from crossmargin.sim.stats import drawdown_series
from crossmargin.sim.types import BacktestResult, Liquidation
from crossmargin.units import InputError

OPTION = "--output"
JSON_NAME = "backtest.json"
#: Digits a Parquet decimal128 holds.
PARQUET_DECIMAL_DIGITS = 38


def check_output_dir(folder: Path) -> None:
    """Refuse, before the run, a folder that cannot be made or written (its parent must exist)."""
    if folder.exists() and not folder.is_dir():
        raise InputError(OPTION, f"{folder} is a file; give a folder")
    if not folder.exists() and not folder.parent.is_dir():
        raise InputError(OPTION, f"the folder {folder.parent} does not exist (create it first)")


def write_output(results: Sequence[BacktestResult], folder: Path) -> list[Path]:
    """Write the JSON and each mode's equity and fills; return the files written, in that order."""
    check_output_dir(folder)
    try:
        folder.mkdir(exist_ok=True)
        written = [folder / JSON_NAME]
        text = json.dumps(results_document(results), indent=2) + "\n"
        written[0].write_text(text, encoding="utf-8")
        for result in results:
            written.append(_write_table(equity_table(result), folder / f"equity-{result.mode}.parquet"))
            written.append(_write_table(fills_table(result), folder / f"fills-{result.mode}.parquet"))
    except OSError as error:
        raise InputError(OPTION, f"cannot write into {folder} ({error.strerror or error})") from None
    return written


def _write_table(table: object, path: Path) -> Path:
    import pyarrow.parquet as pq

    pq.write_table(table, path)
    return path


def equity_table(result: BacktestResult) -> object:
    """A row per bar: time, equity and health at the close, drawdown from the running peak."""
    import pyarrow as pa

    equity = np.asarray(result.equity, dtype=np.float64)
    series = np.concatenate(([float(result.initial_equity)], equity))
    return pa.table(
        {
            "time": pa.array(np.asarray(result.times_ms, dtype=np.int64), type=pa.timestamp("ms", tz="UTC")),
            "equity": pa.array(equity),
            "health": pa.array(np.asarray(result.health, dtype=np.float64)),
            "drawdown": pa.array(drawdown_series(series)[1:]),
        }
    )


def fills_table(result: BacktestResult) -> object:
    """Every fill of the account in order, exact numbers as Parquet decimals."""
    import pyarrow as pa

    fills = ordered_fills(result.trades, result.liquidations)
    kinds = [fill.kind if isinstance(fill, Liquidation) else TRADE_KIND for fill in fills]
    return pa.table(
        {
            "time": pa.array([f.time_ms for f in fills], type=pa.timestamp("ms", tz="UTC")),
            "symbol": pa.array([f.symbol for f in fills], type=pa.string()),
            "side": pa.array([f.side for f in fills], type=pa.string()),
            "size": decimal_array([f.size for f in fills]),
            "price": decimal_array([f.price for f in fills]),
            "fee": decimal_array([f.fee for f in fills]),
            "realized_pnl": decimal_array([f.realized_pnl for f in fills]),
            "kind": pa.array(kinds, type=pa.string()),
        }
    )


def decimal_array(values: Sequence[Decimal]) -> object:
    """A decimal128 column at the widest scale among ``values``, or strings when they need over 38 digits."""
    import pyarrow as pa

    scale = max((max(0, -int(v.as_tuple().exponent)) for v in values), default=0)
    whole = max((max(1, v.adjusted() + 1) for v in values if v), default=1)
    if whole + scale > PARQUET_DECIMAL_DIGITS:
        return pa.array([format(v, "f") for v in values], type=pa.string())
    return pa.array(values, type=pa.decimal128(PARQUET_DECIMAL_DIGITS, scale))
