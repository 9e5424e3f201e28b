"""``crossmargin import`` and ``evaluate`` on an imported account, as a user runs them.

Bad input of every kind the importer meets (no recognised shape, a symbol the rulebook lacks
with no brackets, non-UTF-8 bytes, truncated JSON, a repeated key) ends in one line naming the
file and field, and exit code 2, never a traceback.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

FIXTURES = Path(__file__).parent / "fixtures" / "connect"
BAD = FIXTURES / "bad"


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "100"}
    return subprocess.run(
        [sys.executable, "-m", "crossmargin", *args], capture_output=True, text=True, env=env, check=False
    )


def test_import_then_evaluate_shows_venue_and_own_figures_side_by_side(tmp_path):
    """The README's path: import, evaluate (tables), evaluate --json."""
    account = tmp_path / "account.json"
    done = _run(
        "import",
        "hyperliquid",
        str(FIXTURES / "hyperliquid" / "clearinghouseState_isolated.json"),
        "--output",
        str(account),
    )
    assert done.returncode == 0, done.stderr
    assert "wrote" in done.stdout
    table = _run("evaluate", str(account))
    assert table.returncode == 0, table.stderr
    assert "The venue's figures beside ours" in table.stdout
    assert "2866.26936529" in table.stdout  # the venue's liquidation price, beside ours
    assert "2866.3" in table.stdout
    assert "agree within its rounding" in table.stdout
    assert "ETH: the account's tiers replaced the rulebook's." in table.stdout
    document = json.loads(_run("evaluate", "--json", str(account)).stdout)
    assert document["reported"]["compared"] == 8
    assert document["isolated"][0]["reported"]["liquidation_price"]["agrees"] is True


def test_import_prints_the_account_without_output():
    done = _run("import", "binance-usdm", str(FIXTURES / "binance-usdm" / "positionRisk_v2_isolated_hedge.json"))
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["positions"][0]["symbol"] == "DOGEUSDT"


def test_evaluate_table_flags_a_disagreement(tmp_path):
    done = _run("import", "binance-usdm", str(FIXTURES / "binance-usdm" / "positionRisk_v2_isolated_hedge.json"))
    document = json.loads(done.stdout)
    document["reported"]["positions"][0]["margin_balance"] = "0.96034145"
    account = tmp_path / "account.json"
    account.write_text(json.dumps(document))
    table = _run("evaluate", str(account))
    assert "1 of 4 figures differ from the venue's by more than its rounding." in table.stdout
    listed = json.loads(_run("evaluate", "--json", str(account)).stdout)["reported"]["disagreements"]
    assert [d["figure"] for d in listed] == ["margin_balance"]


@pytest.mark.parametrize(
    ("venue", "name", "expected"),
    [
        ("binance-usdm", "unknown_shape.json", "is not a binance-usdm response this importer knows"),
        ("binance-usdm", "positionRisk_unknown_symbol.json", "unknown symbol 'BLURUSDT' for venue binance-usdm"),
        ("binance-usdm", "not_utf8.json", "is UTF-16 text; save it as UTF-8"),
        ("hyperliquid", "truncated.json", "is not valid JSON"),
        ("okx", "duplicate_key.json", "gives the key 'positionAmt' twice in one object"),
        ("dydx", "unknown_shape.json", "is not a dydx response this importer knows"),
    ],
)
def test_bad_input_is_one_line_naming_the_file_and_exit_2(venue, name, expected):
    done = _run("import", venue, str(BAD / name))
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert str(BAD / name) in lines[0] and expected in lines[0]
    assert "Traceback" not in done.stderr


def test_bad_venue_exchange_and_output_are_refused(tmp_path):
    hl = str(FIXTURES / "hyperliquid" / "clearinghouseState_isolated.json")
    for args, expected in (
        (("import", "kraken", hl), "VENUE: unknown venue 'kraken'"),
        (("import", "ccxt", hl), "--exchange: is required with ccxt"),
        (("import", "ccxt", "--exchange", "bitmex", hl), "--exchange: must be one of"),
        (("import", "hyperliquid", hl, "--output", str(tmp_path)), "is a directory"),
        (("import", "hyperliquid", hl, "--output", str(tmp_path / "no" / "a.json")), "--output: no folder"),
        (("import", "ccxt", "--exchange", "hyperliquid", hl), "is not a ccxt dump this importer knows"),
    ):
        done = _run(*args)
        assert done.returncode == 2, args
        assert expected in done.stderr and len(done.stderr.strip().splitlines()) == 1, done.stderr


def test_deeply_nested_response_is_refused(tmp_path):
    deep = tmp_path / "deep.json"
    deep.write_text("[" * 5000 + "]" * 5000)
    done = _run("import", "binance-usdm", str(deep))
    assert done.returncode == 2 and "nests arrays or objects deeper than" in done.stderr
