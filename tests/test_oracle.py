"""Oracle guard: each validity, precedence, the action table, the band, Binance's median mark, TWAP."""

from __future__ import annotations

from decimal import Decimal as D
from itertools import pairwise

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crossmargin.engine.oracle import (
    ACTION_TABLE,
    PRECEDENCE,
    Action,
    OracleGuardConfig,
    PriceObservation,
    Validity,
    assess,
    funding_time_fraction,
    is_allowed,
    median_mark,
    moving_average_basis,
    twap,
)

NOW = 1_700_000_000_000
CONFIG = OracleGuardConfig(max_age_ms=60_000, band_fraction=D("0.05"), clamp_low=D("0.107"), clamp_high=D("1000"))


def _obs(price: str, age_ms: int = 0) -> PriceObservation:
    return PriceObservation(D(price), NOW - age_ms)


# --- each validity from a hand-made case ---------------------------------------------------


def test_fresh_in_band_price_is_valid():
    assert assess(_obs("100"), D("100"), NOW, CONFIG) is Validity.VALID


def test_price_older_than_max_age_is_stale_and_max_age_itself_is_not():
    assert assess(_obs("100", age_ms=60_001), D("100"), NOW, CONFIG) is Validity.STALE
    assert assess(_obs("100", age_ms=60_000), D("100"), NOW, CONFIG) is Validity.VALID


def test_future_timestamp_is_not_stale():
    assert assess(_obs("100", age_ms=-5_000), D("100"), NOW, CONFIG) is Validity.VALID


def test_deviation_beyond_band_is_out_of_band_and_at_band_is_not():
    """5 % of 100 is 5: 105 and 95 are in band, 105.01 and 94.99 are not."""
    assert assess(_obs("105"), D("100"), NOW, CONFIG) is Validity.VALID
    assert assess(_obs("95"), D("100"), NOW, CONFIG) is Validity.VALID
    assert assess(_obs("105.01"), D("100"), NOW, CONFIG) is Validity.OUT_OF_BAND
    assert assess(_obs("94.99"), D("100"), NOW, CONFIG) is Validity.OUT_OF_BAND


def test_no_reference_means_no_band_check():
    assert assess(_obs("500"), None, NOW, CONFIG) is Validity.VALID


def test_price_at_or_beyond_a_clamp_bound_is_clamped():
    """LUNA, May 2022: Chainlink's feed sat at minAnswer (~0.107) while the market was ~0.01."""
    assert assess(_obs("0.107"), D("0.107"), NOW, CONFIG) is Validity.CLAMPED
    assert assess(_obs("0.1"), D("0.1"), NOW, CONFIG) is Validity.CLAMPED
    assert assess(_obs("1000"), D("1000"), NOW, CONFIG) is Validity.CLAMPED
    assert assess(_obs("0.108"), D("0.108"), NOW, CONFIG) is Validity.VALID


def test_non_positive_price_is_clamped_even_without_bounds():
    bare = OracleGuardConfig(max_age_ms=60_000, band_fraction=D("0.05"))
    assert assess(_obs("0"), None, NOW, bare) is Validity.CLAMPED
    assert assess(_obs("-1"), None, NOW, bare) is Validity.CLAMPED


# --- precedence ----------------------------------------------------------------------------


def test_precedence_clamped_beats_out_of_band_beats_stale():
    old = 120_000
    # clamped, out of band (reference 10) and stale at once: clamped
    assert assess(_obs("0.107", age_ms=old), D("10"), NOW, CONFIG) is Validity.CLAMPED
    # out of band and stale: out of band
    assert assess(_obs("200", age_ms=old), D("100"), NOW, CONFIG) is Validity.OUT_OF_BAND
    # stale only
    assert assess(_obs("101", age_ms=old), D("100"), NOW, CONFIG) is Validity.STALE
    assert PRECEDENCE == (Validity.CLAMPED, Validity.OUT_OF_BAND, Validity.STALE, Validity.VALID)
    assert set(PRECEDENCE) == set(Validity)


# --- the table -----------------------------------------------------------------------------


def test_table_covers_every_validity():
    assert set(ACTION_TABLE) == set(Validity)


def test_everything_proceeds_on_a_valid_price():
    assert all(is_allowed(action, Validity.VALID) for action in Action)


def test_nothing_but_cancel_proceeds_on_a_clamped_price():
    assert [a for a in Action if is_allowed(a, Validity.CLAMPED)] == [Action.CANCEL]


def test_stale_refuses_new_risk_and_money_out_but_liquidates():
    assert not is_allowed(Action.OPEN_ORDER, Validity.STALE)
    assert not is_allowed(Action.WITHDRAW, Validity.STALE)
    assert not is_allowed(Action.TRANSFER, Validity.STALE)
    assert is_allowed(Action.LIQUIDATE, Validity.STALE)
    assert is_allowed(Action.REDUCE_ORDER, Validity.STALE)
    assert is_allowed(Action.CANCEL, Validity.STALE)


def test_out_of_band_allows_cancel_and_reduce_only():
    assert ACTION_TABLE[Validity.OUT_OF_BAND] == frozenset({Action.CANCEL, Action.REDUCE_ORDER})


def test_table_is_nested_along_the_precedence():
    """Why one value per price is enough: a worse class never allows what a better one refuses."""
    for worse, better in pairwise(PRECEDENCE):
        assert ACTION_TABLE[worse] <= ACTION_TABLE[better]


def test_liquidation_never_runs_where_the_user_cannot_reduce():
    for validity in Validity:
        if is_allowed(Action.LIQUIDATE, validity):
            assert is_allowed(Action.REDUCE_ORDER, validity)
        assert is_allowed(Action.CANCEL, validity)


# --- the band is symmetric -----------------------------------------------------------------

prices = st.decimals(min_value=D("0.01"), max_value=D("1000000"), places=2, allow_nan=False, allow_infinity=False)
fractions = st.decimals(min_value=D("0"), max_value=D("0.5"), places=4, allow_nan=False, allow_infinity=False)


@given(reference=prices, fraction=fractions, share=st.integers(min_value=0, max_value=99))
def test_band_check_is_symmetric(reference, fraction, share):
    """A price d above the reference and one d below it get the same answer (0 <= d < reference)."""
    distance = reference * share / 100
    config = OracleGuardConfig(max_age_ms=1_000, band_fraction=fraction)
    above = assess(PriceObservation(reference + distance, NOW), reference, NOW, config)
    below = assess(PriceObservation(reference - distance, NOW), reference, NOW, config)
    assert above is below
    assert (above is Validity.OUT_OF_BAND) == (distance > fraction * reference)


# --- configuration -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs",
    [
        {"max_age_ms": -1, "band_fraction": D("0.05")},
        {"max_age_ms": 1, "band_fraction": D("-0.05")},
        {"max_age_ms": 1, "band_fraction": 0.05},
        {"max_age_ms": 1, "band_fraction": D("0.05"), "clamp_low": D("2"), "clamp_high": D("1")},
    ],
)
def test_bad_config_is_refused(kwargs):
    with pytest.raises(ValueError):
        OracleGuardConfig(**kwargs)


def test_float_price_is_refused():
    with pytest.raises(ValueError):
        PriceObservation(100.0, NOW)  # type: ignore[arg-type]


def test_non_positive_reference_is_refused():
    with pytest.raises(ValueError):
        assess(_obs("100"), D("0"), NOW, CONFIG)


# --- Binance's median mark -----------------------------------------------------------------


def test_median_mark_hand_worked_example_takes_price2():
    """Hand-worked (Binance publishes the formula, not numbers). Index 50,000, last funding rate
    0.01 %, 4 h of an 8 h interval left, moving-average basis +3.2, last 50,010:
    Price 1 = 50,000 x (1 + 0.0001 x 0.5) = 50,002.5; Price 2 = 50,003.2; Contract Price 50,010.
    Price 1 < Price 2 < Contract Price, so the doc's rule takes Price 2."""
    fraction = funding_time_fraction(NOW, NOW + 4 * 3_600_000, 8 * 3_600_000)
    assert fraction == D("0.5")
    assert median_mark(D("50000"), D("0.0001"), fraction, D("3.2"), D("50010")) == D("50003.2")


def test_median_mark_takes_last_or_price1_when_they_are_in_the_middle():
    # Price 1 = 50,002.5, Price 2 = 49,990, last 50,000: last is the median
    assert median_mark(D("50000"), D("0.0001"), D("0.5"), D("-10"), D("50000")) == D("50000")
    # Price 1 = 49,997.5 (negative rate), Price 2 = 50,010, last 49,900: Price 1 is the median
    assert median_mark(D("50000"), D("-0.0001"), D("0.5"), D("10"), D("49900")) == D("49997.5")


def test_moving_average_basis_follows_the_documented_sum():
    """sum[(Bid1_i + Ask1_i)/2 - PI_i] / n: mids 100.5, 101, 99.75 against index 100 -> 1.25/3."""
    samples = [(D("100"), D("101"), D("100")), (D("100.5"), D("101.5"), D("100")), (D("99.5"), D("100"), D("100"))]
    basis = moving_average_basis(samples)
    assert D("0.4166666666") < basis < D("0.4166666667")
    assert basis * 3 <= D("1.25")  # toward zero: never larger than the exact figure


def test_funding_time_fraction_is_bounded():
    assert funding_time_fraction(NOW, NOW - 1, 1_000) == D(0)
    assert funding_time_fraction(NOW, NOW + 5_000, 1_000) == D(1)
    assert funding_time_fraction(NOW, NOW + 1, 3) < D("0.33333334")


@given(
    index=prices,
    rate=st.decimals(min_value=D("-0.03"), max_value=D("0.03"), places=6, allow_nan=False, allow_infinity=False),
    fraction=st.decimals(min_value=D("0"), max_value=D("1"), places=4, allow_nan=False, allow_infinity=False),
    basis=st.decimals(min_value=D("-1000"), max_value=D("1000"), places=4, allow_nan=False, allow_infinity=False),
    last=prices,
)
def test_median_mark_lies_between_its_three_inputs(index, rate, fraction, basis, last):
    price1 = index * (1 + rate * fraction)
    price2 = index + basis
    mark = median_mark(index, rate, fraction, basis, last)
    assert min(price1, price2, last) <= mark <= max(price1, price2, last)
    assert mark in (price1, price2, last)


# --- TWAP ----------------------------------------------------------------------------------


@given(
    price=prices,
    times=st.lists(st.integers(min_value=0, max_value=100_000), min_size=1, max_size=20),
    window=st.integers(min_value=1, max_value=200_000),
)
def test_twap_of_constant_prices_is_that_price(price, times, window):
    observations = [PriceObservation(price, NOW - t - 1) for t in times]
    assert twap(observations, window, NOW) == price


def test_twap_weights_by_time_held():
    """100 held 600 ms then 110 held 400 ms: (100 x 600 + 110 x 400) / 1000 = 104."""
    observations = [PriceObservation(D("110"), NOW - 400), PriceObservation(D("100"), NOW - 1_000)]
    assert twap(observations, 1_000, NOW) == D("104")


def test_twap_counts_the_price_in_force_when_the_window_opens():
    """90 from long before, 100 from now-500: over the last 1,000 ms, (90 x 500 + 100 x 500) / 1000 = 95."""
    observations = [PriceObservation(D("90"), NOW - 50_000), PriceObservation(D("100"), NOW - 500)]
    assert twap(observations, 1_000, NOW) == D("95")


def test_twap_ignores_the_future_and_returns_none_when_nothing_covers_the_window():
    assert twap([PriceObservation(D("100"), NOW + 1)], 1_000, NOW) is None
    assert twap([], 1_000, NOW) is None
    assert twap([PriceObservation(D("100"), NOW)], 1_000, NOW) is None
    with pytest.raises(ValueError):
        twap([PriceObservation(D("100"), NOW - 1)], 0, NOW)


def test_twap_as_band_reference():
    history = [PriceObservation(D("100"), NOW - 300_000), PriceObservation(D("102"), NOW - 60_000)]
    reference = twap(history, 300_000, NOW)
    assert reference == D("100.4")
    assert assess(_obs("120"), reference, NOW, CONFIG) is Validity.OUT_OF_BAND
    assert assess(_obs("104"), reference, NOW, CONFIG) is Validity.VALID
