"""Hypothesis strategies: random cross pools on the shipped rulebooks' real tier tables."""

from __future__ import annotations

from decimal import Decimal as D

from hypothesis import strategies as st

from crossmargin.margin import MarginMode, PoolInput, Position, PositionSide, Side
from crossmargin.rules import Instrument, load_rulebook

LINEAR_SYMBOLS = ["BTCUSDT", "ETHUSDT", "SOLUSDT", "XRPUSDT", "DOGEUSDT"]


def _decimal(low: int, high: int, places: int) -> st.SearchStrategy[D]:
    """Decimals in [low, high] with at most ``places`` decimal places, never zero."""
    scale = 10**places
    return st.integers(min_value=max(1, low * scale), max_value=high * scale).map(lambda n: D(n) / D(scale))


def _price_near(instrument: Instrument) -> st.SearchStrategy[D]:
    typical = {"BTC": 30000, "ETH": 2000, "SOL": 100, "XRP": 1, "DOG": 1}.get(instrument.symbol[:3], 100)
    return _decimal(max(1, typical // 4), typical * 4, 2)


@st.composite
def linear_position(draw: st.DrawFn, instrument: Instrument | None = None, mode: str = "cross") -> Position:
    if instrument is None:
        instrument = load_rulebook("binance-usdm").instrument(draw(st.sampled_from(LINEAR_SYMBOLS)))
    entry = draw(_price_near(instrument))
    mark = entry * draw(st.sampled_from([D("0.7"), D("0.9"), D("0.97"), D("1"), D("1.03"), D("1.1"), D("1.3")]))
    notional = draw(st.sampled_from([1000, 20000, 200000, 2000000, 20000000]))
    size = (D(notional) / entry).quantize(D("0.001")) + D("0.001")
    leverage = D(draw(st.sampled_from([1, 3, 5, 10, 20, 50])))
    isolated = None
    if mode == "isolated":
        isolated = (size * entry / leverage).quantize(D("0.01")) + draw(_decimal(0, 5000, 2))
    return Position(
        instrument=instrument,
        side=draw(st.sampled_from([Side.LONG, Side.SHORT])),
        size=size,
        entry_price=entry,
        mark_price=mark,
        margin_mode=MarginMode(mode),
        leverage=leverage,
        position_side=PositionSide.BOTH,
        isolated_margin=isolated,
    )


@st.composite
def linear_pool(draw: st.DrawFn, min_positions: int = 1, max_positions: int = 4) -> PoolInput:
    symbols = draw(
        st.lists(st.sampled_from(LINEAR_SYMBOLS), min_size=min_positions, max_size=max_positions, unique=True)
    )
    rulebook = load_rulebook("binance-usdm")
    positions = tuple(draw(linear_position(rulebook.instrument(s))) for s in symbols)
    gross = sum((p.size * p.mark_price for p in positions), D(0))
    wallet = (gross * draw(st.sampled_from([D("0.02"), D("0.05"), D("0.1"), D("0.3"), D("1")]))).quantize(D("0.01"))
    return PoolInput("USDT", wallet + draw(_decimal(0, 1000, 2)), positions)


@st.composite
def inverse_pool(draw: st.DrawFn) -> PoolInput:
    """A BTC-margined pool of inverse contracts (the generic venue's BTC-INV tiers)."""
    instrument = load_rulebook("generic").instrument("BTC-INV")
    count = draw(st.integers(min_value=1, max_value=2))
    positions = []
    for leg in range(count):
        entry = draw(_decimal(10000, 60000, 1))
        mark = entry * draw(st.sampled_from([D("0.8"), D("0.95"), D("1"), D("1.05"), D("1.2")]))
        positions.append(
            Position(
                instrument=instrument,
                side=draw(st.sampled_from([Side.LONG, Side.SHORT])) if count == 1 else (Side.LONG, Side.SHORT)[leg],
                size=D(draw(st.integers(min_value=1, max_value=400000))),
                entry_price=entry,
                mark_price=mark,
                margin_mode=MarginMode.CROSS,
                leverage=D(10),
                position_side=PositionSide.BOTH if count == 1 else (PositionSide.LONG, PositionSide.SHORT)[leg],
            )
        )
    coin = sum((p.size * 100 / p.mark_price for p in positions), D(0))
    wallet = (coin * draw(st.sampled_from([D("0.02"), D("0.05"), D("0.2"), D("1")]))).quantize(D("0.00000001"))
    return PoolInput("BTC", wallet + D("0.001"), tuple(positions))
