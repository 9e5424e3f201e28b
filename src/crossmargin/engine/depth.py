"""The depth model that market and liquidation orders walk: a captured book, or a parametric curve.

Why a model at all: a market order or a liquidation does not fill at the mark. It consumes resting
liquidity level by level, and the average it gets decides the realised PnL, the fee base and whether the
insurance fund pays. When market data carries a depth snapshot the engine walks that; otherwise it walks a
:class:`ParametricDepth` curve around the mark, taken from the rulebook or the scenario, or by default
from :data:`DEFAULT_DEPTH` by the base asset's liquidity class.

The curve: level ``k`` (``k = 0, 1, 2, ...``) on the ask side sits at ``ref x (1 + half_spread + k x
step)``, bids mirror it at ``ref x (1 - half_spread - k x step)``, and every level rests the same quote
notional ``notional_per_step`` (its base quantity is that notional divided by the price, rounded down so a
level never offers more than stated). Constant notional per level means cumulative depth grows linearly
with the distance from the reference, which is what the real Binance USD-M books do out to the 20-50 bps
their 1000-level snapshots reach (see below).

Calibration of :data:`DEFAULT_DEPTH` (``tools/calibrate_depth.py``, method in ``docs/depth-model.md``):

* ``major`` (BTC, ETH) from the Binance USD-M order-book captures in ``shared/data/orderbook/``:
  ``usdm_BTCUSDT_2023-04-04``, ``usdm_BTCUSDT_2024-07-18``, ``usdm_BTCUSDT_2024-08-08``,
  ``usdm_ETHUSDT_2024-07-18`` and ``usdm_ETHUSDT_2024-08-08`` (each a 1000-level REST snapshot and a top-20
  10 s replay). ``half_spread`` is the median of the files' median half-spreads (1.46e-6: a one-tick spread,
  which every capture shows in every sample); ``step`` is 1 bp; ``notional_per_step`` makes the ten levels
  within 10 bps hold the median notional the REST snapshots rest within 10 bps of mid per side (7.96e6 USDT).
* ``large`` (SOL, BNB, XRP) and ``small`` (DOGE, ADA, LTC, and every asset not listed, meme coins included)
  have no captures: their notional per unit of distance is major's times the ratio of median daily quote
  volume (``binance_usdm_perp_1h``, 2024-05-11 .. 2024-08-08, median over the class members) to that of
  BTC and ETH: 0.033 for large, 0.015 for small. A level can be no closer than one tick, so ``step`` is at
  least the members' median tick / price (binance-usdm rulebook ticks) and ``half_spread`` at least half of it.

Every figure is rounded to two significant digits. Arithmetic is exact (:func:`~crossmargin.units.exact_context`);
the one division per level and the average price name their rounding direction.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from decimal import Decimal
from itertools import islice
from typing import NamedTuple

from crossmargin.units import EXACT, ONE, ZERO, InputError, Rounding, div, parse_decimal

BUY = "buy"
SELL = "sell"
BID = "bid"
ASK = "ask"


@dataclass(frozen=True, slots=True)
class DepthLevel:
    """One price level: ``quantity`` base units (contracts for inverse books) resting at ``price``."""

    price: Decimal
    quantity: Decimal

    def __post_init__(self) -> None:
        assert isinstance(self.price, Decimal) and self.price.is_finite() and self.price > 0, "price must be > 0"
        assert isinstance(self.quantity, Decimal) and self.quantity.is_finite() and self.quantity > 0, (
            "quantity must be > 0"
        )


@dataclass(frozen=True, slots=True)
class DepthSnapshot:
    """A captured book: bids best first (strictly descending), asks best first (strictly ascending).

    A crossed book (best bid at or above best ask) is refused: it is a feed error, and walking it would
    let a taker buy below where it could sell.
    """

    bids: tuple[DepthLevel, ...]
    asks: tuple[DepthLevel, ...]

    def __post_init__(self) -> None:
        assert all(a.price > b.price for a, b in zip(self.bids, self.bids[1:], strict=False)), "bids must descend"
        assert all(a.price < b.price for a, b in zip(self.asks, self.asks[1:], strict=False)), "asks must ascend"
        assert not (self.bids and self.asks) or self.bids[0].price < self.asks[0].price, "book is crossed"

    @classmethod
    def from_pairs(cls, *, bids: Iterable[tuple[str, str]], asks: Iterable[tuple[str, str]]) -> DepthSnapshot:
        """Build from (price, quantity) decimal strings, best first; convenient for feeds and tests."""
        return cls(
            bids=tuple(DepthLevel(Decimal(price), Decimal(qty)) for price, qty in bids),
            asks=tuple(DepthLevel(Decimal(price), Decimal(qty)) for price, qty in asks),
        )


@dataclass(frozen=True, slots=True)
class ParametricDepth:
    """A depth curve around a reference price (the mark); all three figures are fractions or quote amounts.

    ``half_spread``: distance of the best level from the reference, as a fraction of it (>= 0).
    ``notional_per_step``: quote notional resting at every level (> 0).
    ``step``: distance between consecutive levels, as a fraction of the reference (> 0).
    """

    half_spread: Decimal
    notional_per_step: Decimal
    step: Decimal

    def __post_init__(self) -> None:
        assert isinstance(self.half_spread, Decimal) and 0 <= self.half_spread < 1, "half_spread must be in [0, 1)"
        assert isinstance(self.notional_per_step, Decimal) and self.notional_per_step > 0, "notional must be > 0"
        assert isinstance(self.step, Decimal) and 0 < self.step < 1, "step must be in (0, 1)"

    def level_price(self, reference: Decimal, side: str, index: int) -> Decimal:
        """Price of level ``index`` on ``side`` ("bid" or "ask"); a bid may come out at or below zero."""
        offset = EXACT.add(self.half_spread, EXACT.multiply(index, self.step))
        factor = EXACT.add(ONE, offset) if _book_side(side) == ASK else EXACT.subtract(ONE, offset)
        return EXACT.multiply(reference, factor)  # exact or an error, without entering a context

    def iter_levels(self, reference: Decimal, side: str) -> Iterator[DepthLevel]:
        """The levels of one side, best first; the ask side is endless, the bid side stops above zero."""
        for price, quantity in self.price_quantities(reference, side):
            yield DepthLevel(price, quantity)

    def price_quantities(
        self, reference: Decimal, side: str, max_levels: int | None = None
    ) -> Iterator[tuple[Decimal, Decimal]]:
        """``(price, quantity)`` of each level, best first (at most ``max_levels``), as
        :meth:`iter_levels` without the level objects (a market order walks these on every fill)."""
        assert reference > 0, "reference price must be > 0"
        index = 0
        while max_levels is None or index < max_levels:
            price = self.level_price(reference, side, index)
            if price <= 0:
                return
            # Rounded down: a level never offers more than its stated notional.
            yield price, div(self.notional_per_step, price, rounding=Rounding.FLOOR)
            index += 1

    def levels(self, reference: Decimal, side: str, count: int) -> tuple[DepthLevel, ...]:
        """The first ``count`` levels of one side (fewer on the bid side if prices would reach zero)."""
        return tuple(islice(self.iter_levels(reference, side), count))


class Fill(NamedTuple):
    """What a sweep filled: ``quantity`` may fall short of the order when the book runs out or the limit binds.

    ``notional`` is the exact sum of price x quantity over the levels touched; ``average_price`` is
    notional / quantity rounded against the taker; ``average_price`` and ``worst_price`` are ``None`` for
    an empty fill; ``levels`` counts the levels touched.
    """

    quantity: Decimal
    notional: Decimal
    average_price: Decimal | None
    worst_price: Decimal | None
    levels: int


class CurveMemo:
    """The levels of one side of a parametric curve at one reference price, computed once.

    Between two mark updates every market order walks the same levels; an engine keeps one
    memo per symbol and side, and it starts over when the curve or the reference price object
    changes (the engine stores a new mark as a new object).
    """

    __slots__ = ("_curve", "_pairs", "_reference", "_source")

    def __init__(self) -> None:
        self._curve: ParametricDepth | None = None
        self._reference: Decimal | None = None
        self._pairs: list[tuple[Decimal, Decimal]] = []
        self._source: Iterator[tuple[Decimal, Decimal]] = iter(())

    def price_quantities(
        self, curve: ParametricDepth, reference: Decimal, side: str, max_levels: int
    ) -> Iterator[tuple[Decimal, Decimal]]:
        """As :meth:`ParametricDepth.price_quantities`, from memory where already computed."""
        if curve is not self._curve or reference is not self._reference:
            self._curve, self._reference, self._pairs = curve, reference, []
            self._source = curve.price_quantities(reference, side)
        pairs = self._pairs
        for index in range(max_levels):
            if index == len(pairs):
                pair = next(self._source, None)
                if pair is None:
                    return
                pairs.append(pair)
            yield pairs[index]


def sweep(
    book: DepthSnapshot | ParametricDepth,
    side: str,
    quantity: Decimal,
    reference_price: Decimal,
    *,
    limit_price: Decimal | None = None,
    max_levels: int = 10_000,
    memo: CurveMemo | None = None,
) -> Fill:
    """Walk ``book`` for a taker order of ``quantity`` on ``side`` ("buy" takes asks, "sell" takes bids).

    ``reference_price`` is the mark a :class:`ParametricDepth` is centred on (a snapshot ignores it). A buy
    never pays above ``limit_price`` and a sell never sells below it; at most ``max_levels`` levels are
    taken (the parametric ask side is endless). The average rounds up for a buy and down for a sell, so
    the taker, never the venue, loses the last unit. ``memo`` (one per book side) reuses a
    parametric curve's levels across sweeps at the same reference price.
    """
    if side not in (BUY, SELL):
        raise ValueError(f"side must be 'buy' or 'sell', got {side!r}")
    if quantity <= 0:
        raise ValueError(f"quantity must be positive, got {quantity}")
    if reference_price <= 0:
        raise ValueError(f"reference price must be positive, got {reference_price}")
    if max_levels < 1:
        raise ValueError(f"max_levels must be at least 1, got {max_levels}")
    book_side = ASK if side == BUY else BID
    if isinstance(book, DepthSnapshot):
        levels = book.asks if book_side == ASK else book.bids
        source: Iterator[tuple[Decimal, Decimal]] = islice(((lv.price, lv.quantity) for lv in levels), max_levels)
    elif memo is not None:
        source = memo.price_quantities(book, reference_price, book_side, max_levels)
    else:
        source = book.price_quantities(reference_price, book_side, max_levels)
    return _walk(source, side, quantity, limit_price)


def _walk(levels: Iterator[tuple[Decimal, Decimal]], side: str, quantity: Decimal, limit_price: Decimal | None) -> Fill:
    """Consume levels best first until the order is filled, the limit binds or the levels run out."""
    filled = notional = ZERO
    worst: Decimal | None = None
    touched = 0
    add, subtract, multiply = EXACT.add, EXACT.subtract, EXACT.multiply  # exact or an error, no context switch
    for price, available in levels:
        if limit_price is not None and (price > limit_price if side == BUY else price < limit_price):
            break
        take = min(subtract(quantity, filled), available)
        filled = add(filled, take)
        notional = add(notional, multiply(price, take))
        worst = price
        touched += 1
        if filled == quantity:
            break
    if filled == 0:
        return Fill(ZERO, ZERO, None, None, 0)
    average = div(notional, filled, rounding=Rounding.CEILING if side == BUY else Rounding.FLOOR)
    return Fill(filled, notional, average, worst, touched)


def _book_side(side: str) -> str:
    if side not in (BID, ASK):
        raise ValueError(f"book side must be 'bid' or 'ask', got {side!r}")
    return side


def parametric_depth_from_mapping(raw: Mapping[str, object], *, field: str) -> ParametricDepth:
    """Parse a rulebook or scenario entry ``{half_spread, notional_per_step, step}`` of decimal strings.

    Refusals are :class:`~crossmargin.units.InputError` naming ``field.key``, never an assertion.
    """
    unknown = set(raw) - {"half_spread", "notional_per_step", "step"}
    if unknown:
        raise InputError(field, f"unknown keys {sorted(unknown)}")
    half_spread = parse_decimal(raw.get("half_spread"), field=f"{field}.half_spread", non_negative=True)
    notional = parse_decimal(raw.get("notional_per_step"), field=f"{field}.notional_per_step", positive=True)
    step = parse_decimal(raw.get("step"), field=f"{field}.step", positive=True)
    if half_spread >= 1:
        raise InputError(f"{field}.half_spread", f"must be below 1, got {half_spread}")
    if step >= 1:
        raise InputError(f"{field}.step", f"must be below 1, got {step}")
    return ParametricDepth(half_spread, notional, step)


#: Calibrated defaults by liquidity class; figures printed by ``python tools/calibrate_depth.py`` from
#: shared/data/orderbook/usdm_{BTCUSDT_2023-04-04, BTCUSDT_2024-07-18, BTCUSDT_2024-08-08, ETHUSDT_2024-07-18,
#: ETHUSDT_2024-08-08}_{rest_snapshot_1000, l2_top20_10s_replayed}.parquet (major) scaled by the median daily
#: quote volume of shared/data/binance_usdm_perp_1h/*USDT.parquet over 2024-05-11 .. 2024-08-08 (large, small),
#: with the binance-usdm@2024-10-24 rulebook ticks as the floor of step and spread. Quote notional in USDT.
DEFAULT_DEPTH: dict[str, ParametricDepth] = {
    "major": ParametricDepth(Decimal("0.0000015"), Decimal("800000"), Decimal("0.0001")),
    "large": ParametricDepth(Decimal("0.000032"), Decimal("26000"), Decimal("0.0001")),
    "small": ParametricDepth(Decimal("0.000067"), Decimal("16000"), Decimal("0.00013")),
}

#: Base asset -> liquidity class; an asset not listed is "small" (the thinnest book, the conservative guess).
LIQUIDITY_CLASS: dict[str, str] = {
    "BTC": "major",
    "ETH": "major",
    "SOL": "large",
    "BNB": "large",
    "XRP": "large",
    "DOGE": "small",
    "ADA": "small",
    "LTC": "small",
}
FALLBACK_CLASS = "small"


@functools.cache
def depth_for(symbol_base_asset: str) -> ParametricDepth:
    """The default curve for a base asset ("BTC", "eth", "1000PEPE"); unlisted assets get the small class."""
    return DEFAULT_DEPTH[LIQUIDITY_CLASS.get(symbol_base_asset.strip().upper(), FALLBACK_CLASS)]
