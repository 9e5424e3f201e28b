"""Prices for closing part of a position in a liquidation, as dYdX's protocol sets them.

dYdX does not freeze the other positions to find a bankruptcy price: it spreads the account's
total net collateral over its positions by their share of the maintenance requirement. The
bankruptcy quote for closing ``q`` of a position is ``-dNNV - TNC x |dMMR| / TMMR``, with the
division rounded down so the quote rounds toward +infinity and a close at it never needs the
insurance fund. The fillable price, the liquidation order's limit, gives up a slice of the
position's maintenance margin that grows as the account sinks:
``ABR = clamp(adjustment x (1 - TNC / TMMR), 0, 1)`` and
``FP = (PNNV - ABR x spread x PMMR) / PS``.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from crossmargin.margin.pool import PoolFigures
from crossmargin.rules.schema import Conventions
from crossmargin.units import ONE, ZERO, InputError, Rounding, div, exact_arithmetic


@dataclass(frozen=True, slots=True)
class ClosingPrices:
    """Per-unit bankruptcy price of the close and the liquidation order's fillable price."""

    bankruptcy_quote: Decimal  # quote received (positive) or paid (negative) for the close
    bankruptcy_price: Decimal
    fillable_price: Decimal


@exact_arithmetic
def closing_prices(figures: PoolFigures, index: int, close_size: Decimal, conventions: Conventions) -> ClosingPrices:
    """dYdX's bankruptcy and fillable price for closing ``close_size`` of position ``index``.

    Needs the rulebook's ``bankruptcy_adjustment`` and ``spread_to_maintenance_ratio``.
    """
    rule = conventions.liquidation
    if rule.bankruptcy_adjustment is None or rule.spread_to_maintenance_ratio is None:
        raise InputError("liquidation.bankruptcy_adjustment", "is not in the rulebook")
    position_figures = figures.positions[index]
    position = position_figures.position
    assert position.instrument.kind == "linear", "dYdX perpetuals are linear"
    assert ZERO < close_size <= position.size
    sign = position.side.sign
    price = position_figures.price
    total_nc = figures.margin_balance
    total_mmr = figures.requirement
    assert total_mmr > 0
    # Closing q of a signed position changes its signed notional by -s x q x P and its
    # maintenance requirement in proportion to the size closed (one tier on dYdX).
    delta_nnv = -sign * close_size * price
    delta_mmr = div(position_figures.requirement * close_size, position.size, rounding=Rounding.CEILING)
    share = div(total_nc * delta_mmr, total_mmr, rounding=Rounding.FLOOR)
    quote = -delta_nnv - share
    bankruptcy_price = div(sign * quote, close_size, rounding=Rounding.CEILING if sign > 0 else Rounding.FLOOR)
    adjustment = rule.bankruptcy_adjustment * (ONE - div(total_nc, total_mmr, rounding=Rounding.FLOOR))
    ratio = min(ONE, max(ZERO, adjustment))
    position_nnv = sign * position.size * price
    given_up = ratio * rule.spread_to_maintenance_ratio * position_figures.requirement
    fillable = div(position_nnv - given_up, sign * position.size, rounding=Rounding.HALF_EVEN)
    return ClosingPrices(bankruptcy_quote=quote, bankruptcy_price=bankruptcy_price, fillable_price=fillable)
