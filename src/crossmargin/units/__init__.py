"""Exact numbers: decimal parsing, an exact arithmetic context and directed rounding.

Everything that touches money, sizes or prices goes through this package. Arithmetic runs
under :data:`EXACT`, a decimal context that traps any inexact result, so a product or a sum
is either exact or an error. Divisions and quantisations go through helpers whose rounding
direction is a required keyword argument.
"""

from crossmargin.units.errors import InputError
from crossmargin.units.numbers import (
    EXACT,
    MOVE_UNIT,
    ONE,
    RATIO_UNIT,
    ZERO,
    exact_arithmetic,
    exact_context,
    parse_decimal,
    to_decimal_string,
)
from crossmargin.units.rounding import Rounding, div, quantize, steps_of, to_tick

__all__ = [
    "EXACT",
    "MOVE_UNIT",
    "ONE",
    "RATIO_UNIT",
    "ZERO",
    "InputError",
    "Rounding",
    "div",
    "exact_arithmetic",
    "exact_context",
    "parse_decimal",
    "quantize",
    "steps_of",
    "to_decimal_string",
    "to_tick",
]
