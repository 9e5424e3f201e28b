"""Valuing collateral in a multi-asset pool: haircuts on what is owned, liabilities in full.

A multi-asset pool (Binance Multi-Assets, OKX multi-currency, Bybit's unified account) adds
every approved asset's equity in USD. Haircuts apply to positive balances only, slice by
slice where the venue tiers them (OKX discount rates, Bybit collateral value ratios); a
negative balance is a debt and counts in full, at the ask rate where the venue has one.
"""

from __future__ import annotations

from decimal import Decimal

from crossmargin.rules.schema import Collateral
from crossmargin.units import ONE, ZERO, InputError, Rounding, div


def haircut_amount(amount: Decimal, collateral: Collateral, price: Decimal) -> Decimal:
    """A positive balance after the marginal haircut slices, in the asset's units."""
    assert amount >= 0
    if collateral.tier_unit == "usd":
        usd = amount * price
        return div(_sliced(usd, collateral), price, rounding=Rounding.FLOOR)
    return _sliced(amount, collateral)


def _sliced(amount: Decimal, collateral: Collateral) -> Decimal:
    tiers = collateral.haircut_tiers
    total = ZERO
    for index, tier in enumerate(tiers):
        if amount <= tier.floor:
            break
        top = tiers[index + 1].floor if index + 1 < len(tiers) else None
        slice_end = amount if top is None or amount < top else top
        total += (slice_end - tier.floor) * tier.rate
    return total


def collateral_value_usd(amount: Decimal, price: Decimal, collateral: Collateral | None) -> Decimal:
    """USD value of a signed asset equity: bid-side haircut when owned, ask side when owed.

    Rounded down: collateral never counts for more than it is worth.
    """
    if collateral is None:
        return amount * price if amount < 0 else ZERO  # unapproved: owes in full, backs nothing
    if amount < 0:
        return amount * price * (ONE + collateral.ask_buffer)
    return haircut_amount(amount, collateral, price) * price * (ONE - collateral.bid_buffer)


def ask_rate(price: Decimal, collateral: Collateral | None) -> Decimal:
    """Price at which a requirement in this asset is valued (Binance: index x (1 + ask buffer))."""
    buffer = collateral.ask_buffer if collateral is not None else ZERO
    return price * (ONE + buffer)


def require_price(prices: dict[str, Decimal], asset: str) -> Decimal:
    """The USD price of an asset in a multi-asset pool; USD itself is 1."""
    if asset == "USD":
        return ONE
    price = prices.get(asset)
    if price is None:
        raise InputError(f"prices.{asset}", "is required to value this asset in a multi-asset pool")
    return price
