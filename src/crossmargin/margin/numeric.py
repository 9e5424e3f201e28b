"""Prices found by evaluating the pool itself: bracket, bisect, then one secant step.

Where the pool's gap (margin balance less requirement) is not a single line between tier
edges, as in a multi-asset pool whose collateral haircuts bend it, a symbol's liquidation
price is found by evaluating the same :func:`pool_figures` the venue rules define. The same
solver is the independent reference the closed forms are tested against.

The search runs in ``t = P`` for linear contracts and ``t = 1/P`` for inverse ones, where the
gap is piecewise linear, so the final secant step inside a bracket that holds no kink lands
on the exact root.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from decimal import Decimal

from crossmargin.margin.pool import PoolInput, pool_figures
from crossmargin.rules.schema import Conventions
from crossmargin.units import ONE, ZERO, Rounding, div

#: Bisection stops once the bracket is this narrow relative to ``t``.
RELATIVE_WIDTH = Decimal("1e-24")
MAX_STEPS = 400
EXPANSION = Decimal(2)
HALF = Decimal("0.5")
T_MIN = Decimal("1e-30")
T_MAX = Decimal("1e30")


def symbol_gap(
    pool: PoolInput, indices: Sequence[int], conventions: Conventions, *, bankruptcy: bool = False
) -> Callable[[Decimal], Decimal]:
    """Gap of the pool as a function of ``t`` for the legs at ``indices`` (others frozen)."""
    inverse = pool.positions[indices[0]].instrument.kind == "inverse"

    def gap(t: Decimal) -> Decimal:
        price = div(ONE, t, rounding=Rounding.HALF_EVEN) if inverse else t
        positions = list(pool.positions)
        for index in indices:
            positions[index] = positions[index].with_mark(price)
        figures = pool_figures(pool._replace(positions=tuple(positions)), conventions)
        return figures.margin_balance - (ZERO if bankruptcy else figures.requirement)

    return gap


def _to_t(price: Decimal, inverse: bool) -> Decimal:
    return div(ONE, price, rounding=Rounding.HALF_EVEN) if inverse else price


def _bracket(
    gap: Callable[[Decimal], Decimal], start: Decimal, downward: bool | None = None
) -> tuple[Decimal, Decimal] | None:
    """Walk from ``start`` until the gap's sign flips: in the direction that closes the gap,
    or in the one given (``downward``: toward ``t -> 0``)."""
    here = gap(start)
    if downward is None:
        step = start * Decimal("1e-9")
        rising = gap(start + step) > here  # gap grows with t: its root lies below when positive
        downward = rising if here > 0 else not rising
    previous = start
    for _ in range(MAX_STEPS):
        candidate = previous * HALF if downward else previous * EXPANSION
        if candidate < T_MIN or candidate > T_MAX:
            return None
        if (gap(candidate) > 0) != (here > 0):
            return (candidate, previous) if downward else (previous, candidate)
        previous = candidate
    return None


def solve_by_bisection(
    pool: PoolInput,
    indices: Sequence[int],
    conventions: Conventions,
    *,
    bankruptcy: bool = False,
    downward: bool | None = None,
) -> Decimal | None:
    """Price of the legs at ``indices`` where the pool's gap reaches zero; ``None`` if none > 0.

    By default the root on the side the gap closes toward; ``downward`` (in ``t``) asks for
    one side, for hedged legs whose gap may close on both.
    """
    inverse = pool.positions[indices[0]].instrument.kind == "inverse"
    gap = symbol_gap(pool, indices, conventions, bankruptcy=bankruptcy)
    start = _to_t(pool.positions[indices[0]].mark_price, inverse)
    if gap(start) == 0:
        return pool.positions[indices[0]].mark_price
    bracket = _bracket(gap, start, downward)
    if bracket is None:
        return None
    low, high = bracket
    low_gap, high_gap = gap(low), gap(high)
    for _ in range(MAX_STEPS):
        if high - low <= high * RELATIVE_WIDTH:
            break
        middle = (low + high) * HALF
        middle_gap = gap(middle)
        if middle_gap == 0:
            low = high = middle
            break
        if (middle_gap > 0) == (low_gap > 0):
            low, low_gap = middle, middle_gap
        else:
            high, high_gap = middle, middle_gap
    root = low if low == high else low - div(low_gap * (high - low), high_gap - low_gap, rounding=Rounding.HALF_EVEN)
    if not low <= root <= high:
        root = (low + high) * HALF
    return _to_t(root, inverse) if root > 0 else None
