"""Per-position figures: notional, PnL, tier lookup, initial and maintenance margin.

Linear contracts are valued in the quote asset, inverse ones in the base coin (their
settlement asset). Every division says which way it rounds: notional and requirements
round up, profit and loss round down for the holder, so the venue wins the last unit.
"""

from __future__ import annotations

import bisect
from decimal import Decimal

from crossmargin.margin.types import MaintenanceRate, MarginMode, Position, PositionFigures
from crossmargin.rules.schema import Conventions, Instrument, Tier
from crossmargin.units import ZERO, InputError, Rounding, div


def notional(instrument: Instrument, size: Decimal, price: Decimal) -> Decimal:
    """Position value at ``price`` in the settlement asset (rounded up for inverse)."""
    if instrument.kind == "linear":
        return size * price
    return div(size * instrument.contract_size, price, rounding=Rounding.CEILING)


def unrealized_pnl(instrument: Instrument, sign: int, size: Decimal, entry: Decimal, price: Decimal) -> Decimal:
    """Unrealised PnL of a position at ``price`` (linear: quote; inverse: coin), rounded down."""
    if instrument.kind == "linear":
        return sign * size * (price - entry)
    face = size * instrument.contract_size
    if sign > 0:  # long: face x (1/entry - 1/price)
        return div(face * (price - entry), entry * price, rounding=Rounding.FLOOR)
    return div(face * (entry - price), entry * price, rounding=Rounding.FLOOR)


def tier_basis_value(instrument: Instrument, size: Decimal, position_notional: Decimal) -> Decimal:
    """The quantity the venue keys its tiers by: notional, contracts or base quantity."""
    if instrument.tier_basis == "notional":
        return position_notional
    if instrument.tier_basis == "contracts":
        if instrument.kind == "inverse":
            return size
        return div(size, instrument.contract_size, rounding=Rounding.CEILING)
    # base_quantity: linear sizes are base units; inverse positions hold their coin notional.
    return size if instrument.kind == "linear" else position_notional


def tier_index_for(instrument: Instrument, basis_value: Decimal) -> int:
    """Index of the tier holding ``basis_value``; a value on a boundary belongs to the higher
    tier (``floor_inclusive``, Binance) or the lower one (``cap_inclusive``, OKX).

    Values above the last cap stay in the last tier (the venue would refuse to grow there).
    """
    if instrument.tier_boundary == "cap_inclusive":
        index = bisect.bisect_left(instrument.tier_floors, basis_value) - 1
    else:
        index = bisect.bisect_right(instrument.tier_floors, basis_value) - 1
    return index if index > 0 else 0


def maintenance_rate(position: Position, basis_value: Decimal) -> MaintenanceRate:
    """The rate and amount in force for ``position`` at a tier-basis value."""
    if position.mmr_override is not None:
        amount = position.maintenance_amount_override or ZERO
        return MaintenanceRate(position.mmr_override, amount, None)
    instrument = position.instrument
    if not instrument.tiers:
        raise InputError("mmr", f"the rulebook has no tier table for {instrument.symbol}; give mmr")
    index = tier_index_for(instrument, basis_value)
    mmr, amount = instrument.tier_rates[index]
    return MaintenanceRate(mmr, amount, index)


def maintenance_margin(position_notional: Decimal, rate: MaintenanceRate) -> Decimal:
    """``N x MMR - amount``, never below zero."""
    value = position_notional * rate.mmr - rate.amount
    return value if value > 0 else ZERO


def close_fee_at_bankruptcy(
    instrument: Instrument, sign: int, size: Decimal, entry_price: Decimal, leverage: Decimal
) -> Decimal:
    """Taker fee to close at the bankruptcy price of a position's leverage, rounded up.

    The bankruptcy price is ``EP x (1 - s/L)`` for linear contracts and ``EP x L / (L + s)``
    for inverse ones (Bybit's definition), so the fee does not move with the mark.
    """
    taker = instrument.fee("taker_fee")
    if instrument.kind == "linear":
        value = size * entry_price * (leverage - sign)
        return div(value * taker, leverage, rounding=Rounding.CEILING)
    face = size * instrument.contract_size
    return div(face * (leverage + sign) * taker, entry_price * leverage, rounding=Rounding.CEILING)


def close_fee(position: Position) -> Decimal:
    """Estimated taker fee to close a position at its own bankruptcy price (Bybit)."""
    return close_fee_at_bankruptcy(
        position.instrument, position.side.sign, position.size, position.entry_price, position.leverage
    )


def fee_terms(position: Position, conventions: Conventions) -> tuple[Decimal, Decimal]:
    """Fees inside the liquidation threshold as ``(rate on notional, fixed amount)``.

    OKX counts a liquidation fee proportional to notional; Bybit the fee to close, which
    depends on entry and leverage only.
    """
    rate = position.instrument.fee("liquidation_fee") if conventions.liquidation_fee_in_ratio else ZERO
    fixed = close_fee(position) if conventions.close_fee_in_maintenance else ZERO
    return rate, fixed


def fee_requirement(position: Position, position_notional: Decimal, conventions: Conventions) -> Decimal:
    """Fees the venue counts inside the liquidation threshold, at one notional."""
    rate, fixed = fee_terms(position, conventions)
    return position_notional * rate + fixed


def initial_margin_fraction(instrument: Instrument, open_interest_notional: Decimal | None) -> Decimal | None:
    """dYdX's open-interest-scaled IMF, rounded up; ``None`` where the venue has none.

    Between the lower and upper open-interest caps the fraction rises linearly from the base
    IMF to 100 %; with no caps (upper cap 0) it stays at the base. Maintenance margin keeps
    using the base rate, so this never raises MM.
    """
    scaling = instrument.open_interest_imf
    if scaling is None:
        return None
    base = scaling.base_imf
    if open_interest_notional is None or scaling.upper_cap == 0 or open_interest_notional <= scaling.lower_cap:
        return base
    if open_interest_notional >= scaling.upper_cap:
        return Decimal(1)
    spread = (Decimal(1) - base) * (open_interest_notional - scaling.lower_cap)
    return base + div(spread, scaling.upper_cap - scaling.lower_cap, rounding=Rounding.CEILING)


def maintenance_value_at_entry(position: Position, conventions: Conventions) -> Decimal | None:
    """The fixed value maintenance is computed on, where the venue uses the entry value.

    Bybit valued a position's margin and risk tier on its entry value (size x average entry
    price) until 2025-09-02, in cross and isolated mode, so its maintenance margin does not move
    with the mark; everywhere else it follows the mark (``None``).
    """
    if conventions.position_value_basis == "entry" or (
        position.margin_mode is MarginMode.ISOLATED and conventions.isolated_maintenance_basis == "entry"
    ):
        return notional(position.instrument, position.size, position.entry_price)
    return None


def position_figures(position: Position, conventions: Conventions, price: Decimal | None = None) -> PositionFigures:
    """Everything the venue computes for one position at ``price`` (default: its mark)."""
    at = position.mark_price if price is None else price
    instrument = position.instrument
    value = notional(instrument, position.size, at)
    at_entry = maintenance_value_at_entry(position, conventions) if conventions.values_at_entry else None
    maintenance_value = value if at_entry is None else at_entry
    basis = tier_basis_value(instrument, position.size, maintenance_value)
    rate = maintenance_rate(position, basis)
    if rate.tier_index is not None:
        tier: Tier | None = instrument.tiers[rate.tier_index]
    else:
        tier = instrument.tiers[tier_index_for(instrument, basis)] if instrument.tiers else None
    leverage = position.leverage if tier is None else min(position.leverage, tier.max_leverage)
    initial_value = maintenance_value if conventions.position_value_basis == "entry" else value
    initial = div(initial_value, leverage, rounding=Rounding.CEILING)
    if instrument.open_interest_imf is not None:
        imf = initial_margin_fraction(instrument, position.open_interest_notional)
        if imf is not None:
            initial = max(initial, value * imf)
    if conventions.close_fee_in_initial:
        initial += close_fee(position)
    fees = ZERO
    if conventions.liquidation_fee_in_ratio or conventions.close_fee_in_maintenance:
        fees = fee_requirement(position, value, conventions)
    pnl = unrealized_pnl(instrument, position.side.sign, position.size, position.entry_price, at)
    # positional: the engine builds these for every order it checks
    return PositionFigures(
        position, at, value, pnl, rate, maintenance_margin(maintenance_value, rate), fees, initial, leverage, tier
    )
