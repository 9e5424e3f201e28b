"""Liquidation as each venue runs it: Binance's reduce-until-compliant order, tier step-down,
Hyperliquid's chunks with a cooldown, and deleveraging once the insurance fund runs dry."""

from __future__ import annotations

from decimal import Decimal as D

from crossmargin.engine.commands import Deposit, MarketUpdate, PlaceOrder
from crossmargin.engine.core import Engine
from crossmargin.engine.ledger import AccountKind, LedgerAccount
from crossmargin.engine.state import wallet
from crossmargin.rules import load_rulebook


def _events(result) -> list[dict[str, object]]:  # type: ignore[no-untyped-def]
    return list(result.events)


def _setup(venue: str, asset: str, symbol: str, mark: str, balance: str, size: str) -> Engine:
    engine = Engine(load_rulebook(venue))
    assert engine.execute(Deposit("fund", "insurance", asset, D(1000000))).code.accepted
    assert engine.execute(Deposit("dep", "alice", asset, D(balance))).code.accepted
    assert engine.execute(MarketUpdate("m0", symbol, 1, mark=D(mark))).code.accepted
    result = engine.execute(PlaceOrder("open", "alice", symbol, "buy", D(size)))
    assert result.code.accepted, result
    return engine


def _liquidation_point(engine: Engine, symbol: str, start: D, step: D) -> D:
    """Walk the mark down until the account's pool is at or below maintenance (no engine call)."""
    mark = start
    account = engine.accounts["alice"]
    while True:
        mark -= step
        engine.market(symbol).mark = mark
        if any(p.liquidatable for p in engine.evaluate(account).pools):
            engine.market(symbol).mark = start
            return mark


def _venue_variant(style: str):  # type: ignore[no-untyped-def]
    """The generic venue with another liquidation style (its 0.5 % fee is below its 1 % MMR)."""
    import yaml

    from crossmargin.rules import available_rulebooks, parse_rulebook

    path = next(row[2] for row in available_rulebooks() if row[0] == "generic")
    raw = yaml.safe_load(path.read_text())
    raw["conventions"]["liquidation"]["style"] = style
    return parse_rulebook(raw, origin=f"generic-{style}")


def test_binance_fee_makes_a_reduction_useless_at_the_threshold():
    """With Binance's 1.25 % clearance fee above the 0.5 % MMR, reducing worsens health: bankruptcy."""
    engine = _setup("binance-usdm", "USDT", "BTCUSDT", "60000", "10000", "3")
    trigger = _liquidation_point(engine, "BTCUSDT", D(60000), D(10))
    result = engine.execute(MarketUpdate("drop", "BTCUSDT", 2, mark=trigger))
    assert "BTCUSDT" not in engine.accounts["alice"].positions
    assert not any(e.get("partial") for e in _events(result))
    assert engine.ledger.balance(wallet("alice", "USDT")) == 0  # settled at the bankruptcy price


def test_reduce_until_compliant_keeps_the_rest():
    engine = Engine(_venue_variant("reduce_then_bankruptcy"))
    engine.execute(Deposit("fund", "insurance", "USD", D(1000000)))
    engine.execute(Deposit("dep", "alice", "USD", D(10000)))
    engine.execute(MarketUpdate("m0", "BTC-PERP", 1, mark=D(50000)))
    assert engine.execute(PlaceOrder("open", "alice", "BTC-PERP", "buy", D("1.5"))).code.accepted
    trigger = _liquidation_point(engine, "BTC-PERP", D(50000), D(5))
    result = engine.execute(MarketUpdate("drop", "BTC-PERP", 2, mark=trigger))
    fills = [e for e in _events(result) if e["event"] == "liquidation_fill"]
    assert fills and fills[0]["partial"] is True
    position = engine.accounts["alice"].positions["BTC-PERP"]
    assert D(0) < position.size < D("1.5")
    assert not any(p.liquidatable for p in engine.evaluate(engine.accounts["alice"]).pools)
    assert engine.ledger.balance(wallet("alice", "USD")) > 0  # the user keeps what is left
    engine.ledger.check_conservation()


def test_bybit_steps_the_position_down_a_tier():
    engine = _setup("bybit", "USDT", "BTCUSDT", "60000", "800000", "60")  # 3.6 M notional at 10x
    trigger = _liquidation_point(engine, "BTCUSDT", D(60000), D(20))
    result = engine.execute(MarketUpdate("drop", "BTCUSDT", 2, mark=trigger))
    kinds = [e["event"] for e in _events(result)]
    assert "liquidation_started" in kinds
    position = engine.accounts["alice"].positions.get("BTCUSDT")
    assert position is not None and position.size < D(60)
    engine.ledger.check_conservation()


def test_hyperliquid_takes_a_chunk_then_everything_within_the_cooldown():
    engine = _setup("hyperliquid", "USDC", "BTC", "100000", "20000", "3")  # 300 k notional > 100 k
    trigger = _liquidation_point(engine, "BTC", D(100000), D(10))
    first = engine.execute(MarketUpdate("drop", "BTC", 1000, mark=trigger))
    fills = [e for e in _events(first) if e["event"] == "liquidation_fill"]
    assert len(fills) == 1 and D(fills[0]["quantity"]) == D("0.6")  # 20 % of 3 BTC
    assert engine.accounts["alice"].positions["BTC"].size == D("2.4")
    lower = trigger - 400
    second = engine.execute(MarketUpdate("drop2", "BTC", 1000 + 10_000, mark=lower))  # 10 s later
    if any(e["event"] == "liquidation_started" for e in _events(second)):
        assert "BTC" not in engine.accounts["alice"].positions  # in the cooldown: the whole position
    engine.ledger.check_conservation()


def test_deleveraging_covers_what_the_fund_cannot():
    engine = Engine(load_rulebook("generic"))
    engine.execute(Deposit("fund", "insurance", "USD", D(1)))
    engine.execute(Deposit("a", "alice", "USD", D(25000)))
    engine.execute(Deposit("b", "bob", "USD", D(100000)))
    engine.execute(MarketUpdate("m0", "BTC-PERP", 1, mark=D(50000)))
    assert engine.execute(PlaceOrder("long", "alice", "BTC-PERP", "buy", D(4))).code.accepted
    assert engine.execute(PlaceOrder("short", "bob", "BTC-PERP", "sell", D(4))).code.accepted
    result = engine.execute(MarketUpdate("gap", "BTC-PERP", 2, mark=D(40000)))  # far past alice's bankruptcy
    kinds = [e["event"] for e in _events(result)]
    assert "deleveraged" in kinds
    recovered = sum(D(e["amount"]) for e in _events(result) if e["event"] == "deleveraged")
    backstop = sum(D(e["amount"]) for e in _events(result) if e["event"] == "venue_backstop")
    # bob gives up mark - bankruptcy price on what he closes; only the close's slippage is left over
    assert recovered > 0 and backstop < recovered / 10
    assert engine.ledger.balance(wallet("alice", "USD")) == 0
    assert engine.ledger.balance(LedgerAccount.venue(AccountKind.INSURANCE, "USD")) >= 0
    bob = engine.accounts["bob"].positions.get("BTC-PERP")
    assert bob is None or bob.size < D(4)
    engine.ledger.check_conservation()
