"""freqtrade's tier-lookup vectors (venue-rules §1.2): an exact floor maps to the higher tier.

Source: freqtrade/freqtrade@c9ae5e1e tests/conftest.py::leverage_tiers (tables) and
tests/exchange/test_binance.py::test_get_maintenance_ratio_and_amt_binance,
tests/exchange/test_exchange.py::test_get_maintenance_ratio_and_amt (vectors), recorded in
tests/fixtures/freqtrade_tier_vectors.json.
"""

from __future__ import annotations

import json
from decimal import Decimal as D
from pathlib import Path

import pytest

from crossmargin.margin.position import tier_index_for
from tests.conftest import make_instrument

FIXTURE = json.loads((Path(__file__).parent / "fixtures" / "freqtrade_tier_vectors.json").read_text())


def _instrument(pair: str):  # type: ignore[no-untyped-def]
    rows = [
        (t["floor"], t["cap"], t["max_leverage"], t["mmr"], t["maintenance_amount"]) for t in FIXTURE["tables"][pair]
    ]
    return make_instrument(pair.split("/", maxsplit=1)[0] + "USDT", brackets=rows)


@pytest.mark.parametrize("vector", FIXTURE["vectors"], ids=lambda v: f"{v['pair']}@{v['notional']}")
def test_freqtrade_tier_lookup_vector(vector):
    instrument = _instrument(vector["pair"])
    tier = instrument.tiers[tier_index_for(instrument, D(vector["notional"]))]
    assert tier.mmr == D(vector["mmr"])
    assert tier.maintenance_amount == D(vector["maintenance_amount"])


def test_named_vectors_are_in_the_fixture():
    """The four vectors quoted in venue-rules §1.2 are among those tested."""
    quoted = {
        ("BTC/USDT:USDT", "170.30"),
        ("BNB/USDT:USDT", "5000000.0"),
        ("XRP/USDT:USDT", "999999.9"),
        ("BTC/USDT:USDT", "600000000"),
    }
    present = {(v["pair"], v["notional"]) for v in FIXTURE["vectors"]}
    assert quoted <= present
