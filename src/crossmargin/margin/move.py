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

from dataclasses import dataclass
from decimal import Decimal

from crossmargin.margin.pool import PoolInput, pool_figures
from crossmargin.margin.position import maintenance_rate, tier_basis_value, tier_index_for
from crossmargin.margin.types import Position
from crossmargin.rules.schema import Conventions
from crossmargin.units import MOVE_UNIT, ONE, ZERO, Rounding, div, quantize


@dataclass(frozen=True, slots=True)
class LiquidationMove:
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


def _scale(position: Position) -> Decimal:
    instrument = position.instrument
    if instrument.kind == "linear":
        return position.size * position.mark_price
    return div(position.size * instrument.contract_size, position.mark_price, rounding=Rounding.CEILING)


def _tier_entering(position: Position, basis: Decimal, increasing: bool) -> int:
    """Tier of the open interval beyond ``basis`` in the walking direction."""
    index = tier_index_for(position.instrument, basis)
    if not increasing and index > 0 and basis == position.instrument.tiers[index].floor:
        return index - 1
    return index


def _coefficients(leg: _Leg, fee_in_ratio: bool) -> tuple[Decimal, Decimal]:
    """``(constant, slope)`` of ``PnL - requirement`` in the walk variable for one leg."""
    position = leg.position
    if leg.tiered:
        rate = maintenance_rate(position, position.instrument.tiers[leg.tier_index].floor)
    else:  # an override, or tiers keyed by contracts: the rate does not move with price
        rate = maintenance_rate(position, tier_basis_value(position.instrument, position.size, leg.scale))
    fee = position.instrument.liquidation_fee if fee_in_ratio else ZERO
    sign = position.side.sign
    if position.instrument.kind == "linear":
        return rate.amount - sign * position.size * position.entry_price, leg.scale * (sign - rate.mmr - fee)
    face = position.size * position.instrument.contract_size
    constant = rate.amount + sign * div(face, position.entry_price, rounding=Rounding.FLOOR)
    return constant, -leg.scale * (sign + rate.mmr + fee)


def _closed_form_applies(pool: PoolInput, conventions: Conventions) -> bool:
    kinds = {p.instrument.kind for p in pool.positions}
    return (
        len(kinds) == 1
        and conventions.positive_pnl.maintenance == "full"
        and not conventions.close_fee_in_maintenance
        and all(p.maintenance_amount_override in (None, ZERO) for p in pool.positions)
    )


def _walk(pool: PoolInput, conventions: Conventions, increasing: bool) -> Decimal | None:
    """First ``v`` (from 1, in the walking direction) where the pool's line reaches zero."""
    fee_in_ratio = conventions.liquidation_fee_in_ratio
    legs = []
    for position in pool.positions:
        scale = _scale(position)
        instrument = position.instrument
        tiered = position.mmr_override is None and instrument.tier_basis == "notional" and bool(instrument.tiers)
        index = _tier_entering(position, scale, increasing) if tiered else 0
        legs.append(_Leg(position, scale, tiered, index))
    coefficients = [_coefficients(leg, fee_in_ratio) for leg in legs]
    v = ONE
    for _ in range(sum(len(leg.position.instrument.tiers) for leg in legs) + 1):
        constant = pool.wallet_balance + sum((c for c, _ in coefficients), ZERO)
        slope = sum((s for _, s in coefficients), ZERO)
        if constant + slope * v <= 0:
            return v
        boundary, crossing = _next_boundary(legs, increasing)
        if slope != 0:
            root = div(-constant, slope, rounding=Rounding.HALF_EVEN)
            beyond = root > v if increasing else root < v
            before_boundary = boundary is None or (root <= boundary if increasing else root >= boundary)
            if beyond and before_boundary and root > 0:
                return root
        if boundary is None:
            return None
        v = boundary
        for leg_index in crossing:
            leg = legs[leg_index]
            leg.tier_index += 1 if increasing else -1
            coefficients[leg_index] = _coefficients(leg, fee_in_ratio)
    return None


def _next_boundary(legs: list[_Leg], increasing: bool) -> tuple[Decimal | None, list[int]]:
    """Nearest tier edge in the walking direction and the legs that cross it there."""
    nearest: Decimal | None = None
    crossing: list[int] = []
    for index, leg in enumerate(legs):
        if not leg.tiered:
            continue
        tiers = leg.position.instrument.tiers
        if increasing:
            if leg.tier_index + 1 >= len(tiers):
                continue
            edge = div(tiers[leg.tier_index].cap, leg.scale, rounding=Rounding.HALF_EVEN)
        else:
            floor = tiers[leg.tier_index].floor
            if floor <= 0:
                continue
            edge = div(floor, leg.scale, rounding=Rounding.HALF_EVEN)
        if nearest is None or (edge < nearest if increasing else edge > nearest):
            nearest, crossing = edge, [index]
        elif edge == nearest:
            crossing.append(index)
    return nearest, crossing


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


def _grid(upward: bool) -> list[Decimal]:
    step = Decimal("0.005")
    points = [step * k for k in range(1, 200)]
    if not upward:
        return [-p for p in points] + [Decimal("-0.999"), Decimal("-0.9999"), Decimal("-0.999999")]
    points.append(ONE)
    value = ONE
    while value < 1000:
        value = quantize(value * Decimal("1.25"), MOVE_UNIT, rounding=Rounding.CEILING)
        points.append(value)
    return points


def _bisect(pool: PoolInput, conventions: Conventions, upward: bool) -> Decimal | None:
    """Scan outward for the first sign change, then bisect to one ``MOVE_UNIT``."""
    inside = ZERO
    outside: Decimal | None = None
    for point in _grid(upward):
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


def liquidation_move(pool: PoolInput, conventions: Conventions, *, method: str = "auto") -> LiquidationMove:
    """Smallest uniform relative move of all marks at which the pool's health reaches 1.

    ``method`` is ``auto`` (closed form where it applies), ``closed_form`` or ``bisection``.
    Returns 0 both ways when the pool is already liquidatable.
    """
    if not pool.positions:
        return LiquidationMove(down=None, up=None)
    if pool_figures(pool, conventions).is_liquidatable(conventions):
        return LiquidationMove(down=ZERO, up=ZERO)
    use_closed = method == "closed_form" or (method == "auto" and _closed_form_applies(pool, conventions))
    if use_closed:
        return _closed_form(pool, conventions)
    return LiquidationMove(down=_bisect(pool, conventions, False), up=_bisect(pool, conventions, True))
