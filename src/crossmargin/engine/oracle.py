"""Oracle guard: classify a price as valid or not, and say in one table what may proceed on it.

Why a guard at all: every figure the engine computes is only as good as the price under it. The
incidents that hurt margin engines were prices that were *reported* but not *true*: a Chainlink
feed sitting at its ``minAnswer`` while LUNA traded ten times lower (a clamp read as a price), an
oracle pumped ten-fold on thin books (Mango), a collateral price taken from a venue's own depegged
book (Binance, Oct 2025). So a price is classified first (:func:`assess`) and each action then asks
one table (:data:`ACTION_TABLE`, :func:`is_allowed`) whether it may run on that class, the way
Drift's ``is_oracle_valid_for_action`` answers "may I liquidate on a stale oracle?" in one place.

Precedence, worst first: ``CLAMPED > OUT_OF_BAND > STALE > VALID``. A price that is both stale and
out of band is reported as ``OUT_OF_BAND``; there is no combined value. That loses nothing because
the table is nested (each worse class allows a subset of what the better one allows), so the worst
class's set is exactly the intersection of the sets of every fault the price has.

The module also builds Binance's perpetual mark price (:func:`median_mark`) and a time-weighted
average (:func:`twap`) that can serve as the band reference. All arithmetic is exact Decimal;
the only divisions go through :func:`crossmargin.units.div` with a named direction.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Final

from crossmargin.units import ONE, ZERO, Rounding, div, exact_arithmetic


class Validity(enum.Enum):
    """What :func:`assess` concluded about one price (one value even when several faults apply)."""

    __hash__ = object.__hash__  # members are singletons: hash by identity, in C

    VALID = "valid"
    STALE = "stale"  # older than the rulebook's maximum age
    OUT_OF_BAND = "out_of_band"  # too far from its reference (index or TWAP)
    CLAMPED = "clamped"  # at or beyond a configured bound, or not positive: not a price


#: Worst first. :func:`assess` reports the first class in this order that the price falls into.
PRECEDENCE: Final[tuple[Validity, ...]] = (Validity.CLAMPED, Validity.OUT_OF_BAND, Validity.STALE, Validity.VALID)


class Action(enum.Enum):
    """What the engine wants to do with a price."""

    __hash__ = object.__hash__  # members are singletons: hash by identity, in C

    OPEN_ORDER = "open_order"  # an order that adds risk
    REDUCE_ORDER = "reduce_order"  # an order that can only shrink a position
    CANCEL = "cancel"
    WITHDRAW = "withdraw"
    TRANSFER = "transfer"  # wallet <-> isolated margin
    LIQUIDATE = "liquidate"
    SETTLE_FUNDING = "settle_funding"
    TRIGGER_STOP = "trigger_stop"  # evaluate a stop's trigger against the price


_EVERYTHING = frozenset(Action)
_STALE_ALLOWED = frozenset({Action.CANCEL, Action.REDUCE_ORDER, Action.LIQUIDATE})
_OUT_OF_BAND_ALLOWED = frozenset({Action.CANCEL, Action.REDUCE_ORDER})
_CLAMPED_ALLOWED = frozenset({Action.CANCEL})

#: The one table: which actions may proceed on which validity.
#:
#: * ``VALID``: everything.
#: * ``STALE`` (necessarily in band, by precedence): cancel, reduce and liquidate.
#:   - Cancelling never adds risk, and reducing is the transition every venue allows an account in
#:     trouble (dYdX's "equally or less risky" predicate), so a user is never locked in.
#:   - Liquidation proceeds, as Drift's liquidation rejects only non-positive and too-volatile
#:     oracles, not stale ones: a loss that is not cut grows while the feed is late, and an in-band
#:     stale price is still near the reference. The user's own reduce is allowed on every class
#:     where liquidation is, so the engine never liquidates someone it has locked out (May 2021).
#:   - Opening, withdrawing and transferring are refused: they are initial-margin checks, and Drift
#:     rejects ``StaleForMargin`` for margin calculation; money must not leave on an old valuation.
#:   - Funding settlement is refused (deferred, not skipped): it moves wallet balances priced at
#:     the mark, it is not urgent (nothing grows while it waits), and settling later at a fresh
#:     mark costs nobody anything.
#:   - Stop triggers are refused: a stale price cannot tell whether the market reached the stop's
#:     level, so a trigger could fire at a level the market left or in a market that never got
#:     there (BitMEX refunded misfired stops after Black Thursday's delayed engine). A user may
#:     still reduce by hand.
#: * ``OUT_OF_BAND``: cancel and reduce only. Liquidation stops too: Drift refuses to liquidate on
#:   a too-volatile oracle, and liquidating on a price far from its reference is how a
#:   manipulated or depegged print becomes real losses (Mango 2022, Binance Oct 2025).
#: * ``CLAMPED``: cancel only. A price at a bound is not a price (LUNA at Chainlink's
#:   ``minAnswer``); a reduce would realise PnL and revalue the rest at a fictitious level.
ACTION_TABLE: Final[dict[Validity, frozenset[Action]]] = {
    Validity.VALID: _EVERYTHING,
    Validity.STALE: _STALE_ALLOWED,
    Validity.OUT_OF_BAND: _OUT_OF_BAND_ALLOWED,
    Validity.CLAMPED: _CLAMPED_ALLOWED,
}


def is_allowed(action: Action, validity: Validity) -> bool:
    """True when ``action`` may proceed on a price of class ``validity`` (the table, nothing else)."""
    return action in ACTION_TABLE[validity]


@dataclass(frozen=True, slots=True)
class OracleGuardConfig:
    """A rulebook's oracle rails.

    ``max_age_ms``: a price older than this is stale (an age equal to it is still fresh).
    ``band_fraction``: the largest allowed ``|price - reference| / reference`` (0.05 for 5 %);
    a deviation equal to it is still in band. ``clamp_low`` / ``clamp_high``: the feed's own
    bounds (Chainlink ``minAnswer`` / ``maxAnswer``); a price at or beyond one is clamped.
    """

    max_age_ms: int
    band_fraction: Decimal
    clamp_low: Decimal | None = None
    clamp_high: Decimal | None = None

    def __post_init__(self) -> None:
        if isinstance(self.max_age_ms, bool) or not isinstance(self.max_age_ms, int) or self.max_age_ms < 0:
            raise ValueError(f"max_age_ms must be a non-negative integer, got {self.max_age_ms!r}")
        if not isinstance(self.band_fraction, Decimal) or not self.band_fraction.is_finite() or self.band_fraction < 0:
            raise ValueError(f"band_fraction must be a finite non-negative Decimal, got {self.band_fraction!r}")
        for name, bound in (("clamp_low", self.clamp_low), ("clamp_high", self.clamp_high)):
            if bound is not None and (not isinstance(bound, Decimal) or not bound.is_finite()):
                raise ValueError(f"{name} must be a finite Decimal or None, got {bound!r}")
        if self.clamp_low is not None and self.clamp_high is not None and self.clamp_low >= self.clamp_high:
            raise ValueError("clamp_low must be below clamp_high")


@dataclass(frozen=True, slots=True)
class PriceObservation:
    """One price as the feed reported it, with the feed's own time (ms since the epoch)."""

    price: Decimal
    timestamp_ms: int

    def __post_init__(self) -> None:
        if not isinstance(self.price, Decimal) or not self.price.is_finite():
            raise ValueError(f"price must be a finite Decimal, got {self.price!r}")
        if isinstance(self.timestamp_ms, bool) or not isinstance(self.timestamp_ms, int):
            raise ValueError(f"timestamp_ms must be an integer, got {self.timestamp_ms!r}")


def is_clamped(price: Decimal, config: OracleGuardConfig) -> bool:
    """At or beyond a configured bound, or not positive.

    A non-positive price counts as clamped: zero is the natural floor of any price, and Drift
    rejects a ``NonPositive`` oracle for every action, liquidation included, which is what
    ``CLAMPED`` allows here too (cancel only).
    """
    if price <= 0:
        return True
    if config.clamp_low is not None and price <= config.clamp_low:
        return True
    return config.clamp_high is not None and price >= config.clamp_high


@exact_arithmetic
def is_out_of_band(price: Decimal, reference_price: Decimal, band_fraction: Decimal) -> bool:
    """``|price - reference| > band_fraction x reference``, cross-multiplied (no division).

    Cross-multiplying keeps the test exact and symmetric: a price ``d`` above the reference and
    one ``d`` below it get the same answer.
    """
    if reference_price <= 0:
        raise ValueError(f"reference_price must be positive, got {reference_price}")
    return abs(price - reference_price) > band_fraction * reference_price


def is_stale(observation: PriceObservation, now_ms: int, max_age_ms: int) -> bool:
    """Older than ``max_age_ms`` at ``now_ms``. A timestamp ahead of ``now_ms`` is not stale."""
    return now_ms - observation.timestamp_ms > max_age_ms


def assess(
    observation: PriceObservation,
    reference_price: Decimal | None,
    now_ms: int,
    config: OracleGuardConfig,
) -> Validity:
    """Classify one price; the worst fault wins (``CLAMPED > OUT_OF_BAND > STALE > VALID``).

    With ``reference_price`` None there is no band check (a venue without a reference for this
    feed); a caller relying on "liquidation proceeds only on a stale *in-band* price" must pass
    a reference.
    """
    if is_clamped(observation.price, config):
        return Validity.CLAMPED
    if reference_price is not None and is_out_of_band(observation.price, reference_price, config.band_fraction):
        return Validity.OUT_OF_BAND
    if is_stale(observation, now_ms, config.max_age_ms):
        return Validity.STALE
    return Validity.VALID


def funding_time_fraction(now_ms: int, next_funding_time_ms: int, funding_interval_ms: int) -> Decimal:
    """Binance's ``time until funding / funding interval``, in [0, 1].

    Rounded toward zero (at the 50th significant digit): the funding basis in Price 1 never looks
    larger than it is, the same direction as :func:`crossmargin.margin.funding.premium_index`.
    """
    if funding_interval_ms <= 0:
        raise ValueError("funding_interval_ms must be positive")
    remaining = min(max(next_funding_time_ms - now_ms, 0), funding_interval_ms)
    return div(Decimal(remaining), Decimal(funding_interval_ms), rounding=Rounding.TOWARD_ZERO)


@exact_arithmetic
def moving_average_basis(samples: Sequence[tuple[Decimal, Decimal, Decimal]]) -> Decimal:
    """Binance's ``sum of [(Bid1_i + Ask1_i) / 2 - PI_i] / n`` over ``(bid1, ask1, index)`` samples.

    Computed as ``sum(bid + ask - 2 x index) / (2n)`` so the one division comes last; rounded
    toward zero, so the basis never looks larger than it is.
    """
    if not samples:
        raise ValueError("moving_average_basis needs at least one sample")
    total = sum((bid + ask - 2 * index for bid, ask, index in samples), ZERO)
    return div(total, Decimal(2 * len(samples)), rounding=Rounding.TOWARD_ZERO)


@exact_arithmetic
def median_mark(
    index: Decimal,
    funding_rate: Decimal,
    time_to_funding_fraction: Decimal,
    moving_average_basis: Decimal,
    last: Decimal,
) -> Decimal:
    """Binance's perpetual mark price: ``Median(Price 1, Price 2, Contract Price)``.

    As Binance documents it: its support page on mark price and price index for COIN-margined
    contracts (binance.com/en/support/announcement/..., id fff6ec1b3f5845d19f1fb924644a0877,
    "Mark Price of COIN-Margined Perpetual Contracts"), and its announcement of 2025-09-16
    (effective 2025-09-18 08:01 UTC) restating ``Mark Price = Median(Price 1, Price 2, Contract
    Price)`` for USDⓈ-M and COIN-M perpetuals with Price 2's moving average now over 30 s:

    * ``Price 1 = Price Index x (1 + Last Funding Rate x (Time Until Funding / interval))``;
      the COIN-M page writes the interval as ``8`` (hours); pass the ratio as
      ``time_to_funding_fraction`` (see :func:`funding_time_fraction`).
    * ``Price 2 = Price Index + Moving Average (basis)``, the basis being the average of
      ``(Bid1 + Ask1) / 2 - Price Index`` over the window (see :func:`moving_average_basis`).
    * ``Contract Price`` is the contract's last price, ``last``.
    * "If Price 1 < Price 2 < Contract Price, then take Price 2 as Mark price."

    Rounding: none. There is no division here and the products are exact under the exact
    context, so the result is the exact median. Binance does not document how it rounds the
    published mark to the symbol's precision; a caller that needs that quantises explicitly with
    :func:`crossmargin.units.to_tick`, naming the direction.
    """
    price1 = index * (ONE + funding_rate * time_to_funding_fraction)
    price2 = index + moving_average_basis
    return sorted((price1, price2, last))[1]


def _in_force(ordered: Sequence[PriceObservation], start_ms: int, now_ms: int) -> list[tuple[Decimal, int]]:
    """(price, milliseconds it held within [start, now]) for each observation, sample-and-hold."""
    spans: list[tuple[Decimal, int]] = []
    for position, observation in enumerate(ordered):
        end = ordered[position + 1].timestamp_ms if position + 1 < len(ordered) else now_ms
        begin = max(observation.timestamp_ms, start_ms)
        if end > begin:
            spans.append((observation.price, end - begin))
    return spans


@exact_arithmetic
def twap(observations: Sequence[PriceObservation], window_ms: int, now_ms: int) -> Decimal | None:
    """Time-weighted average price over ``[now - window, now]``, or None when nothing covers it.

    Each observation holds from its timestamp until the next one (or ``now``); the one in force
    when the window opens counts from the window's start, and observations after ``now`` are
    ignored. Only the covered part of the window is averaged, so a feed that began inside the
    window is averaged over its own life. Of two observations with one timestamp the later in
    ``observations`` wins. The sum of price x duration is exact; the one division rounds down
    at the 50th significant digit, far below any tick, and keeps the result within the range of
    the prices averaged. Staleness of the feed is not judged here: :func:`assess` does that.
    """
    if window_ms <= 0:
        raise ValueError("window_ms must be positive")
    ordered = sorted((o for o in observations if o.timestamp_ms <= now_ms), key=lambda o: o.timestamp_ms)
    spans = _in_force(ordered, now_ms - window_ms, now_ms)
    covered = sum(duration for _, duration in spans)
    if covered == 0:
        return None
    weighted = sum((price * duration for price, duration in spans), ZERO)
    return div(weighted, Decimal(covered), rounding=Rounding.FLOOR)


__all__ = [
    "ACTION_TABLE",
    "PRECEDENCE",
    "Action",
    "OracleGuardConfig",
    "PriceObservation",
    "Validity",
    "assess",
    "funding_time_fraction",
    "is_allowed",
    "is_clamped",
    "is_out_of_band",
    "is_stale",
    "median_mark",
    "moving_average_basis",
    "twap",
]
