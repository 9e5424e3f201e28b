"""Figures for people: amounts with separators and the digits their asset needs, percentages.

The JSON documents keep every digit; tables and the HTML report show these forms. An amount
in a dollar-like asset reads to the cent; an amount in a coin (a COIN-M pool settles in BTC)
keeps eight decimals less trailing zeros, because 0.00 BTC may be hundreds of dollars.
"""

from __future__ import annotations

from decimal import Decimal

from crossmargin.margin.types import Position

#: Assets whose amounts read to the cent.
DOLLAR_LIKE = frozenset({"USD", "USDT", "USDC", "BUSD", "FDUSD", "DAI", "USDE"})


def amount(value: Decimal | str | float | None, asset: str) -> str:
    """``1,535,443.01`` for a dollar-like asset, ``0.51639344`` for a coin; ``--`` for none."""
    if value is None:
        return "--"
    number = Decimal(value) if not isinstance(value, float) else Decimal(repr(value))
    if asset.upper() in DOLLAR_LIKE:
        return f"{number:,.2f}"
    return f"{number:,.8f}".rstrip("0").rstrip(".")


def percent(fraction: Decimal | str | float | None, digits: int = 2, *, signed: bool = False) -> str:
    """A fraction as a percentage: ``-0.076942`` -> ``-7.69 %`` (``signed``: ``+`` on a rise); ``--`` for none."""
    if fraction is None:
        return "--"
    number = Decimal(fraction) if not isinstance(fraction, float) else Decimal(repr(fraction))
    return f"{number * 100:{'+' if signed else ''},.{digits}f} %"


def price(value: Decimal | str | None) -> str:
    """A price with thousands separators and every decimal it has: ``26,316.9``."""
    if value is None:
        return "--"
    number = Decimal(value)
    sign = "-" if number < 0 else ""
    whole, _, fraction = format(abs(number), "f").partition(".")
    fraction = fraction.rstrip("0")
    return f"{sign}{int(whole):,}" + (f".{fraction}" if fraction else "")


def pool_asset(positions: tuple[Position, ...], asset_mode: str) -> str:
    """The asset a risk run counts equity in: the settlement asset, or USD for a multi-asset pool."""
    if asset_mode == "multi" or not positions:
        return "USD"
    return positions[0].settlement_asset
