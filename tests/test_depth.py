"""The depth model: exact sweeps over captured and parametric books, the calibrated defaults, and the
calibration script's pure helpers (on hand-made tables: the shared market data is not needed here)."""

from __future__ import annotations

import datetime as dt
import importlib.util
import sys
from collections.abc import Iterator
from decimal import Decimal as D
from pathlib import Path
from types import ModuleType

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crossmargin.engine.depth import (
    DEFAULT_DEPTH,
    DepthLevel,
    DepthSnapshot,
    Fill,
    ParametricDepth,
    depth_for,
    parametric_depth_from_mapping,
    sweep,
)
from crossmargin.units import InputError

ROOT = Path(__file__).resolve().parents[1]
PROPERTY = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

BOOK = DepthSnapshot.from_pairs(
    bids=[("99", "1"), ("98", "2"), ("95", "5")],
    asks=[("100", "1"), ("101", "2"), ("103", "5")],
)
MARK = D("99.5")


# --- sweeps over a captured book --------------------------------------------------------------------------


def test_buy_walks_the_asks_to_an_exact_average():
    fill = sweep(BOOK, "buy", D("4"), MARK)
    assert fill == Fill(quantity=D("4"), notional=D("405"), average_price=D("101.25"), worst_price=D("103"), levels=3)


def test_average_rounds_against_the_taker():
    bought = sweep(BOOK, "buy", D("3"), MARK)  # 302 / 3 = 100.666...
    assert bought.notional == D("302")
    assert bought.average_price == D("100." + "6" * 46 + "7")  # 50 significant digits, rounded up
    sold = sweep(BOOK, "sell", D("3"), MARK)  # 295 / 3 = 98.333...
    assert sold.notional == D("295")
    assert sold.average_price == D("98." + "3" * 48)  # rounded down


def test_limit_price_is_never_crossed():
    bought = sweep(BOOK, "buy", D("4"), MARK, limit_price=D("101"))
    assert (bought.quantity, bought.worst_price, bought.levels) == (D("3"), D("101"), 2)
    sold = sweep(BOOK, "sell", D("4"), MARK, limit_price=D("98"))
    assert (sold.quantity, sold.notional, sold.worst_price) == (D("3"), D("295"), D("98"))
    nothing = sweep(BOOK, "buy", D("1"), MARK, limit_price=D("99.99"))
    assert nothing == Fill(D("0"), D("0"), None, None, 0)


def test_partial_fill_when_the_book_runs_out():
    fill = sweep(BOOK, "buy", D("100"), MARK)
    assert (fill.quantity, fill.notional, fill.worst_price, fill.levels) == (D("8"), D("817"), D("103"), 3)
    empty_side = DepthSnapshot(bids=(), asks=BOOK.asks)
    assert sweep(empty_side, "sell", D("1"), MARK).average_price is None


def test_max_levels_caps_the_walk():
    fill = sweep(BOOK, "buy", D("8"), MARK, max_levels=2)
    assert (fill.quantity, fill.levels, fill.worst_price) == (D("3"), 2, D("101"))


def test_bad_arguments_and_bad_books_are_refused():
    with pytest.raises(ValueError, match="side"):
        sweep(BOOK, "long", D("1"), MARK)
    with pytest.raises(ValueError, match="quantity"):
        sweep(BOOK, "buy", D("0"), MARK)
    with pytest.raises(ValueError, match="reference"):
        sweep(DEFAULT_DEPTH["major"], "buy", D("1"), D("0"))
    with pytest.raises(AssertionError, match="descend"):
        DepthSnapshot.from_pairs(bids=[("98", "1"), ("99", "1")], asks=[])
    with pytest.raises(AssertionError, match="ascend"):
        DepthSnapshot.from_pairs(bids=[], asks=[("101", "1"), ("101", "1")])
    with pytest.raises(AssertionError, match="crossed"):
        DepthSnapshot.from_pairs(bids=[("101", "1")], asks=[("100", "1")])
    with pytest.raises(AssertionError, match="quantity"):
        DepthLevel(D("100"), D("0"))


@st.composite
def books(draw: st.DrawFn) -> DepthSnapshot:
    """Random non-crossed books: prices in cents, quantities in thousandths, 1 to 12 levels a side."""
    best_bid = draw(st.integers(1_000, 10_000_000))
    spread = draw(st.integers(1, 1_000))
    gaps = st.lists(st.integers(1, 5_000), min_size=1, max_size=12)
    quantities = st.integers(1, 50_000)
    bids, price = [], best_bid
    for gap in draw(gaps):
        bids.append(DepthLevel(D(price).scaleb(-2), D(draw(quantities)).scaleb(-3)))
        price -= gap
        if price <= 0:
            break
    asks, price = [], best_bid + spread
    for gap in draw(gaps):
        asks.append(DepthLevel(D(price).scaleb(-2), D(draw(quantities)).scaleb(-3)))
        price += gap
    return DepthSnapshot(tuple(bids), tuple(asks))


size = st.integers(1, 400_000).map(lambda n: D(n).scaleb(-3))


@PROPERTY
@given(book=books(), quantity=size)
def test_taker_never_beats_the_touch(book: DepthSnapshot, quantity: D):
    bought = sweep(book, "buy", quantity, book.asks[0].price)
    sold = sweep(book, "sell", quantity, book.bids[0].price)
    assert bought.average_price is not None and bought.worst_price is not None
    assert sold.average_price is not None and sold.worst_price is not None
    assert book.asks[0].price <= bought.average_price <= bought.worst_price
    assert book.bids[0].price >= sold.average_price >= sold.worst_price
    assert bought.quantity == min(quantity, sum((level.quantity for level in book.asks), D(0)))


@PROPERTY
@given(book=books(), first=size, second=size, side=st.sampled_from(["buy", "sell"]))
def test_walking_more_never_improves_the_average(book: DepthSnapshot, first: D, second: D, side: str):
    small, large = sorted((first, second))
    near, far = (sweep(book, side, quantity, book.asks[0].price) for quantity in (small, large))
    assert near.average_price is not None and far.average_price is not None
    if side == "buy":
        assert near.average_price <= far.average_price
    else:
        assert near.average_price >= far.average_price


@PROPERTY
@given(
    symbol=st.sampled_from(["BTC", "SOL", "DOGE"]),
    mark=st.integers(1, 10**9).map(lambda n: D(n).scaleb(-4)),
    first=st.integers(1, 10**6).map(lambda n: D(n).scaleb(-6)),
    extra=st.integers(0, 10**6).map(lambda n: D(n).scaleb(-6)),
    side=st.sampled_from(["buy", "sell"]),
)
def test_parametric_sweeps_worsen_with_size(symbol: str, mark: D, first: D, extra: D, side: str):
    depth = depth_for(symbol)
    # Sizes in notional units of one level, so the walk crosses a few levels whatever the mark.
    per_level = depth.notional_per_step / mark
    near = sweep(depth, side, first * per_level, mark)
    far = sweep(depth, side, (first + extra) * per_level, mark)
    assert near.average_price is not None and far.average_price is not None
    if side == "buy":
        assert mark < near.average_price <= far.average_price
    else:
        assert mark > near.average_price >= far.average_price


# --- the parametric curve ---------------------------------------------------------------------------------


def test_parametric_levels_are_symmetric_around_the_reference():
    depth = ParametricDepth(half_spread=D("0.0005"), notional_per_step=D("10000"), step=D("0.001"))
    reference = D("2000")
    asks, bids = depth.levels(reference, "ask", 5), depth.levels(reference, "bid", 5)
    assert [level.price for level in asks] == [D("2001"), D("2003"), D("2005"), D("2007"), D("2009")]
    for ask, bid in zip(asks, bids, strict=True):
        assert ask.price - reference == reference - bid.price
        for level in (ask, bid):  # the same quote notional on both sides, never more than stated
            assert level.price * level.quantity <= D("10000")
            assert D("10000") - level.price * level.quantity < D("1e-40")


def test_parametric_bid_side_stops_above_zero():
    depth = ParametricDepth(half_spread=D("0.1"), notional_per_step=D("5"), step=D("0.3"))
    bids = depth.levels(D("10"), "bid", 10)
    assert [level.price for level in bids] == [D("9.0"), D("6.0"), D("3.0")]
    fill = sweep(depth, "sell", D("100"), D("10"))
    assert fill.levels == 3 and fill.quantity < D("100")
    with pytest.raises(ValueError, match="book side"):
        depth.levels(D("10"), "buy", 1)


def test_parametric_sweep_matches_the_levels():
    depth = ParametricDepth(half_spread=D("0"), notional_per_step=D("1000"), step=D("0.01"))
    fill = sweep(depth, "buy", D("25"), D("100"))  # 10 at 100, 9.90099... at 101, the rest at 102
    assert fill.levels == 3 and fill.quantity == D("25") and fill.worst_price == D("102.00")
    assert D("2000") < fill.notional < D("2000") + D("102") * D("5.2")
    limited = sweep(depth, "buy", D("25"), D("100"), limit_price=D("101.5"))
    assert limited.levels == 2 and limited.notional <= D("2000")


def test_parametric_depth_from_a_scenario_mapping():
    parsed = parametric_depth_from_mapping(
        {"half_spread": "0.0001", "notional_per_step": "50000", "step": "0.0002"}, field="depth"
    )
    assert parsed == ParametricDepth(D("0.0001"), D("50000"), D("0.0002"))
    with pytest.raises(InputError, match=r"depth\.step"):
        parametric_depth_from_mapping({"half_spread": "0", "notional_per_step": "1", "step": "-1"}, field="depth")
    with pytest.raises(InputError, match="unknown keys"):
        parametric_depth_from_mapping({"half_spread": "0", "notional_per_step": "1", "step": "1", "x": 1}, field="d")


# --- calibrated defaults ----------------------------------------------------------------------------------


def test_default_classes_exist_are_positive_and_ordered_by_liquidity():
    assert set(DEFAULT_DEPTH) == {"major", "large", "small"}
    for depth in DEFAULT_DEPTH.values():
        assert depth.half_spread > 0 and depth.notional_per_step > 0 and depth.step > 0
    major, large, small = (DEFAULT_DEPTH[name] for name in ("major", "large", "small"))
    density = {name: depth.notional_per_step / depth.step for name, depth in DEFAULT_DEPTH.items()}
    assert density["major"] > density["large"] > density["small"]
    assert major.half_spread < large.half_spread < small.half_spread


def test_depth_for_maps_base_assets_to_classes():
    assert depth_for("BTC") is DEFAULT_DEPTH["major"] and depth_for("eth") is DEFAULT_DEPTH["major"]
    assert all(depth_for(asset) is DEFAULT_DEPTH["large"] for asset in ("SOL", "BNB", "XRP"))
    assert all(depth_for(asset) is DEFAULT_DEPTH["small"] for asset in ("DOGE", "ADA", "LTC", "1000PEPE", "NEW"))


# --- the calibration script's pure helpers ----------------------------------------------------------------


@pytest.fixture(scope="module")
def calibrate() -> Iterator[ModuleType]:
    """The script as a module (registered while loaded: its dataclasses resolve annotations through it)."""
    spec = importlib.util.spec_from_file_location("calibrate_depth", ROOT / "tools" / "calibrate_depth.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    try:
        spec.loader.exec_module(module)
        yield module
    finally:
        sys.modules.pop(spec.name, None)


def _rows(stamp: int, bids: list[tuple[float, float]], asks: list[tuple[float, float]]) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    for side, levels in (("bid", bids), ("ask", asks)):
        rows += [
            {"timestamp": stamp, "side": side, "level": i + 1, "price": p, "qty": q} for i, (p, q) in enumerate(levels)
        ]
    return rows


TABLE = _rows(2, [(99.5, 2.0), (99.0, 4.0), (98.0, 1.0)], [(100.5, 1.0), (101.0, 3.0), (103.0, 2.0)]) + _rows(
    1, [(99.9, 1.0), (99.8, 1.0)], [(100.1, 1.0), (100.3, 1.0)]
)


def test_group_books_orders_levels_and_timestamps(calibrate: ModuleType):
    books = calibrate.group_books(reversed(TABLE))
    assert len(books) == 2
    assert books[0].bids == ((99.9, 1.0), (99.8, 1.0)) and books[1].asks[0] == (100.5, 1.0)
    assert books[1].mid == 100.0


def test_half_spread_and_tick(calibrate: ModuleType):
    books = calibrate.group_books(TABLE)
    assert calibrate.half_spread(books[0]) == pytest.approx(0.001)  # (100.1 - 99.9) / 2 / 100
    assert calibrate.half_spread(books[1]) == pytest.approx(0.005)  # (100.5 - 99.5) / 2 / 100
    assert calibrate.inferred_tick(books) == pytest.approx(0.1)


def test_band_notional_within_and_beyond_the_book(calibrate: ModuleType):
    book = calibrate.group_books(TABLE)[1]  # mid 100
    assert calibrate.band_notional(book.asks, 100.0, 0.01) == pytest.approx(100.5 + 303.0)  # 100.5 and 101 within 1 %
    assert calibrate.band_notional(book.bids, 100.0, 0.01) == pytest.approx(199.0 + 396.0)
    assert calibrate.band_notional(book.asks, 100.0, 0.03) == pytest.approx(100.5 + 303.0 + 206.0)
    assert calibrate.band_notional(book.asks, 100.0, 0.05) is None  # the capture ends at 3 %: unknown
    assert calibrate.band_notional(book.bids, 100.0, 0.01, contract_usd=10.0) == pytest.approx(60.0)  # inverse


def test_file_stats_and_levels_within(calibrate: ModuleType):
    stats = calibrate.file_stats(calibrate.group_books(TABLE))
    assert stats.snapshots == 2 and stats.half_spread == pytest.approx(0.003)
    assert stats.band_notional[10] is not None and stats.band_notional[50] is None
    assert calibrate.levels_within(0.001, 0.0000015, 0.0001) == 10
    assert calibrate.levels_within(0.001, 0.0, 0.0001) == 11  # a level sits exactly on the band edge
    assert calibrate.levels_within(0.00001, 0.0001, 0.0001) == 0


def test_daily_quote_volume_and_rounding(calibrate: ModuleType):
    start = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
    bars = [{"timestamp": start + dt.timedelta(hours=h), "volume": 2.0, "close": 10.0} for h in range(30)]
    assert calibrate.daily_quote_volume(bars, dt.date(2024, 1, 1), dt.date(2024, 1, 2)) == [480.0]  # day 2 partial
    assert calibrate.two_significant(795_700.0) == "800000"
    assert calibrate.two_significant(1.4606e-06) == "0.0000015"
    assert calibrate.two_significant(0.000134567) == "0.00013"
