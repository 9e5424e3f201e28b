"""What opening a position costs: initial margin plus the open loss against the mark.

Binance's order check ("cost = IM + open loss") charges a buy above the mark, or a sell
below it, the loss it would show at once; a simulator has to model this order-placement
check separately from the position's own margin, because the two differ.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from crossmargin.margin.position import close_fee_at_bankruptcy, notional, unrealized_pnl
from crossmargin.margin.types import Side
from crossmargin.rules.schema import Instrument
from crossmargin.units import ZERO, Rounding, div, exact_arithmetic


@dataclass(frozen=True, slots=True)
class OpenCost:
    """Initial margin at the order price, the open loss at the mark, fees where the venue
    counts them (Bybit: fee to open and fee to close), and their sum."""

    initial_margin: Decimal
    open_loss: Decimal
    fee_to_open: Decimal = ZERO
    fee_to_close: Decimal = ZERO

    @property
    def cost(self) -> Decimal:
        return self.initial_margin + self.open_loss + self.fee_to_open + self.fee_to_close


@exact_arithmetic
def cost_to_open(
    instrument: Instrument,
    side: Side,
    size: Decimal,
    order_price: Decimal,
    mark_price: Decimal,
    leverage: Decimal,
    *,
    include_fees: bool = False,
) -> OpenCost:
    """IM (notional at the order price / leverage, rounded up) plus the open loss.

    The open loss is the loss the new position would show at the mark if filled at the
    order price: ``max(0, -PnL)``, zero when the order is at or better than the mark.
    With ``include_fees`` (the rulebook's ``order_cost_includes_fees``) the taker fee to
    open at the order price and the fee to close at the bankruptcy price are added.
    """
    assert size > 0 and order_price > 0 and mark_price > 0 and leverage > 0
    value = notional(instrument, size, order_price)
    initial = div(value, leverage, rounding=Rounding.CEILING)
    pnl_at_mark = unrealized_pnl(instrument, side.sign, size, order_price, mark_price)
    open_loss = -pnl_at_mark if pnl_at_mark < 0 else ZERO
    if not include_fees:
        return OpenCost(initial_margin=initial, open_loss=open_loss)
    return OpenCost(
        initial_margin=initial,
        open_loss=open_loss,
        fee_to_open=value * instrument.fee("taker_fee"),
        fee_to_close=close_fee_at_bankruptcy(instrument, side.sign, size, order_price, leverage),
    )
