"""The rulebook schema: what a venue's data file may say, validated on load.

The models are frozen, so the margin functions can take them as plain data. Numbers are
decimal strings in the file; a YAML float (``0.004`` unquoted) is refused, because its binary
value is not the figure the venue published.
"""

from __future__ import annotations

import datetime
import functools
from collections.abc import Mapping
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from crossmargin.units import InputError, parse_decimal


def _decimal(value: object) -> Decimal:
    return parse_decimal(value, field="value")


def _non_negative(value: object) -> Decimal:
    return parse_decimal(value, field="value", non_negative=True)


def _positive(value: object) -> Decimal:
    return parse_decimal(value, field="value", positive=True)


Dec = Annotated[Decimal, BeforeValidator(_decimal)]
NonNegative = Annotated[Decimal, BeforeValidator(_non_negative)]
Positive = Annotated[Decimal, BeforeValidator(_positive)]


class Frozen(BaseModel):
    """Base of every rulebook model: immutable, no unknown keys."""

    model_config = ConfigDict(frozen=True, extra="forbid", strict=False)


class Tier(Frozen):
    """One risk tier: from ``floor`` (inclusive) to ``cap`` of the tier basis (last: may be open).

    ``mmr`` may be left out when the instrument derives it from max leverage (Hyperliquid).
    """

    floor: NonNegative
    cap: Positive | None = None  # only the last tier may be open-ended
    max_leverage: Positive
    mmr: NonNegative | None = None
    # None: derived (instruments whose MMR comes from max leverage); marginal tiers give it.
    maintenance_amount: NonNegative | None = None


class Funding(Frozen):
    """Funding schedule of a perpetual."""

    interval_hours: int = Field(gt=0)
    rate_basis_hours: int = Field(gt=0)
    reference_price: Literal["mark", "oracle", "index"] = "mark"
    cap: Dec | None = None
    floor: Dec | None = None
    baseline_rate: Dec = Decimal(0)


class OpenInterestImf(Frozen):
    """dYdX-style initial margin fraction that grows with open interest between two caps."""

    base_imf: Positive
    lower_cap: NonNegative
    upper_cap: NonNegative


class Instrument(Frozen):
    """A contract as the venue lists it."""

    symbol: str = Field(min_length=1)
    ccxt_symbol: str | None = None
    kind: Literal["linear", "inverse"]
    contract_type: Literal["perpetual", "future"] = "perpetual"
    expiry: datetime.datetime | None = None
    base_asset: str
    quote_asset: str
    settlement_asset: str
    contract_size: Positive
    tick_size: Positive
    lot_size: Positive
    # None: the venue's figure was not found; a computation that needs it refuses.
    maker_fee: Dec | None = None
    taker_fee: Dec | None = None
    liquidation_fee: NonNegative | None = None
    funding: Funding | None = None
    tier_basis: Literal["notional", "contracts", "base_quantity"] = "notional"
    tier_style: Literal["marginal", "whole_position"] = "marginal"
    # Which tier owns a value equal to a boundary: Binance's floor ("notional >= floor", the
    # higher tier) or OKX's cap ("size <= maxSz", the lower tier).
    tier_boundary: Literal["floor_inclusive", "cap_inclusive"] = "floor_inclusive"
    maintenance_from_max_leverage: bool = False
    open_interest_imf: OpenInterestImf | None = None
    tiers: tuple[Tier, ...] = ()  # empty: table not published; positions must carry an mmr

    def __repr__(self) -> str:
        """One line: the tiers are in ``tiers`` (and ``crossmargin venues show``)."""
        return (
            f"Instrument({self.symbol}, {self.kind} {self.contract_type}, settles in {self.settlement_asset}, "
            f"{len(self.tiers)} tiers)"
        )

    def __str__(self) -> str:
        return repr(self)

    def fee(self, name: str) -> Decimal:
        """A fee rate the computation needs; refuses, naming it, when the rulebook lacks it."""
        value = getattr(self, name)
        if value is None:
            raise InputError(f"{self.symbol}.{name}", "is not in the rulebook (the venue's figure was not found)")
        assert isinstance(value, Decimal)
        return value

    @functools.cached_property
    def tier_rates(self) -> tuple[tuple[Decimal, Decimal], ...]:
        """``(MMR, maintenance amount)`` per tier, derived where the rulebook leaves them out.

        Hyperliquid's rate is ``1 / (2 x max leverage)``, not always a finite decimal (3x gives
        1/6): it is rounded up at 50 digits, and the deductions follow the continuity
        recursion on those rates exactly, so maintenance stays continuous and never below the
        exact figure by more than the rate's rounding.
        """
        from crossmargin.rules.checks import derived_rates

        return derived_rates(self)

    def model_copy(self, *, update: Mapping[str, Any] | None = None, deep: bool = False) -> Instrument:
        """A changed copy, validated again like a rulebook's own instrument.

        Why not pydantic's copy: it would carry the cached tier rates and floors of the
        original over to a copy with other tiers (an account's own brackets, a market's
        current max leverage), and every margin figure would follow the stale table.
        """
        data = self.model_dump()
        data.update(update or {})
        return type(self).model_validate(data)

    def with_max_leverage(self, max_leverage: Decimal) -> Instrument:
        """The instrument at another max leverage, as a venue's response may carry it
        (Hyperliquid's ``maxLeverage`` per asset changes over time).

        The first tier takes the new leverage and no later tier may exceed it; where the
        maintenance rate derives from max leverage (``1 / (2 x max leverage)``) it follows.
        """
        if max_leverage <= 0:
            raise InputError(f"{self.symbol}.max_leverage", "must be positive")
        if not self.tiers:
            raise InputError(f"{self.symbol}.max_leverage", "the rulebook has no tier table to set it on")
        tiers = [
            tier.model_copy(update={"max_leverage": max_leverage if i == 0 else min(tier.max_leverage, max_leverage)})
            for i, tier in enumerate(self.tiers)
        ]
        return self.model_copy(update={"tiers": tiers})

    @functools.cached_property
    def highest_mmr(self) -> Decimal:
        """The highest maintenance rate of any tier (0 without a table)."""
        return max((mmr for mmr, _ in self.tier_rates), default=Decimal(0))

    @functools.cached_property
    def tier_floors(self) -> tuple[Decimal, ...]:
        """Tier floors in order, for a binary search of the tier holding a value."""
        return tuple(tier.floor for tier in self.tiers)

    @model_validator(mode="after")
    def _tiers_are_consistent(self) -> Instrument:
        from crossmargin.rules.checks import check_instrument

        check_instrument(self)
        return self


class PositivePnl(Frozen):
    """How positive unrealised PnL counts, decided separately for each use."""

    maintenance: Literal["full", "none"] = "full"
    new_orders: Literal["full", "none"] = "full"
    withdrawals: Literal["full", "excluded", "none"] = "full"


class LiquidationRule(Frozen):
    """How the venue executes a liquidation (used by the engine)."""

    style: Literal["full", "reduce_then_bankruptcy", "tier_step_down", "chunks"] = "full"
    chunk_fraction: NonNegative | None = None
    chunk_min_notional: NonNegative | None = None
    cooldown_seconds: int | None = None
    # How a partial close's bankruptcy price is set: with the other positions frozen, or
    # (dYdX) spreading the account's deficit over positions by their share of maintenance.
    bankruptcy_rule: Literal["frozen_others", "maintenance_share"] = "frozen_others"
    # Hyperliquid: a liquidation through the book leaves the user what equity remains (only a
    # backstop liquidation forfeits it); elsewhere the fund takes over at the bankruptcy price.
    user_keeps_remaining_equity: bool = False
    # dYdX's fillable price: ABR = clamp(adjustment x (1 - NC / MMR), 0, 1), and the limit
    # price gives up ABR x spread x the position's maintenance margin.
    bankruptcy_adjustment: NonNegative | None = None
    spread_to_maintenance_ratio: NonNegative | None = None


class OracleRules(Frozen):
    """The oracle guard's rails: a mark older than ``max_age_seconds`` is stale, one further than
    ``band_fraction`` from its index is out of band, one at a clamp bound is not a price."""

    max_age_seconds: int = Field(ge=0)
    band_fraction: NonNegative
    clamp_low: NonNegative | None = None
    clamp_high: NonNegative | None = None


class PriceReporting(Frozen):
    """How the venue's API prints a liquidation or bankruptcy price.

    The figure a user compares is the one the venue's API returns, so the output carries it
    exactly that way: snapped to the instrument's tick (``tick``), cut to a number of decimal
    places (``decimals``, Binance: 8) or significant digits (``significant``, OKX prints its
    binary doubles unrounded). ``toward_safety`` rounds up where a fall liquidates and down
    where a rise does; ``half_even`` is a plain rounding of the exact root (Hyperliquid).
    ``offset_ticks`` moves a printed liquidation price that many ticks beyond the root toward
    the venue's safety before it is printed (OKX: one; its liqPx is the root plus a tick for a
    long, less a tick for a short).
    """

    step: Literal["tick", "decimals", "significant"] = "tick"
    digits: int | None = Field(default=None, ge=1, le=30)
    rounding: Literal["toward_safety", "half_even"] = "toward_safety"
    offset_ticks: int = Field(default=0, ge=0, le=10)

    @model_validator(mode="after")
    def _digits_match_step(self) -> PriceReporting:
        if (self.step == "tick") != (self.digits is None):
            raise ValueError("digits goes with step decimals or significant, and only with them")
        return self


class Conventions(Frozen):
    """Account-level conventions of a venue."""

    margin_ratio: Literal["maintenance_over_equity", "equity_over_maintenance"]
    price_for_margin: Literal["mark", "oracle"] = "mark"
    default_leverage: Positive
    asset_mode: Literal["single", "multi"] = "single"
    # whether an account may switch to one multi-asset pool (Binance Multi-Assets mode, Bybit's
    # unified account, OKX multi-currency); ``asset_mode`` is the default of a new account
    multi_asset_mode_offered: bool = False
    # a debt in a multi-asset pool worth more than this (USD) is covered by selling collateral
    # at once (Binance: 10,000); ``None``: only a liquidation or a debt with no positions left does
    auto_exchange_threshold_usd: NonNegative | None = None
    hedge_mode_shared_cross_price: bool = True
    # whether an account may hold a long and a short leg of one symbol (Binance's hedge mode,
    # Bybit's and OKX's two-way mode); orders then name the leg they trade
    hedge_mode_offered: bool = False
    positive_pnl: PositivePnl = PositivePnl()
    withdrawal_min_margin_notional_fraction: NonNegative = Decimal(0)
    close_fee_in_maintenance: bool = False
    close_fee_in_initial: bool = False  # Bybit: the position's IM shows the fee to close too
    liquidation_fee_in_ratio: bool = False
    liquidate_at_equality: bool = True
    # Bybit values an isolated position's maintenance margin on its entry value, not the mark.
    isolated_maintenance_basis: Literal["mark", "entry"] = "mark"
    # The value a position's initial and maintenance margin and its risk tier are computed on,
    # in cross and isolated mode: Bybit used the entry value (size x average entry) until
    # 2025-09-02, when cross margin moved to the mark; everywhere else the mark.
    position_value_basis: Literal["mark", "entry"] = "mark"
    # Bybit's order cost adds the fee to open and the fee to close to the initial margin.
    order_cost_includes_fees: bool = False
    liquidation: LiquidationRule = LiquidationRule()
    oracle: OracleRules | None = None  # None: the venue publishes no rails; every price is taken
    # "median": build the mark from index, funding basis, order-book basis and last (Binance)
    # when an update brings an index and a last price but no mark; "given": marks come as sent.
    mark_construction: Literal["given", "median"] = "given"
    adl_ranking: Literal["pnl_times_margin_ratio", "pnl_times_effective_leverage", "pnl_and_leverage", "random"] = (
        "pnl_times_margin_ratio"
    )
    # how the API prints liquidation and bankruptcy prices (``evaluate --json``'s figures)
    price_reporting: PriceReporting = PriceReporting()

    @functools.cached_property
    def values_at_entry(self) -> bool:
        """Whether any position's maintenance is on its entry value (Bybit), so the margin
        functions ask for it per position only on such a venue."""
        return self.position_value_basis == "entry" or self.isolated_maintenance_basis == "entry"


class HaircutTier(Frozen):
    """A marginal slice of a collateral balance, from ``floor`` (asset units) upward."""

    floor: NonNegative
    rate: NonNegative


class Collateral(Frozen):
    """An asset that may back margin, with haircuts applied to positive balances only.

    ``haircut_tiers`` are marginal slices (a tax-bracket schedule) whose floors are in the
    asset's own units or in USD (``tier_unit``). A multi-asset pool values a positive balance
    at ``price x (1 - bid_buffer)`` times the slice rates and a negative one in full at
    ``price x (1 + ask_buffer)`` (Binance's bid and ask rates). ``stable`` assets keep their
    price when every mark of a pool moves together.
    """

    asset: str
    haircut_tiers: tuple[HaircutTier, ...] = (HaircutTier(floor=Decimal(0), rate=Decimal(1)),)
    tier_unit: Literal["asset", "usd"] = "asset"
    bid_buffer: NonNegative = Decimal(0)
    ask_buffer: NonNegative = Decimal(0)
    stable: bool = False


class AssetSpec(Frozen):
    """An asset's smallest unit, as decimal places."""

    decimals: int = Field(ge=0, le=18)

    @property
    def unit(self) -> Decimal:
        return Decimal(1).scaleb(-self.decimals)


class RulebookFile(Frozen):
    """A whole rulebook file."""

    venue: str = Field(min_length=1)
    title: str
    as_of: datetime.date
    sources: tuple[str, ...] = Field(min_length=1)
    omissions: tuple[str, ...] = ()
    conventions: Conventions
    assets: dict[str, AssetSpec]
    collateral: tuple[Collateral, ...] = ()
    instruments: tuple[Instrument, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _references_resolve(self) -> RulebookFile:
        from crossmargin.rules.checks import check_rulebook

        check_rulebook(self)
        return self
