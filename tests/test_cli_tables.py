"""Tables stay readable at 80 columns: no line wider, no figure cut, units in the headers.

Rich used to shrink a table wider than the terminal by cutting cells (``4918775.08…``). Each
table is rendered here on a Console 80 columns wide, and every figure of the JSON document it
shows must appear whole in the text.
"""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
from decimal import Decimal as D
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from crossmargin.cli.render import render_evaluation, trim, units_of
from crossmargin.cli.tables import Column, fit_tables
from crossmargin.margin import evaluate_account, evaluation_to_json, load_account

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = sorted((ROOT / "examples").glob("*.json"))
NUMERIC_KEYS = (
    "size", "entry_price", "mark_price", "notional", "unrealized_pnl", "initial_margin", "maintenance_margin", "mmr",
    "isolated_margin", "health",
)  # fmt: skip
POOL_KEYS = (
    "wallet_balance", "unrealized_pnl", "margin_balance", "initial_margin", "maintenance_margin", "margin_ratio",
    "health", "available_balance", "max_withdrawable",
)  # fmt: skip


def rendered(path: Path, width: int = 80) -> tuple[str, dict[str, Any]]:
    snapshot = load_account(path)
    document = evaluation_to_json(evaluate_account(snapshot))
    console = Console(width=width, record=True, color_system=None, file=io.StringIO())
    render_evaluation(document, console, path.name, units_of(snapshot.positions))
    return console.export_text(), document


def figures_of(document: dict[str, Any]) -> list[str]:
    """Every number the tables show, in the form they show it (the JSON's digits, trailing zeros dropped)."""
    shown = []
    for pool in document["pools"]:
        shown += [trim(pool[key]) for key in POOL_KEYS if pool[key] is not None]
        for position in pool["positions"] + document["isolated"]:
            shown += [trim(position[key]) for key in NUMERIC_KEYS if position.get(key) is not None]
            for key in ("liquidation_price", "bankruptcy_price"):
                value = position.get(f"{key}_tick", position[key])
                if value is not None:
                    shown.append(trim(value))
        for row in pool.get("assets", []):
            shown += [trim(row[key]) for key in ("wallet_balance", "equity", "price", "value_usd", "available")]
    return shown


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_every_figure_of_every_example_appears_whole_at_80_columns(path: Path):
    text, document = rendered(path)
    assert max(len(line) for line in text.splitlines()) <= 80
    assert "…" not in text
    for figure in figures_of(document):
        # whole: not preceded or followed by another digit, a point or a minus sign
        assert re.search(rf"(?<![\d.\-]){re.escape(figure)}(?![\d.])", text), f"{figure} is cut or missing"


def test_units_sit_in_the_headers_or_beside_the_figure():
    text, _ = rendered(ROOT / "examples" / "binance-faq-cross.json")
    assert "margin balance (USDT)" in text and "(USDT)" in text
    assert "3683.979 ETH" in text and "109.488 BTC" in text  # sizes differ by row: each carries its own
    mixed, _ = rendered(ROOT / "examples" / "okx-multi-currency.json")
    assert "120000 USDT" in mixed and "1 BTC" in mixed  # a USD pool with a linear and an inverse swap
    assert "600 cont." in mixed


def test_a_long_title_is_printed_whole_rather_than_cut():
    text, _ = rendered(ROOT / "examples" / "binance-coinm-perp-and-quarterly.json")
    joined = " ".join(text.split())
    assert "binance-coinm-perp-and-quarterly.json · binance-coinm (rules as of 2020-08-17)" in joined


def test_fit_tables_splits_columns_and_repeats_the_key():
    columns = [Column("name", "left", key=True), *(Column(f"figure {n}") for n in range(8))]
    rows = [["row", *(f"{n}123456789.123456" for n in range(8))]]
    tables = fit_tables("wide", columns, rows, 80)
    assert len(tables) > 1
    console = Console(width=80, record=True, file=io.StringIO())
    for table in tables:
        console.print(table)
    text = console.export_text()
    assert max(len(line) for line in text.splitlines()) <= 80
    for n in range(8):
        assert f"{n}123456789.123456" in text
    assert text.count("│ row ") == len(tables)  # the key column in every part


def test_columns_that_belong_together_stay_together():
    columns = [Column("k", key=True), *(Column(f"c{n}", together="a" if n < 3 else "b") for n in range(6))]
    rows = [["x", *("1234567890123" for _ in range(6))]]
    first, second = fit_tables("t", columns, rows, 80)
    assert [c.header for c in first.columns] == ["k", "c0", "c1", "c2"]
    assert [c.header for c in second.columns] == ["k", "c3", "c4", "c5"]


def test_the_run_table_keeps_figures_whole_at_80_columns():
    from crossmargin.cli.run import _render
    from crossmargin.scenario import parse_scenario, run_scenario

    path = ROOT / "scenarios" / "insurance-then-adl.yaml"
    scenario = parse_scenario(path.read_text(encoding="utf-8"), source=path.name)
    reports = run_scenario(scenario)
    console = Console(width=80, record=True, color_system=None, file=io.StringIO())
    _render(scenario, path.name, reports, console)
    text = console.export_text()
    assert max(len(line) for line in text.splitlines()) <= 80
    for report in reports:
        for label, value in report.figures.items():
            assert f"{label} {value}" in text


def test_the_stress_table_keeps_amounts_whole_with_their_unit_at_80_columns():
    from crossmargin.cli.risk_tables import stress_table
    from crossmargin.risk.stress import StressReport

    reports = [
        StressReport(f"scenario {n}", D("1234567.891"), D("0"), [D(3)], True, 4, D(4), D("98765.4321"))
        for n in range(3)
    ]
    console = Console(width=80, record=True, file=io.StringIO())
    console.print(stress_table("title", reports, "USDT", console))
    text = console.export_text()
    assert max(len(line) for line in text.splitlines()) <= 80 and "…" not in text
    assert "1,234,567.89" in text and "98,765.43" in text and "(USDT)" in text
    coin = Console(width=80, record=True, file=io.StringIO())
    coin.print(stress_table("title", reports, "BTC", coin))
    assert "98,765.4321" in coin.export_text()  # a coin keeps its satoshis


def test_venue_tables_print_rulebook_figures_as_plain_digits():
    done = subprocess.run(
        [sys.executable, "-m", "crossmargin", "venues", "show", "binance-usdm"],
        capture_output=True, text=True, check=False, env={**os.environ, "COLUMNS": "80"}, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "…" not in done.stdout and "1E-7" not in done.stdout and "0.0000001" in done.stdout
    assert "1000PEPE/USDT:USDT" in done.stdout
    table_lines = [line for line in done.stdout.splitlines() if line[:1] in "┏┃┡│└"]
    assert table_lines and max(len(line) for line in table_lines) <= 80  # sources are soft-wrapped text


@pytest.mark.parametrize("width", [80, 64])
def test_the_venue_figures_beside_ours_stay_whole(width: int):
    """An imported account's comparison table: labels wrap, the venue's and our figures never do."""
    from crossmargin.connect import import_account
    from crossmargin.margin import parse_account

    response = ROOT / "tests" / "fixtures" / "connect" / "binance-usdm" / "positionRisk_v2_isolated_hedge.json"
    snapshot = parse_account(import_account("binance-usdm", [response]))
    document = evaluation_to_json(evaluate_account(snapshot))
    console = Console(width=width, record=True, color_system=None, file=io.StringIO())
    render_evaluation(document, console, "imported", units_of(snapshot.positions))
    text = console.export_text()
    rows = [row for p in document["isolated"] for row in p.get("reported", {}).values()]
    assert rows
    for row in rows:
        for value in (row["venue"], row["own"]):
            assert re.search(rf"(?<![\d.\-]){re.escape(trim(value))}(?![\d.])", text), value
