"""The strategy API: a small class the loop calls at each bar, and the context it reads and orders through.

Why a context and not the engine itself: a strategy must see the bars up to now and the account's figures
as the venue computes them (equity, health, liquidation prices, the liquidation move), but never the future
and never a way to move money except by orders. The loop (``crossmargin.sim.loop``) implements
:class:`Context`; figures are computed on first access in a bar, by the same margin functions ``evaluate``
uses, so a strategy that never asks for them pays nothing.

Orders returned from ``on_bar`` (or sent through the context's helpers) fill at the next bar's open.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any, Protocol

from crossmargin.sim.types import FloatArray, FundingPayment, Liquidation, Order, Trade


class Context(Protocol):
    """What a strategy sees at the close of the current bar."""

    @property
    def time_ms(self) -> int: ...  # the current bar's open time

    @property
    def bar(self) -> int: ...  # the current bar's index, 0 at the start

    @property
    def symbols(self) -> tuple[str, ...]: ...

    @property
    def params(self) -> Mapping[str, Any]: ...  # the config's strategy params

    def history(self, symbol: str, column: str = "close", bars: int | None = None) -> FloatArray:
        """The column (open, high, low, close, volume, mark_open, mark_high, mark_low, mark_close) up to and
        including the current bar; the last ``bars`` of them when given. A read-only view."""
        ...

    def price(self, symbol: str) -> Decimal: ...  # the current bar's close, exact

    def position(self, symbol: str) -> Decimal: ...  # signed size: > 0 long, < 0 short, 0 flat

    @property
    def equity(self) -> Decimal: ...  # margin balance of the pool (cross) or wallet + isolated equity

    @property
    def health(self) -> Decimal | None: ...  # margin balance / maintenance; None with no position

    def liquidation_price(self, symbol: str) -> Decimal | None: ...

    @property
    def liquidation_move(self) -> tuple[Decimal | None, Decimal | None]: ...  # (down, up) as evaluate

    def market(self, symbol: str, quantity: Decimal, *, reduce_only: bool = False) -> Order: ...

    def limit(self, symbol: str, quantity: Decimal, price: Decimal, *, reduce_only: bool = False) -> Order: ...

    def stop(self, symbol: str, quantity: Decimal, trigger_price: Decimal) -> Order: ...  # reduce-only

    def target_notional(self, symbol: str, notional: Decimal) -> Order | None:
        """A market order taking the position to ``notional`` (signed, settlement asset) at the close;
        None when the rounded difference is zero."""
        ...

    def target_leverage(self, symbol: str, leverage: Decimal) -> Order | None:
        """A market order taking the position to ``leverage`` x equity of notional (signed)."""
        ...

    def cancel_all(self, symbol: str | None = None) -> None: ...

    def submit(self, order: Order) -> None: ...  # queue an order without returning it from on_bar


class Strategy:
    """Subclass and override what you need; every hook is optional except ``on_bar``.

    ``params`` are the config's ``strategy.params``. A fresh instance runs each mode, so state kept on
    ``self`` never leaks from the cross run into the isolated one.
    """

    def __init__(self, **params: Any) -> None:
        self.params = params

    def on_start(self, ctx: Context) -> None:
        """Before the first bar: precompute indicators from ``ctx.history`` over the whole run if wished
        (the loop gives on_start only the first bar; use :meth:`prepare` to see all bars at once)."""

    def prepare(self, bars: Mapping[str, Mapping[str, FloatArray]]) -> None:
        """Optional: every bar of the run per symbol and column, for strategies that compute signals
        causally but vectorised up front (each signal at bar i may only use bars <= i)."""

    def on_bar(self, ctx: Context) -> Iterable[Order] | None:
        raise NotImplementedError

    def on_fill(self, ctx: Context, trade: Trade) -> None:
        """After one of this strategy's orders filled."""

    def on_funding(self, ctx: Context, payment: FundingPayment) -> None:
        """After a funding exchange on one of its positions."""

    def on_liquidation(self, ctx: Context, liquidation: Liquidation) -> None:
        """After the venue liquidated (or deleveraged) one of its positions."""
