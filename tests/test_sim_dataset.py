"""The dataset shipped inside the package: coverage, grids, funding times, golden values, size.

The golden values are rows of the project's offline market data (``/work/shared/data``; its MANIFEST.md
gives each file's sha256 and the public repository it was taken from): the Binance USD-M BTCUSDT 1h
candle of 2021-05-19 10:00 UTC (the May 2021 crash), its mark candle and the 08:00 funding rate, the
ETHUSDT candle of 2022-05-11 00:00 (LUNA week) and the XRPUSDT funding of 2022-11-10 00:00 (FTX week).
Where that folder is present the shipped files are also compared with their sources row by row.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from crossmargin.sim import dataset
from crossmargin.sim.data import load_market_data
from crossmargin.units import InputError

H = 3_600_000
SHARED = Path("/work/shared/data")


@pytest.fixture(scope="module")
def hourly():
    return load_market_data(
        "shipped", list(dataset.HOURLY_SYMBOLS), "1h", dataset.HOURLY_START_MS, dataset.HOURLY_END_MS
    )


def test_hourly_symbols_cover_the_window_on_a_regular_grid(hourly) -> None:
    expected = np.arange(dataset.HOURLY_START_MS, dataset.HOURLY_END_MS, H)
    assert hourly.notes == []
    assert np.array_equal(hourly.times_ms, expected)
    for bars in hourly.bars.values():
        assert np.array_equal(bars.times_ms, expected)
        assert np.all(bars.low <= np.minimum(bars.open, bars.close))
        assert np.all(bars.high >= np.maximum(bars.open, bars.close))
        assert np.all(bars.mark_low <= bars.mark_high) and np.all(bars.mark_low > 0)


def test_hourly_funding_is_every_eight_hours_at_00_08_16(hourly) -> None:
    """The shipped perpetuals all funded every 8 h in 2021-2022 (SOLUSDT's 4 h/2 h FTX-week intervals
    are in the source data but SOLUSDT is not shipped: its hourly mark bars start only in 2024)."""
    expected = np.arange(dataset.HOURLY_START_MS, dataset.HOURLY_END_MS, 8 * H)
    for bars in hourly.bars.values():
        assert np.array_equal(bars.funding_ms, expected)
        assert len(bars.funding_rate) == expected.size == 2190
        assert all(isinstance(rate, Decimal) and abs(rate) < Decimal("0.01") for rate in bars.funding_rate)


def test_golden_values_of_the_crash_weeks(hourly) -> None:
    btc, eth, xrp = hourly.bars["BTCUSDT"], hourly.bars["ETHUSDT"], hourly.bars["XRPUSDT"]
    at = int(np.searchsorted(hourly.times_ms, 1_621_418_400_000))  # 2021-05-19T10:00Z
    assert (btc.open[at], btc.high[at], btc.low[at], btc.close[at]) == (40359.68, 40462.83, 38917.01, 39464.19)
    assert btc.volume[at] == 53896.981
    assert (btc.mark_open[at], btc.mark_low[at], btc.mark_close[at]) == (40354.12, 38932.3, 39453.74)
    funding = btc.funding_rate[int(np.searchsorted(btc.funding_ms, 1_621_411_200_000))]
    assert funding == Decimal("0.00035813") and str(funding) == "0.00035813"
    at = int(np.searchsorted(hourly.times_ms, 1_652_227_200_000))  # 2022-05-11T00:00Z
    assert (eth.open[at], eth.close[at]) == (2340.85, 2354.61)
    assert xrp.funding_rate[int(np.searchsorted(xrp.funding_ms, 1_668_038_400_000))] == Decimal("-0.00139438")


def test_minute_files_and_their_stated_absences() -> None:
    data = load_market_data(
        "shipped", list(dataset.MINUTE_SYMBOLS), "1m", dataset.MINUTE_START_MS, dataset.MINUTE_END_MS
    )
    assert data.times_ms.size == 48105
    assert np.all(np.diff(data.times_ms) == 60_000)
    assert sum("no mark file" in note for note in data.notes) == 3


def test_inverse_day_has_its_one_known_gap_and_three_funding_events() -> None:
    args = ("shipped", [dataset.INVERSE_SYMBOL], "1m", dataset.INVERSE_START_MS, dataset.INVERSE_END_MS)
    with pytest.raises(InputError, match=r"^BTCUSD_PERP: 1 1m bar\(s\) missing .* 2022-12-13T04:29:00Z \(1 bar\)"):
        load_market_data(*args)
    data = load_market_data(*args, gaps="skip")
    bars = data.bars[dataset.INVERSE_SYMBOL]
    assert bars.times_ms.size == 1439
    assert bars.funding_ms.tolist() == [dataset.INVERSE_START_MS + k * 8 * H for k in range(3)]
    assert bars.funding_rate == [Decimal("-0.00004062"), Decimal("-0.00001869"), Decimal("-0.00002983")]


def test_shipped_dataset_stays_within_its_budget() -> None:
    files = sorted(dataset.shipped_dir().glob("*.parquet"))
    assert len(files) == 3 * len(dataset.HOURLY_SYMBOLS) + len(dataset.MINUTE_SYMBOLS) + 2
    assert sum(f.stat().st_size for f in files) <= 5_000_000
    assert (dataset.shipped_dir() / "NOTICE.md").is_file()


def _source_rows(relative: str, start_ms: int, end_ms: int) -> pa.Table:
    table = pq.read_table(SHARED / relative)
    times = table["timestamp"].cast(pa.int64()).to_numpy()
    keep = (times >= start_ms) & (times < end_ms)
    return table.filter(pa.array(keep))


@pytest.mark.skipif(not SHARED.is_dir(), reason="the offline market data is not on this machine")
@pytest.mark.parametrize("symbol", dataset.HOURLY_SYMBOLS)
def test_shipped_hourly_files_equal_their_sources(hourly, symbol: str) -> None:
    bars = hourly.bars[symbol]
    start, end = dataset.HOURLY_START_MS, dataset.HOURLY_END_MS
    trades = _source_rows(f"binance_usdm_perp_1h/{symbol}.parquet", start, end)
    marks = _source_rows(f"binance_usdm_mark_1h/{symbol}.parquet", start, end)
    funding = _source_rows(f"binance_usdm_funding/{symbol}.parquet", start, end)
    for column in ("open", "high", "low", "close", "volume"):
        assert np.array_equal(getattr(bars, column), trades[column].to_numpy())
    for column in ("open", "high", "low", "close"):
        assert np.array_equal(getattr(bars, f"mark_{column}"), marks[column].to_numpy())
    assert np.array_equal(bars.funding_ms, funding["timestamp"].cast(pa.int64()).to_numpy())
    assert bars.funding_rate == [Decimal(repr(r)) for r in funding["funding_rate"].to_pylist()]


def test_four_hour_bars_aggregate_the_shipped_hours(hourly) -> None:
    start, end = 1_619_827_200_000, 1_622_505_600_000  # May 2021
    data = load_market_data("shipped", ["BTCUSDT"], "4h", start, end)
    assert data.notes == ["BTCUSDT: 1h trade bars aggregated to 4h", "BTCUSDT: 1h mark bars aggregated to 4h"]
    four, one = data.bars["BTCUSDT"], hourly.bars["BTCUSDT"]
    first = int(np.searchsorted(hourly.times_ms, start))
    assert four.times_ms.size == 31 * 6
    for k in (0, 100, 185):
        hours = slice(first + 4 * k, first + 4 * k + 4)
        assert four.open[k] == one.open[hours][0] and four.close[k] == one.close[hours][-1]
        assert four.high[k] == one.high[hours].max() and four.mark_low[k] == one.mark_low[hours].min()
        assert four.volume[k] == pytest.approx(one.volume[hours].sum(), rel=1e-15)
    assert four.funding_ms.tolist() == one.funding_ms[(one.funding_ms >= start) & (one.funding_ms < end)].tolist()
