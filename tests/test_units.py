"""Exact numbers: parsing refusals, directed rounding, and no float in the exact layers."""

from __future__ import annotations

import ast
import decimal
from decimal import Decimal as D
from fractions import Fraction
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crossmargin.units import InputError, Rounding, div, exact_context, parse_decimal, quantize, steps_of, to_tick

SRC = Path(__file__).resolve().parents[1] / "src" / "crossmargin"


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        ("NaN", "finite"),
        ("Infinity", "finite"),
        ("-inf", "finite"),
        ("", "empty"),
        ("   ", "empty"),
        (None, "missing"),
        ("1e999", "out of range"),
        ("1e-40", "out of range"),
        ("12abc", "not a decimal"),
        (1.5, "decimal string"),
        (True, "decimal string"),
        ([], "decimal string"),
        ("1" * 40, "significant digits"),
    ],
)
def test_parse_decimal_refuses_naming_the_field(raw, problem):
    with pytest.raises(InputError) as caught:
        parse_decimal(raw, field="positions[0].size")
    assert str(caught.value).startswith("positions[0].size: ")
    assert problem in str(caught.value)


def test_parse_decimal_sign_checks():
    with pytest.raises(InputError, match="must not be negative"):
        parse_decimal("-3", field="size", non_negative=True)
    with pytest.raises(InputError, match="must be positive"):
        parse_decimal("0", field="size", positive=True)
    assert parse_decimal("-3", field="balance") == D(-3)
    assert parse_decimal(" 1535443.01 ", field="balance") == D("1535443.01")
    assert parse_decimal(D("0.004"), field="mmr") == D("0.004")


def test_exact_context_traps_silent_rounding():
    with exact_context(), pytest.raises(decimal.Inexact):
        _ = D(1) / D(3)
    with exact_context(), pytest.raises(decimal.FloatOperation):
        _ = D(1) < 0.5


@given(st.integers(min_value=-(10**12), max_value=10**12), st.integers(min_value=1, max_value=10**9))
def test_div_rounds_in_the_named_direction(numerator, denominator):
    exact = Fraction(numerator, denominator)
    down = div(D(numerator), D(denominator), rounding=Rounding.FLOOR)
    up = div(D(numerator), D(denominator), rounding=Rounding.CEILING)
    assert Fraction(down) <= exact <= Fraction(up)
    unit = D("0.01")
    assert Fraction(quantize(down, unit, rounding=Rounding.FLOOR)) <= exact
    assert Fraction(quantize(up, unit, rounding=Rounding.CEILING)) >= exact


@given(st.integers(min_value=1, max_value=10**9), st.sampled_from(["0.5", "0.1", "0.25", "0.0001"]))
def test_to_tick_lands_on_the_tick_in_the_named_direction(hundredths, tick):
    price = D(hundredths) / 1000
    tick_d = D(tick)
    up = to_tick(price, tick_d, rounding=Rounding.CEILING)
    down = to_tick(price, tick_d, rounding=Rounding.FLOOR)
    assert down <= price <= up
    assert up - down in (0, tick_d)
    assert (up / tick_d) == (up / tick_d).to_integral_value()


def test_rounding_direction_is_required():
    with pytest.raises(TypeError):
        div(D(1), D(3))  # type: ignore[call-arg]


EXACT_LAYERS = ["units", "rules", "margin"]


def _float_uses(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, float):
            found.append(f"{path.name}:{node.lineno} float literal {node.value}")
        elif isinstance(node, ast.Name) and node.id == "float" and not _is_isinstance_check(node, tree):
            found.append(f"{path.name}:{node.lineno} float()")
        elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "math":
            found.append(f"{path.name}:{node.lineno} math.{node.attr}")
        elif isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div) and path.parent.name == "margin":
            found.append(f"{path.name}:{node.lineno} bare '/' division")
    return found


def _is_isinstance_check(name: ast.Name, tree: ast.AST) -> bool:
    """``isinstance(value, float)`` is how the parser refuses floats; that use is allowed."""
    calls = (
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "isinstance"
    )
    return any(inner is name for call in calls for arg in call.args for inner in ast.walk(arg))


def test_no_float_and_no_bare_division_in_exact_layers():
    """units, rules and margin never touch float; divisions go through units.div with a direction."""
    offenders = []
    for layer in EXACT_LAYERS:
        for path in sorted((SRC / layer).rglob("*.py")):
            offenders.extend(_float_uses(path))
    assert offenders == []


def test_float_detector_catches_floats(tmp_path):
    sample = tmp_path / "margin" / "sample.py"
    sample.parent.mkdir()
    sample.write_text("import math\nx = 0.5\ny = float('1')\nz = math.sqrt(2)\nw = a / b\n")
    assert len(_float_uses(sample)) == 4


@given(
    value=st.integers(min_value=1, max_value=10**9),
    step=st.sampled_from([D("0.0001"), D("0.001"), D("0.5"), D("0.25"), D("3")]),
)
def test_steps_of_counts_whole_steps_in_the_named_direction(value, step):
    quantity = D(value) / 10000  # up to four decimals, often not a whole number of steps
    up = steps_of(quantity, step, rounding=Rounding.CEILING)
    down = steps_of(quantity, step, rounding=Rounding.FLOOR)
    assert (up - 1) * step < quantity <= up * step
    assert down * step <= quantity < (down + 1) * step
    assert up - down == (0 if quantity % step == 0 else 1)


def test_steps_of_a_ceiling_never_truncates():
    # 0.90099 BTC in 0.0001 lots is 9,009.9 lots: a ceiling is 9,010, truncation would give 9,009
    assert steps_of(D("0.90099"), D("0.0001"), rounding=Rounding.CEILING) == 9010
