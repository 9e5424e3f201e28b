"""Build the hourly price history shipped with the risk lab (run by hand, from the data folder).

Reads the Binance USD-M perpetual 1h candles of eight assets from ``../shared/data`` (see its
MANIFEST.md), puts their closes on one hourly grid (NaN before a contract's first candle and
after its last), and writes ``src/crossmargin/risk/data/hourly_closes.npz`` (float32 closes,
int64 hour timestamps) with a NOTICE of where every series came from.

    python tools/build_hourly_history.py [--data ../shared/data]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq

ASSETS = ["BTC", "ETH", "XRP", "LTC", "ADA", "SOL", "BNB", "DOGE"]
START = np.datetime64("2020-01-31T08:00")  # the first hour all of BTC, ETH, XRP, LTC, ADA have
OUT = Path(__file__).resolve().parents[1] / "src" / "crossmargin" / "risk" / "data"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(Path(__file__).resolve().parents[2] / "shared" / "data"))
    args = parser.parse_args()
    series, notices = {}, []
    for asset in ASSETS:
        path = Path(args.data) / "binance_usdm_perp_1h" / f"{asset}USDT.parquet"
        table = pq.read_table(path)
        hours = table.column("timestamp").cast("int64").to_numpy() // 3_600_000
        series[asset] = (hours, table.column("close").to_numpy())
        provenance = json.loads(table.schema.metadata[b"provenance"])
        notices.append((asset, path.name, provenance))
    first = int(START.astype("datetime64[h]").astype(np.int64))
    last = max(int(h[-1]) for h, _ in series.values())
    grid = np.arange(first, last + 1, dtype=np.int64)
    closes = np.full((len(grid), len(ASSETS)), np.nan, dtype=np.float32)
    for n, asset in enumerate(ASSETS):
        hours, close = series[asset]
        keep = hours >= first
        closes[hours[keep] - first, n] = close[keep]
    OUT.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(OUT / "hourly_closes.npz", hours=grid, closes=closes, assets=np.array(ASSETS))
    lines = [
        "# Hourly closes shipped with the risk lab",
        "",
        "Binance USD-M linear perpetuals, 1h candle closes (trade price), on one hourly grid from",
        f"{START} UTC; NaN where a contract has no candle. Built by `tools/build_hourly_history.py` from the",
        "project's offline market data (Parquet, with provenance recorded per file). The series were",
        "published by third parties in the public GitHub repositories below, under the licences noted;",
        "only these price figures are used, no code.",
        "",
    ]
    for asset, name, provenance in notices:
        for source in provenance:
            lines.append(
                f"- {asset} ({name}): `{source.get('repo')}` `{source.get('path')}` at commit "
                f"`{source.get('commit')}`, licence: {source.get('licence') or source.get('license') or 'not stated'}"
            )
    (OUT / "NOTICE.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"{len(grid)} hours x {len(ASSETS)} assets -> {OUT / 'hourly_closes.npz'}")


if __name__ == "__main__":
    main()
