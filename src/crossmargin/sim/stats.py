"""A run's statistics: return, drawdown, risk-adjusted ratios, fees, funding and time at low health.

Two kinds of figure, two kinds of arithmetic. Money (fees, funding, liquidation losses) is the exact
:class:`~decimal.Decimal` sum of the engine's own records, so ``fees_paid`` is to the unit what the venue
charged. Ratios are dimensionless and reported as decimals rounded half-even to :data:`RATIO_PLACES`
(1e-8); the total return and the CAGR come from the exact initial and final equity, while the drawdown,
Sharpe and Sortino come from the float64 equity at every bar's close, which is all a ratio of that
precision needs.

Definitions (the equity series is the initial equity followed by the equity at each bar's close; an
equity below zero, a debt the insurance fund takes over, counts as zero, since the holder cannot lose
more than the account):

- ``total_return`` = final / initial - 1.
- ``cagr`` = (final / initial) ^ (365 days / span) - 1, the span being the run's [start, end); -1 when
  the final equity is zero or less.
- ``max_drawdown`` = the largest fall from a running peak, as a fraction of that peak: in [0, 1].
- ``sharpe`` = mean / standard deviation (sample, n - 1) of the simple returns per bar, times the square
  root of the bars in a year (365 days over the bar's length); zero risk-free rate. ``None`` when the
  returns do not vary (a constant equity) or there are fewer than two.
- ``sortino`` = the same mean over the downside deviation, the root mean square of the returns below
  zero taken over all returns; ``None`` when no return is negative.
- ``calmar`` = cagr / max_drawdown; ``None`` without a drawdown.
- ``time_below_health`` = for each level, the fraction of bars whose close health is below it (a bar
  without a position has no finite health and is never below).
"""

from __future__ import annotations

import decimal
import math
from dataclasses import dataclass
from decimal import Decimal

import numpy as np

from crossmargin.sim.types import BacktestResult, FloatArray
from crossmargin.units import Rounding, div, exact_context, quantize, to_decimal_string

#: Ratios are reported to 8 decimal places, rounded half-even (they are read, never paid).
RATIO_PLACES = 8
RATIO_QUANTUM = Decimal(1).scaleb(-RATIO_PLACES)
DAY_MS = 86_400_000
YEAR_MS = 365 * DAY_MS

#: Natural logarithm and exponential for the CAGR: 50 digits, far beyond the 8 places reported.
_POWER_CONTEXT = decimal.Context(prec=50, rounding=decimal.ROUND_HALF_EVEN, Emax=999_999, Emin=-999_999)


@dataclass(frozen=True, slots=True)
class Statistics:
    """Every statistic of one run (see the module docstring for each definition)."""

    total_return: Decimal
    cagr: Decimal
    max_drawdown: Decimal
    sharpe: Decimal | None
    sortino: Decimal | None
    calmar: Decimal | None
    fees_paid: Decimal
    funding_paid: Decimal
    funding_received: Decimal
    liquidation_loss: Decimal
    time_below_health: dict[str, Decimal]


def statistics(result: BacktestResult) -> Statistics:
    """All the statistics of ``result``, each computed once."""
    return Statistics(
        total_return=total_return(result),
        cagr=cagr(result),
        max_drawdown=max_drawdown(result),
        sharpe=sharpe(result),
        sortino=sortino(result),
        calmar=calmar(result),
        fees_paid=fees_paid(result),
        funding_paid=funding_paid(result),
        funding_received=funding_received(result),
        liquidation_loss=liquidation_loss(result),
        time_below_health=time_below_health(result),
    )


def ratio(value: Decimal | float) -> Decimal:
    """A dimensionless figure as reported: 8 decimal places, half-even (a float by its shortest repr)."""
    number = Decimal(repr(value)) if isinstance(value, float) else value
    places = max(number.adjusted() + RATIO_PLACES + 2, 28)  # room for every digit kept, however large
    return number.quantize(RATIO_QUANTUM, context=decimal.Context(prec=places, rounding=decimal.ROUND_HALF_EVEN))


def total_return(result: BacktestResult) -> Decimal:
    """final / initial - 1, from the engine's exact equities."""
    with exact_context():
        gain = result.final_equity - result.initial_equity
    return ratio(div(gain, result.initial_equity, rounding=Rounding.HALF_EVEN))


def cagr(result: BacktestResult) -> Decimal:
    """(final / initial) ^ (365 days / span) - 1; -1 when the account ended with nothing."""
    if result.final_equity <= 0:
        return ratio(Decimal(-1))
    growth = div(result.final_equity, result.initial_equity, rounding=Rounding.HALF_EVEN)
    span_ms = result.end_ms - result.start_ms
    if span_ms <= 0:
        raise ValueError("a run's end must come after its start")
    context = _POWER_CONTEXT
    exponent = context.divide(Decimal(YEAR_MS), Decimal(span_ms))
    annual = context.exp(context.multiply(context.ln(growth), exponent))
    return ratio(context.subtract(annual, Decimal(1)))


def equity_series(result: BacktestResult) -> FloatArray:
    """The initial equity, then the equity at each bar's close, floored at zero."""
    series = np.concatenate(([float(result.initial_equity)], np.asarray(result.equity, dtype=np.float64)))
    return np.maximum(series, 0.0)


def drawdown_series(equity: FloatArray) -> FloatArray:
    """The fall from the running peak at each point, as a fraction of that peak (0 where no peak yet)."""
    floored = np.maximum(np.asarray(equity, dtype=np.float64), 0.0)
    peak = np.maximum.accumulate(floored) if floored.size else floored
    with np.errstate(divide="ignore", invalid="ignore"):
        falls = np.where(peak > 0, (peak - floored) / peak, 0.0)
    return np.asarray(falls, dtype=np.float64)


def max_drawdown(result: BacktestResult) -> Decimal:
    """The deepest fall from a running peak of the bar-close equity, a fraction in [0, 1]."""
    falls = drawdown_series(equity_series(result))
    return ratio(float(falls.max()) if falls.size else 0.0)


def bar_returns(result: BacktestResult) -> FloatArray:
    """Simple returns from one point of :func:`equity_series` to the next (where the first is above zero)."""
    series = equity_series(result)
    before, after = series[:-1], series[1:]
    alive = before > 0
    return np.asarray(after[alive] / before[alive] - 1.0, dtype=np.float64)


def bars_per_year(result: BacktestResult) -> float | None:
    """365 days over the bar's length, the length being the shortest step of the bar grid (skipped gaps
    only lengthen a step); ``None`` for a run of one bar."""
    steps = np.diff(np.asarray(result.times_ms, dtype=np.int64))
    steps = steps[steps > 0]
    return YEAR_MS / float(steps.min()) if steps.size else None


def sharpe(result: BacktestResult) -> Decimal | None:
    """Annualised mean over standard deviation of the bar returns, zero risk-free rate."""
    returns, per_year = bar_returns(result), bars_per_year(result)
    if per_year is None or returns.size < 2:
        return None
    deviation = float(np.std(returns, ddof=1))
    if not deviation > 0 or not math.isfinite(deviation):
        return None
    return ratio(float(np.mean(returns)) / deviation * math.sqrt(per_year))


def sortino(result: BacktestResult) -> Decimal | None:
    """Annualised mean over the downside deviation (root mean square of the negative returns over all)."""
    returns, per_year = bar_returns(result), bars_per_year(result)
    if per_year is None or returns.size < 2:
        return None
    downside = float(np.sqrt(np.mean(np.minimum(returns, 0.0) ** 2)))
    if not downside > 0:
        return None
    return ratio(float(np.mean(returns)) / downside * math.sqrt(per_year))


def calmar(result: BacktestResult) -> Decimal | None:
    """CAGR over the maximum drawdown; ``None`` when the equity never fell."""
    drawdown = max_drawdown(result)
    if drawdown == 0:
        return None
    return ratio(div(cagr(result), drawdown, rounding=Rounding.HALF_EVEN))


def fees_paid(result: BacktestResult) -> Decimal:
    """Every fee of the account: the strategy's fills and the liquidations' (rebates count negative)."""
    with exact_context():
        return sum((t.fee for t in result.trades), Decimal(0)) + sum((q.fee for q in result.liquidations), Decimal(0))


def funding_paid(result: BacktestResult) -> Decimal:
    """The funding the account paid, a positive amount in the settlement asset."""
    with exact_context():
        return -sum((f.amount for f in result.funding if f.amount < 0), Decimal(0)) + 0


def funding_received(result: BacktestResult) -> Decimal:
    """The funding the account received, a positive amount in the settlement asset."""
    with exact_context():
        return sum((f.amount for f in result.funding if f.amount > 0), Decimal(0))


def liquidation_loss(result: BacktestResult) -> Decimal:
    """What the liquidations cost: the realised loss of their fills plus their fees (a gain counts negative)."""
    with exact_context():
        return sum((q.fee - q.realized_pnl for q in result.liquidations), Decimal(0))


def health_level_key(level: Decimal) -> str:
    """A level as the JSON names it: ``"1.5"``, never ``"1.50"`` or ``"15E-1"``."""
    with exact_context():
        text = to_decimal_string(level.normalize())
    assert text is not None
    return text


def time_below_health(result: BacktestResult) -> dict[str, Decimal]:
    """For each of the result's health levels, the fraction of bars whose close health is below it."""
    health = np.asarray(result.health, dtype=np.float64)
    bars = health.size
    fractions = {}
    for level in result.health_levels:
        below = int(np.count_nonzero(np.isfinite(health) & (health < float(level))))
        fraction = div(Decimal(below), Decimal(bars), rounding=Rounding.HALF_EVEN) if bars else Decimal(0)
        fractions[health_level_key(level)] = quantize(fraction, RATIO_QUANTUM, rounding=Rounding.HALF_EVEN)
    return fractions
