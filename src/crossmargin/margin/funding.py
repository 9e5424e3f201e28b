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
from crossmargin.units import Rounding, div, exact_arithmetic, quantize


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
