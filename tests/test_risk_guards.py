"""Guards: stops that fire before the chosen health, reserves that survive, sizes, leverage, buffer."""

from __future__ import annotations

import json
from decimal import Decimal as D
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from crossmargin.cli.main import app
from crossmargin.margin.account import parse_account
from crossmargin.margin.evaluate import evaluate_account
from crossmargin.margin.types import Side
from crossmargin.risk.guards import (
    TrailingBuffer,
    health_after,
    largest_sizes,
    leverage_advice,
    reserve_for,
    reserve_for_probability,
    safe_move,
    stop_levels,
    worst_windows,
)
from crossmargin.risk.models import build_model
from crossmargin.risk.montecarlo import pool_of, simulate
from crossmargin.risk.scenarios import betas, uniform
from crossmargin.risk.stress import run_stress
from crossmargin.units import InputError

SYMBOLS = {"BTC": ("BTC-PERP", D(50000)), "ETH": ("ETH-PERP", D(3000)), "SOL": ("SOL-PERP", D(150))}


def _account(legs: list[tuple[str, str, D]], wallet: D) -> dict:
    return {
        "venue": "generic",
        "balances": {"USD": str(wallet)},
        "positions": [
            {"symbol": SYMBOLS[a][0], "side": side, "size": str(size), "entry_price": str(SYMBOLS[a][1]),
             "mark_price": str(SYMBOLS[a][1]), "leverage": "20"}
            for a, side, size in legs
        ],
    }  # fmt: skip


legs = st.lists(
    st.tuples(st.sampled_from(sorted(SYMBOLS)), st.sampled_from(["long", "short"]), st.integers(1, 40)),
    min_size=1, max_size=3, unique_by=lambda leg: leg[0],
)  # fmt: skip


@settings(max_examples=40, deadline=None)
@given(legs=legs, wallet=st.integers(2000, 60000), level=st.sampled_from(["1.1", "1.3", "2"]), scaled=st.booleans())
def test_replaying_the_move_that_reaches_the_stops_leaves_health_at_or_above_the_level(legs, wallet, level, scaled):
    """The property of the issue: move every mark jointly (uniform, or by its beta to BTC) to where
    the stops sit; the pool's health is then still at or above the chosen level, and just past
    that move it is not."""
    sized = [(asset, side, D(n) * D(50000) / SYMBOLS[asset][1] / 100) for asset, side, n in legs]
    snapshot = parse_account(_account(sized, D(wallet)))
    chosen = D(level)
    weights = betas(sorted({a for a, _, _ in sized})) if scaled else {}
    for stop in stop_levels(snapshot, chosen, weights):
        sign = -1 if stop.side is Side.LONG else 1
        reached = health_after(snapshot, weights, stop.move)
        assert reached is None or reached > chosen
        beyond = health_after(snapshot, weights, stop.move + sign * D("0.000001"))
        assert beyond is not None and beyond <= chosen
        position = next(p for p in snapshot.positions if p.symbol == stop.symbol)
        beta = weights.get(position.instrument.base_asset, D(1))
        joint_price = position.mark_price * (1 + beta * stop.move)
        # rounded to the tick toward the mark: the stop fires a little before the joint move gets there
        assert (stop.trigger_price >= joint_price) if sign < 0 else (stop.trigger_price <= joint_price)


def test_stops_of_a_long_book_and_bad_levels():
    snapshot = parse_account(_account([("BTC", "long", D(2)), ("ETH", "long", D(20))], D(20000)))
    stops = stop_levels(snapshot, D("1.3"))
    assert {s.symbol for s in stops} == {"BTC-PERP", "ETH-PERP"}
    assert all(s.trigger_price < SYMBOLS[s.symbol.split("-")[0]][1] for s in stops)
    assert safe_move(snapshot, {}, D("1.3"), 1) is None  # rising marks never hurt an all-long pool
    with pytest.raises(InputError, match="level"):
        stop_levels(snapshot, D("0.9"))


def test_the_reserve_is_the_least_deposit_that_survives_the_scenario():
    snapshot = parse_account(_account([("BTC", "long", D(2)), ("ETH", "long", D(20))], D(20000)))
    scenario = uniform(["BTC", "ETH"], D("-0.25"), 5)
    assert run_stress(snapshot, scenario).liquidated
    reserve = reserve_for(snapshot, scenario, "USD", D(100000))
    assert reserve is not None and reserve > 0

    def with_extra(extra: D) -> bool:
        balances = {"USD": snapshot.balances["USD"] + extra}
        return run_stress(snapshot._replace(balances=balances), scenario).liquidated

    assert not with_extra(reserve) and with_extra(reserve - D("0.000001"))
    assert reserve_for(snapshot, scenario, "USD", D(1)) is None  # the ceiling is not enough


def test_the_reserve_for_a_liquidation_probability_is_the_least_that_reaches_it():
    snapshot = parse_account(_account([("BTC", "long", D(2)), ("ETH", "long", D(20))], D(12000)))
    pool = pool_of(snapshot, 0.0)
    model = build_model("gaussian", list(pool.assets), 4, vols={"BTC": 0.7, "ETH": 0.9})
    runs = {"steps": 42, "paths": 3000, "seed": 2}
    before = simulate(pool, model, **runs).liquidation_probability
    assert before > 0.1
    extra = reserve_for_probability(pool, model, 0.02, ceiling=200000.0, **runs)
    assert extra is not None and extra > 0
    at = simulate(pool.with_deposit(extra), model, **runs).liquidation_probability
    short = simulate(pool.with_deposit(extra * 0.98), model, **runs).liquidation_probability
    assert at <= 0.02 < short
    with pytest.raises(InputError, match="target"):
        reserve_for_probability(pool, model, 1.5, ceiling=1.0, **runs)


def test_largest_sizes_survive_every_worst_window_at_once():
    snapshot = parse_account(_account([("BTC", "long", D("0.5")), ("SOL", "short", D(100))], D(30000)))
    largest = largest_sizes(snapshot, window_hours=24)
    factor = largest.factor
    assert D(0) < factor < 100 and [row.key for row in largest.positions] == ["BTC-PERP", "SOL-PERP"]
    worst = worst_windows(["BTC", "SOL"], 24)
    assert worst["BTC"][0] < D("-0.3") and worst["SOL"][1] > D("0.2")  # March 2020, and SOL's best day
    # the long's asset takes its worst fall, the short's its worst rise
    assert largest.moves == {"BTC": worst["BTC"][0], "SOL": worst["SOL"][1]}

    def survives(scale: D) -> bool:
        moved = tuple(
            p._replace(size=p.size * scale).with_mark(
                p.mark_price * (1 + worst[p.instrument.base_asset][0 if p.side is Side.LONG else 1])
            )
            for p in snapshot.positions
        )
        return not evaluate_account(snapshot._replace(positions=moved), with_prices=False).liquidatable

    assert survives(factor) and not survives(factor * D("1.01"))


HEDGE_LEGS = {
    "venue": "binance-usdm",
    "balances": {"USDT": "5000"},
    "positions": [
        {"symbol": "BTCUSDT", "side": "long", "position_side": "long", "size": "1.0", "entry_price": "62000",
         "mark_price": "62000", "leverage": "20"},
        {"symbol": "BTCUSDT", "side": "short", "position_side": "short", "size": "1.0", "entry_price": "62000",
         "mark_price": "62000", "leverage": "20"},
    ],
}  # fmt: skip


def test_largest_sizes_move_one_price_per_asset_whatever_the_leg(tmp_path: Path):
    """A symbol has one price: long 1 BTC against short 1 BTC gains and loses nothing on any move,
    only its maintenance grows with the price, so the largest book is several times this one (a
    rise of BTC's worst 24 h lifts both legs' maintenance). Moving the long by BTC's worst fall and
    the short by its worst rise at once, as if BTC had two prices, sized it below a tenth."""
    snapshot = parse_account(HEDGE_LEGS)
    largest = largest_sizes(snapshot, window_hours=24)
    rise = worst_windows(["BTC"], 24)["BTC"][1]
    assert largest.moves == {"BTC": rise}
    assert largest.factor > 1
    legs = {row.key: row for row in largest.positions}
    assert set(legs) == {"BTCUSDT#long", "BTCUSDT#short"}
    assert legs["BTCUSDT#long"].largest == legs["BTCUSDT#short"].largest > D(1)
    # the largest book on BTC's one moved price: survives, and 1 % more does not
    scaled = [p._replace(size=p.size * largest.factor).with_mark(p.mark_price * (1 + rise)) for p in snapshot.positions]
    assert not evaluate_account(snapshot._replace(positions=tuple(scaled)), with_prices=False).liquidatable
    beyond = [p._replace(size=p.size * largest.factor * D("1.01")) for p in scaled]
    assert evaluate_account(snapshot._replace(positions=tuple(beyond)), with_prices=False).liquidatable
    account = tmp_path / "hedge.json"
    account.write_text(json.dumps(HEDGE_LEGS))
    result = CliRunner().invoke(app, ["guard", str(account), "--json"])
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)["largest_sizes"]
    assert D(document["factor"]) == largest.factor
    assert set(document["sizes"]) == {"BTCUSDT#long", "BTCUSDT#short"}  # one row per leg, none overwritten
    assert [(row["symbol"], row["position_side"]) for row in document["positions"]] == [
        ("BTCUSDT", "long"), ("BTCUSDT", "short")
    ]  # fmt: skip
    table = CliRunner().invoke(app, ["guard", str(account)], env={"COLUMNS": "80"})
    assert "long leg" in table.stdout and "short leg" in table.stdout


def test_a_net_long_hedge_takes_the_fall_on_both_legs():
    """Long 1 BTC and short 0.8 BTC on one symbol: net long, so BTC takes its worst fall, and the
    short leg's gain on that fall counts against the long leg's loss."""
    raw = json.loads(json.dumps(HEDGE_LEGS))
    raw["positions"][1]["size"] = "0.8"
    snapshot = parse_account(raw)
    largest = largest_sizes(snapshot, window_hours=24)
    fall = worst_windows(["BTC"], 24)["BTC"][0]
    assert largest.moves == {"BTC": fall}
    scaled = [p._replace(size=p.size * largest.factor).with_mark(p.mark_price * (1 + fall)) for p in snapshot.positions]
    assert not evaluate_account(snapshot._replace(positions=tuple(scaled)), with_prices=False).liquidatable
    # net 0.2 BTC long losing ~47 % against 5,000: about half the book survives, not a tenth of it
    assert largest.factor > D("0.5")


def test_leverage_follows_each_assets_tail():
    snapshot = parse_account(_account([("BTC", "long", D(1)), ("SOL", "long", D(10))], D(10000)))
    advice = {a.asset: a for a in leverage_advice(snapshot)}
    assert advice["SOL"].worst_day_quantile > advice["BTC"].worst_day_quantile
    assert advice["SOL"].recommended < advice["BTC"].recommended <= int(advice["BTC"].venue_max)


def test_trailing_buffer_counts_profit_by_milestone():
    buffer = TrailingBuffer()
    assert buffer.counted(D(40), D(1000)) == 0  # 4 %: below the first milestone
    assert buffer.counted(D(100), D(1000)) == D(25)  # 10 %: a quarter counts
    assert buffer.counted(D(400), D(1000)) == D(300)  # 40 %: three quarters
    assert buffer.counted(D(-50), D(1000)) == D(-50)  # losses count in full
    with pytest.raises(InputError, match="milestones"):
        TrailingBuffer(((D("0.2"), D("0.5")), (D("0.1"), D("0.6"))))


def test_command_line(tmp_path: Path):
    account = tmp_path / "a.json"
    account.write_text(json.dumps(_account([("BTC", "long", D(2)), ("ETH", "short", D(20))], D(20000))))
    result = CliRunner().invoke(app, ["guard", str(account), "--level", "1.3", "--json"])
    assert result.exit_code == 0, result.output
    document = json.loads(result.output)
    assert {"stops", "leverage", "largest_sizes", "reserve"} <= set(document)
    # net long (100,000 against 60,000 short): only a joint fall hurts, so only the long needs a stop
    assert [s["symbol"] for s in document["stops"]] == ["BTC-PERP"]
    assert document["largest_sizes"]["factor"] and document["reserve"]["amount"] is not None
    bad = CliRunner().invoke(app, ["guard", str(account), "--level", "0.5"])
    assert bad.exit_code == 2 and bad.output.startswith("error: level")


def test_the_reserve_of_a_net_short_covers_a_rise(tmp_path: Path):
    """A short is killed by a rise: the reserve survives a move of --reserve-move's size either way,
    and here the rise binds. A fall helps the short and needs nothing, which is all a reserve for
    a fall alone would have reported."""
    snapshot = parse_account(_account([("BTC", "short", D(2)), ("ETH", "long", D(10))], D(8000)))
    account = tmp_path / "short.json"
    account.write_text(json.dumps(_account([("BTC", "short", D(2)), ("ETH", "long", D(10))], D(8000))))
    result = CliRunner().invoke(app, ["guard", str(account), "--reserve-move", "-0.3", "--json"])
    assert result.exit_code == 0, result.output
    reserve = json.loads(result.stdout)["reserve"]
    assert reserve["scenario"] == "uniform +30.0%" and reserve["by_direction"]["down"] == "0"
    amount = D(reserve["amount"])
    assert amount > 0 and amount == D(reserve["by_direction"]["up"])
    rise = uniform(["BTC", "ETH"], D("0.3"), 10)

    def liquidated_with(extra: D) -> bool:
        return run_stress(snapshot._replace(balances={"USD": D(8000) + extra}), rise).liquidated

    assert liquidated_with(D(0)) and not liquidated_with(amount) and liquidated_with(amount - D("0.000001"))


def test_guard_reports_an_account_already_liquidatable(tmp_path: Path):
    """Health below 1 at its own marks: the guard says so, with the health, and its reserve is the
    deposit that lifts the account and survives the move (never the 0 a copy liquidated at once
    and then left flat would suggest)."""
    raw = _account([("BTC", "long", D(2)), ("ETH", "long", D(20))], D(600))
    raw["positions"][0]["mark_price"] = "49000"
    snapshot = parse_account(raw)
    assert evaluate_account(snapshot).liquidatable
    account = tmp_path / "down.json"
    account.write_text(json.dumps(raw))
    result = CliRunner().invoke(app, ["guard", str(account), "--json"])
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["liquidatable"] is True and D(document["health"]) < 1
    amount = D(document["reserve"]["amount"])
    lifted = snapshot._replace(balances={"USD": D(600) + amount})
    assert not evaluate_account(lifted).liquidatable
    assert not run_stress(lifted, uniform(["BTC", "ETH"], D("-0.3"), 10)).liquidated
    table = CliRunner().invoke(app, ["guard", str(account)])
    assert table.stdout.startswith("liquidatable now: health ")


def test_the_reserve_of_a_coin_margined_account_is_in_whole_units_of_its_coin():
    """examples/binance-coinm-tiered.json: the ceiling (the notional, in BTC) has more decimals than
    a deposit may; the search still deposits whole satoshis and finds the reserve."""
    example = Path(__file__).resolve().parent.parent / "examples" / "binance-coinm-tiered.json"
    result = CliRunner().invoke(app, ["guard", str(example), "--json"])
    assert result.exit_code == 0, result.output
    reserve = json.loads(result.stdout)["reserve"]
    amount = D(reserve["amount"])
    assert reserve["asset"] == "BTC" and amount > 0 and amount == amount.quantize(D("0.00000001"))
    snapshot = parse_account(json.loads(example.read_text()))
    fall = uniform(["BTC"], D("-0.3"), 10)
    topped = snapshot._replace(balances={"BTC": snapshot.balances["BTC"] + amount})
    assert run_stress(snapshot, fall).liquidated and not run_stress(topped, fall).liquidated
