"""Rulebooks: shipped files validate, bad tables are refused naming the tier, aliases resolve."""

from __future__ import annotations

import copy
from decimal import Decimal as D

import pytest
import yaml

from crossmargin.rules import available_rulebooks, load_rulebook, parse_rulebook
from crossmargin.units import InputError


def test_every_shipped_rulebook_validates_and_records_sources():
    rows = available_rulebooks()
    venues = {row[0] for row in rows}
    assert {"binance-usdm", "binance-coinm", "generic"} <= venues
    for venue, as_of, path in rows:
        rulebook = load_rulebook(str(path))
        assert rulebook.data.sources, venue
        assert rulebook.data.as_of.isoformat() == as_of


def test_binance_usdm_ships_the_required_instruments_with_real_tables():
    rulebook = load_rulebook("binance-usdm")
    symbols = {i.symbol for i in rulebook.data.instruments}
    assert {"BTCUSDT", "ETHUSDT", "SOLUSDT"} <= symbols and len(symbols) >= 8
    btc = rulebook.instrument("BTCUSDT")
    # freqtrade's 2024-10-24 snapshot of Binance's brackets: first two tiers
    assert (btc.tiers[0].cap, btc.tiers[0].mmr, btc.tiers[0].max_leverage) == (D("50000"), D("0.004"), D("125"))
    assert btc.tiers[1].maintenance_amount == D("50")


def test_binance_coinm_is_keyed_by_coin_quantity():
    rulebook = load_rulebook("binance-coinm")
    btc = rulebook.instrument("BTCUSD_PERP")
    assert btc.kind == "inverse" and btc.contract_size == D("100") and btc.settlement_asset == "BTC"
    # Binance COIN-M FAQ: 300 BTC sits in the 12.5 % tier with maintenance amount 11.605 BTC.
    tier = next(t for t in btc.tiers if t.floor <= 300 < t.cap)
    assert (tier.mmr, tier.maintenance_amount) == (D("0.125"), D("11.605"))


def test_ccxt_unified_symbols_are_aliases():
    usdm = load_rulebook("binance-usdm")
    assert usdm.instrument("BTC/USDT:USDT") is usdm.instrument("BTCUSDT")
    coinm = load_rulebook("binance-coinm")
    assert coinm.instrument("BTC/USD:BTC") is coinm.instrument("BTCUSD_PERP")
    with pytest.raises(InputError, match="unknown symbol 'BTC/EUR'"):
        usdm.instrument("BTC/EUR")


def test_unknown_venue_is_refused():
    with pytest.raises(InputError, match="venue: unknown venue 'nowhere'"):
        load_rulebook("nowhere")


def _raw():  # type: ignore[no-untyped-def]
    path = next(row[2] for row in available_rulebooks() if row[0] == "generic")
    return yaml.safe_load(path.read_text())


def _refusal(mutate) -> str:  # type: ignore[no-untyped-def]
    raw = copy.deepcopy(_raw())
    mutate(raw)
    with pytest.raises(InputError) as caught:
        parse_rulebook(raw, origin="test.yaml")
    return str(caught.value)


def _tiers(raw):  # type: ignore[no-untyped-def]
    return raw["instruments"][0]["tiers"]


def test_refuses_gap_between_tiers():
    message = _refusal(lambda raw: _tiers(raw)[1].update(floor="1000001"))
    assert "BTC-PERP tier 2" in message and "not the previous cap" in message


def test_refuses_unordered_tiers():
    message = _refusal(lambda raw: _tiers(raw).reverse())
    assert "BTC-PERP tier 1" in message and "first floor must be 0" in message


def test_refuses_maintenance_amount_that_breaks_the_recursion():
    message = _refusal(lambda raw: _tiers(raw)[2].update(maintenance_amount="265001"))
    assert "BTC-PERP tier 3" in message and "cum_n = cum_(n-1)" in message and "265000" in message


def test_refuses_mmr_at_or_above_imr():
    message = _refusal(lambda raw: _tiers(raw)[0].update(mmr="0.02"))  # 50x -> IMR 2 %
    assert "BTC-PERP tier 1" in message and "not below the IMR" in message


def test_refuses_non_positive_contract_specs():
    for key in ("contract_size", "tick_size", "lot_size"):
        message = _refusal(lambda raw, key=key: raw["instruments"][0].update({key: "0"}))
        assert "must be positive" in message and key in message


def test_refuses_binary_float_figures():
    message = _refusal(lambda raw: _tiers(raw)[0].update(mmr=0.01))
    assert "decimal string" in message


def test_refuses_unknown_settlement_asset():
    message = _refusal(lambda raw: raw["instruments"][0].update(settlement_asset="EUR"))
    assert "settlement asset EUR is not in assets" in message
