"""Account-level figures of a cross pool: margin balance, requirements, ratio, health, limits.

A pool is the set of cross positions that share one wallet: per settlement asset in a
single-asset account, or one USD-valued pool in a multi-asset mode. Positive unrealised PnL
is counted separately for maintenance, for new orders and for withdrawals, because venues
differ exactly there (Binance counts it for maintenance but never lets it be withdrawn).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from crossmargin.margin.position import position_figures
from crossmargin.margin.types import Position, PositionFigures
from crossmargin.rules.schema import Conventions
from crossmargin.units import ZERO, Rounding, div


@dataclass(frozen=True, slots=True)
class PoolInput:
    """A cross pool: its settlement asset, the collateral that backs it and its positions."""

    settlement_asset: str
    wallet_balance: Decimal
    positions: tuple[Position, ...]


@dataclass(frozen=True, slots=True)
class PoolFigures:
    """Unrounded figures of a pool at one set of prices."""

    pool: PoolInput
    positions: tuple[PositionFigures, ...]
    wallet_balance: Decimal
    unrealized_pnl: Decimal
    margin_balance: Decimal
    initial_margin: Decimal
    maintenance_margin: Decimal
    requirement: Decimal
    available_balance: Decimal
    max_withdrawable: Decimal
    notional: Decimal

    def is_liquidatable(self, conventions: Conventions) -> bool:
        """Margin balance at or below the requirement (strictly below where the venue says so)."""
        if self.requirement <= 0:
            return self.margin_balance < 0
        if conventions.liquidate_at_equality:
            return self.margin_balance <= self.requirement
        return self.margin_balance < self.requirement

    def health(self) -> Decimal | None:
        """Margin balance / requirement, rounded down; ``None`` with nothing required."""
        if self.requirement <= 0:
            return None
        return div(self.margin_balance, self.requirement, rounding=Rounding.FLOOR)

    def margin_ratio(self, conventions: Conventions) -> Decimal | None:
        """The venue's own ratio: Binance MM / margin balance (up), OKX equity / MM (down)."""
        if conventions.margin_ratio == "equity_over_maintenance":
            return self.health()
        if self.margin_balance <= 0:
            return None
        return div(self.requirement, self.margin_balance, rounding=Rounding.CEILING)


def counted_pnl(unrealized: Decimal, rule: str) -> Decimal:
    """Unrealised PnL as a use counts it: losses always in full, profit per ``rule``."""
    if unrealized <= 0 or rule == "full":
        return unrealized
    return ZERO


def pool_figures(pool: PoolInput, conventions: Conventions, price_factor: Decimal | None = None) -> PoolFigures:
    """All figures of a pool at its marks, or at every mark times ``price_factor``."""
    figures = tuple(
        position_figures(p, conventions, None if price_factor is None else p.mark_price * price_factor)
        for p in pool.positions
    )
    rules = conventions.positive_pnl
    wallet = pool.wallet_balance
    unrealized = sum((f.unrealized_pnl for f in figures), ZERO)
    margin_balance = wallet + sum((counted_pnl(f.unrealized_pnl, rules.maintenance) for f in figures), ZERO)
    initial = sum((f.initial_margin for f in figures), ZERO)
    maintenance = sum((f.maintenance_margin for f in figures), ZERO)
    requirement = maintenance + sum((f.fee_requirement for f in figures), ZERO)
    total_notional = sum((f.notional for f in figures), ZERO)
    order_pnl = sum((counted_pnl(f.unrealized_pnl, rules.new_orders) for f in figures), ZERO)
    available = wallet + order_pnl - initial
    return PoolFigures(
        pool=pool,
        positions=figures,
        wallet_balance=wallet,
        unrealized_pnl=unrealized,
        margin_balance=margin_balance,
        initial_margin=initial,
        maintenance_margin=maintenance,
        requirement=requirement,
        available_balance=available if available > 0 else ZERO,
        max_withdrawable=_max_withdrawable(conventions, wallet, figures, initial, requirement, total_notional),
        notional=total_notional,
    )


def _max_withdrawable(
    conventions: Conventions,
    wallet: Decimal,
    figures: tuple[PositionFigures, ...],
    initial: Decimal,
    requirement: Decimal,
    total_notional: Decimal,
) -> Decimal:
    """What may leave the pool under the venue's rule for unrealised PnL.

    ``excluded`` is Binance's pair of bounds: the wallet less maintenance (no PnL at all)
    and the wallet plus PnL less initial margin; profit is therefore never withdrawable.
    A minimum remaining margin as a fraction of notional (Hyperliquid's 10 %) raises the
    amount that must stay behind.
    """
    rule = conventions.positive_pnl.withdrawals
    kept = initial
    floor_fraction = conventions.withdrawal_min_margin_notional_fraction
    if floor_fraction > 0:
        kept = max(kept, total_notional * floor_fraction)
    if rule == "excluded":
        losses_and_profits = sum((f.unrealized_pnl for f in figures), ZERO)
        value = min(wallet - requirement, wallet + losses_and_profits - kept)
    else:
        counted = sum((counted_pnl(f.unrealized_pnl, "full" if rule == "full" else "none") for f in figures), ZERO)
        value = wallet + counted - kept
    return value if value > 0 else ZERO
