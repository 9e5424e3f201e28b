"""Commands the engine accepts and the closed list of result codes it answers with.

Every command carries an idempotency id. Commands are frozen values compared field by field
(decimals by value): the same id with an equal body returns the stored result, the same id
with another body is refused with ``duplicate_id_mismatch`` and changes nothing.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from decimal import Decimal
from typing import NamedTuple


class ResultCode(enum.Enum):
    """Every answer the engine gives; a command is accepted or rejected for one reason."""

    __hash__ = object.__hash__  # members are singletons: hash by identity, in C

    ACCEPTED = "accepted"
    INSUFFICIENT_MARGIN = "insufficient_margin"
    INSUFFICIENT_BALANCE = "insufficient_balance"
    WOULD_BREACH_WITHDRAWABLE = "would_breach_withdrawable"
    UNKNOWN_SYMBOL = "unknown_symbol"
    UNKNOWN_ACCOUNT = "unknown_account"
    UNKNOWN_ORDER = "unknown_order"
    NO_MARK_PRICE = "no_mark_price"
    REDUCE_ONLY_VIOLATION = "reduce_only_violation"
    POST_ONLY_WOULD_TAKE = "post_only_would_take"
    LOCKED_COLLATERAL = "locked_collateral"
    COLLATERAL_NOT_APPROVED = "collateral_not_approved"
    STALE_PRICE = "stale_price"
    ACCOUNT_LIQUIDATING = "account_liquidating"
    LEVERAGE_ABOVE_TIER = "leverage_above_tier"
    POSITION_OPEN = "position_open"
    NO_LIQUIDITY = "no_liquidity"
    INVALID_ARGUMENT = "invalid_argument"
    NO_FUNDING_DUE = "no_funding_due"  # settle_funding off the instrument's schedule, or twice
    DUPLICATE_ID_MISMATCH = "duplicate_id_mismatch"

    @property
    def accepted(self) -> bool:
        return self is ResultCode.ACCEPTED


@dataclass(frozen=True, slots=True)
class Command:
    """Base of every command: ``command_id`` is the caller's idempotency key."""

    command_id: str

    @property
    def kind(self) -> str:
        return type(self).__name__


@dataclass(frozen=True, slots=True)
class Deposit(Command):
    account: str
    asset: str
    amount: Decimal


@dataclass(frozen=True, slots=True)
class Withdraw(Command):
    account: str
    asset: str
    amount: Decimal


@dataclass(frozen=True, slots=True)
class TransferMargin(Command):
    """Move margin between the cross wallet and an isolated position (positive: into it)."""

    account: str
    symbol: str
    amount: Decimal


@dataclass(frozen=True, slots=True)
class SetLeverage(Command):
    account: str
    symbol: str
    leverage: Decimal


@dataclass(frozen=True, slots=True)
class SetMarginMode(Command):
    account: str
    symbol: str
    mode: str  # cross | isolated


@dataclass(frozen=True, slots=True)
class SetAssetMode(Command):
    """Switch an account between one cross pool per settlement asset (``single``) and one USD
    pool of every approved asset (``multi``); only with no position and no resting order."""

    account: str
    mode: str  # single | multi


@dataclass(frozen=True, slots=True)
class ApproveCollateral(Command):
    account: str
    asset: str
    approved: bool


@dataclass(frozen=True, slots=True)
class Stake(Command):
    """Lock ``amount`` of an asset until ``unlock_ms``; it keeps backing margin (with its haircut)
    but cannot be withdrawn, and earns ``annual_rate`` pro rata until unstaked."""

    account: str
    asset: str
    amount: Decimal
    timestamp_ms: int
    unlock_ms: int
    annual_rate: Decimal = Decimal(0)


@dataclass(frozen=True, slots=True)
class Unstake(Command):
    """Release every stake of an asset that has unlocked, with its accrued rewards."""

    account: str
    asset: str
    timestamp_ms: int


class OrderType(enum.Enum):
    __hash__ = object.__hash__  # members are singletons: hash by identity, in C
    MARKET = "market"
    LIMIT = "limit"
    STOP_MARKET = "stop_market"


@dataclass(frozen=True, slots=True)
class PlaceOrder(Command):
    account: str
    symbol: str
    side: str  # buy | sell
    quantity: Decimal
    order_type: OrderType = OrderType.MARKET
    price: Decimal | None = None  # limit price
    trigger_price: Decimal | None = None  # stop trigger
    trigger_on: str = "mark"  # mark | last
    reduce_only: bool = False
    post_only: bool = False
    # hedge mode (where the venue offers it): the leg the order trades; a buy opens or adds to the
    # long leg and a sell closes it, a sell opens the short leg and a buy closes it
    position_side: str = "both"  # both | long | short


@dataclass(frozen=True, slots=True)
class ImportPosition(Command):
    """Bring an existing position into the engine as it stands: no fill, no fee, no check against
    initial margin (a copy of a real account, or of one to stress). Isolated margin comes from the
    wallet. The symbol needs a mark; an account the import leaves liquidatable is liquidated.

    ``position_side`` long or short imports a hedge-mode leg (where the venue offers hedge mode);
    ``mmr`` (with an optional ``maintenance_amount``) fixes the position's maintenance rate at every
    price instead of the rulebook's tiers, as the account file's keys of the same names do."""

    account: str
    symbol: str
    side: str  # long | short
    size: Decimal
    entry_price: Decimal
    margin_mode: str = "cross"  # cross | isolated
    isolated_margin: Decimal | None = None
    position_side: str = "both"  # both | long | short
    mmr: Decimal | None = None
    maintenance_amount: Decimal | None = None


@dataclass(frozen=True, slots=True)
class ImportBalance(Command):
    """Bring a wallet balance into the engine as it stands (a copy of a real account): a positive
    amount arrives like a deposit; a negative one is a debt, which only a multi-asset account may
    owe (its pool's other collateral backs it). No check against margin; an account the debt
    leaves liquidatable is liquidated, and the venue's auto-exchange applies to it as to any debt."""

    account: str
    asset: str
    amount: Decimal


@dataclass(frozen=True, slots=True)
class CancelOrder(Command):
    account: str
    order_id: str


@dataclass(frozen=True, slots=True)
class MarketUpdate(Command):
    """New prices for one symbol at ``timestamp_ms``; any of them may be absent."""

    symbol: str
    timestamp_ms: int
    mark: Decimal | None = None
    index: Decimal | None = None
    last: Decimal | None = None
    funding_rate: Decimal | None = None


@dataclass(frozen=True, slots=True)
class MarksUpdate(Command):
    """New marks for several symbols at one instant (a venue publishes them together): all are
    set first, then resting orders run and every affected account is checked once, at the new
    marks of all of them, never at a half-updated mix."""

    timestamp_ms: int
    marks: tuple[tuple[str, Decimal], ...]


@dataclass(frozen=True, slots=True)
class DepthUpdate(Command):
    """An order-book snapshot for a symbol: ``(price, quantity)`` levels, best first.

    Market orders and liquidations walk it instead of the parametric curve until the next one.
    """

    symbol: str
    timestamp_ms: int
    bids: tuple[tuple[Decimal, Decimal], ...]
    asks: tuple[tuple[Decimal, Decimal], ...]


@dataclass(frozen=True, slots=True)
class AssetPrice(Command):
    """The USD price of a collateral asset (its index): what a multi-asset pool values it at."""

    asset: str
    timestamp_ms: int
    price: Decimal


@dataclass(frozen=True, slots=True)
class SettleFunding(Command):
    """A funding timestamp: positions open now pay or receive the symbol's current rate."""

    symbol: str
    timestamp_ms: int


class Result(NamedTuple):
    """What the engine answered, and the events it appended (empty when rejected)."""

    command_id: str
    code: ResultCode
    message: str = ""
    events: tuple[dict[str, object], ...] = ()

    def __repr__(self) -> str:
        """One line: the id, the code, the reason and the events by name (their bodies are in ``events``)."""
        names = [str(event.get("event")) for event in self.events]
        shown = ", ".join(names[:6]) + (f" and {len(names) - 6} more" if len(names) > 6 else "")
        reason = f", {self.message!r}" if self.message else ""
        return f"Result({self.command_id!r}, {self.code.value}{reason}, events: {shown or 'none'})"
