"""The incident library: every file runs end to end through the engine, and each carries the move
its sources document."""

from __future__ import annotations

import json
from decimal import Decimal as D
from pathlib import Path

import pytest
from typer.testing import CliRunner

from crossmargin.cli.main import app
from crossmargin.margin.account import parse_account
from crossmargin.risk.scenarios import INCIDENTS, load_incident
from crossmargin.risk.stress import run_stress

BASKET = {
    "venue": "generic",
    "balances": {"USD": "40000"},
    "positions": [
        {"symbol": f"{asset}-PERP", "side": "long", "size": size, "entry_price": price, "mark_price": price,
         "leverage": "20"}
        for asset, size, price in [("BTC", "2", "50000"), ("ETH", "20", "3000"), ("SOL", "300", "150"),
                                   ("XRP", "50000", "0.6"), ("ADA", "50000", "0.5"), ("DOGE", "100000", "0.2")]
    ],
}  # fmt: skip


def _extreme(name: str, asset: str, pick: object = min) -> D:
    scenario = load_incident(name)
    return pick(step.moves[asset] for step in scenario.steps if asset in step.moves)  # type: ignore[operator]


@pytest.mark.parametrize("name", INCIDENTS)
def test_every_incident_runs_end_to_end_through_the_engine(name):
    report = run_stress(parse_account(BASKET), load_incident(name))
    assert report.loss == report.equity_before - report.equity_after
    assert len(report.health_path) == len(load_incident(name).steps) + 1
    if report.liquidated:
        assert report.health_path[report.liquidated_at_step] <= 1  # the step that liquidated it


def test_the_documented_moves():
    assert _extreme("march-2020", "BTC") <= D("-0.45")  # ~-50 % in ~16 h (hourly closes: -48.7 %)
    assert _extreme("may-2021", "ETH") <= D("-0.3")  # ETH -40-46 % intraday (hourly closes: -33.5 %)
    assert _extreme("luna-2022", "LUNA") <= D("-0.9999")  # -99.99 % in ~5 days
    assert _extreme("mango-2022", "MNGO", max) >= D("13")  # $0.0382 -> $0.54 (+1,314 %)
    assert load_incident("mango-2022").steps[-1].moves["MNGO"] <= D("-0.45")  # back to ~$0.02
    assert _extreme("ftx-2022", "FTT") <= D("-0.9")  # FTT > -90 % by 13 November
    assert _extreme("jelly-2025", "JELLY", max) == D("4")  # +400 % within the hour ...
    assert load_incident("jelly-2025").steps[-1].moves["JELLY"] == 0  # ... settled at $0.0095
    whale = load_incident("hyperliquid-eth-whale-2025")
    assert max(s.moves["ETH"] for s in whale.steps) - min(s.moves["ETH"] for s in whale.steps) >= D("0.02")


def test_blackouts_books_and_frozen_oracles_are_where_the_sources_put_them():
    march = load_incident("march-2020")
    assert [s.hours for s in march.steps if s.blackout] == [D(26), D(27)]  # 02:16 UTC on the 13th
    assert all(s.depth == D("0.15") for s in march.steps if D(10) <= s.hours <= D(30))
    luna = load_incident("luna-2022")
    clamped = [n for n, s in enumerate(luna.steps) if "LUNA" in s.clamp]
    assert clamped and clamped == list(range(clamped[0], len(luna.steps)))  # from the floor on, to the end
    floor = luna.steps[clamped[0]].clamp["LUNA"]
    assert D("-0.9990") < floor < D("-0.9985")  # $0.107 against ~$80: the feed's minAnswer
    assert all(s.moves["LUNA"] < floor for s in luna.steps[clamped[0] :])  # the market went on below it
    assert min(s.prices["UST"] for s in luna.steps if "UST" in s.prices) < D("0.3")


def test_october_2025_wbeth_own_book_price_collapses_for_forty_minutes_while_its_conversion_holds():
    """21:36-22:16 UTC: wBETH at ~$430 on Binance's own book with ETH at ~$3,800 (-88 % against ETH);
    outside that window the file carries its conversion value (ETH's price)."""
    scenario = load_incident("binance-october-2025")
    start_eth = None
    collapsed = []
    for step in scenario.steps:
        wbeth = step.prices["WBETH"]
        if wbeth == D("430"):
            collapsed.append(step.hours)
        else:
            eth = wbeth / (1 + step.moves["ETH"])  # the conversion value tracks ETH's own move
            start_eth = start_eth or eth
            assert abs(eth / start_eth - 1) < D("0.01")
    minutes = (collapsed[-1] - collapsed[0]) * 60 + 5
    assert D(35) <= minutes <= D(45)  # about 40 minutes of 5-minute closes
    assert collapsed[0] >= D("1.6") and collapsed[-1] <= D("2.27")  # between 21:36 and 22:16
    assert _extreme("binance-october-2025", "SOL") <= D("-0.25")


def test_command_line_runs_the_whole_library(tmp_path: Path):
    account = tmp_path / "basket.json"
    account.write_text(json.dumps(BASKET))
    result = CliRunner().invoke(app, ["stress", str(account), "--incident", "all", "--json"])
    assert result.exit_code == 0, result.output
    names = [s["name"] for s in json.loads(result.output)["scenarios"]]
    assert names == list(INCIDENTS)
    unknown = CliRunner().invoke(app, ["stress", str(account), "--incident", "tulips-1637"])
    assert unknown.exit_code == 2 and unknown.output.startswith("error: incident")
