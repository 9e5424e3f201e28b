"""Monte Carlo liquidation odds: theory, exact replays, reproducibility and the command line."""

from __future__ import annotations

import json
import math
from pathlib import Path
from statistics import NormalDist

import numpy as np
import pytest
from typer.testing import CliRunner

from crossmargin.cli.main import app
from crossmargin.margin.account import parse_account
from crossmargin.margin.evaluate import evaluate_account
from crossmargin.risk.engine_copy import account_equity
from crossmargin.risk.exact_paths import engine_decisions, exact_decisions
from crossmargin.risk.models import build_model
from crossmargin.risk.montecarlo import funding_events, pool_of, simulate
from crossmargin.units import InputError

LONG = {
    "venue": "generic",
    "balances": {"USD": "10000"},
    "positions": [{"symbol": "BTC-PERP", "side": "long", "size": "1", "entry_price": "50000", "mark_price": "50000"}],
}
BASKET = {
    "venue": "binance-usdm",
    "balances": {"USDT": "9000"},
    "positions": [
        {"symbol": "BTCUSDT", "side": "long", "size": "0.8", "entry_price": "60000", "mark_price": "61000"},
        {"symbol": "ETHUSDT", "side": "long", "size": "12", "entry_price": "3000", "mark_price": "2950"},
        {"symbol": "XRPUSDT", "side": "short", "size": "20000", "entry_price": "0.6", "mark_price": "0.58"},
    ],
}


def test_one_long_matches_brownian_first_passage_with_the_discrete_monitoring_correction():
    """One linear long, Gaussian log prices with zero drift, no funding. It is liquidated when
    10,000 + (P - 50,000) <= 1 % x P, i.e. below B = 40,000 / 0.99. For Brownian motion the
    probability of touching log(B / P0) = b within T is 2 Phi(b / (sigma sqrt T)). Checking only
    every dt shifts the barrier away by 0.5826 sigma sqrt(dt) (Broadie, Glasserman and Kou,
    "A continuity correction for discrete barrier options", Mathematical Finance 7, 1997)."""
    pool = pool_of(parse_account(LONG), 0.0)
    sigma, steps, step_hours = 0.8, 720, 1
    model = build_model("gaussian", ["BTC"], step_hours, vols={"BTC": sigma}, correlations={})
    result = simulate(pool, model, steps=steps, paths=30000, seed=11)
    b = math.log(40000 / 0.99 / 50000)
    horizon = sigma * math.sqrt(steps * step_hours / (365 * 24))
    shift = 0.5826 * sigma * math.sqrt(step_hours / (365 * 24))
    theory = 2 * NormalDist().cdf((b - shift) / horizon)
    assert abs(result.liquidation_probability - theory) <= 3 * result.standard_error
    # the correction matters here: the continuous formula is about 3 standard errors off
    assert abs(2 * NormalDist().cdf(b / horizon) - theory) > 2 * result.standard_error


@pytest.mark.parametrize("model_name", ["gaussian", "student-t", "bootstrap"])
def test_the_float_simulation_makes_the_exact_decisions(model_name):
    """The same paths walked with the margin functions (exact decimals, funding booked to the
    unit) liquidate at the same step on every path."""
    snapshot = parse_account(BASKET)
    pool = pool_of(snapshot, 0.001)  # a heavy funding rate, so that funding matters
    model = build_model(model_name, list(pool.assets), 4)
    result = simulate(pool, model, steps=60, paths=300, seed=5)
    exact = exact_decisions(snapshot, pool, model, steps=60, paths=300, seed=5)
    assert 0.05 < np.mean(exact >= 0) < 0.95  # the account is at real risk over the horizon
    np.testing.assert_array_equal(result.liquidated_at, exact)


@pytest.mark.parametrize("model_name", ["gaussian", "bootstrap"])
def test_the_engine_itself_makes_the_same_decisions(model_name):
    """The same paths fed to the engine (a copy of the account; all marks at once each step, then
    funding at the funding times) are liquidated at the same step as in the simulation."""
    snapshot = parse_account(BASKET)
    pool = pool_of(snapshot, 0.001)
    model = build_model(model_name, list(pool.assets), 4)
    result = simulate(pool, model, steps=60, paths=200, seed=5)
    engine = engine_decisions(snapshot, pool, model, steps=60, paths=200, seed=5)
    assert 0.05 < np.mean(engine >= 0) < 0.95
    np.testing.assert_array_equal(result.liquidated_at, engine)


def test_a_seed_gives_the_same_paths_and_another_seed_other_paths():
    pool = pool_of(parse_account(BASKET), None)
    model = build_model("bootstrap", list(pool.assets), 1)
    first = simulate(pool, model, steps=200, paths=5000, seed=3)
    again = simulate(pool, model, steps=200, paths=5000, seed=3)
    other = simulate(pool, model, steps=200, paths=5000, seed=4)
    np.testing.assert_array_equal(first.liquidated_at, again.liquidated_at)
    np.testing.assert_array_equal(first.final_equity, again.final_equity)
    assert not np.array_equal(first.min_health, other.min_health)


def test_funding_falls_on_the_funding_times():
    pool = pool_of(parse_account(BASKET), None)
    hourly = funding_events(pool, 48, 1)
    assert hourly.sum(axis=0).tolist() == [6, 6, 6]  # Binance: every 8 h over two days
    assert np.flatnonzero(hourly[:, 0]).tolist() == [7, 15, 23, 31, 39, 47]
    assert funding_events(pool, 2, 24).tolist() == [[3, 3, 3], [3, 3, 3]]


def test_funding_drains_a_long_when_longs_pay():
    pool_paid = pool_of(parse_account(LONG), 0.003)
    pool_free = pool_of(parse_account(LONG), 0.0)
    model = build_model("gaussian", ["BTC"], 1, vols={"BTC": 0.5}, correlations={})
    paid = simulate(pool_paid, model, steps=720, paths=4000, seed=9)
    free = simulate(pool_free, model, steps=720, paths=4000, seed=9)
    assert paid.liquidation_probability > free.liquidation_probability
    assert np.all(paid.final_equity <= free.final_equity + 1e-6)


def test_refusals_name_the_field():
    two_coins = {
        "venue": "binance-coinm",
        "balances": {"BTC": "1", "ETH": "10"},
        "positions": [
            {"symbol": "BTCUSD_PERP", "side": "long", "size": "100", "entry_price": "60000", "mark_price": "60000"},
            {
                "symbol": "ETHUSD_PERP",
                "side": "long",
                "size": "100",
                "entry_price": "3000",
                "mark_price": "3000",
                "mmr": "0.005",
            },
        ],
    }
    with pytest.raises(
        InputError, match=r"positions: one settlement asset at a time; these settle in \['BTC', 'ETH'\]"
    ):
        pool_of(parse_account(two_coins), None)
    with pytest.raises(InputError, match="model"):
        build_model("levy", ["BTC"], 1)
    with pytest.raises(InputError, match=r"corr\.BTC:ETH"):
        build_model("gaussian", ["BTC", "ETH"], 1, vols={"BTC": 0.5, "ETH": 0.6}, correlations={("BTC", "ETH"): 1.5})
    with pytest.raises(InputError, match="no price history for PEPE"):
        build_model("bootstrap", ["PEPE"], 1)


# accounts at real risk within a week: a cross pool beside an isolated position; multi-asset pools
# whose BTC collateral moves along BTC's path (the generic rulebook's second haircut slice above
# 50 BTC, Bybit's fee to close inside maintenance, OKX's inverse contract settling in BTC)
CROSS_AND_ISOLATED = BASKET | {
    "positions": [
        BASKET["positions"][0],
        BASKET["positions"][1] | {"margin_mode": "isolated", "isolated_margin": "2500", "leverage": "20"},
        BASKET["positions"][2],
    ]
}
GENERIC_MULTI = {
    "venue": "generic", "asset_mode": "multi", "balances": {"USD": "-2800000", "BTC": "60"},
    "prices": {"BTC": "50000"},
    "positions": [
        {"symbol": "ETH-PERP", "side": "long", "size": "100", "entry_price": "2500", "mark_price": "2500"},
        {"symbol": "BTC-PERP", "side": "short", "size": "2", "entry_price": "50000", "mark_price": "50000"},
    ],
}  # fmt: skip
BYBIT_UNIFIED = {
    "venue": "bybit", "asset_mode": "multi", "balances": {"USDT": "1500", "BTC": "0.05"},
    "prices": {"USDT": "1", "BTC": "58000"},
    "positions": [
        {"symbol": "ETHUSDT", "side": "long", "size": "10", "entry_price": "2600", "mark_price": "2540",
         "leverage": "10"},
        {"symbol": "SOLUSDT", "side": "short", "size": "250", "entry_price": "142", "mark_price": "139.5",
         "leverage": "10"},
    ],
}  # fmt: skip
OKX_MULTI = {
    "venue": "okx", "asset_mode": "multi", "balances": {"USDT": "3000", "BTC": "0.2"},
    "prices": {"USDT": "1", "BTC": "60000"},
    "positions": [
        {"symbol": "BTC-USDT-SWAP", "side": "long", "size": "6", "entry_price": "59000", "mark_price": "60000",
         "leverage": "10"},
        {"symbol": "BTC-USD-SWAP", "side": "short", "size": "600", "entry_price": "61000", "mark_price": "60000",
         "leverage": "10", "mmr": "0.005", "maintenance_amount": "0"},
    ],
}  # fmt: skip


@pytest.mark.parametrize(
    "account",
    [CROSS_AND_ISOLATED, GENERIC_MULTI, BYBIT_UNIFIED, OKX_MULTI],
    ids=["isolated", "generic", "bybit", "okx"],
)
def test_isolated_positions_and_multi_asset_pools_make_the_exact_decisions(account):
    """Each part the venue liquidates on its own (a cross pool, an isolated position, a multi-asset
    pool with haircut collateral) is checked at every step; the same paths walked with the margin
    functions liquidate at the same step on every path."""
    snapshot = parse_account(account)
    pool = pool_of(snapshot, 0.001)
    assert pool.start_equity == pytest.approx(float(account_equity(evaluate_account(snapshot))))
    if snapshot.asset_mode == "multi":  # BTC held as collateral moves with BTC, position or not
        assert "BTC" in pool.assets and pool.collateral.driver[pool.collateral.assets.index("BTC")] >= 0
    model = build_model("gaussian", list(pool.assets), 4)
    result = simulate(pool, model, steps=40, paths=150, seed=5)
    exact = exact_decisions(snapshot, pool, model, steps=40, paths=150, seed=5)
    assert 0.05 < np.mean(exact >= 0) < 0.95
    np.testing.assert_array_equal(result.liquidated_at, exact)


def test_the_engine_liquidates_an_isolated_position_where_the_simulation_does():
    snapshot = parse_account(CROSS_AND_ISOLATED)
    pool = pool_of(snapshot, 0.001)
    model = build_model("gaussian", list(pool.assets), 4)
    result = simulate(pool, model, steps=40, paths=100, seed=5)
    engine = engine_decisions(snapshot, pool, model, steps=40, paths=100, seed=5)
    assert 0.05 < np.mean(engine >= 0) < 0.95
    np.testing.assert_array_equal(result.liquidated_at, engine)


LIQUIDATABLE = {  # 1 BTC long down 1,000 against 480 USDT: margin balance below zero
    "venue": "binance-usdm",
    "balances": {"USDT": "480"},
    "positions": [{"symbol": "BTCUSDT", "side": "long", "size": "1", "entry_price": "60000", "mark_price": "59000"}],
}


def test_an_account_already_liquidatable_is_liquidated_on_every_path_at_every_horizon(tmp_path: Path):
    """The venue liquidates it at its own marks, before the market moves: probability 1 from the
    first step on, whatever the path (a rise would otherwise rescue some paths)."""
    for account in (LIQUIDATABLE, json.loads(Path("examples/dydx-below-maintenance.json").read_text())):
        snapshot = parse_account(account)
        assert evaluate_account(snapshot).liquidatable
        pool = pool_of(snapshot, None)
        assert pool.liquidatable_at_start
        model = build_model("gaussian", list(pool.assets), 1, vols={a: 2.0 for a in pool.assets}, drift=5.0)
        result = simulate(pool, model, steps=48, paths=500, seed=1)
        assert result.liquidation_probability == 1 and np.all(result.liquidated_at == 0)
        assert np.all(exact_decisions(snapshot, pool, model, steps=48, paths=50, seed=1) == 0)
    snapshot = parse_account(LIQUIDATABLE)
    pool = pool_of(snapshot, None)
    assert np.all(engine_decisions(snapshot, pool, model, steps=48, paths=20, seed=1) == 0)
    account = tmp_path / "liquidatable.json"
    account.write_text(json.dumps(LIQUIDATABLE))
    result = CliRunner().invoke(app, ["montecarlo", str(account), "--paths", "300", "--horizon", "2d", "--json"])
    document = json.loads(result.stdout)
    assert float(document["liquidation_probability"]) == 1 and document["liquidatable_at_start"] is True
    assert document["standard_error"] == "0.0"


def test_command_line_json_has_the_interface_keys(tmp_path: Path):
    account = tmp_path / "long.json"
    account.write_text(json.dumps(LONG))
    arguments = ["montecarlo", str(account), "--model", "gaussian", "--horizon", "10d", "--step", "1h"]
    arguments += ["--paths", "2000", "--seed", "7", "--vol", "BTC=0.8", "--drift", "0", "--funding-rate", "0", "--json"]
    result = CliRunner().invoke(app, arguments)
    assert result.exit_code == 0, result.output
    document = json.loads(result.output)
    for key in ("liquidation_probability", "standard_error", "min_health_quantiles", "expected_shortfall"):
        assert key in document
    assert 0 < float(document["liquidation_probability"]) < 1
    again = CliRunner().invoke(app, arguments)
    assert json.loads(again.output) == document  # seeded: the same answer


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        (["--horizon", "30x"], "horizon"),
        (["--step", "7h", "--horizon", "1d"], "step"),
        (["--vol", "BTC=abc"], "vol.BTC"),
        (["--corr", "BTC=0.5"], "corr"),
        (["--model", "levy"], "model"),
        (["--paths", "0"], "paths"),
        (["--paths", "1000001"], "paths"),
        (["--horizon", "366d"], "horizon"),
    ],
)
def test_command_line_bad_input_is_one_line_and_exit_2(tmp_path: Path, extra: list[str], field: str):
    account = tmp_path / "long.json"
    account.write_text(json.dumps(LONG))
    result = CliRunner().invoke(app, ["montecarlo", str(account), "--paths", "100", *extra])
    assert result.exit_code == 2
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith(f"error: {field}")


@pytest.mark.parametrize("example", ["binance-hedge-mode.json", "binance-faq-cross.json"])
def test_hedge_legs_and_fixed_rates_make_the_same_decisions_in_the_engine(example: str):
    """The README's fixed-rate account and the hedge-mode example: the simulation, the margin
    functions and the engine (its copy holding each position's own rate, each leg on its own)
    liquidate every path at the same step."""
    snapshot = parse_account(json.loads((Path("examples") / example).read_text()))
    pool = pool_of(snapshot, 0.001)
    model = build_model("gaussian", list(pool.assets), 4, vols={a: 1.5 for a in pool.assets})
    result = simulate(pool, model, steps=40, paths=80, seed=5)
    exact = exact_decisions(snapshot, pool, model, steps=40, paths=80, seed=5)
    engine = engine_decisions(snapshot, pool, model, steps=40, paths=80, seed=5)
    assert 0.05 < np.mean(exact >= 0) < 0.95
    np.testing.assert_array_equal(result.liquidated_at, exact)
    np.testing.assert_array_equal(result.liquidated_at, engine)
