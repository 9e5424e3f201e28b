"""COIN-M (inverse) liquidation prices against Binance's published one-way formula.

Binance COIN-M liquidation FAQ (https://www.binance.com/en/support/faq/ceccfcfb4e3a45e3b48b0b1bb1a8ae46),
as written out in venue-rules §2: for one position in one-way mode

    LP = n·CS·(MMR + s) / (WB + cum + s·n·CS/EP)

with MMR and cum of the tier that holds the notional in coin (n·CS/LP) at the liquidation
price. The reference below evaluates that formula in exact rationals for every tier and keeps
the one whose own notional falls inside it: an independent path to the same number.
"""

from __future__ import annotations

from decimal import Decimal as D
from fractions import Fraction

import pytest

from crossmargin.margin import PoolInput, pool_figures
from crossmargin.margin.evaluate import cross_prices, isolated_report
from crossmargin.rules import load_rulebook
from crossmargin.units import exact_context
from tests.conftest import make_position

RULEBOOK = load_rulebook("binance-coinm")
BTCUSD = RULEBOOK.instrument("BTCUSD_PERP")


def reference_lp(side: int, contracts: int, entry: str, wallet: str) -> Fraction:
    face = Fraction(contracts * 100)
    for tier in BTCUSD.tiers:
        mmr, cum = Fraction(tier.mmr), Fraction(tier.maintenance_amount)
        lp = face * (mmr + side) / (Fraction(wallet) + cum + side * face / Fraction(entry))
        notional_coin = face / lp
        if lp > 0 and Fraction(tier.floor) <= notional_coin < Fraction(tier.cap):
            return lp
    raise AssertionError("no consistent tier")


CASES = [
    (1, 2500, "36500", "0.8"),  # long, 6.8 BTC notional: tier 2 at the mark, tier 2-3 near LP
    (1, 20000, "41000", "8"),  # long: notional in coin grows as the price falls; tier changes
    (-1, 3000, "29000", "0.5"),  # short
    (-1, 60000, "30500", "40"),  # large short, tier 5-6
]


@pytest.mark.parametrize(("side", "contracts", "entry", "wallet"), CASES)
def test_cross_single_position_matches_published_formula(side, contracts, entry, wallet):
    position = make_position(BTCUSD, "long" if side > 0 else "short", str(contracts), entry, entry)
    with exact_context():
        figures = pool_figures(PoolInput("BTC", D(wallet), (position,)), RULEBOOK.conventions)
        pair = cross_prices(figures, RULEBOOK.conventions)[0]
    expected = reference_lp(side, contracts, entry, wallet)
    assert pair.liquidation_exact is not None
    assert abs(Fraction(pair.liquidation_exact) - expected) < Fraction(1, 10**30)
    # displayed to the 0.1 tick toward safety: up for a long, down for a short
    assert pair.liquidation_price is not None
    assert abs(Fraction(pair.liquidation_price) - expected) < Fraction(1, 10)
    assert (Fraction(pair.liquidation_price) >= expected) == (side > 0)


@pytest.mark.parametrize(("side", "contracts", "entry", "wallet"), CASES)
def test_isolated_inverse_matches_the_same_formula(side, contracts, entry, wallet):
    position = make_position(
        BTCUSD, "long" if side > 0 else "short", str(contracts), entry, entry, mode="isolated", isolated_margin=wallet
    )
    with exact_context():
        report = isolated_report(position, RULEBOOK.conventions)
    assert report.prices.liquidation_exact is not None
    expected = reference_lp(side, contracts, entry, wallet)
    assert abs(Fraction(report.prices.liquidation_exact) - expected) < Fraction(1, 10**30)


def test_inverse_bankruptcy_price_of_a_20x_long():
    """Isolated inverse long at 20x with margin = IM: equity is zero at EP x L / (L + 1).

    (The inverse bankruptcy price in venue-rules §3.2; 1,000 contracts of 100 USD at 40,000,
    IM = 100,000 / 40,000 / 20 = 0.125 BTC -> BP = 40,000 x 20 / 21 = 38,095.238...)
    """
    position = make_position(BTCUSD, "long", "1000", "40000", "40000", mode="isolated", isolated_margin="0.125")
    with exact_context():
        report = isolated_report(position, RULEBOOK.conventions)
    assert report.prices.bankruptcy_exact is not None
    assert abs(Fraction(report.prices.bankruptcy_exact) - Fraction(40000 * 20, 21)) < Fraction(1, 10**30)
    assert report.prices.bankruptcy_price == D("38095.3")  # rounded up to the tick for a long
