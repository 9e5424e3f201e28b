"""Hypothesis strategies over every shipped rulebook: random cross pools on real tier tables.

Prices are drawn around ``tick x 10^4.5``, a scale that fits each instrument's own tick (a
BTC contract with a 0.1 tick trades near 30,000, a meme coin with a 1e-7 tick near 0.003).
"""

from __future__ import annotations

from decimal import Decimal as D

from hypothesis import strategies as st

from crossmargin.margin import MarginMode, PoolInput, Position, PositionSide, Side
from crossmargin.rules import Instrument, Rulebook, available_rulebooks, load_rulebook

VENUES = sorted({row[0] for row in available_rulebooks()})


def tiered_groups(rulebook: Rulebook) -> dict[str, list[Instrument]]:
    """Instruments with published tiers, by settlement asset."""
    groups: dict[str, list[Instrument]] = {}
    for instrument in rulebook.data.instruments:
        if instrument.tiers:
            groups.setdefault(instrument.settlement_asset, []).append(instrument)
    return groups


@st.composite
def venue_position(draw: st.DrawFn, instrument: Instrument, side: Side | None = None) -> Position:
    scale = instrument.tick_size * 10000
    entry = (scale * draw(st.integers(min_value=20, max_value=100)) / 10).quantize(instrument.tick_size)
    mark = (entry * draw(st.sampled_from([D("0.8"), D("0.95"), D("1"), D("1.05"), D("1.25")]))).quantize(
        instrument.tick_size
    )
    target = D(draw(st.sampled_from([2000, 50000, 1000000, 20000000])))
    if instrument.kind == "linear":
        size = max(instrument.lot_size, (target / entry).quantize(instrument.lot_size))
    else:
        size = max(D(1), (target / instrument.contract_size).quantize(D(1)))
    leverage = D(draw(st.sampled_from([2, 5, 10, 20])))
    return Position(
        instrument=instrument,
        side=side or draw(st.sampled_from([Side.LONG, Side.SHORT])),
        size=size,
        entry_price=entry,
        mark_price=mark,
        margin_mode=MarginMode.CROSS,
        leverage=leverage,
        position_side=PositionSide.BOTH,
    )


class _Quiet(tuple):  # type: ignore[type-arg]
    def __repr__(self) -> str:
        return f"<{self[0].venue} pool>"


@st.composite
def venue_pool(draw: st.DrawFn, venue: str) -> tuple[Rulebook, PoolInput]:
    rulebook = load_rulebook(venue)
    groups = tiered_groups(rulebook)
    asset = draw(st.sampled_from(sorted(groups)))
    kinds = {i.kind for i in groups[asset]}
    kind = draw(st.sampled_from(sorted(kinds)))
    candidates = [i for i in groups[asset] if i.kind == kind]
    chosen = draw(st.lists(st.sampled_from(candidates), min_size=1, max_size=3, unique_by=lambda i: i.symbol))
    positions = tuple(draw(venue_position(i)) for i in chosen)
    if kind == "linear":
        gross = sum((p.size * p.mark_price * p.instrument.contract_size for p in positions), D(0))
    else:
        gross = sum((p.size * p.instrument.contract_size / p.mark_price for p in positions), D(0))
    ratio = draw(st.sampled_from([D("0.03"), D("0.1"), D("0.3"), D("1")]))
    wallet = (gross * ratio).quantize(rulebook.asset_unit(asset)) + rulebook.asset_unit(asset)
    return _Quiet((rulebook, PoolInput(asset, wallet, positions)))  # type: ignore[return-value]


def describe(pool: PoolInput) -> str:
    """A one-line account summary for Hypothesis' failure notes."""
    legs = "; ".join(
        f"{p.symbol} {p.side.value} {p.size} @{p.entry_price} mark {p.mark_price} x{p.leverage}" for p in pool.positions
    )
    return f"{pool.settlement_asset} wallet {pool.wallet_balance}: {legs}"
