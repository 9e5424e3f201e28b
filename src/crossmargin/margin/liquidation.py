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

import bisect
from collections.abc import Sequence
from decimal import Decimal
from typing import NamedTuple

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


class PricePair(NamedTuple):
    """Liquidation and bankruptcy price, exact (50 digits) and rounded to the tick.

    ``liquidation_price`` is the root nearest the mark. A hedged symbol can have a root on
    each side: ``down_exact`` is the nearest at or below the mark, ``up_exact`` the nearest
    above (``liquidation_down`` and ``liquidation_up`` rounded to the tick like the main one;
    ``None`` where that side has none). ``falls_liquidate`` says which side is the venue's safe
    one (up for a long), so the same pair can also be printed the way the venue's API prints it
    (:meth:`reported`).
    """

    liquidation_exact: Decimal | None
    liquidation_price: Decimal | None
    bankruptcy_exact: Decimal | None
    bankruptcy_price: Decimal | None
    falls_liquidate: bool = True
    liquidation_down: Decimal | None = None
    liquidation_up: Decimal | None = None
    down_exact: Decimal | None = None
    up_exact: Decimal | None = None

    def reported(self, reporting: PriceReporting, tick: Decimal) -> tuple[Decimal | None, Decimal | None]:
        """Liquidation and bankruptcy price as the venue's API returns them."""
        return (
            reported_price(
                self.liquidation_exact, tick, reporting, falls_liquidate=self.falls_liquidate, liquidation=True
            ),
            reported_price(self.bankruptcy_exact, tick, reporting, falls_liquidate=self.falls_liquidate),
        )

    def reported_sides(self, reporting: PriceReporting, tick: Decimal) -> tuple[Decimal | None, Decimal | None]:
        """Each side's liquidation root as the venue's API would print it: the one below the
        mark is safe rounded up (a fall liquidates there), the one above rounded down."""
        return (
            reported_price(self.down_exact, tick, reporting, falls_liquidate=True, liquidation=True),
            reported_price(self.up_exact, tick, reporting, falls_liquidate=False, liquidation=True),
        )


class _Line(NamedTuple):
    """``constant + slope x t`` summed over legs, with the direction of the price root."""

    constant: Decimal
    slope: Decimal


def _rates_at(legs: Sequence[Position], price: Decimal, conventions: Conventions) -> tuple[MaintenanceRate, ...]:
    rates = []
    entry_valued = conventions.values_at_entry
    for leg in legs:
        fixed = maintenance_value_at_entry(leg, conventions) if entry_valued else None
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
    entry_valued = conventions.values_at_entry
    for leg, rate in zip(legs, rates, strict=True):
        fee, fixed = fee_terms(leg, conventions)
        mmr, amount = rate.mmr, rate.amount - fixed
        at_entry = maintenance_value_at_entry(leg, conventions) if entry_valued else None
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
    roots = _roots(legs, frozen, conventions, _pnl_line(legs))
    mark = legs[0].mark_price
    found = [root.price for root in (roots.down, roots.up) if root is not None]
    return min(found, key=lambda price: abs(price - mark)) if found else None


class _Root(NamedTuple):
    """A liquidation root in price, with the line of the tiers it lies in (for its rounding)."""

    price: Decimal
    line: _Line


class _Roots(NamedTuple):
    """The nearest liquidation root at or below the mark and the nearest above it."""

    down: _Root | None
    up: _Root | None


def _tier_moves_with_price(leg: Position, conventions: Conventions) -> bool:
    """Whether ``leg`` can change tier as its price moves: not with a fixed rate, one tier, or
    a basis that does not move with the price (contracts, a linear base quantity, an entry
    value)."""
    instrument = leg.instrument
    if leg.mmr_override is not None or len(instrument.tiers) < 2:
        return False
    if maintenance_value_at_entry(leg, conventions) is not None:
        return False
    return instrument.tier_basis == "notional" or (
        instrument.tier_basis == "base_quantity" and instrument.kind == "inverse"
    )


def _breakpoints(leg: Position, conventions: Conventions) -> list[Decimal]:
    """Values of ``t`` where ``leg`` changes tier (its notional is linear in ``t``)."""
    if not _tier_moves_with_price(leg, conventions):
        return []
    instrument = leg.instrument
    scale = leg.size if instrument.kind == "linear" else leg.size * instrument.contract_size
    return [div(tier.floor, scale, rounding=Rounding.HALF_EVEN) for tier in instrument.tiers[1:]]


def _price_of(t: Decimal, inverse: bool) -> Decimal:
    return div(Decimal(1), t, rounding=Rounding.HALF_EVEN) if inverse else t


def _concave(legs: Sequence[Position]) -> bool:
    """Whether the legs' gap is concave in ``t``: marginal tiers or fixed rates everywhere.

    Maintenance on marginal tiers is convex in the notional, which is linear in ``t``; PnL
    and fee terms are linear; so the gap is the minimum of its tier lines.
    """
    for leg in legs:
        if leg.mmr_override is None and leg.instrument.tier_style != "marginal" and len(leg.instrument.tiers) > 1:
            return False
    return True


def _roots(legs: Sequence[Position], frozen: Decimal, conventions: Conventions, pnl: _Line) -> _Roots:
    """The nearest root on each side of the mark, in ``t`` mapped back to prices.

    A hedged symbol's gap can fall on both sides of the mark (the long leg's tier rises with
    the price faster than the net long gains), so neither side may be skipped on the strength
    of the slope at the mark. The roots do not depend on the symbol's own mark: the gap is a
    function of the price alone, the mark only says where the search starts.
    """
    inverse = legs[0].instrument.kind == "inverse"
    mark = legs[0].mark_price
    t_mark = div(Decimal(1), mark, rounding=Rounding.HALF_EVEN) if inverse else mark
    rates = _rates_at(legs, mark, conventions)
    line = _line(legs, rates, conventions, pnl)
    concave = _concave(legs)
    if concave and len(legs) == 1 and _monotone(legs[0], conventions):
        root = _single_root(legs, frozen, conventions, pnl, rates, line, t_mark)
        below = root is not None and root.price <= mark
        return _Roots(down=root if below else None, up=None if below else root)
    if concave and frozen + line.constant + line.slope * t_mark > 0:
        low_t, high_t = (_concave_root(legs, frozen, conventions, pnl, rates, line, upward) for upward in (False, True))
    else:
        low_t, high_t = (_walk(legs, frozen, conventions, pnl, t_mark, upward) for upward in (False, True))
    if inverse:  # t grows as the price falls
        return _Roots(down=high_t, up=low_t)
    return _Roots(down=low_t, up=high_t)


def _single_root(
    legs: Sequence[Position],
    frozen: Decimal,
    conventions: Conventions,
    pnl: _Line,
    rates: tuple[MaintenanceRate, ...],
    line: _Line,
    t_mark: Decimal,
) -> _Root | None:
    """The one root of a single leg whose gap is monotone and concave: Newton steps from the
    mark's tier line converge onto it from either side; where that line's root is not a
    price, the far end's line on the falling side decides (solvent accounts only)."""
    root = _newton(legs, frozen, conventions, pnl, rates, line)
    if root is not None or line.slope == 0 or frozen + line.constant + line.slope * t_mark <= 0:
        return root
    return _far_root(legs, frozen, conventions, pnl, upward=line.slope < 0)


def _concave_root(
    legs: Sequence[Position],
    frozen: Decimal,
    conventions: Conventions,
    pnl: _Line,
    rates: tuple[MaintenanceRate, ...],
    line: _Line,
    upward: bool,
) -> _Root | None:
    """The root on one side of a concave gap that is positive at the mark (at most one).

    Every tier line lies on or above a concave gap, so the root of any of them that falls
    toward this side lies at or beyond the gap's root, and Newton steps on the tier lines (the
    tiers re-evaluated at each root, as the FAQs prescribe) walk back onto it. The mark's own
    line is the start on the side it falls to; the far end's line on the other side, where a
    hedge's larger leg may turn the gap down, and where its value or slope rules a root out.
    """
    if line.slope != 0 and (line.slope < 0) == upward:
        found = _newton(legs, frozen, conventions, pnl, rates, line)
        if found is not None:
            return found
    return _far_root(legs, frozen, conventions, pnl, upward)


def _far_root(
    legs: Sequence[Position], frozen: Decimal, conventions: Conventions, pnl: _Line, upward: bool
) -> _Root | None:
    """Newton from the far end's tier line on one side, unless it rules a root out there: a
    last line that does not fall (``t -> infinity``) or a positive gap at ``t -> 0``."""
    far_rates = tuple(_far_rate(leg, conventions, upward) for leg in legs)
    far = _line(legs, far_rates, conventions, pnl)
    if (far.slope >= 0) if upward else (frozen + far.constant > 0):
        return None
    return _newton(legs, frozen, conventions, pnl, far_rates, far)


def _newton(
    legs: Sequence[Position],
    frozen: Decimal,
    conventions: Conventions,
    pnl: _Line,
    rates: tuple[MaintenanceRate, ...],
    line: _Line,
) -> _Root | None:
    """Root of the tier line, tiers re-evaluated at it, until they are the root's own."""
    inverse = legs[0].instrument.kind == "inverse"
    for _ in range(sum(len(leg.instrument.tiers) for leg in legs) + 2):
        if line.slope == 0:
            return None
        t = div(-(frozen + line.constant), line.slope, rounding=Rounding.HALF_EVEN)
        if t <= 0:
            return None
        price = _price_of(t, inverse)
        at_root = _rates_at(legs, price, conventions)
        if _same_tiers(rates, at_root):
            return _Root(price, line)
        rates, line = at_root, _line(legs, at_root, conventions, pnl)
    return None


def _monotone(leg: Position, conventions: Conventions) -> bool:
    """Whether one leg's gap moves one way in every tier: its rates plus fees stay below 1."""
    fee = leg.instrument.fee("liquidation_fee") if conventions.liquidation_fee_in_ratio else ZERO
    highest = leg.mmr_override if leg.mmr_override is not None else leg.instrument.highest_mmr
    return highest + fee < 1


def _far_rate(leg: Position, conventions: Conventions, upward: bool) -> MaintenanceRate:
    """A leg's rate as ``t`` grows without bound (last tier) or shrinks to zero (first)."""
    if not _tier_moves_with_price(leg, conventions):
        return _rates_at([leg], leg.mark_price, conventions)[0]
    return maintenance_rate(leg, leg.instrument.tiers[-1].floor if upward else ZERO)


def _walk(
    legs: Sequence[Position],
    frozen: Decimal,
    conventions: Conventions,
    pnl: _Line,
    t_mark: Decimal,
    upward: bool,
) -> _Root | None:
    """The first root consistent with its own tiers, walking the tier segments away from the
    mark: the general search, for gaps that are not concave or already closed at the mark."""
    inverse = legs[0].instrument.kind == "inverse"
    bounds = sorted({b for leg in legs for b in _breakpoints(leg, conventions) if b > 0})
    edges: list[Decimal | None] = [ZERO, *bounds, None]
    start = bisect.bisect_right(bounds, t_mark)
    indices = range(start, len(edges) - 1) if upward else range(start, -1, -1)
    for index in indices:
        rates = _rates_at(legs, _price_of(_sample(edges, index, t_mark, start), inverse), conventions)
        line = _line(legs, rates, conventions, pnl)
        if line.slope == 0:
            continue
        t = div(-(frozen + line.constant), line.slope, rounding=Rounding.HALF_EVEN)
        if t <= 0 or (t < t_mark if upward else t > t_mark):
            continue
        price = _price_of(t, inverse)
        if _same_tiers(rates, _rates_at(legs, price, conventions)):
            return _Root(price, line)
    return None


def _sample(edges: Sequence[Decimal | None], index: int, t_mark: Decimal, start: int) -> Decimal:
    """A value of ``t`` strictly inside segment ``index`` (the mark itself in its own)."""
    if index == start:
        return t_mark
    low, high = edges[index], edges[index + 1]
    assert low is not None
    if high is None:
        return low * 2
    return div(low + high, Decimal(2), rounding=Rounding.HALF_EVEN)


def _falls_liquidate(legs: Sequence[Position], line: _Line) -> bool:
    """Whether the legs lose value as the price falls (then the safe rounding is upward)."""
    return line.slope > 0 if legs[0].instrument.kind == "linear" else line.slope < 0


def price_pair(
    legs: Sequence[Position], frozen_maintenance: Decimal, frozen_equity: Decimal, conventions: Conventions
) -> PricePair:
    """Liquidation and bankruptcy price of ``legs``, exact and rounded to the tick: the root
    nearest the mark, and each side's root."""
    pnl = _pnl_line(legs)
    roots = _roots(legs, frozen_maintenance, conventions, pnl)
    bankruptcy = _root_price(legs, pnl, frozen_equity)
    mark = legs[0].mark_price
    down, up = roots.down, roots.up
    main: _Root | None
    if down is not None and (up is None or mark - down.price <= up.price - mark):
        main, other = down, up
    else:
        main, other = up, down
    if main is None:
        return rounded_pair(legs, None, bankruptcy, falls_liquidate=_falls_liquidate(legs, pnl))
    falls = _falls_liquidate(legs, main.line)
    tick = legs[0].instrument.tick_size
    rounding = Rounding.CEILING if falls else Rounding.FLOOR
    main_price = _rounded(main.price, tick, rounding)
    other_price = _rounded_root(legs, other)
    sides = (main_price, other_price) if main is down else (other_price, main_price)
    return PricePair(
        main.price,
        main_price,
        bankruptcy,
        _rounded(bankruptcy, tick, rounding),
        falls,
        *sides,
        None if down is None else down.price,
        None if up is None else up.price,
    )


def _rounded_root(legs: Sequence[Position], root: _Root | None) -> Decimal | None:
    """One side's root rounded like the main liquidation price, toward that side's safety."""
    if root is None:
        return None
    rounding = Rounding.CEILING if _falls_liquidate(legs, root.line) else Rounding.FLOOR
    return _rounded(root.price, legs[0].instrument.tick_size, rounding)


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
    exact: Decimal | None,
    tick: Decimal,
    reporting: PriceReporting,
    *,
    falls_liquidate: bool,
    liquidation: bool = False,
) -> Decimal | None:
    """``exact`` as the venue's API prints it: snapped to the tick, or cut to a number of
    decimals or significant digits, toward the venue's safety or half-even (a plain rounding).

    ``None`` where no price exists or the printed figure would not be positive.
    """
    if exact is None:
        return None
    if liquidation and reporting.offset_ticks:
        exact += (1 if falls_liquidate else -1) * reporting.offset_ticks * tick
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
