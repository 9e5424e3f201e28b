"""Funding payments: sign, reference price, interval scaling, caps, inverse settlement."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from crossmargin.margin import Side
from crossmargin.margin.funding import clamp_rate, funding_payment
from crossmargin.rules import load_rulebook
from tests.conftest import make_instrument


@pytest.mark.parametrize(
    ("rate", "mark", "expected"),
    [("0.0001", "2.0", "0.002"), ("0.0002", "2.0", "0.004"), ("0.0002", "2.5", "0.005")],
)
def test_freqtrade_funding_vectors(rate, mark, expected):
    """freqtrade tests/exchange/test_exchange.py::test_calculate_funding_fees (venue-rules §9.2(e)):
    fee = rate x mark x amount for 10 units; a short receives it when the rate is positive."""
    instrument = load_rulebook("binance-usdm").instrument("BTCUSDT")
    assert funding_payment(instrument, Side.SHORT, D("10"), D(mark), D(rate)) == D(expected)
    assert funding_payment(instrument, Side.LONG, D("10"), D(mark), D(rate)) == -D(expected)


def test_negative_rate_pays_shorts_to_longs():
    instrument = load_rulebook("binance-usdm").instrument("ETHUSDT")
    assert funding_payment(instrument, Side.LONG, D("2"), D("3000"), D("-0.0003")) == D("1.8")
    assert funding_payment(instrument, Side.SHORT, D("2"), D("3000"), D("-0.0003")) == D("-1.8")


def test_inverse_funding_is_paid_in_coin_on_the_reference_price():
    """COIN-M: notional in coin = contracts x contract size / price; 100 x 100 / 25,000 = 0.4 BTC."""
    instrument = load_rulebook("binance-coinm").instrument("BTCUSD_PERP")
    assert funding_payment(instrument, Side.LONG, D("100"), D("25000"), D("0.0001")) == D("-0.00004")


def test_hourly_settlement_of_an_eight_hour_rate():
    """A venue quoting an 8 h rate but settling every hour pays 1/8 of it each time."""
    hourly = make_instrument(
        "BTCUSDT",
        funding={"interval_hours": 1, "rate_basis_hours": 8, "reference_price": "oracle", "baseline_rate": "0"},
    )
    # 10 BTC at 10,000 with an 8 h rate of 0.95 %: 950 per 8 h, 118.75 per hour
    assert funding_payment(hourly, Side.LONG, D("10"), D("10000"), D("0.0095")) == D("-118.75")


def test_rate_is_clamped_to_published_cap_and_floor():
    capped = make_instrument(
        "BTCUSDT",
        funding={"interval_hours": 8, "rate_basis_hours": 8, "cap": "0.003", "floor": "-0.003"},
    )
    assert clamp_rate(capped, D("0.01")) == D("0.003")
    assert clamp_rate(capped, D("-0.01")) == D("-0.003")
    assert clamp_rate(capped, D("0.001")) == D("0.001")
    assert funding_payment(capped, Side.LONG, D("1"), D("50000"), D("0.01")) == D("-150")


def test_rounding_never_favours_the_holder():
    instrument = load_rulebook("binance-coinm").instrument("BTCUSD_PERP")
    paid = funding_payment(instrument, Side.LONG, D("7"), D("30001"), D("0.0001"))
    received = funding_payment(instrument, Side.SHORT, D("7"), D("30001"), D("0.0001"))
    assert paid + received <= 0  # the payer pays at least what the receiver gets
    unit = D("0.00000001")
    paid_units = funding_payment(instrument, Side.LONG, D("7"), D("30001"), D("0.0001"), unit=unit)
    received_units = funding_payment(instrument, Side.SHORT, D("7"), D("30001"), D("0.0001"), unit=unit)
    assert (paid_units, received_units) == (D("-0.00000234"), D("0.00000233"))


def test_futures_have_no_funding():
    instrument = load_rulebook("binance-coinm@2020-08-17").instrument("BTCUSD_200925")
    with pytest.raises(ValueError, match="no funding"):
        funding_payment(instrument, Side.LONG, D("1"), D("10000"), D("0.0001"))
