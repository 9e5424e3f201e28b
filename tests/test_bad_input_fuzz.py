"""Arbitrary account documents either evaluate or fail with an InputError naming a field.

Never a traceback: whatever a user feeds ``crossmargin evaluate``, the margin layer raises
only :class:`InputError` for bad input (the command line turns it into exit code 2).
"""

from __future__ import annotations

import json
from decimal import Decimal as D

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crossmargin.margin import evaluate_account, evaluation_to_json, parse_account
from crossmargin.units import InputError

NUMBERS = st.one_of(
    st.sampled_from(["1", "0", "-1", "0.5", "1e3", "1e40", "NaN", "Infinity", "", " ", "abc", "1,5", "12.3.4"]),
    st.decimals(allow_nan=False, allow_infinity=False, places=4, min_value=-(10**9), max_value=10**9).map(str),
    st.integers(min_value=-(10**6), max_value=10**6),
    st.floats(allow_nan=True),
    st.none(),
    st.booleans(),
)
SYMBOLS = st.sampled_from(["BTCUSDT", "ETH/USDT:USDT", "SOLUSDT", "NOPE", "", "BTCUSD_PERP"])


def _position() -> st.SearchStrategy[dict[str, object]]:
    return st.fixed_dictionaries(
        {
            "symbol": SYMBOLS,
            "side": st.sampled_from(["long", "short", "up", ""]),
            "size": NUMBERS,
            "entry_price": NUMBERS,
            "mark_price": NUMBERS,
        },
        optional={
            "margin_mode": st.sampled_from(["cross", "isolated", "both"]),
            "leverage": NUMBERS,
            "isolated_margin": NUMBERS,
            "position_side": st.sampled_from(["both", "long", "short", "x"]),
            "mmr": NUMBERS,
            "maintenance_amount": NUMBERS,
        },
    )


ACCOUNTS = st.fixed_dictionaries(
    {"venue": st.sampled_from(["binance-usdm", "binance-coinm", "generic", "nowhere", ""])},
    optional={
        "balances": st.dictionaries(st.sampled_from(["USDT", "BTC", "USD", "XYZ"]), NUMBERS, max_size=3),
        "collateral": st.one_of(st.lists(st.sampled_from(["USDT", "BTC", ""]), max_size=2), st.just("USDT")),
        "positions": st.lists(_position(), max_size=3),
    },
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ACCOUNTS)
def test_any_account_evaluates_or_names_the_bad_field(account):
    try:
        snapshot = parse_account(account)
    except InputError as error:
        assert error.field and "\n" not in str(error)
        return
    try:
        document = evaluation_to_json(evaluate_account(snapshot))
    except InputError as error:  # e.g. an instrument without a published tier table
        assert error.field
        return
    text = json.dumps(document)
    for pool in document["pools"]:
        for key in ("margin_balance", "maintenance_margin", "max_withdrawable"):
            D(pool[key])
    assert "NaN" not in text and "Infinity" not in text


@settings(max_examples=300, deadline=None)
@given(
    st.one_of(
        st.binary(max_size=200),
        st.text(max_size=200).map(str.encode),
        st.integers(min_value=1, max_value=3000).map(lambda n: ("[" * n + "]" * n).encode()),
        st.recursive(
            st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=5)),
            lambda inner: st.one_of(
                st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=3), inner, max_size=3)
            ),
            max_leaves=20,
        ).map(lambda value: json.dumps(value).encode()),
    )
)
def test_any_bytes_parse_as_json_or_name_the_source(data):
    """Whatever bytes arrive (binary, any text, deep nesting), the strict reader returns a value or
    raises one InputError naming the source: never UnicodeDecodeError or RecursionError."""
    from crossmargin.units.jsonio import MAX_JSON_DEPTH, _depth, parse_json

    try:
        value = parse_json(data, source="body")
    except InputError as error:
        assert error.field == "body" and "\n" not in str(error)
        return
    assert _depth(value) <= MAX_JSON_DEPTH
    assert json.loads(data.decode("utf-8-sig"), parse_float=D) == value  # what is accepted reads as plain JSON does
