"""The oracle guard inside the engine: one table decides what proceeds on which mark."""

from __future__ import annotations

from decimal import Decimal as D

import yaml

from crossmargin.engine.commands import Deposit, MarketUpdate, PlaceOrder, ResultCode, SettleFunding, Withdraw
from crossmargin.engine.core import Engine
from crossmargin.rules import available_rulebooks, parse_rulebook


def _engine() -> Engine:
    path = next(row[2] for row in available_rulebooks() if row[0] == "generic")
    raw = yaml.safe_load(path.read_text())
    raw["conventions"]["oracle"] = {"max_age_seconds": 60, "band_fraction": "0.05", "clamp_low": "1000"}
    engine = Engine(parse_rulebook(raw, origin="generic-with-oracle"))
    engine.execute(Deposit("fund", "insurance", "USD", D(1000000)))
    engine.execute(Deposit("d", "alice", "USD", D(10000)))
    engine.execute(MarketUpdate("m0", "BTC-PERP", 0, mark=D(50000), index=D(50000), funding_rate=D("0.0001")))
    engine.execute(MarketUpdate("e0", "ETH-PERP", 0, mark=D(3000), index=D(3000)))
    assert engine.execute(PlaceOrder("o1", "alice", "BTC-PERP", "buy", D("1.5"))).code.accepted
    return engine


def test_a_stale_mark_refuses_new_risk_but_allows_reducing():
    engine = _engine()
    engine.execute(MarketUpdate("e1", "ETH-PERP", 120_000, mark=D(3000), index=D(3000)))  # BTC now 2 min old
    assert engine.execute(PlaceOrder("o2", "alice", "BTC-PERP", "buy", D("0.1"))).code is ResultCode.STALE_PRICE
    assert engine.execute(Withdraw("w", "alice", "USD", D(1))).code is ResultCode.STALE_PRICE
    assert engine.execute(SettleFunding("f", "BTC-PERP", 28_800_000)).code is ResultCode.STALE_PRICE  # 8 h old
    assert engine.execute(PlaceOrder("o3", "alice", "BTC-PERP", "sell", D("0.1"))).code.accepted


def test_liquidation_proceeds_on_a_stale_mark_within_the_band():
    engine = _engine()
    # the mark falls within 5 % of an index that still says 44,000: in band, and later it goes stale
    result = engine.execute(MarketUpdate("m1", "BTC-PERP", 1_000, mark=D(43500), index=D(44000)))
    assert any(e["event"] == "liquidation_started" for e in result.events)


def test_an_out_of_band_mark_defers_liquidation():
    engine = _engine()
    result = engine.execute(MarketUpdate("m1", "BTC-PERP", 1_000, mark=D(43500), index=D(50000)))  # 13 % off
    assert [e["event"] for e in result.events] == ["market", "liquidation_deferred"]
    assert "BTC-PERP" in engine.accounts["alice"].positions
    assert engine.execute(PlaceOrder("o2", "alice", "BTC-PERP", "buy", D("0.1"))).code is ResultCode.STALE_PRICE


def test_nothing_but_cancelling_proceeds_on_a_clamped_mark():
    engine = _engine()
    result = engine.execute(MarketUpdate("m1", "BTC-PERP", 1_000, mark=D(1000), index=D(1000)))
    assert any(e["event"] == "liquidation_deferred" for e in result.events)
    assert engine.execute(PlaceOrder("o2", "alice", "BTC-PERP", "sell", D("0.1"))).code is ResultCode.STALE_PRICE


def test_binance_median_mark_from_index_funding_book_and_last():
    """Binance: mark = median(index x (1 + rate x time to funding / interval), index + book basis, last).
    Index 50,000, rate 0.01 % with half the 8 h interval left (50,002.5), book mid 50,003.2 (basis
    3.2: 50,003.2), last 50,010: the mark is 50,003.2."""
    from crossmargin.engine.codec import decode_command
    from crossmargin.rules import load_rulebook

    path = next(row[2] for row in available_rulebooks() if row[0] == "binance-usdm")
    raw = yaml.safe_load(path.read_text())
    raw["conventions"]["mark_construction"] = "median"
    engine = Engine(parse_rulebook(raw, origin="binance-usdm-median"))
    assert load_rulebook("binance-usdm").conventions.mark_construction == "median"  # as the shipped rulebook
    book = {
        "kind": "depth_update",
        "command_id": "book",
        "symbol": "BTCUSDT",
        "timestamp_ms": 1,
        "bids": [["50002.0", "1"]],
        "asks": [["50004.4", "1"]],
    }
    assert engine.execute(decode_command(book)).code.accepted
    four_hours = 4 * 3_600_000
    update = MarketUpdate("m", "BTCUSDT", four_hours, index=D(50000), last=D(50010), funding_rate=D("0.0001"))
    assert engine.execute(update).code.accepted
    assert engine.market("BTCUSDT").mark == D("50003.2")
