"""What opening a position costs, and what resting orders hold back.

Binance's order check ("cost = IM + open loss") charges a buy above the mark, or a sell
below it, the loss it would show at once; a simulator has to model this order-placement
check separately from the position's own margin, because the two differ.

A resting limit order reserves initial margin until it fills or is cancelled: the account's
available balance and what it may withdraw fall by it. Binance's rule ("How to Calculate the
Margin Requirement on Binance Futures Trading", FAQ 4f83b65d83654b5e933f85ef12bf769d) takes, per
symbol (per position side in hedge mode), ``max(|N + B|, |N - A|) / leverage``: ``N`` the
position's signed notional at the mark, ``B`` and ``A`` the value of the buy and sell orders at
their limit prices. Orders that only offset the position hold nothing beyond the position's own
margin, buys and sells do not add up, and reduce-only orders hold nothing. Where the venue's order
cost includes fees (Bybit: "order cost = IM + fee to open + fee to close"), what is held includes
the fee to open and the fee to close at the bankruptcy price on the value the orders open.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import NamedTuple

from crossmargin.margin.position import close_fee_at_bankruptcy, notional, unrealized_pnl
from crossmargin.margin.types import MarginMode, Position, PositionSide, Side
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


class OpenOrder(NamedTuple):
    """A resting limit order: ``side`` LONG buys and SHORT sells ``size`` (base units, or
    contracts for inverse contracts) at ``price``, on the position ``margin_mode`` and
    ``position_side`` name, at the leverage of that position."""

    instrument: Instrument
    side: Side
    size: Decimal
    price: Decimal
    leverage: Decimal
    margin_mode: MarginMode = MarginMode.CROSS
    position_side: PositionSide = PositionSide.BOTH
    reduce_only: bool = False

    @property
    def symbol(self) -> str:
        return self.instrument.symbol


class OrderMargin(NamedTuple):
    """Initial margin that resting orders hold back in one settlement asset: orders of cross
    positions, and orders of isolated positions (which the cross wallet funds too)."""

    asset: str
    cross: Decimal
    isolated: Decimal


#: A leg of an account: the orders and the position of one symbol, position side and margin mode.
_Leg = tuple[str, PositionSide, MarginMode]


@exact_arithmetic
def open_order_margin(
    orders: Iterable[OpenOrder], positions: Iterable[Position], *, include_fees: bool = False
) -> tuple[OrderMargin, ...]:
    """The initial margin resting orders hold, per settlement asset (see the module's rule).

    Each leg's orders are valued at their limit prices against the leg's position at its mark,
    at the leg's leverage; the part of ``max(|N + B|, |N - A|)`` above ``|N|`` is the value they
    open, and that over the leverage, rounded up, is what they hold (with ``include_fees``, the
    fees on it too). Sorted by asset; empty without orders.
    """
    buys: dict[_Leg, Decimal] = {}
    sells: dict[_Leg, Decimal] = {}
    legs: dict[_Leg, OpenOrder] = {}
    for order in orders:
        if order.reduce_only:
            continue
        leg = (order.symbol, order.position_side, order.margin_mode)
        book = buys if order.side is Side.LONG else sells
        book[leg] = book.get(leg, ZERO) + notional(order.instrument, order.size, order.price)
        legs.setdefault(leg, order)
    if not legs:
        return ()
    held = {(p.symbol, p.position_side, p.margin_mode): p for p in positions}
    by_asset: dict[str, tuple[Decimal, Decimal]] = {}
    for leg, first in legs.items():
        position = held.get(leg)
        signed = ZERO
        leverage = first.leverage
        if position is not None:
            signed = position.side.sign * notional(position.instrument, position.size, position.mark_price)
            leverage = position.leverage
        bought, sold = abs(signed + buys.get(leg, ZERO)), abs(signed - sells.get(leg, ZERO))
        opened = max(bought, sold) - abs(signed)
        reserved = div(opened, leverage, rounding=Rounding.CEILING)
        if include_fees and opened > 0:
            reserved += _fees_on(first.instrument, 1 if bought >= sold else -1, opened, leverage)
        asset = first.instrument.settlement_asset
        cross, isolated = by_asset.get(asset, (ZERO, ZERO))
        if leg[2] is MarginMode.ISOLATED:
            isolated += reserved
        else:
            cross += reserved
        by_asset[asset] = (cross, isolated)
    return tuple(OrderMargin(asset, cross, isolated) for asset, (cross, isolated) in sorted(by_asset.items()))


def _fees_on(instrument: Instrument, sign: int, value: Decimal, leverage: Decimal) -> Decimal:
    """Fee to open ``value`` and fee to close it at the bankruptcy price of ``leverage`` (value in
    the settlement asset at the order price; ``sign`` +1 for what buys open, -1 for sells), as
    :func:`crossmargin.margin.position.close_fee_at_bankruptcy` prices a whole position's."""
    taker = instrument.fee("taker_fee")
    factor = leverage - sign if instrument.kind == "linear" else leverage + sign
    return value * taker + div(value * factor * taker, leverage, rounding=Rounding.CEILING)
