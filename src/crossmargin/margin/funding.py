"""Funding payments: what a position pays or receives at one funding timestamp.

Only positions open at the timestamp take part. The payment is the position's notional at
the venue's reference price (mark on Binance, Bybit and OKX; oracle on Hyperliquid) times
the rate for the interval; longs pay when the rate is positive. A venue that publishes an
8-hour rate but settles hourly (Hyperliquid) pays ``rate x interval / basis`` each time.
"""

from __future__ import annotations

from decimal import Decimal

from crossmargin.margin.position import notional
from crossmargin.margin.types import Side
from crossmargin.rules.schema import Instrument
from crossmargin.units import ZERO, Rounding, div, exact_arithmetic, quantize


def premium_index(impact_bid: Decimal, impact_ask: Decimal, index_price: Decimal) -> Decimal:
    """``[max(0, impact bid - index) - max(0, index - impact ask)] / index`` (Binance, Hyperliquid).

    Rounded toward zero: the premium never looks larger than it is.
    """
    above = max(ZERO, impact_bid - index_price)
    below = max(ZERO, index_price - impact_ask)
    return div(above - below, index_price, rounding=Rounding.TOWARD_ZERO)


@exact_arithmetic
def funding_rate_from_premium(average_premium: Decimal, interest: Decimal, clamp: Decimal) -> Decimal:
    """``F = P + clamp(I - P, -c, +c)``: the interest pulls the rate, within the clamp."""
    pull = interest - average_premium
    pull = max(-clamp, min(clamp, pull))
    return average_premium + pull


def margin_spread_clamp(instrument: Instrument, factor: Decimal) -> Decimal:
    """dYdX's funding clamp: ``factor x (IMF - MMF)`` of the first tier, per 8 hours.

    With the genesis factor of 600 % and a Large-Cap market (IMF 2 %, MMF 1.2 %) the rate is
    held within +/- 4.8 % per 8 hours.
    """
    tier = instrument.tiers[0]
    assert tier.mmr is not None
    return div(factor, tier.max_leverage, rounding=Rounding.FLOOR) - factor * tier.mmr


def clamp_rate(instrument: Instrument, rate: Decimal) -> Decimal:
    """The rate limited to the instrument's published cap and floor, where it has them."""
    funding = instrument.funding
    if funding is None:
        return rate
    if funding.cap is not None and rate > funding.cap:
        return funding.cap
    if funding.floor is not None and rate < funding.floor:
        return funding.floor
    return rate


@exact_arithmetic
def funding_payment(
    instrument: Instrument,
    side: Side,
    size: Decimal,
    reference_price: Decimal,
    rate: Decimal,
    *,
    unit: Decimal | None = None,
) -> Decimal:
    """Signed amount credited to the holder (negative: paid), in the settlement asset.

    ``rate`` is the venue's published rate (per ``rate_basis_hours``). The amount rounds
    toward minus infinity: a payer never pays less and a receiver never gets more than the
    exact figure. With ``unit`` (the settlement asset's smallest unit) the amount is
    quantised to it, in the same direction, as a ledger posting needs.
    """
    funding = instrument.funding
    if funding is None:
        raise ValueError(f"{instrument.symbol} has no funding (not a perpetual)")
    assert size > 0 and reference_price > 0
    value = notional(instrument, size, reference_price)
    per_interval = clamp_rate(instrument, rate) * funding.interval_hours
    amount = div(-side.sign * value * per_interval, Decimal(funding.rate_basis_hours), rounding=Rounding.FLOOR)
    return amount if unit is None else quantize(amount, unit, rounding=Rounding.FLOOR)
