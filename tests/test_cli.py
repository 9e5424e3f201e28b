"""The ``crossmargin`` command as a user runs it: real subprocesses, exit codes, JSON."""

from __future__ import annotations

import json
import subprocess
import sys
from decimal import Decimal as D
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = sorted((ROOT / "examples").glob("*.json"))
CCXT = ROOT / "tests" / "fixtures" / "ccxt"
FAQ = json.loads((ROOT / "examples" / "binance-faq-cross.json").read_text())


def run(*args: str, env_rules: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = None
    if env_rules is not None:
        import os

        env = dict(os.environ, CROSSMARGIN_RULES_DIR=str(env_rules))
    return subprocess.run(
        [sys.executable, "-m", "crossmargin", *args],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
        env=env,
        timeout=120,
    )


def test_examples_cover_the_required_accounts():
    names = {path.stem for path in EXAMPLES}
    assert {
        "binance-faq-cross",
        "binance-isolated",
        "binance-hedge-mode",
        "binance-coinm-perp-and-quarterly",
        "binance-losing-short",
    } <= names
    # the five more venues and multi-asset collateral
    assert {
        "hyperliquid-isolated",
        "hyperliquid-cross",
        "okx-single-currency-cross",
        "okx-multi-currency",
        "bybit-inverse-isolated",
        "bybit-unified",
        "dydx-below-maintenance",
        "binance-multi-assets",
    } <= names


def test_multi_asset_and_venue_examples_report_what_the_venue_computes():
    documents = {
        path.stem: json.loads(run("evaluate", str(path), "--json").stdout)
        for path in EXAMPLES
        if path.stem in {"dydx-below-maintenance", "okx-single-currency-cross", "binance-multi-assets"}
    }
    dydx = documents["dydx-below-maintenance"]
    assert dydx["liquidatable"] is True and D(dydx["pools"][0]["health"]) < 1
    okx = documents["okx-single-currency-cross"]["pools"][0]
    # OKX: maintenance 90,000 x 0.4 % = 360 plus the liquidation fee 90,000 x 0.05 % = 45
    assert okx["maintenance_margin"] == "405.00000000" and okx["margin_ratio"] == okx["health"]
    multi = documents["binance-multi-assets"]
    assert multi["asset_mode"] == "multi" and multi["pools"][0]["settlement_asset"] == "USD"
    assert {row["asset"] for row in multi["pools"][0]["assets"]} == {"USDT", "USDC"}


def test_evaluate_all_examples_human_output():
    result = run("evaluate", *map(str, EXAMPLES))
    assert result.returncode == 0, result.stderr
    assert "A 7.69% fall of every mark liquidates this USDT pool." in result.stdout
    assert "rise of every mark liquidates this USDT pool" in result.stdout  # the losing short


def test_evaluate_json_carries_decimal_strings():
    result = run("evaluate", str(ROOT / "examples" / "binance-faq-cross.json"), "--json")
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    pool = document["pools"][0]
    assert document["venue"] == "binance-usdm" and document["liquidatable"] is False
    for key in (
        "wallet_balance",
        "unrealized_pnl",
        "margin_balance",
        "initial_margin",
        "maintenance_margin",
        "margin_ratio",
        "health",
        "available_balance",
        "max_withdrawable",
    ):
        assert isinstance(pool[key], str)
        D(pool[key])
    assert pool["liquidation_move"] == {"down": "-0.076942", "up": None}
    eth, btc = pool["positions"]
    # as Binance's API prints them (8 decimals toward its safety), and snapped to the tick
    assert (eth["liquidation_price"], btc["liquidation_price"]) == ("1153.25646424", "26316.89326452")
    assert (eth["liquidation_price_tick"], btc["liquidation_price_tick"]) == ("1153.26", "26316.90")
    assert D(pool["margin_ratio"]).quantize(D("0.0001")) == D("0.4149")
    assert document["isolated"] == []


def test_evaluate_json_of_several_files_is_a_list():
    result = run("evaluate", *map(str, EXAMPLES), "--json")
    assert result.returncode == 0, result.stderr
    documents = json.loads(result.stdout)
    assert isinstance(documents, list) and len(documents) == len(EXAMPLES)
    hedge = next(d for d in documents if any(len(p["positions"]) == 3 for p in d["pools"]))
    legs = [p for p in hedge["pools"][0]["positions"] if p["symbol"] == "BTCUSDT"]
    assert legs[0]["liquidation_price"] == legs[1]["liquidation_price"]


def _bad_account(tmp_path: Path, mutate) -> Path:  # type: ignore[no-untyped-def]
    account = json.loads(json.dumps(FAQ))
    mutate(account)
    path = tmp_path / "account.json"
    path.write_text(json.dumps(account))
    return path


BAD = {
    "unknown venue": (lambda a: a.update(venue="nowhere"), "venue: unknown venue 'nowhere'"),
    "unknown symbol": (lambda a: a["positions"][0].update(symbol="FOOUSDT"), "positions[0].symbol: unknown symbol"),
    "missing mark": (lambda a: a["positions"][1].pop("mark_price"), "positions[1].mark_price: is missing"),
    "negative size": (lambda a: a["positions"][0].update(size="-3"), "positions[0].size: must be positive"),
    "malformed number": (lambda a: a["balances"].update(USDT="12,5"), "balances.USDT: is not a decimal number"),
    "nan": (lambda a: a["positions"][0].update(entry_price="NaN"), "positions[0].entry_price: must be a finite"),
    "isolated without margin": (
        lambda a: a["positions"][0].update(margin_mode="isolated"),
        "positions[0].isolated_margin: is required",
    ),
    "bad side": (lambda a: a["positions"][0].update(side="up"), "positions[0].side: must be one of long, short"),
    "unknown key": (lambda a: a["positions"][0].update(entryPrice="1"), "positions[0].entryPrice: is not a known key"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_input_exits_2_with_one_line_naming_the_field(tmp_path, case):
    mutate, expected = BAD[case]
    result = run("evaluate", str(_bad_account(tmp_path, mutate)))
    assert result.returncode == 2
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr
    assert expected in lines[0]


def test_truncated_file_exits_2(tmp_path):
    path = tmp_path / "truncated.json"
    path.write_text(json.dumps(FAQ)[:120])
    result = run("evaluate", str(path))
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0 and "is not valid JSON" in result.stderr


def test_missing_file_exits_2(tmp_path):
    result = run("evaluate", str(tmp_path / "absent.json"))
    assert result.returncode == 2 and "cannot be read" in result.stderr


def test_venues_list_and_show():
    listed = run("venues", "list")
    assert listed.returncode == 0 and "binance-usdm" in listed.stdout and "binance-coinm" in listed.stdout
    shown = run("venues", "show", "binance-usdm", "BTC/USDT:USDT")
    assert shown.returncode == 0 and "BTCUSDT" in shown.stdout and "0.004" in shown.stdout
    overview = run("venues", "show", "binance-coinm")
    assert overview.returncode == 0 and "BTCUSD_PERP" in overview.stdout and "sources:" in overview.stdout
    missing = run("venues", "show", "binance-usdm", "NOPE")
    assert missing.returncode == 2 and "SYMBOL: unknown symbol 'NOPE'" in missing.stderr


def test_import_ccxt_builds_a_rulebook_that_evaluates(tmp_path):
    result = run(
        "venues",
        "import-ccxt",
        str(CCXT / "binanceusdm_markets.json"),
        str(CCXT / "binanceusdm_tiers.json"),
        "--name",
        "my-binance",
        "--as-of",
        "2024-10-24",
        env_rules=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    written = tmp_path / "my-binance@2024-10-24.yaml"
    assert written.is_file()
    shown = run("venues", "show", "my-binance", "ETH/USDT:USDT", env_rules=tmp_path)
    assert shown.returncode == 0 and "ETHUSDT" in shown.stdout
    account = dict(json.loads(json.dumps(FAQ)), venue="my-binance")
    path = tmp_path / "account.json"
    path.write_text(json.dumps(account))
    evaluated = run("evaluate", str(path), "--json", env_rules=tmp_path)
    assert evaluated.returncode == 0, evaluated.stderr
    eth = json.loads(evaluated.stdout)["pools"][0]["positions"][0]
    assert (eth["liquidation_price"], eth["liquidation_price_tick"]) == ("1153.25646424", "1153.26")


def test_import_ccxt_refuses_bad_input(tmp_path):
    bogus = tmp_path / "markets.json"
    bogus.write_text("{}")
    result = run(
        "venues", "import-ccxt", str(bogus), str(CCXT / "binanceusdm_tiers.json"), "--name", "x", env_rules=tmp_path
    )
    assert result.returncode == 2 and "MARKETS: must be the non-empty list" in result.stderr


def test_version_and_stdin():
    version = run("--version")
    assert version.returncode == 0 and version.stdout.startswith("crossmargin ")
    piped = subprocess.run(
        [sys.executable, "-m", "crossmargin", "evaluate", "-", "--json"],
        input=json.dumps(FAQ),
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
        timeout=120,
    )
    assert piped.returncode == 0, piped.stderr
    assert json.loads(piped.stdout)["pools"][0]["liquidation_move"]["down"] == "-0.076942"
    broken = subprocess.run(
        [sys.executable, "-m", "crossmargin", "evaluate", "-"],
        input="{",
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
        timeout=120,
    )
    assert broken.returncode == 2 and broken.stderr.startswith("error: stdin: is not valid JSON")
