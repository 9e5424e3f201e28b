"""Decimal parsing and the exact arithmetic context.

Why a trapping context: Python's default decimal context silently rounds to 28 digits with
banker's rounding, which is neither floor nor ceiling. Under :data:`EXACT` every ``+``, ``-``
and ``*`` either yields the exact result or raises ``decimal.Inexact``; division therefore has
to go through :func:`crossmargin.units.rounding.div`, which names its direction.
"""

from __future__ import annotations

import contextlib
import decimal
import functools
from collections.abc import Callable
from decimal import Decimal
from typing import ParamSpec, TypeVar

from crossmargin.units.errors import InputError

#: Significant digits of the exact context. Inputs carry at most ``MAX_INPUT_DIGITS`` digits,
#: so products of three inputs and sums of many stay exact well inside this precision.
EXACT_PRECISION = 200
#: Significant digits kept by a directed division before any coarser quantisation.
DIVISION_PRECISION = 50
MAX_INPUT_DIGITS = 34
MAX_INPUT_EXPONENT = 30

EXACT = decimal.Context(
    prec=EXACT_PRECISION,
    rounding=decimal.ROUND_HALF_EVEN,
    Emax=999_999,
    Emin=-999_999,
    traps=[
        decimal.Inexact,
        decimal.InvalidOperation,
        decimal.DivisionByZero,
        decimal.Overflow,
        decimal.FloatOperation,
    ],
)

ZERO = Decimal(0)
ONE = Decimal(1)

P = ParamSpec("P")
R = TypeVar("R")


def _already_exact(context: decimal.Context) -> bool:
    """Whether ``context`` computes as :data:`EXACT` does: same precision, inexact and float
    operations trapped (every ``+ - *`` is then exact or raises, whatever else differs)."""
    traps = context.traps
    return context.prec == EXACT_PRECISION and traps[decimal.Inexact] and traps[decimal.FloatOperation]


class _ExactContext:
    """Context manager behind :func:`exact_context`: a no-op when the caller is already exact.

    The engine enters it once per command and helpers enter it again inside; copying a context
    on every nested entry cost more than the arithmetic it guarded.
    """

    __slots__ = ("_local",)

    def __init__(self) -> None:
        self._local: contextlib.AbstractContextManager[decimal.Context] | None = None

    def __enter__(self) -> decimal.Context:
        current = decimal.getcontext()
        if _already_exact(current):
            return current
        self._local = decimal.localcontext(EXACT)
        return self._local.__enter__()

    def __exit__(self, *exc: object) -> None:
        if self._local is not None:
            self._local.__exit__(*exc)  # type: ignore[arg-type]
            self._local = None


def exact_context() -> _ExactContext:
    """Run the enclosed block under :data:`EXACT` (restoring the caller's context after)."""
    return _ExactContext()


def exact_arithmetic(function: Callable[P, R]) -> Callable[P, R]:
    """Decorate a public entry point so its body computes under :data:`EXACT`."""

    @functools.wraps(function)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        if _already_exact(decimal.getcontext()):  # the engine's loop: no context copy per call
            return function(*args, **kwargs)
        with decimal.localcontext(EXACT):
            return function(*args, **kwargs)

    return wrapper


def parse_decimal(
    value: object,
    *,
    field: str,
    non_negative: bool = False,
    positive: bool = False,
) -> Decimal:
    """Parse a decimal string (or an exact JSON number) into a finite ``Decimal``.

    Refuses, naming ``field``: missing or empty values, booleans, binary floats (their value is
    not the decimal the user wrote), NaN, infinities, exponents beyond +/-30, more than 34
    significant digits, and negative (or non-positive) values where the caller forbids them.
    """
    if value is None:
        raise InputError(field, "is missing")
    if isinstance(value, (bool, float)):
        raise InputError(field, f'must be a decimal string such as "1.25", got {value!r}')
    if isinstance(value, Decimal):
        parsed = value
    elif isinstance(value, int):
        parsed = Decimal(value)
    elif isinstance(value, str):
        text = value.strip()
        if not text:
            raise InputError(field, "is empty")
        try:
            parsed = Decimal(text)
        except decimal.InvalidOperation:
            raise InputError(field, f"is not a decimal number: {value!r}") from None
    else:
        raise InputError(field, f"must be a decimal string, got {type(value).__name__}")
    return _checked(parsed, field=field, non_negative=non_negative, positive=positive)


def _checked(parsed: Decimal, *, field: str, non_negative: bool, positive: bool) -> Decimal:
    if not parsed.is_finite():
        raise InputError(field, f"must be a finite number, got {parsed}")
    _sign, digits, exponent = parsed.as_tuple()
    assert isinstance(exponent, int)
    if len(digits) > MAX_INPUT_DIGITS:
        raise InputError(field, f"has more than {MAX_INPUT_DIGITS} significant digits")
    if parsed != 0 and abs(parsed.adjusted()) > MAX_INPUT_EXPONENT:
        raise InputError(field, f"is out of range (exponent {parsed.adjusted()})")
    if exponent < -(MAX_INPUT_EXPONENT + MAX_INPUT_DIGITS):
        raise InputError(field, "has too many decimal places")
    if positive and parsed <= 0:
        raise InputError(field, f"must be positive, got {parsed}")
    if non_negative and parsed < 0:
        raise InputError(field, f"must not be negative, got {parsed}")
    # A value like 1E+2 is normalised to a plain integer-exponent-free form for output.
    return parsed + 0 if parsed.is_zero() else parsed


def to_decimal_string(value: Decimal | None) -> str | None:
    """Render a decimal for JSON: plain notation (never ``1E+3``), ``None`` passed through."""
    if value is None:
        return None
    if value.is_zero():
        return "0"
    text = format(value, "f")
    return text


#: Named output scales for dimensionless figures.
RATIO_UNIT = Decimal("0.00000001")  # margin ratio and health: 1e-8
MOVE_UNIT = Decimal("0.000001")  # liquidation move: 1e-6 (0.0001 %)
