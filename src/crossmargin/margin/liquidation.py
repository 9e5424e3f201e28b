"""Liquidation and bankruptcy prices: one symbol's price moves, everything else stays frozen.

Why a solver over "legs": in one-way mode a symbol has one position, in hedge mode a long
and a short leg that share one cross liquidation price (Binance). Each leg contributes a
term that is linear in ``t`` (``t = P`` for linear contracts, ``t = 1/P`` for inverse ones,
where PnL and notional in coin are linear in ``1/P``), so within one combination of tiers the
condition ``margin balance = requirement`` has a closed-form root. The tiers are then
re-evaluated at the root, as the venues' FAQs prescribe, until they are consistent.

Two roundings leave here: the price snapped to the tick toward the venue's safety (up where
a fall liquidates, a long; down where a rise does, a short), and the price as the venue's API
prints it (the rulebook's ``price_reporting``: Binance cuts the exact root at 8 decimals,
Hyperliquid prints it unrounded). ``None`` where no positive price exists. The engine and the
risk lab use the exact roots.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from crossmargin.margin.position import (
    fee_terms,
    maintenance_rate,
    maintenance_value_at_entry,
    notional,
    tier_basis_value,
)
from crossmargin.margin.types import MaintenanceRate, Position, Side
from crossmargin.rules.schema import Conventions, PriceReporting
from crossmargin.units import ZERO, Rounding, div, quantize, to_tick

#: Upper bound on tier combinations tried when the fixed-point walk does not settle.
MAX_TIER_COMBINATIONS = 4096


@dataclass(frozen=True, slots=True)
class PricePair:
    """Liquidation and bankruptcy price, exact (50 digits) and rounded to the tick.

    ``falls_liquidate`` says which side is the venue's safe one (up for a long), so the same
    pair can also be printed the way the venue's API prints it (:meth:`reported`).
    """

    liquidation_exact: Decimal | None
    liquidation_price: Decimal | None
    bankruptcy_exact: Decimal | None
    bankruptcy_price: Decimal | None
    falls_liquidate: bool = True

    def reported(self, reporting: PriceReporting, tick: Decimal) -> tuple[Decimal | None, Decimal | None]:
        """Liquidation and bankruptcy price as the venue's API returns them."""
        return (
            reported_price(self.liquidation_exact, tick, reporting, falls_liquidate=self.falls_liquidate),
            reported_price(self.bankruptcy_exact, tick, reporting, falls_liquidate=self.falls_liquidate),
        )


@dataclass(frozen=True, slots=True)
class _Line:
    """``constant + slope x t`` summed over legs, with the direction of the price root."""

    constant: Decimal
    slope: Decimal


def _rates_at(legs: Sequence[Position], price: Decimal, conventions: Conventions) -> tuple[MaintenanceRate, ...]:
    rates = []
    for leg in legs:
        fixed = maintenance_value_at_entry(leg, conventions)
        value = notional(leg.instrument, leg.size, price) if fixed is None else fixed
        rates.append(maintenance_rate(leg, tier_basis_value(leg.instrument, leg.size, value)))
    return tuple(rates)


def _pnl_line(legs: Sequence[Position]) -> _Line:
    """The legs' PnL as ``A + B t``: all of the gap when nothing is required (bankruptcy)."""
    constant = ZERO
    slope = ZERO
    for leg in legs:
        sign = 1 if leg.side is Side.LONG else -1
        if leg.instrument.kind == "linear":
            slope += sign * leg.size
            constant -= sign * leg.size * leg.entry_price
        else:
            face = leg.size * leg.instrument.contract_size
            slope -= sign * face
            constant += sign * div(face, leg.entry_price, rounding=Rounding.FLOOR)
    return _Line(constant, slope)


def _line(
    legs: Sequence[Position],
    rates: Sequence[MaintenanceRate],
    conventions: Conventions,
    pnl: _Line | None = None,
) -> _Line:
    """The legs' ``PnL(t) - requirement(t)`` as ``A + B t`` for one choice of tiers."""
    base = _pnl_line(legs) if pnl is None else pnl
    constant, slope = base.constant, base.slope
    for leg, rate in zip(legs, rates, strict=True):
        fee, fixed = fee_terms(leg, conventions)
        mmr, amount = rate.mmr, rate.amount - fixed
        at_entry = maintenance_value_at_entry(leg, conventions)
        if at_entry is not None:  # maintenance fixed on the entry value: no slope from it
            amount -= at_entry * mmr
            mmr = ZERO
        if leg.instrument.kind == "linear":
            slope -= leg.size * (mmr + fee)
        else:
            slope -= leg.size * leg.instrument.contract_size * (mmr + fee)
        constant += amount
    return _Line(constant, slope)


def _root_price(legs: Sequence[Position], line: _Line, frozen: Decimal) -> Decimal | None:
    """Price where ``frozen + A + B t = 0``; ``None`` without a positive root."""
    if line.slope == 0:
        return None
    t = div(-(frozen + line.constant), line.slope, rounding=Rounding.HALF_EVEN)
    if t <= 0:
        return None
    if legs[0].instrument.kind == "linear":
        return t
    return div(Decimal(1), t, rounding=Rounding.HALF_EVEN)


def _same_tiers(a: Sequence[MaintenanceRate], b: Sequence[MaintenanceRate]) -> bool:
    return all(x.tier_index == y.tier_index for x, y in zip(a, b, strict=True))


def solve_price(
    legs: Sequence[Position],
    frozen: Decimal,
    conventions: Conventions,
    *,
    bankruptcy: bool = False,
) -> Decimal | None:
    """Exact price at which ``frozen + sum(PnL - requirement)`` of ``legs`` reaches zero.

    ``frozen`` is everything that does not move: the wallet (or isolated margin) plus the
    other positions' counted PnL less their requirements. With ``bankruptcy`` the legs'
    requirements are zero (equity reaches zero). All legs share one instrument kind.
    """
    assert legs, "at least one leg"
    assert len({leg.instrument.kind for leg in legs}) == 1, "legs share one instrument kind"
    if bankruptcy:
        return _root_price(legs, _pnl_line(legs), frozen)
    rates = _rates_at(legs, legs[0].mark_price, conventions)
    pnl = _pnl_line(legs)
    return _solve_from(legs, frozen, rates, _line(legs, rates, conventions, pnl), conventions, pnl)


def _solve_from(
    legs: Sequence[Position],
    frozen: Decimal,
    rates: tuple[MaintenanceRate, ...],
    line: _Line,
    conventions: Conventions,
    pnl: _Line,
) -> Decimal | None:
    """Fixed-point walk over tiers from the line of ``rates``, as the venues' FAQs prescribe."""
    for _ in range(sum(len(leg.instrument.tiers) for leg in legs) + 2):
        price = _root_price(legs, line, frozen)
        if price is None:  # no positive root in these tiers; another tier may still have one
            if _far_end_excludes_root(legs, frozen, line, conventions):
                return None
            break
        at_root = _rates_at(legs, price, conventions)
        if _same_tiers(rates, at_root):
            return price
        rates = at_root
        line = _line(legs, rates, conventions, pnl)
    return _consistent_root_by_search(legs, frozen, conventions)


def _far_end_excludes_root(legs: Sequence[Position], frozen: Decimal, line: _Line, conventions: Conventions) -> bool:
    """Whether no tier can hold a root, for legs whose gap is concave in ``t``.

    With marginal tiers (or fixed rates) the gap is the minimum of its tier lines, hence
    concave. Positive at the mark, it has no root toward ``t -> 0`` when its value there (in
    the first tiers) is positive, and none toward ``t -> infinity`` when the slope of the
    last tiers is not negative. The side to look at is the one the current line falls to.
    """
    if any(leg.mmr_override is None and leg.instrument.tier_style != "marginal" for leg in legs):
        return False
    if line.slope == 0:
        return False
    toward_zero = line.slope > 0
    far = [
        maintenance_rate(leg, ZERO if toward_zero else leg.instrument.tiers[-1].floor)
        if leg.instrument.tiers
        else maintenance_rate(leg, ZERO)
        for leg in legs
    ]
    far_line = _line(legs, far, conventions)
    if toward_zero:
        return frozen + far_line.constant > 0
    return far_line.slope >= 0


def _consistent_root_by_search(legs: Sequence[Position], frozen: Decimal, conventions: Conventions) -> Decimal | None:
    """Try every tier combination; keep the consistent root nearest the mark."""
    choices = []
    for leg in legs:
        base = _rates_at([leg], leg.mark_price, conventions)[0]
        if base.tier_index is None:
            choices.append([base])
            continue
        choices.append([maintenance_rate(leg, tier.floor) for tier in leg.instrument.tiers])
    mark = legs[0].mark_price
    best: Decimal | None = None
    for count, combination in enumerate(itertools.product(*choices)):
        if count >= MAX_TIER_COMBINATIONS:
            break
        price = _root_price(legs, _line(legs, combination, conventions), frozen)
        if price is None or not _same_tiers(combination, _rates_at(legs, price, conventions)):
            continue
        if best is None or abs(price - mark) < abs(best - mark):
            best = price
    return best


def _falls_liquidate(legs: Sequence[Position], line: _Line) -> bool:
    """Whether the legs lose value as the price falls (then the safe rounding is upward)."""
    return line.slope > 0 if legs[0].instrument.kind == "linear" else line.slope < 0


def price_pair(
    legs: Sequence[Position], frozen_maintenance: Decimal, frozen_equity: Decimal, conventions: Conventions
) -> PricePair:
    """Liquidation and bankruptcy price of ``legs``, exact and rounded to the tick."""
    rates = _rates_at(legs, legs[0].mark_price, conventions)
    pnl = _pnl_line(legs)
    line = _line(legs, rates, conventions, pnl)
    liquidation = _solve_from(legs, frozen_maintenance, rates, line, conventions, pnl)
    bankruptcy = _root_price(legs, pnl, frozen_equity)
    return rounded_pair(legs, liquidation, bankruptcy, falls_liquidate=_falls_liquidate(legs, line))


def rounded_pair(
    legs: Sequence[Position], liquidation: Decimal | None, bankruptcy: Decimal | None, *, falls_liquidate: bool
) -> PricePair:
    """Both prices rounded to the tick toward safety: up where a fall liquidates, else down."""
    rounding = Rounding.CEILING if falls_liquidate else Rounding.FLOOR
    tick = legs[0].instrument.tick_size
    return PricePair(
        liquidation_exact=liquidation,
        liquidation_price=_rounded(liquidation, tick, rounding),
        bankruptcy_exact=bankruptcy,
        bankruptcy_price=_rounded(bankruptcy, tick, rounding),
        falls_liquidate=falls_liquidate,
    )


def reported_price(
    exact: Decimal | None, tick: Decimal, reporting: PriceReporting, *, falls_liquidate: bool
) -> Decimal | None:
    """``exact`` as the venue's API prints it: snapped to the tick, or cut to a number of
    decimals or significant digits, toward the venue's safety or half-even (a plain rounding).

    ``None`` where no price exists or the printed figure would not be positive.
    """
    if exact is None:
        return None
    if reporting.rounding == "half_even":
        rounding = Rounding.HALF_EVEN
    else:
        rounding = Rounding.CEILING if falls_liquidate else Rounding.FLOOR
    if reporting.step == "tick":
        return _rounded(exact, tick, rounding)
    assert reporting.digits is not None, "decimals and significant steps carry digits"
    if reporting.step == "decimals":
        unit = Decimal(1).scaleb(-reporting.digits)
    else:
        unit = Decimal(1).scaleb(exact.adjusted() - reporting.digits + 1)
    printed = quantize(exact, unit, rounding=rounding)
    return printed if printed > 0 else None


def _rounded(price: Decimal | None, tick: Decimal, rounding: Rounding) -> Decimal | None:
    if price is None:
        return None
    rounded = to_tick(price, tick, rounding=rounding)
    return rounded if rounded > 0 else None
