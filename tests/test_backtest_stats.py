"""The backtest statistics: examples worked by hand and the invariants every run must keep.

The definitions are those of :mod:`crossmargin.sim.stats` (simple returns per bar on the bar-close
equity after the initial one, 365-day years, zero risk-free rate).
"""

from __future__ import annotations

import math
from decimal import Decimal

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from crossmargin.sim import stats
from crossmargin.sim.types import FundingPayment, Liquidation, Trade
from tests.sim_results import HOUR_MS, make_result

YEAR_MS = 365 * 86_400_000
EIGHT_PLACES = Decimal("0.00000001")


def places(value: float) -> Decimal:
    return Decimal(repr(value)).quantize(EIGHT_PLACES)


def test_a_path_worked_by_hand():
    """Closes 100, 120, 90, 108 after 100: returns 0, +20 %, -25 %, +20 %; the peak 120 falls to 90."""
    result = make_result([100, 120, 90, 108], initial="100", final="108", span_ms=YEAR_MS)
    returns = [0.0, 0.2, -0.25, 0.2]
    mean = sum(returns) / 4  # 0.0375
    sample_sd = math.sqrt(sum((r - mean) ** 2 for r in returns) / 3)  # sqrt(0.136875 / 3)
    hourly_bars_a_year = 8760
    figures = stats.statistics(result)
    assert figures.total_return == Decimal("0.08000000")
    assert figures.cagr == Decimal("0.08000000")  # the span is one year: the CAGR is the return
    assert figures.max_drawdown == Decimal("0.25000000")
    assert figures.calmar == Decimal("0.32000000")  # 0.08 / 0.25
    assert figures.sharpe == places(mean / sample_sd * math.sqrt(hourly_bars_a_year))
    assert abs(float(figures.sharpe) - 16.43168) < 1e-5  # 0.0375 / 0.2136001 * 93.5949
    # Downside deviation: sqrt(0.25^2 / 4) = 0.125, so Sortino = 0.3 * sqrt(8760).
    assert figures.sortino == places(0.3 * math.sqrt(hourly_bars_a_year))


def test_cagr_compounds_over_the_span():
    """Doubling in half a year is a CAGR of 2^2 - 1 = 300 %; a loss of all is -100 %."""
    assert stats.cagr(make_result([100, 200], initial="100", final="200", span_ms=YEAR_MS // 2)) == Decimal("3")
    wiped = make_result([100, -5], initial="100", final="-5", span_ms=YEAR_MS)
    assert stats.cagr(wiped) == Decimal(-1)
    assert stats.max_drawdown(wiped) == Decimal(1)  # a debt counts as nothing left, not more than all
    # Ten per cent in 73 days (a fifth of a year): 1.1^5 - 1 = 0.61051 exactly.
    assert stats.cagr(make_result([100, 110], initial="100", final="110", span_ms=YEAR_MS // 5)) == Decimal("0.61051")


def test_time_below_health_counts_bars_and_never_a_bar_without_position():
    """Health 2, 1.4, 1.5, none: below 1.5 is one bar of four (1.5 itself is not below); below 2.5, three."""
    result = make_result([1, 1, 1, 1], health=[2.0, 1.4, 1.5, np.nan], levels=(Decimal("1.50"), Decimal("2.5")))
    assert stats.time_below_health(result) == {"1.5": Decimal("0.25"), "2.5": Decimal("0.75")}


def test_money_is_the_exact_sum_of_the_records():
    trades = [
        Trade(0, "BTCUSDT", "buy", Decimal("0.1"), Decimal("50000"), Decimal("1.10")),
        Trade(1, "BTCUSDT", "sell", Decimal("0.1"), Decimal("44100"), Decimal("2.205")),
    ]
    liquidations = [Liquidation(2, "ETHUSDT", "buy", Decimal("1"), Decimal("3000"), "full", Decimal("-100.25"),
                                Decimal("0.5"))]  # fmt: skip
    funding = [FundingPayment(k, "BTCUSDT", Decimal("0.0001"), Decimal("50000"), Decimal(a))
               for k, a in enumerate(("-1.5", "2.25", "-0.75"))]  # fmt: skip
    result = make_result([100, 100], trades=trades, liquidations=liquidations, funding=funding)
    assert stats.fees_paid(result) == Decimal("3.805")
    assert stats.funding_paid(result) == Decimal("2.25")
    assert stats.funding_received(result) == Decimal("2.25")
    assert stats.liquidation_loss(result) == Decimal("100.75")  # the realised loss and the fee
    assert str(stats.funding_paid(make_result([1, 1]))) == "0"  # nothing paid is "0", never "-0"


def test_undefined_ratios_are_none():
    flat = make_result([500.0] * 24, initial="500", final="500")
    figures = stats.statistics(flat)
    assert (figures.total_return, figures.cagr, figures.max_drawdown) == (0, 0, 0)
    assert (figures.sharpe, figures.sortino, figures.calmar) == (None, None, None)
    rising = make_result([100, 101, 103, 106], initial="100", final="106")
    assert stats.sortino(rising) is None and stats.calmar(rising) is None and stats.sharpe(rising) is not None
    assert stats.sharpe(make_result([100], initial="100", final="100")) is None  # one bar: no return to vary


def test_bars_a_year_come_from_the_grid_and_a_skipped_gap_does_not_shorten_them():
    result = make_result([1, 2, 3], step_ms=4 * HOUR_MS)
    assert stats.bars_per_year(result) == 2190.0
    result.times_ms = np.array([0, HOUR_MS, 5 * HOUR_MS], dtype=np.int64)  # a gap of four hours skipped
    assert stats.bars_per_year(result) == 8760.0


equities = st.lists(st.floats(-1e6, 1e9, allow_nan=False), min_size=1, max_size=60)


@settings(max_examples=200, deadline=None)
@given(equities, st.floats(1.0, 1e9))
def test_drawdown_is_a_fraction(equity, initial):
    result = make_result(equity, initial=repr(initial))
    drawdown = stats.max_drawdown(result)
    assert 0 <= drawdown <= 1
    falls = stats.drawdown_series(stats.equity_series(result))
    assert ((falls >= 0) & (falls <= 1)).all()


@settings(max_examples=100, deadline=None)
@given(st.floats(1e-3, 1e9), st.integers(1, 200))
def test_a_constant_equity_has_no_return_and_no_drawdown(level, bars):
    result = make_result([level] * bars)
    assert stats.total_return(result) == 0 and stats.cagr(result) == 0 and stats.max_drawdown(result) == 0
    assert stats.sharpe(result) is None and stats.sortino(result) is None


@settings(max_examples=150, deadline=None)
@given(st.lists(st.floats(1.0, 1e6), min_size=2, max_size=60), st.integers(-20, 20))
def test_scaling_the_account_leaves_every_ratio_unchanged(equity, power):
    """Scaled by a power of two (exact in float64 and in decimal), every ratio is the same."""
    scale = 2.0**power
    month = 30 * 86_400_000

    def run(closes: list[float]):  # the exact binary values as the engine's decimals, so they scale exactly
        return make_result(closes, initial=str(Decimal(closes[0])), final=str(Decimal(closes[-1])), span_ms=month)

    base, scaled = run(equity), run([e * scale for e in equity])
    for name in ("total_return", "cagr", "max_drawdown", "sharpe", "sortino", "calmar"):
        assert getattr(stats, name)(scaled) == getattr(stats, name)(base), name


@settings(max_examples=100, deadline=None)
@given(st.lists(st.decimals("-1000", "1000", places=6), max_size=30))
def test_funding_received_less_paid_is_the_net_funding(amounts):
    funding = [FundingPayment(k, "BTCUSDT", Decimal("0.0001"), Decimal("1"), a) for k, a in enumerate(amounts)]
    result = make_result([1, 1], funding=funding)
    received, paid = stats.funding_received(result), stats.funding_paid(result)
    assert received >= 0 and paid >= 0
    assert received - paid == sum(amounts, Decimal(0))
