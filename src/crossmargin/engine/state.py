"""Engine state: accounts, positions, resting orders and market data, plus its margin view.

Money lives in the ledger; everything else a venue tracks lives here. ``snapshot`` turns an
account into the frozen inputs of the margin functions (the same ones ``crossmargin
evaluate`` uses), so every check the engine makes is the foundation's own figure.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from decimal import Decimal

from crossmargin.engine.depth import CurveMemo, DepthSnapshot
from crossmargin.engine.ledger import AccountKind, Ledger, LedgerAccount
from crossmargin.margin.account import AccountSnapshot
from crossmargin.margin.orders import OpenOrder
from crossmargin.margin.types import MarginMode, Position, PositionSide, Side
from crossmargin.rules import Rulebook
from crossmargin.units import ONE, ZERO

#: Ledger accounts whose balance backs a user's margin: the wallet, and staked collateral.
BACKING_KINDS = frozenset({AccountKind.WALLET, AccountKind.STAKED})


#: Between a symbol and its leg in the key of a hedge-mode position (``BTCUSDT#long``).
LEG_SEPARATOR = "#"


def position_key(symbol: str, position_side: PositionSide) -> str:
    """The key an account holds a position under: its symbol in one-way mode, and the symbol with
    its leg (``BTCUSDT#long``) for a hedge-mode leg, so one symbol may hold a long and a short leg."""
    return symbol if position_side is PositionSide.BOTH else f"{symbol}{LEG_SEPARATOR}{position_side.value}"


#: A position side by the name commands carry (``"both"``, ``"long"``, ``"short"``).
LEGS = {side.value: side for side in PositionSide}


@functools.cache
def leg_keys(symbol: str) -> tuple[str, str]:
    """The keys of a symbol's long and short hedge-mode legs (built once per symbol)."""
    return position_key(symbol, PositionSide.LONG), position_key(symbol, PositionSide.SHORT)


def key_symbol(key: str) -> str:
    """The symbol of a position key (the key itself in one-way mode)."""
    return key.partition(LEG_SEPARATOR)[0]


def key_of(position: Position) -> str:
    """The key of the account's position that the margin functions' ``position`` stands for."""
    return position_key(position.instrument.symbol, position.position_side)


@dataclass
class PositionState:
    """An open position: absolute size with its side, average entry price, margin mode, the leg it
    is in hedge mode, and a maintenance rate (and amount) fixed at every price where the position
    was imported with the venue's own."""

    symbol: str
    side: Side
    size: Decimal
    entry_price: Decimal
    margin_mode: MarginMode
    position_side: PositionSide = PositionSide.BOTH
    mmr_override: Decimal | None = None
    maintenance_amount_override: Decimal | None = None

    @property
    def key(self) -> str:
        return position_key(self.symbol, self.position_side)


@dataclass
class OrderState:
    """A resting order (limit, or stop waiting for its trigger) on the position ``key`` names."""

    order_id: str
    account: str
    symbol: str
    side: str
    quantity: Decimal
    order_type: str
    price: Decimal | None
    trigger_price: Decimal | None
    trigger_on: str
    reduce_only: bool
    position_side: PositionSide = PositionSide.BOTH

    @property
    def key(self) -> str:
        return position_key(self.symbol, self.position_side)


@dataclass
class StakeLot:
    """A stake: amount, when it was locked and unlocks (ms), and its annual reward rate."""

    asset: str
    amount: Decimal
    start_ms: int
    unlock_ms: int
    annual_rate: Decimal


@dataclass
class AccountState:
    """One user account of the engine."""

    account_id: str
    asset_mode: str = "single"  # single: a pool per settlement asset; multi: one USD pool
    leverage: dict[str, Decimal] = field(default_factory=dict)
    margin_mode: dict[str, MarginMode] = field(default_factory=dict)
    revoked: set[str] = field(default_factory=set)  # assets the user withdrew approval from
    positions: dict[str, PositionState] = field(default_factory=dict)
    orders: dict[str, OrderState] = field(default_factory=dict)
    liquidations: int = 0
    cooldown_until_ms: int = 0  # Hyperliquid: after a partial liquidation, the next one is full
    stakes: list[StakeLot] = field(default_factory=list)
    wallets: dict[str, LedgerAccount] = field(default_factory=dict, repr=False)  # asset -> its wallet key

    def symbols(self) -> set[str]:
        """The symbols the account holds positions in (a hedged symbol once)."""
        return {p.symbol for p in self.positions.values()}

    def holds(self, symbol: str) -> bool:
        """Whether the account has a position in ``symbol``, one-way or a hedge-mode leg."""
        positions = self.positions
        if symbol in positions:
            return True
        long_key, short_key = leg_keys(symbol)
        return long_key in positions or short_key in positions

    def legs(self, symbol: str) -> list[tuple[str, PositionState]]:
        """The account's positions in ``symbol`` with their keys: the one-way position, or the legs."""
        positions = self.positions
        found = positions.get(symbol)
        if found is not None:
            return [(symbol, found)]
        return [(key, positions[key]) for key in leg_keys(symbol) if key in positions]

    def wallet(self, asset: str) -> LedgerAccount:
        """The account's cross wallet in ``asset``: the same ledger key every time (built once)."""
        key = self.wallets.get(asset)
        if key is None:
            key = self.wallets[asset] = wallet(self.account_id, asset)
        return key


@dataclass
class MarketState:
    """Latest prices of a symbol; ``None`` until first seen."""

    mark: Decimal | None = None
    index: Decimal | None = None
    last: Decimal | None = None
    funding_rate: Decimal | None = None
    timestamp_ms: int = 0
    mark_timestamp_ms: int = 0  # when the mark itself last changed: what staleness is measured on
    funding_settled_ms: int | None = None  # the last funding timestamp settled (each settles once)
    depth: DepthSnapshot | None = None  # the latest order book, when market data has one
    basis_samples: list[tuple[Decimal, Decimal, Decimal]] = field(default_factory=list)  # (bid1, ask1, index)
    # the parametric curve's levels at the current mark, per side ("bid", "ask"), for the next sweep
    curve_memos: dict[str, CurveMemo] = field(default_factory=lambda: {"bid": CurveMemo(), "ask": CurveMemo()})


@dataclass
class Watch:
    """The engine's memory of safe bands: tokens per account and two heaps per symbol (kept and
    read by :mod:`crossmargin.engine.watch`)."""

    tokens: dict[str, int] = field(default_factory=dict)
    lows: dict[str, list[tuple[Decimal, str, int]]] = field(default_factory=dict)  # max-heap (negated)
    highs: dict[str, list[tuple[Decimal, str, int]]] = field(default_factory=dict)  # min-heap
    slopes: dict[str, Decimal | None] = field(default_factory=dict)
    unwatched: set[str] = field(default_factory=set)  # accounts changed since their last exact check
    # per account, per pool key (settlement asset, or "iso:" + symbol): surplus kept for funding
    reserves: dict[str, dict[str, Decimal]] = field(default_factory=dict)
    # per multi-asset account, per collateral asset: the USD prices between which it stays safe
    price_bands: dict[str, dict[str, tuple[Decimal, Decimal]]] = field(default_factory=dict)
    sequence: int = 0
    sound: bool | None = None  # whether bands are sound under the engine's rulebook (see eligible)


def usd_price(asset_prices: dict[str, Decimal], asset: str) -> Decimal | None:
    """The USD price a multi-asset pool values ``asset`` at: USD is 1, others as last published."""
    return ONE if asset == "USD" else asset_prices.get(asset)


def wallet(account_id: str, asset: str) -> LedgerAccount:
    return LedgerAccount(account_id, AccountKind.WALLET, asset)


def staked(account_id: str, asset: str) -> LedgerAccount:
    return LedgerAccount(account_id, AccountKind.STAKED, asset)


def isolated(account_id: str, asset: str, key: str) -> LedgerAccount:
    """The isolated margin of the position ``key`` names (its symbol, or a hedge leg's key)."""
    return LedgerAccount(account_id, AccountKind.ISOLATED, asset, key)


def snapshot(
    rulebook: Rulebook,
    ledger: Ledger,
    account: AccountState,
    markets: dict[str, MarketState],
    overrides: dict[str, PositionState | None] | None = None,
    balance_changes: dict[str, Decimal] | None = None,
    asset_prices: dict[str, Decimal] | None = None,
    added_orders: tuple[OrderState, ...] = (),
    open_interest: dict[str, Decimal] | None = None,
) -> AccountSnapshot:
    """The account as the margin functions see it, optionally with hypothetical changes.

    ``overrides`` replaces (or with ``None`` removes) positions by key, ``balance_changes``
    adds to wallet balances and ``added_orders`` rests more orders: how an order or a withdrawal
    is checked against the state it would leave behind. A multi-asset account's pool values each
    asset at ``asset_prices``; an asset held without a price yet backs nothing until it has one.
    ``open_interest`` gives a symbol's open interest notional where its initial margin scales with it.
    """
    states = with_overrides(account.positions, overrides)
    default_leverage = rulebook.conventions.default_leverage
    interest = open_interest or {}
    positions = []
    for key, state in states.items():  # each at its symbol's mark and leverage
        symbol = state.symbol
        instrument = rulebook.instrument(symbol)
        mark = markets[symbol].mark
        assert mark is not None, "a position's market has a mark"
        isolated_margin = None
        if state.margin_mode is MarginMode.ISOLATED:
            isolated_margin = ledger.balance(isolated(account.account_id, instrument.settlement_asset, key))
        leverage = account.leverage.get(symbol, default_leverage)
        positions.append(
            Position(instrument, state.side, state.size, state.entry_price, mark, state.margin_mode, leverage,
                     state.position_side, isolated_margin, state.mmr_override, state.maintenance_amount_override,
                     interest.get(symbol))
        )  # fmt: skip
    balances: dict[str, Decimal] = {}
    for ledger_account, value in ledger.owner_items(account.account_id):
        # staked collateral backs margin like the wallet (haircuts apply in a multi-asset pool)
        if ledger_account.kind in BACKING_KINDS:
            asset = ledger_account.asset
            balances[asset] = balances[asset] + value if asset in balances else value
    for asset, change in (balance_changes or {}).items():
        balances[asset] = balances.get(asset, ZERO) + change
    orders = open_orders(rulebook, account, states, added_orders) if account.orders or added_orders else ()
    if account.asset_mode == "multi":
        return _multi_asset_snapshot(rulebook, account, balances, tuple(positions), asset_prices or {}, orders)
    approved = None  # nothing revoked: every asset the account holds backs its pools
    if account.revoked:
        assets = (
            set(balances) | {p.settlement_asset for p in positions} | {o.instrument.settlement_asset for o in orders}
        )
        approved = frozenset(a for a in assets if a not in account.revoked)
    return AccountSnapshot(rulebook, balances, approved, {}, tuple(positions), "single", open_orders=orders)


def with_overrides(
    states: dict[str, PositionState], overrides: dict[str, PositionState | None] | None
) -> dict[str, PositionState]:
    """An account's positions by key after hypothetical changes (``None`` removes one)."""
    if not overrides:
        return states
    states = dict(states)
    for key, replacement in overrides.items():
        if replacement is None:
            states.pop(key, None)
        else:
            states[key] = replacement
    return states


def open_interest_notionals(
    rulebook: Rulebook,
    accounts: dict[str, AccountState],
    markets: dict[str, MarketState],
    account: AccountState,
    states: dict[str, PositionState],
    symbols: set[str],
) -> dict[str, Decimal]:
    """The open interest notional of each of ``symbols`` at its mark, with ``account`` holding
    ``states``: the larger of the longs and the shorts the engine's accounts hold.

    The engine's counterparties outside its accounts (the depth model) hold no positions, so its
    longs and shorts need not match; the larger side is the least open interest the market can
    have. dYdX values it at the oracle price (which its mark is).
    """
    found: dict[str, Decimal] = {}
    for symbol in symbols:
        longs = shorts = ZERO
        for holder in accounts.values():
            held = states if holder is account else holder.positions
            for position in held.values():
                if position.symbol == symbol:
                    if position.side is Side.LONG:
                        longs += position.size
                    else:
                        shorts += position.size
        mark = markets[symbol].mark
        if mark is not None:
            instrument = rulebook.instrument(symbol)
            found[symbol] = max(longs, shorts) * instrument.contract_size * mark  # linear (dYdX)
    return found


def open_orders(
    rulebook: Rulebook, account: AccountState, positions: dict[str, PositionState], added: tuple[OrderState, ...]
) -> tuple[OpenOrder, ...]:
    """The resting limit orders as the margin functions see them, each on its symbol's position (or
    margin mode setting) at the account's leverage. A stop holds nothing until it triggers."""
    default_leverage = rulebook.conventions.default_leverage
    found = []
    for order in (*account.orders.values(), *added):
        if order.order_type != "limit" or order.price is None:
            continue
        symbol = order.symbol
        position = positions.get(order.key)
        mode = position.margin_mode if position else account.margin_mode.get(symbol, MarginMode.CROSS)
        side = Side.LONG if order.side == "buy" else Side.SHORT
        leverage = account.leverage.get(symbol, default_leverage)
        instrument = rulebook.instrument(symbol)
        found.append(
            OpenOrder(
                instrument, side, order.quantity, order.price, leverage, mode, order.position_side, order.reduce_only
            )
        )
    return tuple(found)


def _multi_asset_snapshot(
    rulebook: Rulebook,
    account: AccountState,
    balances: dict[str, Decimal],
    positions: tuple[Position, ...],
    asset_prices: dict[str, Decimal],
    orders: tuple[OpenOrder, ...],
) -> AccountSnapshot:
    """One USD pool: approved assets with a price back it; debts and settlement assets are priced
    (an order needs its settlement asset's price first, so a debt always has one)."""
    settlement = {p.settlement_asset for p in positions} | {o.instrument.settlement_asset for o in orders}
    assets = set(balances) | settlement
    prices = {a: asset_prices[a] for a in assets if a in asset_prices}
    approved = frozenset(a for a in assets if a not in account.revoked and (a in prices or a == "USD"))
    return AccountSnapshot(rulebook, balances, approved, prices, positions, "multi", open_orders=orders)
