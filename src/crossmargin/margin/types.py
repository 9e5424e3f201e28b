"""Plain frozen inputs and outputs of the margin functions.

The margin functions never mutate these; the engine builds new ones. Sizes are absolute
(base units for linear contracts, contracts for inverse ones) and the direction is carried
by :class:`Side`, so no function has to guess what a negative size means.
"""

from __future__ import annotations

import enum
from decimal import Decimal
from typing import NamedTuple

from crossmargin.rules.schema import Instrument, Tier


class Side(enum.Enum):
    """Direction of a position: ``sign`` is +1 for long and -1 for short."""

    __hash__ = object.__hash__  # members are singletons: hash by identity, in C

    LONG = "long"
    SHORT = "short"

    sign: int  # set on each member below: a plain attribute, read in every PnL formula


Side.LONG.sign = 1
Side.SHORT.sign = -1


class PositionSide(enum.Enum):
    """One-way mode holds a single ``BOTH`` position per symbol; hedge mode a LONG and a SHORT."""

    __hash__ = object.__hash__  # members are singletons: hash by identity, in C

    BOTH = "both"
    LONG = "long"
    SHORT = "short"


class MarginMode(enum.Enum):
    __hash__ = object.__hash__  # members are singletons: hash by identity, in C
    CROSS = "cross"
    ISOLATED = "isolated"


class _PositionFields(NamedTuple):
    instrument: Instrument
    side: Side
    size: Decimal
    entry_price: Decimal
    mark_price: Decimal
    margin_mode: MarginMode
    leverage: Decimal
    position_side: PositionSide = PositionSide.BOTH
    isolated_margin: Decimal | None = None
    mmr_override: Decimal | None = None
    maintenance_amount_override: Decimal | None = None
    open_interest_notional: Decimal | None = None  # the market's, for OI-scaled IMF (dYdX)


class Position(_PositionFields):
    """A position as the venue holds it.

    ``mmr_override`` and ``maintenance_amount_override`` replace the tier lookup at every
    price (the account file's ``mmr`` and ``maintenance_amount``). A named tuple checked when
    built: the engine builds one per position for every margin check, and a tuple is the
    cheapest immutable record Python has. ``with_mark`` re-prices one without re-checking.
    """

    __slots__ = ()

    def __new__(
        cls,
        instrument: Instrument,
        side: Side,
        size: Decimal,
        entry_price: Decimal,
        mark_price: Decimal,
        margin_mode: MarginMode,
        leverage: Decimal,
        position_side: PositionSide = PositionSide.BOTH,
        isolated_margin: Decimal | None = None,
        mmr_override: Decimal | None = None,
        maintenance_amount_override: Decimal | None = None,
        open_interest_notional: Decimal | None = None,
    ) -> Position:
        assert size > 0, "size is absolute and positive"
        assert entry_price > 0 and mark_price > 0, "prices are positive"
        assert leverage > 0, "leverage is positive"
        if margin_mode is MarginMode.ISOLATED:
            assert isolated_margin is not None, "isolated positions carry isolated margin"
        fields = (instrument, side, size, entry_price, mark_price, margin_mode, leverage, position_side)
        overrides = (isolated_margin, mmr_override, maintenance_amount_override, open_interest_notional)
        return tuple.__new__(cls, fields + overrides)

    def with_mark(self, mark_price: Decimal) -> Position:
        """The same position at another mark (positive, as every price here)."""
        assert mark_price > 0, "prices are positive"
        return self._replace(mark_price=mark_price)

    def with_open_interest(self, open_interest_notional: Decimal) -> Position:
        return self._replace(open_interest_notional=open_interest_notional)

    @property
    def symbol(self) -> str:
        return self.instrument.symbol

    def __repr__(self) -> str:
        """One line: the whole instrument (tiers and all) would fill screens."""
        leg = "" if self.position_side is PositionSide.BOTH else f" ({self.position_side.value} leg)"
        return (
            f"Position({self.symbol} {self.side.value}{leg} {self.size} @ {self.entry_price}, "
            f"mark {self.mark_price}, {self.margin_mode.value})"
        )

    @property
    def settlement_asset(self) -> str:
        return self.instrument.settlement_asset


class MaintenanceRate(NamedTuple):
    """The rate and amount that give maintenance margin ``N x mmr - amount`` at some price.

    ``tier_index`` is ``None`` when the rate is an override fixed at every price.
    """

    mmr: Decimal
    amount: Decimal
    tier_index: int | None


class PositionFigures(NamedTuple):
    """What a venue computes for one position at one price (unrounded, conservative).

    Outputs are named tuples: immutable like the inputs, and built in C, which matters
    because the engine computes these for every order it checks.
    """

    position: Position
    price: Decimal
    notional: Decimal
    unrealized_pnl: Decimal
    rate: MaintenanceRate
    maintenance_margin: Decimal
    fee_requirement: Decimal
    initial_margin: Decimal
    effective_leverage: Decimal
    tier: Tier | None

    @property
    def requirement(self) -> Decimal:
        """Maintenance margin plus the fees the venue puts inside the liquidation threshold."""
        return self.maintenance_margin + self.fee_requirement

    def __repr__(self) -> str:
        return (
            f"PositionFigures({self.position.symbol} {self.position.side.value} at {self.price}: "
            f"notional {self.notional}, uPnL {self.unrealized_pnl}, MM {self.maintenance_margin})"
        )
