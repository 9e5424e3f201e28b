"""Directed rounding: every division and quantisation names the side that wins the last unit.

The venue wins the last unit: requirements and liabilities round up (``CEILING``), collateral,
available and withdrawable amounts round down (``FLOOR``), and prices round to the tick toward
the venue's safety. ``TOWARD_ZERO`` serves figures such as a liquidation move, where the
conservative report is the smaller magnitude.
"""

from __future__ import annotations

import decimal
import enum
from decimal import Decimal

from crossmargin.units.numbers import DIVISION_PRECISION


class Rounding(enum.Enum):
    """Rounding direction of a division or quantisation."""

    __hash__ = object.__hash__  # members are singletons: hash by identity, in C

    FLOOR = decimal.ROUND_FLOOR
    CEILING = decimal.ROUND_CEILING
    TOWARD_ZERO = decimal.ROUND_DOWN
    AWAY_FROM_ZERO = decimal.ROUND_UP
    HALF_EVEN = decimal.ROUND_HALF_EVEN  # display only, never for money


def _context(rounding: Rounding) -> decimal.Context:
    return decimal.Context(
        prec=DIVISION_PRECISION,
        rounding=rounding.value,
        Emax=999_999,
        Emin=-999_999,
        traps=[decimal.InvalidOperation, decimal.DivisionByZero, decimal.Overflow],
    )


_CONTEXTS = {rounding: _context(rounding) for rounding in Rounding}
for _rounding, _ctx in _CONTEXTS.items():
    # An attribute on the member is cheaper to reach than a dict lookup hashing the enum.
    _rounding.context = _ctx  # type: ignore[attr-defined]


def div(numerator: Decimal, denominator: Decimal, *, rounding: Rounding) -> Decimal:
    """Divide to 50 significant digits, rounded in the stated direction.

    Rounding in a direction at 50 digits and again to a coarser unit in the same direction
    equals a single directed rounding of the exact quotient, so callers may quantise after.
    """
    if denominator == 0:
        raise ZeroDivisionError("division by zero in exact arithmetic")
    return rounding.context.divide(numerator, denominator)  # type: ignore[attr-defined, no-any-return]


def quantize(value: Decimal, unit: Decimal, *, rounding: Rounding) -> Decimal:
    """Round ``value`` to a multiple of ``unit`` (a power of ten such as ``0.00000001``)."""
    return value.quantize(unit, context=rounding.context)  # type: ignore[attr-defined]  # its mode rounds


def steps_of(value: Decimal, step: Decimal, *, rounding: Rounding) -> int:
    """How many ``step``s make ``value``, rounded in the stated direction (lots in a quantity,
    ticks in a price). Truncating the quotient instead would round a ceiling down."""
    quotient = div(value, step, rounding=rounding)
    return int(quotient.to_integral_value(context=rounding.context))  # type: ignore[attr-defined]


def to_tick(price: Decimal, tick: Decimal, *, rounding: Rounding) -> Decimal:
    """Round ``price`` to a multiple of ``tick``, which need not be a power of ten (0.5, 0.25).

    The result keeps the tick's number of decimal places.
    """
    if tick <= 0:
        raise ValueError("tick must be positive")
    if tick.as_tuple().digits == (1,):  # a power of ten: one quantisation does it
        return price.quantize(tick, context=rounding.context)  # type: ignore[attr-defined]
    ticks = steps_of(price, tick, rounding=rounding)
    exact = _CONTEXTS[Rounding.HALF_EVEN]
    return exact.multiply(ticks, tick).quantize(tick, context=exact)
