"""Position arithmetic of a fill: new size and entry price, and the PnL a reduction realises.

Pure functions over :class:`PositionState`. Adding to a position averages the entry price
(weighted by size, or for inverse contracts by the coin value, as the venues do); reducing
realises PnL at the fill price with the margin functions' own PnL formula; a fill larger than
the position closes it and opens the rest on the other side. A position keeps its hedge-mode leg
and any maintenance rate fixed for it while it grows or shrinks; the other side a fill opens is a
new position, at the rulebook's tiers.
"""

from __future__ import annotations

from decimal import Decimal
from typing import NamedTuple

from crossmargin.engine.state import PositionState
from crossmargin.margin.position import unrealized_pnl
from crossmargin.margin.types import MarginMode, PositionSide, Side
from crossmargin.rules.schema import Instrument
from crossmargin.units import ZERO, Rounding, div


class FillOutcome(NamedTuple):
    """The position after a fill, the size it closed and the PnL that closing realised."""

    position: PositionState | None
    closed: Decimal
    realized_pnl: Decimal


def order_side(side: str) -> Side:
    return Side.LONG if side == "buy" else Side.SHORT


def _average_entry(instrument: Instrument, state: PositionState, size: Decimal, price: Decimal) -> Decimal:
    total = state.size + size
    if instrument.kind == "linear":
        return div(state.size * state.entry_price + size * price, total, rounding=Rounding.HALF_EVEN)
    # inverse: contracts over their coin value, so that PnL in coin adds up
    coin = div(state.size, state.entry_price, rounding=Rounding.HALF_EVEN) + div(
        size, price, rounding=Rounding.HALF_EVEN
    )
    return div(total, coin, rounding=Rounding.HALF_EVEN)


def apply_fill(
    instrument: Instrument,
    state: PositionState | None,
    side: str,
    quantity: Decimal,
    price: Decimal,
    margin_mode: MarginMode,
    position_side: PositionSide = PositionSide.BOTH,
) -> FillOutcome:
    """Position after buying or selling ``quantity`` at ``price`` (a new one on ``position_side``)."""
    assert quantity > 0 and price > 0
    direction = order_side(side)
    if state is None:
        opened = PositionState(instrument.symbol, direction, quantity, price, margin_mode, position_side)
        return FillOutcome(opened, ZERO, ZERO)
    if state.side is direction:
        entry = _average_entry(instrument, state, quantity, price)
        grown = PositionState(
            state.symbol,
            state.side,
            state.size + quantity,
            entry,
            state.margin_mode,
            state.position_side,
            state.mmr_override,
            state.maintenance_amount_override,
        )
        return FillOutcome(grown, ZERO, ZERO)
    closed = min(quantity, state.size)
    realized = unrealized_pnl(instrument, state.side.sign, closed, state.entry_price, price)
    remaining = state.size - closed
    if remaining > 0:
        reduced = PositionState(
            state.symbol,
            state.side,
            remaining,
            state.entry_price,
            state.margin_mode,
            state.position_side,
            state.mmr_override,
            state.maintenance_amount_override,
        )
        return FillOutcome(reduced, closed, realized)
    rest = quantity - closed
    if rest == 0:
        return FillOutcome(None, closed, realized)
    flipped = PositionState(instrument.symbol, direction, rest, price, state.margin_mode, state.position_side)
    return FillOutcome(flipped, closed, realized)


def reduces(state: PositionState | None, side: str, quantity: Decimal) -> bool:
    """Whether a fill only reduces the position (never opens or flips it)."""
    return state is not None and state.side is not order_side(side) and quantity <= state.size


def taker_fee(instrument: Instrument, quantity: Decimal, price: Decimal, rate: Decimal) -> Decimal:
    """Fee on a fill's notional in the settlement asset (unrounded)."""
    return notional_of(instrument, quantity, price) * rate


def notional_of(instrument: Instrument, quantity: Decimal, price: Decimal) -> Decimal:
    """Notional of a fill in the settlement asset: linear sizes are base units, inverse contracts."""
    if instrument.kind == "linear":
        return quantity * price
    return div(quantity * instrument.contract_size, price, rounding=Rounding.CEILING)
