"""What `stress` and `guard` tell a user about ordinary books: the default moves cover the direction
that hurts the book, a held asset is never silently left flat, an empty stops table says why, and
the tables read whole at 80 columns.

The accounts are the ones a new user tried: a net short (short 0.5 BTC and 5 ETH against 3,000
USDT, liquidated by a 6.24 % rise per `evaluate`), a Binance book long BTC and SOL and short ETH,
a Hyperliquid book that no joint move endangers, and a perfect hedge.
"""

from __future__ import annotations

import json
import re
from decimal import Decimal as D
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from crossmargin.cli.main import app
from crossmargin.margin.account import parse_account
from crossmargin.margin.evaluate import evaluate_account
from crossmargin.risk.scenarios import adverse_directions, betas, follow_btc, load_incident
from crossmargin.risk.stress import held_assets, run_stress

SHORT = {
    "venue": "binance-usdm",
    "balances": {"USDT": "3000"},
    "positions": [
        {"symbol": "BTCUSDT", "side": "short", "size": "0.5", "entry_price": "60000", "mark_price": "60000",
         "leverage": "20"},
        {"symbol": "ETHUSDT", "side": "short", "size": "5", "entry_price": "3000", "mark_price": "3000",
         "leverage": "20"},
    ],
}  # fmt: skip
NET_LONG = {
    "venue": "binance-usdm",
    "balances": {"USDT": "25000"},
    "positions": [
        {"symbol": "BTCUSDT", "side": "long", "size": "0.5", "entry_price": "64000", "mark_price": "62500",
         "leverage": "10"},
        {"symbol": "ETHUSDT", "side": "short", "size": "8", "entry_price": "3100", "mark_price": "3150",
         "leverage": "10"},
        {"symbol": "SOLUSDT", "side": "long", "size": "200", "entry_price": "140", "mark_price": "145.5",
         "leverage": "5"},
    ],
}  # fmt: skip
UNENDANGERED = {
    "venue": "hyperliquid",
    "balances": {"USDC": "9900"},
    "positions": [
        {"symbol": "BTC", "side": "long", "size": "0.2", "entry_price": "95000", "mark_price": "97000",
         "leverage": "20"},
        {"symbol": "ETH", "side": "short", "size": "3", "entry_price": "3500", "mark_price": "3600",
         "leverage": "25"},
    ],
}  # fmt: skip
PERFECT_HEDGE = {
    "venue": "binance-usdm",
    "balances": {"USDT": "5000"},
    "positions": [
        {"symbol": "BTCUSDT", "side": side, "position_side": side, "size": "1", "entry_price": "62000",
         "mark_price": "62000", "leverage": "20"}
        for side in ("long", "short")
    ],
}  # fmt: skip


def _run(tmp_path: Path, raw: dict[str, Any], *arguments: str) -> Any:
    account = tmp_path / "account.json"
    account.write_text(json.dumps(raw))
    result = CliRunner().invoke(app, [arguments[0], str(account), *arguments[1:]], env={"COLUMNS": "80"})
    assert result.exit_code == 0, result.output
    return result


def test_the_default_stress_of_a_net_short_is_a_rise(tmp_path: Path):
    """A net short is killed by a rise: `evaluate` puts its liquidation move at +6.24 % and none
    below. The default moves are rises of 10, 20 and 30 %, and each liquidates it; falls only
    (every row "no") was the defect."""
    (pool,) = evaluate_account(parse_account(SHORT)).pools
    assert pool.move.down is None and D("0.0624") < pool.move.up < D("0.0625")
    scenarios = json.loads(_run(tmp_path, SHORT, "stress", "--json").stdout)["scenarios"]
    names = [s["name"] for s in scenarios]
    assert names == [f"{kind} +{size}.0%" for kind in ("uniform", "beta x BTC") for size in (10, 20, 30)]
    assert all(s["liquidated"] for s in scenarios)


def test_the_default_directions_follow_the_evaluated_liquidation_moves():
    """The side of the liquidation move nearest zero first, both sides where there is one on
    both, and both where there is none (nothing tells which way hurts)."""
    assert adverse_directions(evaluate_account(parse_account(SHORT))) == (1,)
    longs = json.loads(json.dumps(SHORT))
    for position in longs["positions"]:
        position["side"] = "long"
    assert adverse_directions(evaluate_account(parse_account(longs))) == (-1,)
    (pool,) = evaluate_account(parse_account(NET_LONG)).pools  # down -70.7 %, up far beyond +1,000 %
    assert pool.move.down is not None and pool.move.up is not None and -pool.move.down < pool.move.up
    assert adverse_directions(evaluate_account(parse_account(NET_LONG))) == (-1, 1)
    flat = {"venue": "binance-usdm", "balances": {"USDT": "1000"}, "positions": []}
    assert adverse_directions(evaluate_account(parse_account(flat))) == (-1, 1)


def test_an_incident_moves_a_held_asset_it_has_no_data_for_by_its_beta_and_says_so(tmp_path: Path):
    """May 2021 has no SOL: it left the SOL long flat, so a net-long book showed a gain in the
    crash. SOL now follows BTC by its beta at every step; the JSON and the table say so."""
    snapshot = parse_account(NET_LONG)
    incident = load_incident("may-2021")
    assert not incident.moves_asset("SOL")
    followed = follow_btc(incident, held_assets(snapshot))
    beta = betas(["SOL"])["SOL"]
    assert followed.proxies == {"SOL": beta} and beta > 1
    for step in followed.steps:
        assert step.moves["SOL"] == max(D("-0.99"), beta * step.moves["BTC"])
    result = _run(tmp_path, NET_LONG, "stress", "--incident", "may-2021", "--json")
    (report,) = json.loads(result.stdout)["scenarios"]
    assert report["moved_by_beta"] == {"SOL": format(beta, "f")} and report["unmoved"] == []
    assert D(report["loss"]) > 0  # a net-long book loses in the May 2021 crash
    table = _run(tmp_path, NET_LONG, "stress", "--incident", "may-2021").stdout
    assert re.search(r"moved by beta x BTC's move, not by data of the day: SOL \(beta \d\.\d\d\) in may-2021", table)


def test_a_held_asset_a_scenario_does_not_move_is_named(tmp_path: Path):
    """Mango 2022 moves MNGO alone and has no BTC to scale by: the book's assets stay at their
    prices, and the report says which, rather than show an untouched book as a stressed one."""
    report = run_stress(parse_account(NET_LONG), follow_btc(load_incident("mango-2022"), ["BTC", "ETH", "SOL"]))
    assert report.unmoved == ("BTC", "ETH", "SOL") and report.proxies == {} and report.loss == 0
    result = _run(tmp_path, NET_LONG, "stress", "--incident", "mango-2022", "--json")
    (document,) = json.loads(result.stdout)["scenarios"]
    assert document["unmoved"] == ["BTC", "ETH", "SOL"] and document["moved_by_beta"] == {}
    table = _run(tmp_path, NET_LONG, "stress", "--incident", "mango-2022").stdout
    assert "not moved, left at their price: BTC, ETH, SOL in mango-2022" in table


@pytest.mark.parametrize("raw", [UNENDANGERED, PERFECT_HEDGE], ids=["unendangered", "perfect-hedge"])
def test_guard_says_why_there_is_no_stop(tmp_path: Path, raw: dict[str, Any]):
    """No joint move of every mark, from -99 % to +500 %, brings these pools to health 1.3: the
    guard says so in a line (and the JSON gives each position the reason) instead of printing an
    empty table."""
    document = json.loads(_run(tmp_path, raw, "guard", "--json").stdout)
    assert document["stops"] == []
    assert [(row["symbol"], row["side"]) for row in document["no_stop"]] == [
        (p["symbol"], p["side"]) for p in raw["positions"]
    ]
    assert all(row["reason"].endswith("brings health to 1.3") for row in document["no_stop"])
    text = _run(tmp_path, raw, "guard").stdout
    assert "none: no uniform joint move of every mark (a fall to -99 % or a rise to +500 %)" in " ".join(text.split())
    assert "┃ symbol ┃ side ┃ stop at" not in text  # no empty table


def test_a_perfect_hedge_is_not_sized_down_to_a_tenth(tmp_path: Path):
    """Long and short 1 BTC gain and lose nothing: the largest book is bounded by maintenance
    alone, several times this one (it was 0.0971 with the legs moved two ways at once)."""
    document = json.loads(_run(tmp_path, PERFECT_HEDGE, "guard", "--json").stdout)
    assert D(document["largest_sizes"]["factor"]) > 1
    assert set(document["largest_sizes"]["sizes"]) == {"BTCUSDT#long", "BTCUSDT#short"}


def _lines(text: str) -> list[str]:
    return text.splitlines()


def test_the_default_stress_table_fits_80_columns_in_one_part(tmp_path: Path):
    """Six rows, every figure whole, and no "(continued)" table split off for the bad debt: the
    equity before (the same in every row) stands above the table."""
    text = _run(tmp_path, SHORT, "stress").stdout
    document = json.loads(_run(tmp_path, SHORT, "stress", "--json").stdout)
    assert max(len(line) for line in _lines(text)) <= 80 and "…" not in text
    assert "(continued)" not in text
    assert "equity before: 3,000.00 USDT" in text
    for scenario in document["scenarios"]:
        row = next(line for line in _lines(text) if line.startswith(f"│ {scenario['name']} "))
        assert f"{D(scenario['loss']):,.2f}" in row and f"{D(scenario['bad_debt']):,.2f}" in row
        assert f"{D(scenario['min_health']):.4f}" in row


@pytest.mark.parametrize("raw", [SHORT, NET_LONG, PERFECT_HEDGE], ids=["short", "net-long", "hedge"])
def test_guard_fits_80_columns_with_one_line_headings(tmp_path: Path, raw: dict[str, Any]):
    """No line wider than 80 and no figure cut; each part's heading is one line (a table title
    used to wrap over three or four lines at the width of its narrow table)."""
    text = _run(tmp_path, raw, "guard").stdout
    document = json.loads(_run(tmp_path, raw, "guard", "--json").stdout)
    assert max(len(line) for line in _lines(text)) <= 80 and "…" not in text and "(continued)" not in text
    assert any(line.startswith("stops: fire before health 1.3 (uniform joint move)") for line in _lines(text))
    largest = document["largest_sizes"]
    assert any(line.startswith(f"largest sizes: {largest['factor']} x the book") for line in _lines(text))
    assert "leverage per asset from its 1-in-200 day" in _lines(text)
    for stop in document["stops"]:
        assert stop["trigger_price"] in text
    for row in largest["positions"]:
        assert any(row["symbol"] in line and row["largest_size"] in line for line in _lines(text))
    assert "(USDT)" in text or not document["stops"]  # the stop's unit in its header


def test_the_report_stresses_the_adverse_direction_and_names_what_it_did_not_move(tmp_path: Path):
    """`crossmargin report` runs the same uniform moves as `stress` (rises for the net short) and
    its stress section says which held assets an incident moved by a beta or left flat."""
    page = tmp_path / "short.html"
    _run(tmp_path, SHORT, "report", "--html", str(page), "--paths", "200")
    html = page.read_text(encoding="utf-8")
    assert "uniform +10.0%" in html and "uniform -10.0%" not in html
    assert "Not moved, left at their price: BTC, ETH in mango-2022, jelly-2025." in html


def test_a_wide_stress_table_wraps_names_then_drops_the_equity_after_before_it_splits():
    """Seven-figure amounts, bad debt and the library's longest names: at 80 columns the names wrap
    at their hyphens and the equity after (the equity before less the loss) gives way, with a line
    saying so; the table stays in one part and every figure whole."""
    import io

    from rich.console import Console

    from crossmargin.cli.risk_tables import stress_table
    from crossmargin.risk.stress import StressReport

    names = ["hyperliquid-eth-whale-2025", "binance-october-2025", "beta x BTC -30.0%"]
    reports = [
        StressReport(name, D("1030895.56"), D("0"), [D(2)], True, 3, D("4.25"), D("101097.28")) for name in names
    ]
    console = Console(width=80, record=True, color_system=None, file=io.StringIO())
    console.print(stress_table("faq.json · stress through the engine", reports, "USDT", console))
    text = console.export_text()
    assert max(len(line) for line in _lines(text)) <= 80 and "…" not in text and "(continued)" not in text
    assert "equity before: 1,030,895.56 USDT" in text and "1,030,895.56 │" in text and "101,097.28" in text
    assert "│ hyperliquid-eth- │" in text and "│ whale-2025       │" in text
    assert "│ beta x BTC       │" in text and "│ -30.0%           │" in text  # never broken at a minus sign
    assert "after 4 h 15 min" in text
    assert "equity after: the equity before less the loss" in text
    wide = Console(width=120, record=True, color_system=None, file=io.StringIO())
    wide.print(stress_table("t", reports, "USDT", wide))
    assert "│ hyperliquid-eth-whale-2025 │" in wide.export_text()  # room enough: nothing wraps or drops
    assert "equity after: the equity before" not in wide.export_text()
