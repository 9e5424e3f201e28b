"""Consistency checks of a rulebook, each refusing with the instrument and tier named.

Why these checks: hand-copied tier tables are the commonest source of wrong liquidation
prices (a stale maintenance amount moves Binance's COIN-M example by about $20), so a table
that breaks contiguity, ordering or the maintenance-amount recursion is refused on load.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Protocol

from crossmargin.units import Rounding, div, exact_context

# What the checks read of the schema's models, as read-only protocols: the schema's validators
# call these checks, so the checks must not import the schema back.


class Tier(Protocol):
    @property
    def floor(self) -> Decimal: ...
    @property
    def cap(self) -> Decimal | None: ...
    @property
    def max_leverage(self) -> Decimal: ...
    @property
    def mmr(self) -> Decimal | None: ...
    @property
    def maintenance_amount(self) -> Decimal | None: ...


class Instrument(Protocol):
    @property
    def symbol(self) -> str: ...
    @property
    def ccxt_symbol(self) -> str | None: ...
    @property
    def settlement_asset(self) -> str: ...
    @property
    def contract_type(self) -> str: ...
    @property
    def expiry(self) -> datetime.datetime | None: ...
    @property
    def tier_style(self) -> str: ...
    @property
    def maintenance_from_max_leverage(self) -> bool: ...
    @property
    def tiers(self) -> Sequence[Tier]: ...


class HaircutTier(Protocol):
    @property
    def floor(self) -> Decimal: ...


class Collateral(Protocol):
    @property
    def asset(self) -> str: ...
    @property
    def haircut_tiers(self) -> Sequence[HaircutTier]: ...


class RulebookFile(Protocol):
    @property
    def instruments(self) -> Sequence[Instrument]: ...
    @property
    def assets(self) -> Mapping[str, object]: ...
    @property
    def collateral(self) -> Sequence[Collateral]: ...


def _fail(symbol: str, tier_index: int | None, problem: str) -> ValueError:
    where = f"instrument {symbol}"
    if tier_index is not None:
        where += f" tier {tier_index + 1}"
    return ValueError(f"{where}: {problem}")


def check_instrument(instrument: Instrument) -> None:
    """Refuse tiers that are not contiguous, not ordered, or inconsistent."""
    symbol = instrument.symbol
    tiers = instrument.tiers
    if instrument.contract_type == "future" and instrument.expiry is None:
        raise _fail(symbol, None, "a future needs an expiry")
    if not tiers:
        return
    if tiers[0].floor != 0:
        raise _fail(symbol, 0, f"first floor must be 0, got {tiers[0].floor}")
    with exact_context():
        for index, tier in enumerate(tiers):
            _check_tier(instrument, index, tier)
            if index == 0:
                continue
            previous = tiers[index - 1]
            if tier.floor != previous.cap:
                raise _fail(symbol, index, f"floor {tier.floor} is not the previous cap {previous.cap}")
            _check_step(instrument, index, previous, tier)


def _check_tier(instrument: Instrument, index: int, tier: Tier) -> None:
    symbol = instrument.symbol
    if tier.cap is None:
        if index != len(instrument.tiers) - 1:
            raise _fail(symbol, index, "only the last tier may leave its cap open")
    elif tier.cap <= tier.floor:
        raise _fail(symbol, index, f"cap {tier.cap} is not above floor {tier.floor}")
    if instrument.maintenance_from_max_leverage:
        if tier.mmr is not None:
            raise _fail(symbol, index, "mmr is derived from max leverage here; leave it out")
        if index == 0 and tier.maintenance_amount not in (None, 0):
            raise _fail(symbol, index, f"first maintenance amount must be 0, got {tier.maintenance_amount}")
        return
    if tier.mmr is None:
        raise _fail(symbol, index, "mmr is missing")
    if tier.mmr <= 0:
        raise _fail(symbol, index, "mmr must be positive")
    # MMR must stay below the tier's initial margin rate 1 / max_leverage; cross-multiplied.
    if tier.mmr * tier.max_leverage >= 1:
        raise _fail(symbol, index, f"mmr {tier.mmr} is not below the IMR 1/{tier.max_leverage}")
    if instrument.tier_style == "whole_position" and tier.maintenance_amount not in (None, 0):
        raise _fail(symbol, index, "whole_position tiers carry no maintenance amount")
    if instrument.tier_style == "marginal" and tier.maintenance_amount is None:
        raise _fail(symbol, index, "maintenance_amount is missing")
    if index == 0 and tier.maintenance_amount not in (None, 0):
        raise _fail(symbol, index, f"first maintenance amount must be 0, got {tier.maintenance_amount}")


def _check_step(instrument: Instrument, index: int, previous: Tier, tier: Tier) -> None:
    symbol = instrument.symbol
    if tier.max_leverage > previous.max_leverage:
        raise _fail(symbol, index, "max leverage rises with the tier")
    if instrument.maintenance_from_max_leverage:
        return
    assert tier.mmr is not None and previous.mmr is not None
    if tier.mmr < previous.mmr:
        raise _fail(symbol, index, f"mmr {tier.mmr} falls below the previous tier's {previous.mmr}")
    if instrument.tier_style != "marginal":
        return
    assert tier.maintenance_amount is not None and previous.maintenance_amount is not None
    expected = next_maintenance_amount(previous.maintenance_amount, tier.floor, tier.mmr, previous.mmr)
    if tier.maintenance_amount != expected:
        raise _fail(
            symbol,
            index,
            f"maintenance amount {tier.maintenance_amount} breaks "
            f"cum_n = cum_(n-1) + floor_n x (MMR_n - MMR_(n-1)) = {_plain(expected)}",
        )


def next_maintenance_amount(previous_amount: Decimal, floor: Decimal, mmr: Decimal, previous_mmr: Decimal) -> Decimal:
    """Binance's continuity recursion: ``cum_n = cum_(n-1) + floor_n x (MMR_n - MMR_(n-1))``.

    It makes maintenance margin a continuous function of notional across a tier floor.
    """
    return previous_amount + floor * (mmr - previous_mmr)


def _plain(value: Decimal) -> str:
    return format(value.normalize(), "f")


def check_rulebook(rulebook: RulebookFile) -> None:
    """Refuse duplicate symbols and references to assets the rulebook does not define."""
    seen: set[str] = set()
    for instrument in rulebook.instruments:
        for name in (instrument.symbol, instrument.ccxt_symbol):
            if name is None:
                continue
            if name in seen:
                raise ValueError(f"instrument {instrument.symbol}: symbol {name} is listed twice")
            seen.add(name)
        if instrument.settlement_asset not in rulebook.assets:
            raise ValueError(
                f"instrument {instrument.symbol}: settlement asset {instrument.settlement_asset} is not in assets"
            )
    for collateral in rulebook.collateral:
        if collateral.asset not in rulebook.assets:
            raise ValueError(f"collateral {collateral.asset} is not in assets")
        floors = [tier.floor for tier in collateral.haircut_tiers]
        if floors[0] != 0 or floors != sorted(set(floors)):
            raise ValueError(f"collateral {collateral.asset}: haircut tiers must start at 0 and rise")


def derived_rates(instrument: Instrument) -> tuple[tuple[Decimal, Decimal], ...]:
    """``(MMR, amount)`` per tier: as given, or derived from max leverage and continuity."""
    rates: list[tuple[Decimal, Decimal]] = []
    with exact_context():
        for index, tier in enumerate(instrument.tiers):
            if tier.mmr is not None:
                mmr = tier.mmr
            else:
                mmr = div(Decimal(1), 2 * tier.max_leverage, rounding=Rounding.CEILING)
            if tier.maintenance_amount is not None and not instrument.maintenance_from_max_leverage:
                amount = tier.maintenance_amount
            elif index == 0 or instrument.tier_style == "whole_position":
                amount = Decimal(0)
            else:
                previous_mmr, previous_amount = rates[-1]
                amount = next_maintenance_amount(previous_amount, tier.floor, mmr, previous_mmr)
            rates.append((mmr, amount))
    return tuple(rates)
