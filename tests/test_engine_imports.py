"""A real account copied into the engine: fixed maintenance rates, hedge-mode legs and debts.

The risk lab copies an account into a fresh engine (``import_balance``, ``import_position``) and
replays paths through it. Whatever ``crossmargin evaluate`` accepts must come out of the engine's
own evaluation with the same figures, and the engine must then act on the account as the venue
would: at the position's own fixed rate, on each hedge leg, against a debt the pool backs.
"""

from __future__ import annotations

import copy
import itertools
import json
from decimal import Decimal as D
from pathlib import Path
from typing import Any

import pytest

from crossmargin.engine import commands as c
from crossmargin.engine.core import Engine
from crossmargin.margin.account import AccountSnapshot, parse_account
from crossmargin.margin.evaluate import evaluate_account
from crossmargin.margin.report import evaluation_to_json
from crossmargin.rules import load_rulebook

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def copy_account(snapshot: AccountSnapshot, account: str = "a") -> Engine:
    """The account in a fresh engine, as the risk lab copies one: marks, asset mode and prices,
    balances (debts last, once the positions they back are in), leverage and positions."""
    engine = Engine(snapshot.rulebook)
    ids = (f"copy-{n}" for n in itertools.count())

    def run(command: c.Command) -> None:
        result = engine.execute(command)
        assert result.code.accepted, result

    for symbol, mark in {p.symbol: p.mark_price for p in snapshot.positions}.items():
        run(c.MarketUpdate(next(ids), symbol, 0, mark=mark))
    if snapshot.asset_mode != engine.account(account).asset_mode:
        run(c.SetAssetMode(next(ids), account, snapshot.asset_mode))
    for asset, price in sorted(snapshot.prices.items()):
        if asset != "USD":
            run(c.AssetPrice(next(ids), asset, 0, price))
    for asset, balance in sorted(snapshot.balances.items()):
        if balance > 0:
            run(c.ImportBalance(next(ids), account, asset, balance))
    for p in snapshot.positions:
        if p.isolated_margin:  # the file's balances are the cross wallet; isolated margin is on top
            run(c.Deposit(next(ids), account, p.settlement_asset, p.isolated_margin))
        run(c.SetLeverage(next(ids), account, p.symbol, p.leverage))
        mode, margin = p.margin_mode.value, p.isolated_margin
        fixed = (p.mmr_override, p.maintenance_amount_override)
        run(
            c.ImportPosition(
                next(ids),
                account,
                p.symbol,
                p.side.value,
                p.size,
                p.entry_price,
                mode,
                margin,
                p.position_side.value,
                *fixed,
            )
        )
    for asset, balance in sorted(snapshot.balances.items()):
        if balance < 0:
            run(c.ImportBalance(next(ids), account, asset, balance))
    return engine


def _same_figures(engine: Engine, snapshot: AccountSnapshot) -> None:
    from_engine = evaluation_to_json(engine.evaluate(engine.accounts["a"], with_prices=True))
    assert from_engine == evaluation_to_json(evaluate_account(snapshot))


@pytest.mark.parametrize(
    "name", ["binance-faq-cross", "binance-hedge-mode", "binance-multi-assets", "okx-multi-currency"]
)
def test_the_copy_evaluates_as_the_account_file(name):
    """The README's fixed-rate example, a hedged book and multi-asset pools: every figure, price and
    move of the engine's copy is what ``crossmargin evaluate`` prints for the file."""
    snapshot = parse_account(json.loads((EXAMPLES / f"{name}.json").read_text()))
    _same_figures(copy_account(snapshot), snapshot)


def test_a_fixed_rate_decides_the_liquidation_at_every_price():
    """Binance's FAQ account (venue-rules.md §10; examples/binance-faq-cross.json) at its own fixed
    rates: ETHUSDT liquidates at 1,153.26 (the FAQ's figure), with BTC frozen. The rulebook's
    brackets would put it at 1,069.33: a copy at the tiers would still stand at 1,153.25."""
    raw = json.loads((EXAMPLES / "binance-faq-cross.json").read_text())
    engine = copy_account(parse_account(raw))
    above = engine.execute(c.MarketUpdate("above", "ETHUSDT", 1, mark=D("1153.27")))
    assert not any(e["event"] == "liquidation_started" for e in above.events)
    below = engine.execute(c.MarketUpdate("below", "ETHUSDT", 2, mark=D("1153.25")))
    assert any(e["event"] == "liquidation_started" for e in below.events)
    for position in raw["positions"]:
        del position["mmr"], position["maintenance_amount"]
    tiers = copy_account(parse_account(raw))
    tiers.execute(c.MarketUpdate("below", "ETHUSDT", 2, mark=D("1153.25")))
    assert tiers.accounts["a"].liquidations == 0


def test_a_fixed_rate_stays_with_the_position_as_it_grows_and_in_the_state_hash():
    engine = Engine(load_rulebook("binance-usdm"))
    engine.execute(c.MarketUpdate("m", "ETHUSDT", 0, mark=D(2000)))
    engine.execute(c.ImportBalance("b", "a", "USDT", D(100000)))
    plain = engine.state_hash()
    fixed = c.ImportPosition("i", "a", "ETHUSDT", "long", D(10), D(2000), mmr=D("0.05"), maintenance_amount=D(100))
    assert engine.execute(fixed).code.accepted
    assert engine.execute(c.PlaceOrder("o", "a", "ETHUSDT", "buy", D(1))).code.accepted
    (report,) = engine.evaluate(engine.accounts["a"]).pools
    (figures,) = report.figures.positions
    assert (figures.rate.mmr, figures.rate.amount, figures.rate.tier_index) == (D("0.05"), D(100), None)
    assert figures.maintenance_margin == figures.notional * D("0.05") - 100
    assert engine.state_hash() != plain
    lone_amount = c.ImportPosition("x", "b", "ETHUSDT", "long", D(1), D(2000), maintenance_amount=D(1))
    refused = engine.execute(lone_amount)
    assert refused.code is c.ResultCode.INVALID_ARGUMENT and refused.message.startswith("maintenance_amount")


def _hedged() -> Engine:
    snapshot = parse_account(json.loads((EXAMPLES / "binance-hedge-mode.json").read_text()))
    return copy_account(snapshot)


def test_orders_trade_the_leg_they_name():
    """Binance hedge mode: a buy on the long leg adds to it, a sell on it closes it (never past it),
    a sell on the short leg adds to that one; an order on a hedged symbol must name its leg."""
    engine = _hedged()
    legs = engine.accounts["a"].positions

    def order(name: str, side: str, quantity: str, leg: str = "both") -> c.Result:
        return engine.execute(c.PlaceOrder(name, "a", "BTCUSDT", side, D(quantity), position_side=leg))

    assert order("add-long", "buy", "0.1", "long").code.accepted
    assert order("add-short", "sell", "0.2", "short").code.accepted
    assert (legs["BTCUSDT#long"].size, legs["BTCUSDT#short"].size) == (D("1.3"), D("0.7"))
    assert order("close-long", "sell", "0.3", "long").code.accepted
    assert legs["BTCUSDT#long"].size == D(1)
    assert order("past-the-leg", "sell", "1.5", "long").code is c.ResultCode.REDUCE_ONLY_VIOLATION
    unnamed = order("no-leg", "buy", "0.1")
    assert unnamed.code is c.ResultCode.INVALID_ARGUMENT and "hedge mode" in unnamed.message
    assert order("close-short", "buy", "0.7", "short").code.accepted
    assert "BTCUSDT#short" not in legs


def test_funding_and_liquidation_reach_both_legs():
    engine = _hedged()
    engine.execute(c.MarketUpdate("rate", "BTCUSDT", 1, funding_rate=D("0.0001")))
    funded = engine.execute(c.SettleFunding("f", "BTCUSDT", 28_800_000))
    paid = {e["position_side"]: D(e["amount"]) for e in funded.events if e["event"] == "funding"}
    assert paid == {"long": D("-7.572"), "short": D("3.155")}  # 1.2 and 0.5 x 63,100 x 0.01 %
    crash = engine.execute(c.MarketUpdate("crash", "BTCUSDT", 28_800_001, mark=D(40000)))
    started = next(e for e in crash.events if e["event"] == "liquidation_started")
    assert {"BTCUSDT#long", "BTCUSDT#short"} <= set(started["symbols"])
    assert not engine.accounts["a"].positions  # the pool's legs and its ETH long are closed


def test_a_venue_without_hedge_mode_refuses_legs_and_legs_never_mix_with_one_way():
    engine = Engine(load_rulebook("hyperliquid"))
    engine.execute(c.MarketUpdate("m", "BTC", 0, mark=D(50000)))
    engine.execute(c.ImportBalance("b", "a", "USDC", D(10000)))
    leg = engine.execute(c.ImportPosition("leg", "a", "BTC", "long", D("0.1"), D(50000), position_side="long"))
    assert leg.code is c.ResultCode.INVALID_ARGUMENT and "no hedge mode" in leg.message
    engine = Engine(load_rulebook("binance-usdm"))
    engine.execute(c.MarketUpdate("m", "BTCUSDT", 0, mark=D(50000)))
    engine.execute(c.ImportBalance("b", "a", "USDT", D(10000)))
    assert engine.execute(c.ImportPosition("one-way", "a", "BTCUSDT", "long", D("0.1"), D(50000))).code.accepted
    mixed = engine.execute(c.ImportPosition("leg", "a", "BTCUSDT", "short", D("0.1"), D(50000), position_side="short"))
    assert mixed.code is c.ResultCode.INVALID_ARGUMENT


MULTI_WITH_DEBT: dict[str, Any] = {
    "venue": "binance-usdm",
    "asset_mode": "multi",
    "balances": {"USDC": "10000", "USDT": "-1500"},
    "prices": {"USDT": "1", "USDC": "1"},
    "positions": [{"symbol": "BTCUSDT", "side": "long", "size": "0.2", "entry_price": "60000", "mark_price": "61000"}],
}


def test_a_debt_the_pool_backs_comes_in_as_it_stands():
    snapshot = parse_account(MULTI_WITH_DEBT)
    engine = copy_account(snapshot)
    _same_figures(engine, snapshot)
    assert engine.ledger.balance(engine.accounts["a"].wallet("USDT")) == D(-1500)
    engine.ledger.check_conservation()


def test_a_debt_past_the_threshold_is_exchanged_and_a_single_asset_wallet_owes_nothing():
    """Binance's auto-exchange (10,000 USD, venue-rules.md §1.5) applies to an imported debt as to any."""
    big = copy.deepcopy(MULTI_WITH_DEBT)
    big["balances"] = {"USDC": "50000", "USDT": "-12000"}
    engine = copy_account(parse_account(big))
    assert engine.ledger.balance(engine.accounts["a"].wallet("USDT")) >= 0
    single = Engine(load_rulebook("binance-usdm"))
    owes = single.execute(c.ImportBalance("b", "a", "USDT", D(-1)))
    assert owes.code is c.ResultCode.INVALID_ARGUMENT and "multi-asset" in owes.message
    unpriced = Engine(load_rulebook("binance-usdm"))
    unpriced.execute(c.SetAssetMode("m", "a", "multi"))
    assert unpriced.execute(c.ImportBalance("b", "a", "USDT", D(-1))).code is c.ResultCode.NO_MARK_PRICE
