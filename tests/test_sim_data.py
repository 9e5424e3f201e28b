"""The backtester's data loaders: flat folders (Parquet, CSV), freqtrade's tree, gaps, jitter, resampling.

Files are written by each test into a temporary folder, so every expectation is computed here from the
rows the test wrote. The shipped dataset is checked on its own invariants (regular grids, funding on the
8-hour grid) and on golden values read from its sources (``/work/shared/data``, see MANIFEST.md there);
the full comparison against those sources runs only where they are present.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pyarrow import feather

from crossmargin.sim.data import load_market_data
from crossmargin.units import InputError

H = 3_600_000
T0 = 1_620_000_000_000 - 1_620_000_000_000 % (24 * H)  # 2021-05-03T00:00:00Z


def _bars(times: list[int], base: float = 100.0, volume: bool = True) -> dict[str, list[float]]:
    """OHLC(V) rows with distinct, checkable values: open = base + i, high +0.5, low -0.5, close +0.25."""
    rows: dict[str, list[float]] = {
        "open": [base + i for i in range(len(times))],
        "high": [base + i + 0.5 for i in range(len(times))],
        "low": [base + i - 0.5 for i in range(len(times))],
        "close": [base + i + 0.25 for i in range(len(times))],
    }
    if volume:
        rows["volume"] = [10.0 + i for i in range(len(times))]
    return rows


def _write(path: Path, times: list[int], columns: dict[str, list[float]], time_name: str = "timestamp") -> Path:
    stamps = pa.array(times, pa.timestamp("ms", tz="UTC"))
    if path.suffix == ".feather":  # freqtrade's files come from pandas: nanosecond datetimes
        stamps = stamps.cast(pa.timestamp("ns", tz="UTC"))
    table = pa.table({time_name: stamps, **{k: pa.array(v, pa.float64()) for k, v in columns.items()}})
    if path.suffix == ".feather":
        feather.write_feather(table, path)
    else:
        pq.write_table(table, path)
    return path


def _symbol(folder: Path, symbol: str, times: list[int], funding: list[tuple[int, float]], base: float = 100.0) -> None:
    _write(folder / f"{symbol}.parquet", times, _bars(times, base))
    _write(folder / f"{symbol}_mark.parquet", times, _bars(times, base + 0.1, volume=False))
    _write(folder / f"{symbol}_funding.parquet", [t for t, _ in funding], {"funding_rate": [r for _, r in funding]})


def _hours(n: int, start: int = T0) -> list[int]:
    return [start + i * H for i in range(n)]


def test_flat_parquet_folder_loads_every_column_and_exact_funding(tmp_path: Path) -> None:
    times = _hours(24)
    _symbol(tmp_path, "BTCUSDT", times, [(T0, 0.0001), (T0 + 8 * H, -0.00013), (T0 + 16 * H, 0.000375)])
    _symbol(tmp_path, "ETHUSDT", times, [(T0, 0.0002)], base=2000.0)
    data = load_market_data(str(tmp_path), ["BTCUSDT", "ETHUSDT"], "1h", T0 + 2 * H, T0 + 20 * H)
    assert data.timeframe_ms == H and data.notes == []
    assert data.times_ms.tolist() == times[2:20]
    btc = data.bars["BTCUSDT"]
    assert btc.open.tolist() == [100.0 + i for i in range(2, 20)]
    assert btc.close.tolist() == [100.25 + i for i in range(2, 20)]
    assert btc.mark_low.tolist() == [100.1 + i - 0.5 for i in range(2, 20)]
    assert btc.volume.tolist() == [10.0 + i for i in range(2, 20)]
    # funding inside [start, end) only, exact through the shortest repr
    assert btc.funding_ms.tolist() == [T0 + 8 * H, T0 + 16 * H]
    assert btc.funding_rate == [Decimal("-0.00013"), Decimal("0.000375")]
    assert data.bars["ETHUSDT"].funding_ms.size == 0


def test_csv_folder_with_iso_and_integer_times(tmp_path: Path) -> None:
    lines = ["timestamp,open,high,low,close,volume"]
    lines += [f"2021-05-03T0{i}:00:00Z,{10 + i},{11 + i},{9 + i},{10.5 + i},{i}" for i in range(4)]
    (tmp_path / "XRPUSDT.csv").write_text("\n".join(lines) + "\n")
    mark = ["time,open,high,low,close"] + [f"{T0 + i * H},{10 + i},{11 + i},{9 + i},{10.4 + i}" for i in range(4)]
    (tmp_path / "XRPUSDT_mark.csv").write_text("\n".join(mark) + "\n")
    (tmp_path / "XRPUSDT_funding.csv").write_text(f"time,funding_rate\n{T0},0.00001\n")
    data = load_market_data(str(tmp_path), ["XRPUSDT"], "1h", T0, T0 + 4 * H)
    xrp = data.bars["XRPUSDT"]
    assert xrp.times_ms.tolist() == _hours(4)
    assert xrp.close.tolist() == [10.5, 11.5, 12.5, 13.5]
    assert xrp.mark_close.tolist() == [10.4, 11.4, 12.4, 13.4]
    assert xrp.funding_rate == [Decimal("0.00001")]


def _freqtrade(folder: Path, stem: str, times: list[int], mark_tf: str = "1h") -> None:
    futures = folder / "futures"
    futures.mkdir(exist_ok=True)
    _write(futures / f"{stem}-1h-futures.feather", times, _bars(times), time_name="date")
    mark_times = times if mark_tf == "1h" else times[::8]
    _write(futures / f"{stem}-{mark_tf}-mark.feather", mark_times, _bars(mark_times, 100.2), time_name="date")
    rates = _bars(times[::8], 0.0)
    rates["open"] = [0.0001 * (i + 1) for i in range(len(times[::8]))]
    _write(futures / f"{stem}-8h-funding_rate.feather", times[::8], rates, time_name="date")


def test_freqtrade_layout_with_its_column_names(tmp_path: Path) -> None:
    """freqtrade stores date, open, high, low, close, volume; the funding rate is in ``open``
    (freqtrade's ``combine_funding_and_mark`` reads it as ``open_fund``)."""
    times = _hours(24)
    _freqtrade(tmp_path, "BTC_USDT_USDT", times)
    _freqtrade(tmp_path, "BTC_USD_BTC", times)
    data = load_market_data(str(tmp_path), ["BTCUSDT", "BTCUSD_PERP"], "1h", T0, T0 + 24 * H)
    linear = data.bars["BTCUSDT"]
    assert linear.close.tolist() == [100.25 + i for i in range(24)]
    assert linear.mark_open.tolist() == [100.2 + i for i in range(24)]
    assert linear.funding_ms.tolist() == [T0, T0 + 8 * H, T0 + 16 * H]
    assert linear.funding_rate == [Decimal("0.0001"), Decimal("0.0002"), Decimal("0.00030000000000000003")]
    # the freqtrade pair itself names the same files
    same = load_market_data(str(tmp_path / "futures"), ["BTC/USDT:USDT"], "1h", T0, T0 + 24 * H)
    assert same.bars["BTC/USDT:USDT"].close.tolist() == linear.close.tolist()


def test_freqtrade_mark_coarser_than_the_run_is_refused(tmp_path: Path) -> None:
    _freqtrade(tmp_path, "ETH_USDT_USDT", _hours(24), mark_tf="8h")
    with pytest.raises(InputError, match=r"ETH_USDT_USDT-8h-mark\.feather.*mark bars are 8h apart"):
        load_market_data(str(tmp_path), ["ETHUSDT"], "1h", T0, T0 + 24 * H)


def _gapped(tmp_path: Path) -> None:
    times = _hours(24)
    _symbol(tmp_path, "BTCUSDT", [t for t in times if t not in (T0 + 5 * H, T0 + 6 * H)], [(T0, 0.0001)])
    _symbol(tmp_path, "ETHUSDT", [t for t in times if t != T0 + 11 * H], [(T0 + 8 * H, 0.0001)])


def test_gap_refused_naming_symbol_and_range(tmp_path: Path) -> None:
    _gapped(tmp_path)
    with pytest.raises(InputError) as caught:
        load_market_data(str(tmp_path), ["BTCUSDT", "ETHUSDT"], "1h", T0, T0 + 24 * H)
    message = str(caught.value)
    assert message.startswith("BTCUSDT: 2 1h bar(s) missing")
    assert "2021-05-03T05:00:00Z .. 2021-05-03T06:00:00Z (2 bars)" in message
    assert "\n" not in message


def test_gap_skipped_for_every_symbol_and_listed(tmp_path: Path) -> None:
    _gapped(tmp_path)
    data = load_market_data(str(tmp_path), ["BTCUSDT", "ETHUSDT"], "1h", T0, T0 + 24 * H, gaps="skip")
    dropped = {T0 + 5 * H, T0 + 6 * H, T0 + 11 * H}
    assert data.times_ms.tolist() == [t for t in _hours(24) if t not in dropped]
    eth = data.bars["ETHUSDT"]
    assert eth.times_ms.tolist() == data.times_ms.tolist()
    # ETH's own bar at 05:00 (open 105) is dropped because BTC lacks it
    assert 105.0 not in eth.open.tolist() and eth.open[5] == 107.0
    assert any("BTCUSDT: 2 missing 1h bar(s) skipped" in n for n in data.notes)
    assert any("ETHUSDT: 1 missing 1h bar(s) skipped" in n and "2021-05-03T11:00:00Z" in n for n in data.notes)


def test_funding_jitter_snapped_and_counted(tmp_path: Path) -> None:
    times = _hours(24)
    _symbol(tmp_path, "BTCUSDT", times, [(T0 + 12, 0.0001), (T0 + 8 * H - 7, 0.0002), (T0 + 16 * H, 0.0003)])
    data = load_market_data(str(tmp_path), ["BTCUSDT"], "1h", T0, T0 + 24 * H)
    assert data.bars["BTCUSDT"].funding_ms.tolist() == [T0, T0 + 8 * H, T0 + 16 * H]
    assert data.notes == ["BTCUSDT: 2 funding time(s) snapped to the whole hour (jitter under a minute)"]


def test_funding_far_from_the_hour_is_refused(tmp_path: Path) -> None:
    _symbol(tmp_path, "BTCUSDT", _hours(24), [(T0 + 5 * 60_000, 0.0001)])
    with pytest.raises(InputError, match=r"BTCUSDT_funding\.parquet: funding time 2021-05-03T00:05:00Z"):
        load_market_data(str(tmp_path), ["BTCUSDT"], "1h", T0, T0 + 24 * H)


def test_mark_missing_where_trades_exist_is_refused(tmp_path: Path) -> None:
    times = _hours(24)
    _symbol(tmp_path, "BTCUSDT", times, [(T0, 0.0001)])
    marks = [t for t in times if t != T0 + 3 * H]
    _write(tmp_path / "BTCUSDT_mark.parquet", marks, _bars(marks, volume=False))
    with pytest.raises(
        InputError, match=r"^BTCUSDT: mark bars missing where trade bars exist .* 2021-05-03T03:00:00Z$"
    ):
        load_market_data(str(tmp_path), ["BTCUSDT"], "1h", T0, T0 + 24 * H)


def test_no_mark_file_uses_the_trade_price_and_says_so(tmp_path: Path) -> None:
    times = _hours(4)
    _write(tmp_path / "LINKUSDT.parquet", times, _bars(times))
    data = load_market_data(str(tmp_path), ["LINKUSDT"], "1h", T0, T0 + 4 * H)
    link = data.bars["LINKUSDT"]
    assert link.mark_close.tolist() == link.close.tolist()
    assert data.notes == [
        "LINKUSDT: no mark file, so the traded price stands in for the mark",
        "LINKUSDT: no funding file, so no funding events",
    ]


@pytest.mark.parametrize(
    ("symbols", "start", "end", "pattern"),
    [
        (["SOLUSDT"], T0, T0 + H, r"^symbols: SOLUSDT is not in .*it has BTCUSDT"),
        (["BTCUSDT"], T0 + 5 * H, T0 + 2 * H, r"^start: 2021-05-03T05:00:00Z is not before end"),
        (["BTCUSDT"], T0 + 5, T0 + 2 * H, r"^start: .* is not on the 1h grid"),
        (["BTCUSDT", "BTCUSDT"], T0, T0 + H, r"^symbols: BTCUSDT named more than once"),
        (["BTCUSDT"], T0 + 100 * H, T0 + 101 * H, r"^BTCUSDT: no bars in .* covers 2021-05-03T00:00:00Z"),
    ],
)
def test_bad_requests_name_the_problem(tmp_path: Path, symbols: list[str], start: int, end: int, pattern: str) -> None:
    _symbol(tmp_path, "BTCUSDT", _hours(24), [(T0, 0.0001)])
    with pytest.raises(InputError, match=pattern):
        load_market_data(str(tmp_path), symbols, "1h", start, end)


@pytest.mark.parametrize(("order", "word"), [([0, 2, 1, 3], "comes before"), ([0, 1, 1, 2], "repeats")])
def test_unsorted_or_duplicate_times_are_refused(tmp_path: Path, order: list[int], word: str) -> None:
    times = [T0 + i * H for i in order]
    _write(tmp_path / "BTCUSDT.parquet", times, _bars(times))
    with pytest.raises(InputError, match=rf"BTCUSDT\.parquet: timestamp: row \d at .* {word} the previous row"):
        load_market_data(str(tmp_path), ["BTCUSDT"], "1h", T0, T0 + 3 * H)


def test_bad_timeframe_and_gaps_option(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"^timeframe: '90s'"):
        load_market_data(str(tmp_path), ["BTCUSDT"], "90s", T0, T0 + H)
    with pytest.raises(InputError, match=r"^gaps: 'fill'"):
        load_market_data(str(tmp_path), ["BTCUSDT"], "1h", T0, T0 + H, gaps="fill")
    with pytest.raises(InputError, match=r"^data: '/nonexistent' is neither"):
        load_market_data("/nonexistent", ["BTCUSDT"], "1h", T0, T0 + H)


def test_minute_bars_resampled_to_hours_and_incomplete_hour_is_a_gap(tmp_path: Path) -> None:
    rng = np.random.default_rng(7)
    minutes = [T0 + i * 60_000 for i in range(180) if i != 150]  # the third hour misses a minute
    prices = np.round(100 + np.cumsum(rng.normal(0, 0.1, len(minutes))), 2)
    rows = {"open": prices.tolist(), "high": (prices + 0.3).tolist(), "low": (prices - 0.2).tolist()}
    rows |= {"close": (prices + 0.1).tolist(), "volume": [1.0] * len(minutes)}
    _write(tmp_path / "BTCUSDT.parquet", minutes, rows)
    with pytest.raises(InputError, match=r"^BTCUSDT: 1 1h bar\(s\) missing .* 2021-05-03T02:00:00Z \(1 bar\)"):
        load_market_data(str(tmp_path), ["BTCUSDT"], "1h", T0, T0 + 3 * H)
    data = load_market_data(str(tmp_path), ["BTCUSDT"], "1h", T0, T0 + 3 * H, gaps="skip")
    btc = data.bars["BTCUSDT"]
    assert btc.times_ms.tolist() == [T0, T0 + H]
    for hour in range(2):
        part = slice(hour * 60, hour * 60 + 60)
        assert btc.open[hour] == rows["open"][part][0]
        assert btc.close[hour] == rows["close"][part][-1]
        assert btc.high[hour] == max(rows["high"][part]) and btc.low[hour] == min(rows["low"][part])
        assert btc.volume[hour] == 60.0
    assert "BTCUSDT: 1m trade bars aggregated to 1h" in data.notes


@settings(max_examples=40, deadline=None)
@given(
    missing_a=st.sets(st.integers(0, 23), max_size=6),
    missing_b=st.sets(st.integers(0, 23), max_size=6),
)
def test_skip_keeps_exactly_the_bars_every_symbol_has(
    tmp_path_factory: pytest.TempPathFactory, missing_a: set[int], missing_b: set[int]
) -> None:
    folder = tmp_path_factory.mktemp("gaps")
    times = _hours(24)
    _symbol(folder, "A", [t for i, t in enumerate(times) if i not in missing_a], [])
    _symbol(folder, "B", [t for i, t in enumerate(times) if i not in missing_b], [])
    kept = [t for i, t in enumerate(times) if i not in missing_a | missing_b]
    if not missing_a and not missing_b:
        assert load_market_data(str(folder), ["A", "B"], "1h", T0, T0 + 24 * H).times_ms.tolist() == times
    elif not kept:
        with pytest.raises(InputError):
            load_market_data(str(folder), ["A", "B"], "1h", T0, T0 + 24 * H, gaps="skip")
    else:
        with pytest.raises(InputError):
            load_market_data(str(folder), ["A", "B"], "1h", T0, T0 + 24 * H)
        data = load_market_data(str(folder), ["A", "B"], "1h", T0, T0 + 24 * H, gaps="skip")
        assert data.times_ms.tolist() == kept
        # each kept bar is the symbol's own bar at that time (open = 100 + its row index)
        rows_a = [t for i, t in enumerate(times) if i not in missing_a]
        assert data.bars["A"].open.tolist() == [100.0 + rows_a.index(t) for t in kept]
