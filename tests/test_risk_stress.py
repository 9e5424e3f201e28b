"""Stress through the engine on a copy of the account: the liquidation as the venue runs it."""

from __future__ import annotations

import json
from decimal import Decimal as D
from pathlib import Path

import pytest
from typer.testing import CliRunner

from crossmargin.cli.main import app
from crossmargin.margin.account import parse_account
from crossmargin.margin.evaluate import evaluate_account
from crossmargin.risk.scenarios import beta_scaled, betas, parse_scenario, uniform
from crossmargin.risk.stress import MAX_STEPS, StressScenario, StressStep, run_stress
from crossmargin.units import InputError

# scenarios/correlated-crash.yaml's account: two longs, each liquidation price ~19.8 % away
TWO_LONGS = {
    "venue": "generic",
    "balances": {"USD": "10780"},
    "positions": [
        {"symbol": "BTC-PERP", "side": "long", "size": "1", "entry_price": "50000", "mark_price": "50000",
         "leverage": "20"},
        {"symbol": "ETH-PERP", "side": "long", "size": "20", "entry_price": "2500", "mark_price": "2500",
         "leverage": "20"},
    ],
}  # fmt: skip


def test_a_uniform_move_liquidates_exactly_past_the_accounts_liquidation_move():
    """One margin implementation: the engine liquidates the copy where `evaluate` says the pool's
    uniform liquidation move lies (-9.88 % here), and not a little before it."""
    snapshot = parse_account(TWO_LONGS)
    (pool,) = evaluate_account(snapshot).pools
    move = pool.move.down
    assert move is not None and D("-0.0989") < move < D("-0.0987")
    short_of_it = run_stress(snapshot, uniform(["BTC", "ETH"], move + D("0.0005"), 1))
    past_it = run_stress(snapshot, uniform(["BTC", "ETH"], move - D("0.0005"), 1))
    assert not short_of_it.liquidated and short_of_it.min_health is not None and short_of_it.min_health > 1
    assert past_it.liquidated and past_it.liquidated_at_step == 1
    assert past_it.min_health is not None and past_it.min_health <= 1
    # neither position's own liquidation price (~19.8 % away) came near: the pool went as one
    assert past_it.equity_after == 0 and past_it.loss == past_it.equity_before


def test_a_thin_book_turns_a_liquidation_into_bad_debt():
    snapshot = parse_account(TWO_LONGS)
    path = uniform(["BTC", "ETH"], D("-0.12"), 4).steps
    normal = run_stress(snapshot, StressScenario("normal book", path))
    thin = run_stress(
        snapshot, StressScenario("book at 0.1 %", tuple(StressStep(s.hours, s.moves, depth=D("0.001")) for s in path))
    )
    assert normal.liquidated and thin.liquidated
    assert thin.bad_debt > normal.bad_debt  # the fills walk far past the bankruptcy price


def test_funding_alone_can_liquidate_and_a_frozen_mark_holds():
    snapshot = parse_account(TWO_LONGS)
    spike = parse_scenario(
        {"name": "funding spike", "steps": [{"hours": "8", "funding": {"BTC": "0.1", "ETH": "0.1"}}]}
    )
    report = run_stress(snapshot, spike)
    # 10 % of 100,000 of notional leaves 780 against 1,000 of maintenance, the marks unmoved
    assert report.liquidated and report.liquidated_at_step == 1
    assert report.min_health is not None and report.min_health <= 1  # the health the funding left
    frozen = parse_scenario(
        {"name": "frozen", "steps": [{"hours": "1", "moves": {"BTC": "-0.2", "ETH": "-0.2"}, "frozen": ["BTC", "ETH"]}]}
    )
    held = run_stress(snapshot, frozen)
    assert not held.liquidated and held.equity_after == held.equity_before
    # a feed clamped at -5 % reports -5 % while the market is 20 % down: no liquidation on its marks
    clamp = {"BTC": "-0.05", "ETH": "-0.05"}
    clamped = parse_scenario(
        {"name": "clamped", "steps": [{"hours": "1", "moves": {"BTC": "-0.2", "ETH": "-0.2"}, "clamp": clamp}]}
    )
    report = run_stress(snapshot, clamped)
    assert not report.liquidated and report.loss == D(5000)  # 5 % of 100,000 of notional


def test_a_collateral_depeg_liquidates_a_multi_asset_pool():
    account = {
        "venue": "binance-usdm",
        "asset_mode": "multi",
        "balances": {"USDC": "10000"},
        "prices": {"USDT": "1", "USDC": "1"},
        "positions": [
            {"symbol": "BTCUSDT", "side": "long", "size": "14", "entry_price": "50000", "mark_price": "49700",
             "leverage": "75"},
        ],
    }  # fmt: skip
    snapshot = parse_account(account)
    depeg = parse_scenario({"name": "USDC at 0.75", "steps": [{"hours": "1", "prices": {"USDC": "0.75"}}]})
    report = run_stress(snapshot, depeg)
    assert report.liquidated
    assert any(e["event"] == "auto_exchange" for e in report.events)


def test_betas_come_from_the_shipped_history_and_scale_the_move():
    found = betas(["BTC", "ETH", "ADA"])
    assert found["BTC"] == 1 and found["ETH"] > 1 and found["ADA"] > 1
    scenario = beta_scaled(["BTC", "ETH"], D("-0.2"), 2)
    last = scenario.steps[-1].moves
    assert last["BTC"] == D("-0.2") and last["ETH"] < last["BTC"]


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        ({"steps": [{"hours": "1"}]}, "name"),
        ({"name": "x", "steps": []}, "steps"),
        ({"name": "x", "steps": [{"hours": "1", "moves": {"BTC": "-1.5"}}]}, r"steps\[0\]\.moves\.BTC"),
        ({"name": "x", "steps": [{"hours": "1", "moves": {"BTC": 0.5}}]}, r"steps\[0\]\.moves\.BTC"),
        ({"name": "x", "steps": [{"hours": "2"}, {"hours": "1"}]}, r"steps\[1\]\.hours"),
        ({"name": "x", "steps": [{"hours": "1", "crash": "yes"}]}, r"steps\[0\]\.crash"),
        ({"name": "x", "colour": "red", "steps": [{"hours": "1"}]}, "colour"),
    ],
)
def test_bad_scenario_files_name_the_field(raw, field):
    with pytest.raises(InputError, match=field):
        parse_scenario(raw)


def test_command_line(tmp_path: Path):
    account = tmp_path / "two.json"
    account.write_text(json.dumps(TWO_LONGS))
    result = CliRunner().invoke(app, ["stress", str(account), "--uniform", "-0.1", "--steps", "5", "--json"])
    assert result.exit_code == 0, result.output
    (report,) = json.loads(result.output)["scenarios"]
    assert report["liquidated"] is True and report["liquidated_at_step"] == 5
    assert len(report["health_path"]) == 6 and report["bad_debt"] == "0"
    overridden = json.loads(json.dumps(TWO_LONGS))
    overridden["positions"][0]["mmr"] = "0.2"  # the account's own rate, not the tier's 1 %
    account.write_text(json.dumps(overridden))
    result = CliRunner().invoke(app, ["stress", str(account), "--uniform", "-0.1", "--steps", "5", "--json"])
    (report,) = json.loads(result.output)["scenarios"]
    assert report["liquidated"] is True and report["liquidated_at_step"] == 1  # 10,500 required: gone at -0.3 %


# long 1 BTC against short 20 ETH: each leg 60,000 of notional, health 6 at the start
HEDGED = {
    "venue": "binance-usdm",
    "balances": {"USDT": "3000"},
    "positions": [
        {"symbol": "BTCUSDT", "side": "long", "size": "1", "entry_price": "60000", "mark_price": "60000",
         "leverage": "20"},
        {"symbol": "ETHUSDT", "side": "short", "size": "20", "entry_price": "3000", "mark_price": "3000",
         "leverage": "20"},
    ],
}  # fmt: skip


@pytest.mark.parametrize("steps", [1, 10])
def test_a_hedged_book_is_not_liquidated_by_a_uniform_fall(steps):
    """Every mark of a step moves at one instant (`marks_update`), so the long's loss and the short's
    gain arrive together: a -10 % move leaves the book's health above 6. Moved one symbol after the
    other, the long alone lost 6,000 against a wallet of 3,000 and the copy was liquidated with bad debt."""
    snapshot = parse_account(HEDGED)
    report = run_stress(snapshot, uniform(["BTC", "ETH"], D("-0.1"), steps))
    assert not report.liquidated and report.bad_debt == 0
    assert report.min_health is not None and report.min_health >= 6
    assert report.equity_after == report.equity_before == D(3000)
    updates: dict[str, set[str]] = {}  # each command that moved a mark, and the symbols it moved
    for event in report.events:
        if event["event"] == "market":
            updates.setdefault(event["command_id"], set()).add(event["symbol"])
    assert len(updates) == steps and all(symbols == {"BTCUSDT", "ETHUSDT"} for symbols in updates.values())


def test_offsetting_legs_are_copied_whole_and_not_liquidated_on_the_way():
    """The long has lost 10,000 and the short gained 10,000: the account (wallet 3,000, health 6) is
    sound, but a copy holding the long alone would not be. The copy imports the winning leg first."""
    account = json.loads(json.dumps(HEDGED))
    account["positions"][0]["entry_price"] = "70000"
    account["positions"][1]["entry_price"] = "3500"
    snapshot = parse_account(account)
    assert not evaluate_account(snapshot).liquidatable
    report = run_stress(snapshot, uniform(["BTC", "ETH"], D("-0.01"), 1))
    assert not report.liquidated and report.liquidated_at_step is None
    assert report.equity_before == report.equity_after == D(3000)


def test_an_account_already_liquidatable_is_liquidated_at_step_0():
    """Health below 1 at the account's own marks: the venue liquidates before any move, and the
    report says so at step 0 with the starting health, whatever the scenario."""
    account = json.loads(json.dumps(TWO_LONGS))
    account["balances"]["USD"] = "1480"
    account["positions"][0]["mark_price"] = "49500"
    account["positions"][1]["mark_price"] = "2475"
    snapshot = parse_account(account)
    evaluation = evaluate_account(snapshot)
    assert evaluation.liquidatable
    for scenario in (uniform(["BTC", "ETH"], D("0.1"), 3), uniform(["BTC", "ETH"], D("-0.1"), 3)):
        report = run_stress(snapshot, scenario)
        assert report.liquidated and report.liquidated_at_step == 0 and report.liquidated_at_hours == 0
        assert report.health_path[0] == evaluation.lowest_health() and report.health_path[0] < 1
        assert report.equity_before == D(480)  # the account's own equity, before the venue acted
        assert report.equity_after < report.equity_before


def test_steps_past_the_limit_are_refused_before_any_work(tmp_path: Path):
    """`--steps` and a scenario file's steps stop at MAX_STEPS (docs/risk-lab.md): one line, exit 2."""
    account = tmp_path / "two.json"
    account.write_text(json.dumps(TWO_LONGS))
    result = CliRunner().invoke(app, ["stress", str(account), "--steps", str(MAX_STEPS + 1)])
    assert result.exit_code == 2 and result.stdout == ""
    assert result.stderr.strip() == f"error: steps: must lie between 1 and {MAX_STEPS:,}, got {MAX_STEPS + 1:,}"
    long_file = tmp_path / "long.yaml"
    steps = [{"hours": str(n + 1), "moves": {"BTC": "-0.0001"}} for n in range(MAX_STEPS + 1)]
    long_file.write_text(json.dumps({"name": "long", "steps": steps}))  # JSON is YAML
    result = CliRunner().invoke(app, ["stress", str(account), "--scenario", str(long_file)])
    assert result.exit_code == 2 and len(result.stderr.strip().splitlines()) == 1
    assert result.stderr.startswith("error: steps: at most 10,000 steps per scenario")


@pytest.mark.parametrize(
    ("terminal", "steps", "shown"), [("1", "300", "bar"), ("0", "6000", "lines"), ("0", "300", "")]
)
def test_a_long_stress_shows_its_progress_on_stderr(tmp_path: Path, terminal: str, steps: str, shown: str):
    """A bar on a terminal once the run has 200 steps; in a log, a line per tenth once it is long
    (5,000 steps); a short run in a log prints nothing. The JSON on stdout is never touched."""
    account = tmp_path / "two.json"
    account.write_text(json.dumps(TWO_LONGS))
    arguments = ["stress", str(account), "--uniform", "-0.01", "--steps", steps, "--json"]
    result = CliRunner().invoke(app, arguments, env={"TTY_COMPATIBLE": terminal, "TTY_INTERACTIVE": terminal})
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["scenarios"][0]["liquidated"] is False
    if shown == "bar":
        assert f"{steps}/{steps}" in result.stderr and "steps" in result.stderr and "━" in result.stderr
    elif shown == "lines":
        lines = result.stderr.strip().splitlines()
        assert lines == [f"stress: {n * 600:,}/6,000 steps" for n in range(1, 11)]
    else:
        assert result.stderr == ""


def test_funding_falls_on_the_funding_times_or_the_scenario_is_refused():
    """Funding is exchanged at the instrument's funding times only (every 8 h on the generic
    venue): a step that settles funding at hour 3 names its step and asset."""
    snapshot = parse_account(TWO_LONGS)
    off = parse_scenario({"name": "off", "steps": [{"hours": "3", "funding": {"ETH": "0.01"}}]})
    refusal = r"steps\[0\]\.funding\.ETH: hours 3 is not a funding time of ETH-PERP \(every 8 h\)"
    with pytest.raises(InputError, match=refusal):
        run_stress(snapshot, off)
    on = parse_scenario({"name": "on", "steps": [{"hours": "16", "funding": {"ETH": "0.01"}}]})
    paid = run_stress(snapshot, on)
    assert paid.loss == D(500)  # 1 % of 50,000 of ETH


def _unified(short_btc: str, entry: str, balances: dict[str, str]) -> dict:
    """A Bybit unified account: BTC held as collateral beside a BTC short (the cash-and-carry hedge)."""
    return {
        "venue": "bybit",
        "asset_mode": "multi",
        "balances": balances,
        "prices": {"USDT": "1", "BTC": "58000"},
        "positions": [
            {"symbol": "BTCUSDT", "side": "short", "size": short_btc, "entry_price": entry, "mark_price": "58000",
             "leverage": "10"},
        ],
    }  # fmt: skip


@pytest.mark.parametrize("steps", [1, 10])
def test_collateral_moves_with_its_asset_where_evaluate_moves_it(steps):
    """A uniform move moves every held asset, BTC held as collateral too, as `evaluate`'s
    liquidation move does: 1 BTC of collateral against a 1.5 BTC short is liquidated just past the
    evaluated rise and not just inside it. With the collateral left at its price, the short's loss
    met no collateral gain and the copy was liquidated well inside the evaluated move."""
    snapshot = parse_account(_unified("1.5", "58000", {"USDT": "2000", "BTC": "1"}))
    (pool,) = evaluate_account(snapshot).pools
    assert pool.move.down is None and pool.move.up is not None
    inside = run_stress(snapshot, uniform(["BTC"], pool.move.up * D("0.99"), steps))
    past = run_stress(snapshot, uniform(["BTC"], pool.move.up * D("1.01"), steps))
    assert not inside.liquidated and inside.unmoved == ()
    assert past.liquidated


def test_collateral_and_marks_of_a_step_never_show_a_moment_worse_than_the_step(monkeypatch):
    """1 BTC of collateral against a 1 BTC short opened at 40,000: the pool holds 40,000 whatever
    BTC does. The engine checks the account after each command, so a step's collateral price and
    its marks go in the order that leaves the account healthier in between: a 70 % fall moves the
    short's mark first, a 70 % rise the collateral first. Either the other way round shows the
    engine a pool that never existed, and it liquidates it."""
    from crossmargin.risk import stress

    snapshot = parse_account(_unified("1", "40000", {"BTC": "1"}))
    for move in (D("-0.7"), D("0.7")):
        report = run_stress(snapshot, uniform(["BTC"], move, 1))
        assert not report.liquidated and report.equity_after == report.equity_before == D(40000)
    for move, wrong in ((D("-0.7"), ["prices", "marks"]), (D("0.7"), ["marks", "prices"])):
        monkeypatch.setattr(stress, "_price_then_marks_order", lambda *_, order=wrong: order)
        assert run_stress(snapshot, uniform(["BTC"], move, 1)).liquidated
