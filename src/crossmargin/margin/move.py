"""The account-level answer: the uniform move of every mark that liquidates a cross pool.

Each position's liquidation price freezes the other marks, which is not how a crash works.
``liquidation_move`` scales every mark of the pool by ``1 + m`` at once and finds the
smallest ``|m|``, downward and upward, at which health reaches 1.

Closed form: in a pool of linear contracts every term of ``margin balance - requirement``
is linear in ``x = 1 + m`` between tier changes; in a pool of inverse contracts (one coin)
it is linear in ``y = 1 / x``. Walking the tier breakpoints outward from the marks and
solving each segment gives the first crossing exactly. Other pools (mixed kinds, venues
that weight positive PnL) use a scan-and-bisect on the pool figures to one ``MOVE_UNIT``.
The result is rounded toward zero: the reported move never overstates the room left.
"""

from __future__ import annotations

import bisect
import heapq
from dataclasses import dataclass
from decimal import Decimal
from typing import NamedTuple

from crossmargin.margin.pool import PoolFigures, PoolInput, pool_figures
from crossmargin.margin.position import fee_terms, maintenance_rate, maintenance_value_at_entry, tier_basis_value
from crossmargin.margin.types import Position, Side
from crossmargin.rules.schema import Conventions
from crossmargin.units import MOVE_UNIT, ONE, ZERO, Rounding, div, quantize


class LiquidationMove(NamedTuple):
    """Smallest uniform relative move down (negative) and up (positive); ``None``: none exists."""

    down: Decimal | None
    up: Decimal | None


@dataclass(slots=True)
class _Leg:
    """One position along the walk: basis = ``scale x v``, its tier and line coefficients."""

    position: Position
    scale: Decimal
    tiered: bool
    tier_index: int
    fixed_value: Decimal | None = None  # maintenance on the entry value (Bybit): no slope from it


def _scale(position: Position) -> Decimal:
    instrument = position.instrument
    if instrument.kind == "linear":
        return position.size * position.mark_price
    return div(position.size * instrument.contract_size, position.mark_price, rounding=Rounding.CEILING)


def _tier_entering(position: Position, basis: Decimal, increasing: bool) -> int:
    """Tier of the open interval beyond ``basis`` in the walking direction (either boundary rule)."""
    floors = position.instrument.tier_floors
    index = (bisect.bisect_right(floors, basis) if increasing else bisect.bisect_left(floors, basis)) - 1
    return index if index > 0 else 0


def _rate_of(leg: _Leg, tier_index: int) -> tuple[Decimal, Decimal]:
    """``(mmr, amount)`` of the leg in a given tier (or its fixed rate when not tiered)."""
    position = leg.position
    if leg.tiered:
        return position.instrument.tier_rates[tier_index]
    # an override, tiers keyed by contracts or an entry value: the rate does not move with price
    value = leg.scale if leg.fixed_value is None else leg.fixed_value
    rate = maintenance_rate(position, tier_basis_value(position.instrument, position.size, value))
    return rate.mmr, rate.amount


def _coefficients(leg: _Leg, conventions: Conventions, tier_index: int | None = None) -> tuple[Decimal, Decimal]:
    """``(constant, slope)`` of ``PnL - requirement`` in the walk variable for one leg."""
    position = leg.position
    mmr, amount = _rate_of(leg, leg.tier_index if tier_index is None else tier_index)
    fee, fixed = fee_terms(position, conventions)
    amount -= fixed
    sign = 1 if position.side is Side.LONG else -1
    if leg.fixed_value is not None:  # maintenance fixed on the entry value: a constant term
        amount = min(amount + fixed, leg.fixed_value * mmr) - fixed - leg.fixed_value * mmr
        mmr = ZERO
    if position.instrument.kind == "linear":
        return amount - sign * position.size * position.entry_price, leg.scale * (sign - mmr - fee)
    face = position.size * position.instrument.contract_size
    constant = amount + sign * div(face, position.entry_price, rounding=Rounding.FLOOR)
    return constant, -leg.scale * (sign + mmr + fee)


def _is_concave(legs: list[_Leg]) -> bool:
    """Marginal tiers make maintenance convex in notional, so the pool's line is concave."""
    return all(not leg.tiered or leg.position.instrument.tier_style == "marginal" for leg in legs)


def _line_at(legs: list[_Leg], wallet: Decimal, conventions: Conventions, tiers: list[int]) -> tuple[Decimal, Decimal]:
    constant, slope = wallet, ZERO
    for leg, tier_index in zip(legs, tiers, strict=True):
        c, s = _coefficients(leg, conventions, tier_index)
        constant += c
        slope += s
    return constant, slope


_UNSETTLED = Decimal(-1)


def _concave_root(legs: list[_Leg], wallet: Decimal, conventions: Conventions, increasing: bool) -> Decimal | None:
    """The first root beyond ``v = 1`` of the pool's concave line, or ``None`` if it has none.

    The line is the minimum over tier choices of straight lines, so each of those lies above
    it. The line of the far-end tiers decides whether a root exists: walking up, none does
    when its slope is not negative (the slope only falls as ``v`` grows); walking down to
    ``v = 0``, none does when its value there is positive (a concave function positive at
    both ends is positive between). Otherwise, starting from that line and then taking, at
    each new point, the line of the tiers in force there, every root overshoots the true one
    from the far side and the next is closer; once the tiers at the root are the ones that
    produced it, the root is exact. Should rounding at a tier edge keep the tiers from
    settling, ``_UNSETTLED`` asks the caller to walk the edges instead.
    """
    tiers = [(len(leg.position.instrument.tiers) - 1 if increasing else 0) if leg.tiered else 0 for leg in legs]
    constant, slope = _line_at(legs, wallet, conventions, tiers)
    if (increasing and slope >= 0) or (not increasing and constant > 0):
        return None
    for _ in range(sum(len(leg.position.instrument.tiers) for leg in legs) + 2):
        root = div(-constant, slope, rounding=Rounding.HALF_EVEN)
        if root <= 0:
            return None
        here = [_tier_entering(leg.position, leg.scale * root, not increasing) if leg.tiered else 0 for leg in legs]
        if here == tiers:
            return root
        tiers = here
        constant, slope = _line_at(legs, wallet, conventions, tiers)
    return _UNSETTLED


def _closed_form_applies(pool: PoolInput, conventions: Conventions) -> bool:
    kinds = {p.instrument.kind for p in pool.positions}
    return (
        pool.valuation is None
        and len(kinds) == 1
        and conventions.positive_pnl.maintenance == "full"
        and all(p.maintenance_amount_override in (None, ZERO) for p in pool.positions)
    )


def _walk(pool: PoolInput, conventions: Conventions, increasing: bool) -> Decimal | None:
    """First ``v`` (from 1, in the walking direction) where the pool's line reaches zero.

    The line's constant and slope are kept as running sums; a heap holds each leg's next
    tier edge, so every step costs one edge division for the legs that cross it.
    """
    legs = []
    for position in pool.positions:
        instrument = position.instrument
        fixed_value = maintenance_value_at_entry(position, conventions) if conventions.values_at_entry else None
        tiered = (
            position.mmr_override is None
            and fixed_value is None
            and instrument.tier_basis == "notional"
            and bool(instrument.tiers)
        )
        legs.append(_Leg(position, _scale(position), tiered, 0, fixed_value))
    if _is_concave(legs):
        found = _concave_root(legs, pool.wallet_balance, conventions, increasing)
        if found is not _UNSETTLED:
            return found
    for leg in legs:
        if leg.tiered:
            leg.tier_index = _tier_entering(leg.position, leg.scale, increasing)
    coefficients = [_coefficients(leg, conventions) for leg in legs]
    constant = pool.wallet_balance + sum((c for c, _ in coefficients), ZERO)
    slope = sum((s for _, s in coefficients), ZERO)
    edges: list[tuple[Decimal, int]] = []
    for leg_index in range(len(legs)):
        _push_edge(edges, legs, leg_index, increasing)
    v = ONE
    for _ in range(sum(len(leg.position.instrument.tiers) for leg in legs) + 1):
        if constant + slope * v <= 0:
            return v
        boundary = _edge_value(edges[0], increasing) if edges else None
        if slope != 0:
            root = div(-constant, slope, rounding=Rounding.HALF_EVEN)
            beyond = root > v if increasing else root < v
            before_boundary = boundary is None or (root <= boundary if increasing else root >= boundary)
            if beyond and before_boundary and root > 0:
                return root
        if boundary is None:
            return None
        v = boundary
        while edges and _edge_value(edges[0], increasing) == boundary:
            leg_index = heapq.heappop(edges)[1]
            old_constant, old_slope = coefficients[leg_index]
            legs[leg_index].tier_index += 1 if increasing else -1
            coefficients[leg_index] = new = _coefficients(legs[leg_index], conventions)
            constant += new[0] - old_constant
            slope += new[1] - old_slope
            _push_edge(edges, legs, leg_index, increasing)
    return None


def _edge_value(entry: tuple[Decimal, int], increasing: bool) -> Decimal:
    return entry[0] if increasing else -entry[0]


def _push_edge(edges: list[tuple[Decimal, int]], legs: list[_Leg], leg_index: int, increasing: bool) -> None:
    """Push the leg's next tier edge in the walking direction (negated when walking down)."""
    leg = legs[leg_index]
    if not leg.tiered:
        return
    tiers = leg.position.instrument.tiers
    if increasing:
        if leg.tier_index + 1 < len(tiers):
            edge = div(tiers[leg.tier_index + 1].floor, leg.scale, rounding=Rounding.HALF_EVEN)
            heapq.heappush(edges, (edge, leg_index))
        return
    floor = tiers[leg.tier_index].floor
    if floor > 0:
        heapq.heappush(edges, (-div(floor, leg.scale, rounding=Rounding.HALF_EVEN), leg_index))


def _to_move(v: Decimal | None, inverse: bool) -> Decimal | None:
    if v is None:
        return None
    factor = div(ONE, v, rounding=Rounding.HALF_EVEN) if inverse else v
    return quantize(factor - ONE, MOVE_UNIT, rounding=Rounding.TOWARD_ZERO)


def _closed_form(pool: PoolInput, conventions: Conventions) -> LiquidationMove:
    inverse = pool.positions[0].instrument.kind == "inverse"
    # Linear: the walk variable is x (falls with prices); inverse: y = 1/x (rises as prices fall).
    down = _to_move(_walk(pool, conventions, increasing=inverse), inverse)
    up = _to_move(_walk(pool, conventions, increasing=not inverse), inverse)
    return LiquidationMove(down=down, up=up)


def _gap(pool: PoolInput, conventions: Conventions, move: Decimal) -> Decimal:
    """Margin balance less requirement with every mark scaled by ``1 + move``."""
    figures = pool_figures(pool, conventions, ONE + move)
    return figures.margin_balance - figures.requirement


def _grid(pool: PoolInput, upward: bool) -> list[Decimal]:
    """Moves to try, nearest first: a 0.5 % ladder plus every tier edge of every position.

    The edges matter where tiers apply to the whole position: there the gap jumps, and the
    window in which it is negative can be narrower than any ladder step.
    """
    step = Decimal("0.005")
    ladder = [step * k for k in range(1, 200)]
    if upward:
        ladder.append(ONE)
        value = ONE
        while value < 1000:
            value = quantize(value * Decimal("1.25"), MOVE_UNIT, rounding=Rounding.CEILING)
            ladder.append(value)
    else:
        ladder = [-p for p in ladder] + [Decimal("-0.999"), Decimal("-0.9999"), Decimal("-0.999999")]
    points = set(ladder)
    for position in pool.positions:
        basis = _scale(position)
        if position.mmr_override is not None or position.instrument.tier_basis != "notional":
            continue
        for floor in position.instrument.tier_floors[1:]:
            # linear: basis grows with 1 + m; inverse (coin notional): it shrinks
            ratio = div(floor, basis, rounding=Rounding.HALF_EVEN)
            if position.instrument.kind == "inverse":
                ratio = div(ONE, ratio, rounding=Rounding.HALF_EVEN)
            edge = ratio - ONE
            for candidate in (
                quantize(edge, MOVE_UNIT, rounding=Rounding.FLOOR),
                quantize(edge, MOVE_UNIT, rounding=Rounding.CEILING),
            ):
                if (candidate > 0) == upward and candidate != 0 and candidate > -1:
                    points.add(candidate)
    return sorted(points, key=abs)


def _bisect(pool: PoolInput, conventions: Conventions, upward: bool) -> Decimal | None:
    """Scan outward for the first sign change, then bisect to one ``MOVE_UNIT``."""
    inside = ZERO
    outside: Decimal | None = None
    for point in _grid(pool, upward):
        if _gap(pool, conventions, point) <= 0:
            outside = point
            break
        inside = point
    if outside is None:
        return None
    while abs(outside - inside) > MOVE_UNIT:
        middle = quantize((inside + outside) * Decimal("0.5"), MOVE_UNIT, rounding=Rounding.TOWARD_ZERO)
        if middle in (inside, outside):
            break
        if _gap(pool, conventions, middle) <= 0:
            outside = middle
        else:
            inside = middle
    return inside


def liquidation_move(
    pool: PoolInput, conventions: Conventions, *, method: str = "auto", figures: PoolFigures | None = None
) -> LiquidationMove:
    """Smallest uniform relative move of all marks at which the pool's health reaches 1.

    ``method`` is ``auto`` (closed form where it applies), ``closed_form`` or ``bisection``;
    ``figures`` may pass the pool's figures at its marks when the caller has them already.
    Returns 0 both ways when the pool is already liquidatable.
    """
    if not pool.positions:
        return LiquidationMove(down=None, up=None)
    current = figures if figures is not None else pool_figures(pool, conventions)
    if current.is_liquidatable(conventions):
        return LiquidationMove(down=ZERO, up=ZERO)
    use_closed = method == "closed_form" or (method == "auto" and _closed_form_applies(pool, conventions))
    if use_closed:
        return _closed_form(pool, conventions)
    return LiquidationMove(down=_bisect(pool, conventions, False), up=_bisect(pool, conventions, True))
