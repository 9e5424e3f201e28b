"""ccxt interop: the recorded fixture is what the real ccxt client returns, and it imports."""

from __future__ import annotations

import datetime
import importlib.util
import json
from decimal import Decimal as D
from pathlib import Path

from crossmargin.rules import load_rulebook
from crossmargin.rules.ccxt_import import read_ccxt_json, rulebook_from_ccxt

ROOT = Path(__file__).resolve().parents[1]
CCXT = ROOT / "tests" / "fixtures" / "ccxt"


def _recorder():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("record_ccxt_fixture", ROOT / "tools" / "record_ccxt_fixture.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_fixture_is_what_the_installed_ccxt_returns():
    """Re-parse the recorded raw Binance responses with ccxt (offline) and compare."""
    markets, tiers, _version = _recorder().build(CCXT / "raw")
    recorded_markets = json.loads((CCXT / "binanceusdm_markets.json").read_text())
    recorded_tiers = json.loads((CCXT / "binanceusdm_tiers.json").read_text())
    assert [m["symbol"] for m in markets] == [m["symbol"] for m in recorded_markets]
    assert [(m["precision"]["price"], m["contractSize"]) for m in markets] == [
        (m["precision"]["price"], m["contractSize"]) for m in recorded_markets
    ]
    for symbol, rows in recorded_tiers.items():
        fresh = [
            (t["minNotional"], t["maxNotional"], t["maintenanceMarginRate"], t["maxLeverage"]) for t in tiers[symbol]
        ]
        assert fresh == [
            (t["minNotional"], t["maxNotional"], t["maintenanceMarginRate"], t["maxLeverage"]) for t in rows
        ]


def test_imported_tiers_equal_the_shipped_rulebook_of_the_same_date():
    """Both come from Binance's 2024-10-24 brackets: the import must reproduce them exactly."""
    _, rulebook = rulebook_from_ccxt(
        read_ccxt_json(CCXT / "binanceusdm_markets.json", "MARKETS"),
        read_ccxt_json(CCXT / "binanceusdm_tiers.json", "TIERS"),
        name="imported",
        as_of=datetime.date(2024, 10, 24),
        origin="fixture",
    )
    shipped = load_rulebook("binance-usdm")
    for instrument in rulebook.data.instruments:
        assert instrument.ccxt_symbol is not None
        reference = shipped.instrument(instrument.ccxt_symbol)
        assert instrument.tiers == reference.tiers
        assert instrument.kind == "linear" and instrument.contract_size == D(1)
    assert rulebook.conventions == shipped.conventions
