"""Resting orders hold margin, the cost to open follows the venue, funding settles at funding times.

The margin an order holds is one function (``crossmargin.margin.orders.open_order_margin``): the
account file's ``open_orders`` and the engine's resting orders reach it the same way, so
``crossmargin evaluate`` and the engine's own checks show the same figures.
"""

from __future__ import annotations

import copy
from decimal import Decimal as D
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crossmargin.engine.commands import (
    Deposit,
    ImportPosition,
    MarketUpdate,
    OrderType,
    PlaceOrder,
    ResultCode,
    SetLeverage,
    SetMarginMode,
    SettleFunding,
)
from crossmargin.engine.core import Engine
from crossmargin.margin.account import parse_account
from crossmargin.margin.evaluate import evaluate_account
from crossmargin.margin.orders import OpenOrder, open_order_margin
from crossmargin.margin.report import evaluation_to_json
from crossmargin.margin.types import Side
from crossmargin.rules import load_rulebook
from crossmargin.units import InputError

#: Binance's example ("How to Calculate the Margin Requirement on Binance Futures Trading", FAQ
#: 4f83b65d83654b5e933f85ef12bf769d): a long of 0.5 BTCUSDT at a mark of 20,000 (notional 10,000), a
#: buy of 0.1 at 19,000 and a sell of 0.1 at 22,000, at 2x: max(|10,000 + 1,900|, |10,000 - 2,200|) /
#: 2 = 5,950 USDT in all, the position's 5,000 and the orders' 950.
FAQ_ACCOUNT: dict[str, Any] = {
    "venue": "binance-usdm",
    "balances": {"USDT": "20000"},
    "positions": [
        {
            "symbol": "BTCUSDT",
            "side": "long",
            "size": "0.5",
            "entry_price": "20000",
            "mark_price": "20000",
            "leverage": "2",
        }
    ],
    "open_orders": [
        {"symbol": "BTCUSDT", "side": "buy", "size": "0.1", "price": "19000"},
        {"symbol": "BTCUSDT", "side": "sell", "size": "0.1", "price": "22000"},
    ],
}


def _pool(account: dict[str, Any]) -> dict[str, Any]:
    return evaluation_to_json(evaluate_account(parse_account(account)))["pools"][0]


def test_binance_faq_margin_requirement_of_open_orders():
    pool = _pool(FAQ_ACCOUNT)
    assert pool["initial_margin"] == "5000.00000000"
    assert pool["open_order_initial_margin"] == "950.00000000"
    # both bounds of the max-withdraw formula lose the open orders' margin: 20,000 - 5,000 - 950
    assert pool["available_balance"] == "14050.00000000"
    assert pool["max_withdrawable"] == "14050.00000000"


def test_orders_that_only_offset_the_position_hold_nothing_and_reduce_only_ones_neither():
    account = copy.deepcopy(FAQ_ACCOUNT)
    account["open_orders"] = [
        {"symbol": "BTCUSDT", "side": "sell", "size": "0.5", "price": "22000"},  # |10,000 - 11,000| = 1,000
        {"symbol": "BTCUSDT", "side": "sell", "size": "0.2", "price": "22000", "reduce_only": True},
    ]
    assert _pool(account)["open_order_initial_margin"] == "0"
    account["open_orders"][0]["size"] = "1.5"  # |10,000 - 33,000| = 23,000: 11,500 - 5,000 held
    assert _pool(account)["open_order_initial_margin"] == "6500.00000000"


def test_an_isolated_positions_orders_come_out_of_the_cross_wallet_in_both_withdrawal_bounds():
    """Binance's max withdraw (venue-rules.md §1.6): min(crossWB - Σ isolated open-order IM - cross MM,
    crossWB + cross uPnL - cross IM - Σ isolated open-order IM)."""
    account = {
        "venue": "binance-usdm",
        "balances": {"USDT": "1000"},
        "open_orders": [{"symbol": "ETHUSDT", "side": "buy", "size": "1", "price": "2000", "margin_mode": "isolated"}],
    }
    pool = _pool(account)  # 2,000 / 20 = 100 held
    assert (pool["open_order_initial_margin"], pool["max_withdrawable"]) == ("100.00000000", "900.00000000")


def test_hedge_legs_hold_margin_each_and_an_order_opens_its_own_leg():
    """Binance's hedge-mode rule: the long leg's requirement plus the short leg's."""
    account = {
        "venue": "binance-usdm",
        "balances": {"USDT": "10000"},
        "open_orders": [
            {"symbol": "BTCUSDT", "side": "buy", "size": "0.1", "price": "20000", "position_side": "long"},
            {"symbol": "BTCUSDT", "side": "sell", "size": "0.1", "price": "21000", "position_side": "short"},
        ],
    }
    assert _pool(account)["open_order_initial_margin"] == "205.00000000"  # (2,000 + 2,100) / 20
    account["open_orders"] = [dict(o, position_side="both") for o in account["open_orders"]]
    assert _pool(account)["open_order_initial_margin"] == "105.00000000"  # one-way: the larger side only


def test_bybit_orders_hold_their_fees_too():
    """Bybit's order cost (venue-rules.md §3.6): IM + fee to open + fee to close at the bankruptcy price."""
    account = {
        "venue": "bybit",
        "balances": {"USDT": "1000"},
        "open_orders": [{"symbol": "BTCUSDT", "side": "buy", "size": "0.1", "price": "50000"}],
    }
    assert _pool(account)["open_order_initial_margin"] == "505.22500000"  # 500 + 2.75 + 2.475


def test_a_bad_open_order_is_refused_naming_the_field():
    account = copy.deepcopy(FAQ_ACCOUNT)
    account["open_orders"][1]["side"] = "short"
    with pytest.raises(InputError, match=r"open_orders\[1\]\.side"):
        parse_account(account)
    account["open_orders"][1] = {"symbol": "BTCUSDT", "side": "sell", "size": "0.1", "price": "22000", "tif": "GTC"}
    with pytest.raises(InputError, match=r"open_orders\[1\]\.tif"):
        parse_account(account)


def _faq_engine() -> Engine:
    engine = Engine(load_rulebook("binance-usdm"))
    engine.execute(Deposit("d", "alice", "USDT", D(20000)))
    engine.execute(SetLeverage("l", "alice", "BTCUSDT", D(2)))
    engine.execute(MarketUpdate("m", "BTCUSDT", 1, mark=D(20000)))
    assert engine.execute(ImportPosition("i", "alice", "BTCUSDT", "long", D("0.5"), D(20000))).code.accepted
    for number, (side, price) in enumerate((("buy", 19000), ("sell", 22000))):
        placed = engine.execute(PlaceOrder(f"o{number}", "alice", "BTCUSDT", side, D("0.1"), OrderType.LIMIT, D(price)))
        assert placed.code.accepted
    return engine


def test_the_engine_shows_the_same_figures_as_the_account_file():
    """One implementation: the engine's snapshot of its resting orders evaluates to what
    ``crossmargin evaluate`` makes of the same account written as a file."""
    engine = _faq_engine()
    from_engine = evaluation_to_json(engine.evaluate(engine.accounts["alice"], with_prices=True))
    assert from_engine == evaluation_to_json(evaluate_account(parse_account(FAQ_ACCOUNT)))


def test_an_order_that_does_not_fit_is_refused_and_changes_nothing():
    engine = _faq_engine()  # 14,050 available; another buy at 19,000 holds 19,000 / 2 = 9,500 a BTC
    before = engine.state_hash()
    big = PlaceOrder("big", "alice", "BTCUSDT", "buy", D("1.479"), OrderType.LIMIT, D(19000))  # holds 14,050.5
    refused = engine.execute(big)
    assert refused.code is ResultCode.INSUFFICIENT_MARGIN
    assert refused.message == "the order costs 14050.5 USDT to open; 14050 USDT is available"
    assert engine.state_hash() == before
    fits = PlaceOrder("fits", "alice", "BTCUSDT", "buy", D("1.478"), OrderType.LIMIT, D(19000))  # holds 14,041
    assert engine.execute(fits).code.accepted


def test_a_stop_holds_nothing_until_it_triggers():
    """Binance: "margin is not required when placing stop orders ... Margin requirement calculation
    ... only occurs when stop orders are triggered" (the FAQ above); the trigger is then checked as a
    market order."""
    engine = Engine(load_rulebook("binance-usdm"))
    engine.execute(MarketUpdate("m", "BTCUSDT", 1, mark=D(50000)))
    stop = PlaceOrder("s", "bob", "BTCUSDT", "buy", D("0.1"), OrderType.STOP_MARKET, trigger_price=D(51000))
    assert engine.execute(stop).code.accepted
    fired = engine.execute(MarketUpdate("up", "BTCUSDT", 2, mark=D(51000)))
    assert [e["reason"] for e in fired.events if e["event"] == "order_cancelled"] == ["insufficient_margin"]
    assert "BTCUSDT" not in engine.accounts["bob"].positions


def test_an_isolated_setting_rests_the_order_on_the_isolated_position():
    engine = Engine(load_rulebook("binance-usdm"))
    engine.execute(Deposit("d", "alice", "USDT", D(1000)))
    engine.execute(SetMarginMode("iso", "alice", "ETHUSDT", "isolated"))
    engine.execute(MarketUpdate("m", "ETHUSDT", 1, mark=D(2100)))
    assert engine.execute(PlaceOrder("o", "alice", "ETHUSDT", "buy", D(1), OrderType.LIMIT, D(2000))).code.accepted
    (pool,) = engine.evaluate(engine.accounts["alice"]).pools
    assert (pool.figures.open_order_initial_margin, pool.figures.max_withdrawable) == (D(100), D(900))


order_sizes = st.integers(min_value=1, max_value=400).map(lambda n: D(n) / 100)
prices = st.integers(min_value=15000, max_value=25000).map(D)


@settings(max_examples=60, deadline=None)
@given(
    orders=st.lists(st.tuples(st.booleans(), order_sizes, prices, st.booleans()), max_size=6),
    extra=st.tuples(st.booleans(), order_sizes, prices),
)
def test_an_order_never_lowers_what_the_others_hold_and_reduce_only_orders_hold_nothing(orders, extra):
    """Adding an order can only raise what the orders hold (it raises one side's exposure);
    adding a reduce-only order leaves it as it was."""
    snapshot = parse_account(FAQ_ACCOUNT)
    instrument = snapshot.rulebook.instrument("BTCUSDT")

    def order(buy: bool, size: D, price: D, reduce_only: bool = False) -> OpenOrder:
        return OpenOrder(instrument, Side.LONG if buy else Side.SHORT, size, price, D(2), reduce_only=reduce_only)

    def held(resting: list[OpenOrder]) -> D:
        return sum((m.cross + m.isolated for m in open_order_margin(resting, snapshot.positions)), D(0))

    resting = [order(*row) for row in orders]
    base = held(resting)
    assert base >= 0
    assert held([*resting, order(*extra)]) >= base
    assert held([*resting, order(*extra, reduce_only=True)]) == base


def test_funding_waits_for_the_instruments_own_interval():
    """Hyperliquid funds every hour (venue-rules.md §5.3): 1 h is a funding time, half an hour is not,
    and a refused settlement changes nothing, not even the clock."""
    engine = Engine(load_rulebook("hyperliquid"))
    engine.execute(MarketUpdate("m", "BTC", 1, mark=D(50000), index=D(50000), funding_rate=D("0.0001")))
    before = engine.state_hash()
    half = engine.execute(SettleFunding("half", "BTC", 1_800_000))
    assert (half.code, engine.state_hash()) == (ResultCode.NO_FUNDING_DUE, before)
    assert "every 1 h" in half.message
    assert engine.execute(SettleFunding("hour", "BTC", 3_600_000)).code.accepted
    again = engine.execute(SettleFunding("hour-again", "BTC", 3_600_000))
    assert again.code is ResultCode.NO_FUNDING_DUE and "already settled" in again.message


def test_a_stress_step_settling_funding_off_the_schedule_is_refused_naming_it():
    """The risk lab replays through the engine, which settles funding only at funding times: a
    scenario step that asks for funding at hour 3 of an 8-hourly perpetual is refused before it runs."""
    from crossmargin.risk.scenarios import parse_scenario as parse_stress
    from crossmargin.risk.stress import run_stress

    snapshot = parse_account({**FAQ_ACCOUNT, "open_orders": []})
    off = parse_stress({"name": "off", "steps": [{"hours": "3", "funding": {"BTC": "0.001"}}]})
    with pytest.raises(InputError, match=r"steps\[0\]\.funding\.BTC: hours 3 is not a funding time of BTCUSDT"):
        run_stress(snapshot, off)
    on = parse_stress({"name": "on", "steps": [{"hours": "8", "funding": {"BTC": "0.001"}}]})
    assert any(e["event"] == "funding" for e in run_stress(snapshot, on).events)
