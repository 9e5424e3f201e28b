"""The dataset shipped inside the package, so the demo and the tests run offline.

What it holds (``crossmargin/sim/data/``, built by ``tools/build_sim_dataset.py``; sources and licences
in its ``NOTICE.md``): Binance USD-M perpetuals BTCUSDT, ETHUSDT, ADAUSDT, LTCUSDT and XRPUSDT with hourly
trade bars, hourly mark bars and every funding event from 2021-01-01 to 2023-01-01 (May 2021, LUNA and
FTX inside); one-minute trade bars of DOGEUSDT, LINKUSDT and 1000SHIBUSDT (2026-01-04 .. 2026-02-06,
the returns a benchmark bootstraps from; no mark files); and the COIN-M inverse BTCUSD_PERP's
one-minute day 2022-12-13 (one minute, 04:29, absent in the source) with its funding prints.

It is in the flat folder layout, so ``data: shipped`` is the folder loader pointed here.
"""

from __future__ import annotations

from pathlib import Path

SHIPPED = "shipped"
SHIPPED_DIR = Path(__file__).resolve().parent / "data"

HOURLY_SYMBOLS = ("BTCUSDT", "ETHUSDT", "ADAUSDT", "LTCUSDT", "XRPUSDT")
HOURLY_START_MS = 1_609_459_200_000  # 2021-01-01T00:00:00Z
HOURLY_END_MS = 1_672_531_200_000  # 2023-01-01T00:00:00Z, exclusive
MINUTE_SYMBOLS = ("DOGEUSDT", "LINKUSDT", "1000SHIBUSDT")
MINUTE_START_MS = 1_767_484_800_000  # 2026-01-04T00:00:00Z
MINUTE_END_MS = 1_770_371_100_000  # 2026-02-06T09:45:00Z, exclusive
INVERSE_SYMBOL = "BTCUSD_PERP"
INVERSE_START_MS = 1_670_889_600_000  # 2022-12-13T00:00:00Z
INVERSE_END_MS = 1_670_976_000_000  # 2022-12-14T00:00:00Z, exclusive


def shipped_dir() -> Path:
    """The shipped dataset's folder (inside the installed package)."""
    return SHIPPED_DIR
