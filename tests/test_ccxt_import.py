"""ccxt interop: each recorded fixture is what the real ccxt client returns, and it imports.

The recorders in tools/ feed recorded raw venue responses to ccxt offline; these tests run
them again with the installed ccxt and compare, then turn the output into rulebooks.
"""

from __future__ import annotations

import datetime
import importlib.util
import json
import sys
from decimal import Decimal as D
from pathlib import Path
from types import ModuleType

import pytest

from crossmargin.rules import load_rulebook
from crossmargin.rules.ccxt_import import read_ccxt_json, rulebook_from_ccxt

ROOT = Path(__file__).resolve().parents[1]
CCXT = ROOT / "tests" / "fixtures" / "ccxt"
RECORDERS = {
    "binanceusdm": ("record_ccxt_fixture.py", CCXT / "raw"),
    "bybit": ("ccxt_fixture_bybit.py", CCXT / "raw" / "bybit"),
    "okx": ("ccxt_fixture_okx.py", CCXT / "raw" / "okx"),
    "hyperliquid": ("ccxt_fixture_hyperliquid.py", CCXT / "raw" / "hyperliquid"),
}


def _recorder(script: str) -> ModuleType:
    sys.path.insert(0, str(ROOT / "tools"))
    try:
        spec = importlib.util.spec_from_file_location(script.removesuffix(".py"), ROOT / "tools" / script)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module
    finally:
        sys.path.remove(str(ROOT / "tools"))


def _tier_rows(tiers: list[dict[str, object]]) -> list[tuple[object, ...]]:
    return [(t["minNotional"], t["maxNotional"], t["maintenanceMarginRate"], t["maxLeverage"]) for t in tiers]


@pytest.mark.parametrize("exchange", sorted(RECORDERS))
def test_fixture_is_what_the_installed_ccxt_returns(exchange):
    script, raw = RECORDERS[exchange]
    markets, tiers, _version = _recorder(script).build(raw)
    recorded_markets = json.loads((CCXT / f"{exchange}_markets.json").read_text())
    assert [m["symbol"] for m in markets] == [m["symbol"] for m in recorded_markets]
    assert [(m["precision"]["price"], m["contractSize"]) for m in markets] == [
        (m["precision"]["price"], m["contractSize"]) for m in recorded_markets
    ]
    tiers_file = CCXT / f"{exchange}_tiers.json"
    if not tiers_file.exists():
        assert tiers is False  # ccxt offers no leverage-tier call for this venue
        return
    recorded_tiers = json.loads(tiers_file.read_text())
    assert set(tiers) == set(recorded_tiers)
    for symbol, rows in recorded_tiers.items():
        assert _tier_rows(tiers[symbol]) == _tier_rows(rows)


def _imported(exchange: str):  # type: ignore[no-untyped-def]
    tiers_file = CCXT / f"{exchange}_tiers.json"
    tiers = read_ccxt_json(tiers_file, "TIERS") if tiers_file.exists() else {}
    return rulebook_from_ccxt(
        read_ccxt_json(CCXT / f"{exchange}_markets.json", "MARKETS"),
        tiers,
        name=f"imported-{exchange}",
        as_of=datetime.date(2024, 10, 24),
        origin="fixture",
    )[1]


def test_binance_import_reproduces_the_shipped_brackets():
    """Both come from Binance's 2024-10-24 brackets: the import must reproduce them exactly."""
    rulebook = _imported("binanceusdm")
    shipped = load_rulebook("binance-usdm")
    for instrument in rulebook.data.instruments:
        assert instrument.ccxt_symbol is not None
        assert instrument.tiers == shipped.instrument(instrument.ccxt_symbol).tiers
    assert rulebook.conventions == shipped.conventions


def test_bybit_import_keeps_risk_limits_and_deductions():
    """The fixture's risk limits are the 2024-08-09 tables the shipped bybit rulebook carries."""
    rulebook = _imported("bybit")
    shipped = load_rulebook("bybit")
    assert rulebook.conventions == shipped.conventions
    for instrument in rulebook.data.instruments:
        reference = shipped.instrument(instrument.symbol)
        assert [(t.floor, t.cap, t.mmr, t.maintenance_amount) for t in instrument.tiers] == [
            (t.floor, t.cap, t.mmr, t.maintenance_amount) for t in reference.tiers
        ]


def test_okx_import_keys_tiers_by_contracts_inclusive_of_the_cap():
    rulebook = _imported("okx")
    eth = rulebook.instrument("ETH/USDT:USDT")
    assert (eth.symbol, eth.tier_basis, eth.tier_style, eth.tier_boundary) == (
        "ETH-USDT-SWAP",
        "contracts",
        "whole_position",
        "cap_inclusive",
    )
    # OKX: tier 1 is 0..2,000 contracts, tier 2 is 2,001..4,000 -> floors at the previous cap
    assert [(t.floor, t.cap) for t in eth.tiers[:2]] == [(D(0), D(2000)), (D(2000), D(4000))]
    assert rulebook.conventions == load_rulebook("okx").conventions


def test_hyperliquid_import_names_coins_and_derives_maintenance_from_leverage():
    rulebook = _imported("hyperliquid")
    btc = rulebook.instrument("BTC/USDC:USDC")
    assert btc.symbol == "BTC" and btc.maintenance_from_max_leverage
    assert btc.tiers[0].max_leverage == load_rulebook("hyperliquid").instrument("BTC").tiers[0].max_leverage
    assert btc.tier_rates[0] == (D("0.0125"), D(0))  # 1 / (2 x 40)


def test_binancecoinm_shape_imports_brackets_in_coin():
    """No recorded COIN-M bracket response was found, so this builds ccxt's binancecoinm shapes
    (a market with ``info.marginAsset`` and tiers whose ``info`` carries ``qtyFloor``/``qtyCap``/
    ``cum``) from the figures of the shipped binance-coinm rulebook and checks they come back."""
    shipped = load_rulebook("binance-coinm").instrument("BTCUSD_PERP")
    market = {
        "id": "BTCUSD_PERP",
        "symbol": "BTC/USD:BTC",
        "type": "swap",
        "contract": True,
        "linear": False,
        "inverse": True,
        "base": "BTC",
        "quote": "USD",
        "settle": "BTC",
        "contractSize": D(100),
        "precision": {"price": D("0.1"), "amount": D(1)},
        "maker": D("0.0001"),
        "taker": D("0.0005"),
        "info": {"symbol": "BTCUSD_PERP", "marginAsset": "BTC", "liquidationFee": "0.015000"},
    }
    tiers = [
        {
            "tier": i + 1,
            "minNotional": t.floor,
            "maxNotional": t.cap,
            "maxLeverage": t.max_leverage,
            "maintenanceMarginRate": t.mmr,
            "info": {
                "qtyFloor": str(t.floor),
                "qtyCap": str(t.cap),
                "initialLeverage": str(t.max_leverage),
                "maintMarginRatio": str(t.mmr),
                "cum": str(t.maintenance_amount),
            },
        }
        for i, t in enumerate(shipped.tiers[:-1])  # the open last tier has no cap to carry
    ]
    _, rulebook = rulebook_from_ccxt(
        [market], {"BTC/USD:BTC": tiers}, name="coinm-import", as_of=datetime.date(2023, 12, 1), origin="built"
    )
    imported = rulebook.instrument("BTC/USD:BTC")
    assert imported.kind == "inverse" and imported.contract_size == D(100)
    assert imported.tiers == shipped.tiers[:-1]
    assert rulebook.conventions == load_rulebook("binance-coinm").conventions
