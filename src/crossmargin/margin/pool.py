"""Account-level figures of a cross pool: margin balance, requirements, ratio, health, limits.

A pool is the set of cross positions that share one wallet: per settlement asset in a
single-asset account, or one USD-valued pool in a multi-asset mode. Positive unrealised PnL
is counted separately for maintenance, for new orders and for withdrawals, because venues
differ exactly there (Binance counts it for maintenance but never lets it be withdrawn).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import NamedTuple

from crossmargin.margin.collateral import ask_rate, collateral_value_usd, require_price
from crossmargin.margin.orders import OrderMargin
from crossmargin.margin.position import position_figures
from crossmargin.margin.types import Position, PositionFigures
from crossmargin.rules.schema import Collateral, Conventions
from crossmargin.units import ZERO, Rounding, div


@dataclass(frozen=True, slots=True)
class MultiAssetValuation:
    """How a multi-asset pool turns each asset's equity into USD.

    ``balances`` holds every signed wallet balance the pool counts; ``collateral`` the venue's
    haircut schedule per asset (``None``: not approved, so only a debt counts); ``moving``
    the assets whose price follows a uniform move of every mark.
    """

    balances: dict[str, Decimal]
    prices: dict[str, Decimal]
    collateral: dict[str, Collateral | None]
    moving: frozenset[str]

    def scaled(self, price_factor: Decimal | None) -> dict[str, Decimal]:
        if price_factor is None:
            return self.prices
        return {a: p * price_factor if a in self.moving else p for a, p in self.prices.items()}


class PoolInput(NamedTuple):
    """A cross pool: its settlement asset, the collateral that backs it and its positions.

    A multi-asset pool is valued in USD (``settlement_asset`` "USD", ``valuation`` set); its
    ``wallet_balance`` is then the USD value of the balances before PnL. ``order_margin`` is
    what the account's resting orders hold back from the pool, per settlement asset, as valued
    at the snapshot's marks (it stays so at the other prices a move evaluates).
    """

    settlement_asset: str
    wallet_balance: Decimal
    positions: tuple[Position, ...]
    valuation: MultiAssetValuation | None = None
    order_margin: tuple[OrderMargin, ...] = ()


class PoolFigures(NamedTuple):
    """Unrounded figures of a pool at one set of prices (a named tuple, as position figures)."""

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
    initial_surplus: Decimal = ZERO  # collateral for new orders less IM, not floored at zero
    open_order_initial_margin: Decimal = ZERO  # what resting orders hold back (Binance's open-order IM)

    def meets_initial_margin(self) -> bool:
        """Whether the pool's collateral for new orders covers its initial margin."""
        return self.initial_surplus >= 0

    def is_liquidatable(self, conventions: Conventions) -> bool:
        """Margin balance at or below the requirement (strictly below where the venue says so)."""
        if self.requirement <= 0:
            return self.margin_balance < 0
        if conventions.liquidate_at_equality:
            return self.margin_balance <= self.requirement
        return self.margin_balance < self.requirement

    def __repr__(self) -> str:
        return (
            f"PoolFigures({self.pool.settlement_asset}, {len(self.positions)} positions: margin balance "
            f"{self.margin_balance}, maintenance {self.maintenance_margin}, requirement {self.requirement})"
        )

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
    if pool.valuation is not None:
        return multi_asset_figures(pool, pool.valuation, conventions, price_factor)
    if price_factor is None:
        figures = tuple([position_figures(p, conventions) for p in pool.positions])
    else:
        figures = tuple([position_figures(p, conventions, p.mark_price * price_factor) for p in pool.positions])
    rules = conventions.positive_pnl
    maintenance_rule, order_rule = rules.maintenance, rules.new_orders
    wallet = pool.wallet_balance
    unrealized = losses = maintenance_pnl = order_pnl = initial = maintenance = fees = total_notional = ZERO
    for f in figures:  # one pass: the engine asks this for every order it checks
        pnl = f.unrealized_pnl
        unrealized += pnl
        if pnl < 0:
            losses += pnl
        maintenance_pnl += counted_pnl(pnl, maintenance_rule)
        order_pnl += counted_pnl(pnl, order_rule)
        initial += f.initial_margin
        maintenance += f.maintenance_margin
        fees += f.fee_requirement
        total_notional += f.notional
    requirement = maintenance + fees
    available = wallet + order_pnl - initial
    orders_held = ZERO
    if pool.order_margin:  # resting orders hold margin back from what is available
        orders_held = sum((held.cross + held.isolated for held in pool.order_margin), ZERO)
        available -= orders_held
    withdrawable = _max_withdrawable(
        conventions, wallet, unrealized, losses, initial, requirement, total_notional, pool.order_margin
    )
    return PoolFigures(  # positional, in the field order: built for every order the engine checks
        pool,
        figures,
        wallet,
        unrealized,
        wallet + maintenance_pnl,  # margin balance
        initial,
        maintenance,
        requirement,
        available if available > 0 else ZERO,
        withdrawable,
        total_notional,
        available,  # initial surplus
        orders_held,
    )


def _max_withdrawable(
    conventions: Conventions,
    wallet: Decimal,
    unrealized: Decimal,
    losses: Decimal,
    initial: Decimal,
    requirement: Decimal,
    total_notional: Decimal,
    order_margin: tuple[OrderMargin, ...] = (),
) -> Decimal:
    """What may leave the pool under the venue's rule for unrealised PnL.

    ``unrealized`` is the positions' PnL in total and ``losses`` its negative part. ``excluded``
    is Binance's pair of bounds: the wallet less maintenance and the isolated positions' open-order
    margin (no PnL at all), and the wallet plus PnL less initial margin and every open order's
    margin; profit is therefore never withdrawable. A minimum remaining margin as a fraction of
    notional (Hyperliquid's 10 %) raises the amount that must stay.
    """
    rule = conventions.positive_pnl.withdrawals
    kept = initial
    floor_fraction = conventions.withdrawal_min_margin_notional_fraction
    if floor_fraction > 0:
        kept = max(kept, total_notional * floor_fraction)
    funds_orders = ZERO  # what the isolated positions' orders hold (the cross wallet funds them)
    if order_margin:
        kept += sum((held.cross + held.isolated for held in order_margin), ZERO)
        funds_orders = sum((held.isolated for held in order_margin), ZERO)
    if rule == "excluded":
        value = min(wallet - requirement - funds_orders, wallet + unrealized - kept)
    else:
        value = wallet + (unrealized if rule == "full" else losses) - kept
    return value if value > 0 else ZERO


def _by_asset(
    valuation: MultiAssetValuation, figures: tuple[PositionFigures, ...], rule: str | None
) -> dict[str, Decimal]:
    """Each asset's equity: its balance plus the PnL its positions settle in (per ``rule``)."""
    equity = dict(valuation.balances)
    if rule is None:
        return equity
    for f in figures:
        asset = f.position.settlement_asset
        equity[asset] = equity.get(asset, ZERO) + counted_pnl(f.unrealized_pnl, rule)
    return equity


def multi_asset_figures(
    pool: PoolInput, valuation: MultiAssetValuation, conventions: Conventions, price_factor: Decimal | None
) -> PoolFigures:
    """A USD pool of several collateral assets (Binance Multi-Assets, OKX multi-currency).

    Equity adds each asset's balance plus the PnL settled in it, haircut when positive and in
    full (at the ask rate) when negative; requirements are valued at each settlement asset's
    ask rate. Unrealised PnL is reported at the plain price, before haircuts.
    """
    prices = valuation.scaled(price_factor)
    figures = tuple(
        position_figures(p, conventions, None if price_factor is None else p.mark_price * price_factor)
        for p in pool.positions
    )

    def usd(equity: dict[str, Decimal]) -> Decimal:
        return sum(
            (collateral_value_usd(x, require_price(prices, a), valuation.collateral.get(a)) for a, x in equity.items()),
            ZERO,
        )

    def at_ask(amounts: list[tuple[str, Decimal]]) -> Decimal:
        return sum((x * ask_rate(require_price(prices, a), valuation.collateral.get(a)) for a, x in amounts), ZERO)

    rules = conventions.positive_pnl
    initial = at_ask([(f.position.settlement_asset, f.initial_margin) for f in figures])
    requirement = at_ask([(f.position.settlement_asset, f.requirement) for f in figures])
    orders_held = at_ask([(held.asset, held.cross + held.isolated) for held in pool.order_margin])
    isolated_orders_held = at_ask([(held.asset, held.isolated) for held in pool.order_margin])
    wallet = usd(_by_asset(valuation, figures, None))
    margin_balance = usd(_by_asset(valuation, figures, rules.maintenance))
    available = usd(_by_asset(valuation, figures, rules.new_orders)) - initial - orders_held
    total_notional = sum((f.notional * require_price(prices, f.position.settlement_asset) for f in figures), ZERO)
    if rules.withdrawals == "excluded":
        withdrawable = min(
            wallet - requirement - isolated_orders_held,
            usd(_by_asset(valuation, figures, "full")) - initial - orders_held,
        )
    else:
        kept = initial
        if conventions.withdrawal_min_margin_notional_fraction > 0:
            kept = max(kept, total_notional * conventions.withdrawal_min_margin_notional_fraction)
        withdrawable = usd(_by_asset(valuation, figures, rules.withdrawals)) - kept - orders_held
    return PoolFigures(
        pool=pool,
        positions=figures,
        wallet_balance=wallet,
        unrealized_pnl=sum(
            (f.unrealized_pnl * require_price(prices, f.position.settlement_asset) for f in figures), ZERO
        ),
        margin_balance=margin_balance,
        initial_margin=initial,
        maintenance_margin=at_ask([(f.position.settlement_asset, f.maintenance_margin) for f in figures]),
        requirement=requirement,
        available_balance=available if available > 0 else ZERO,
        initial_surplus=available,
        max_withdrawable=withdrawable if withdrawable > 0 else ZERO,
        notional=total_notional,
        open_order_initial_margin=orders_held,
    )


@dataclass(frozen=True, slots=True)
class AssetFigures:
    """One asset of a multi-asset pool: balance, equity with PnL, USD value, available."""

    asset: str
    wallet_balance: Decimal
    equity: Decimal
    price: Decimal
    value_usd: Decimal
    available: Decimal


def asset_breakdown(figures: PoolFigures, conventions: Conventions) -> tuple[AssetFigures, ...]:
    """Per-asset figures of a multi-asset pool (Binance shows "available" per asset as the
    pool's available USD at that asset's ask rate)."""
    valuation = figures.pool.valuation
    assert valuation is not None
    equity = _by_asset(valuation, figures.positions, conventions.positive_pnl.maintenance)
    rows = []
    for asset in sorted(equity):
        price = require_price(valuation.prices, asset)
        spec = valuation.collateral.get(asset)
        rows.append(
            AssetFigures(
                asset=asset,
                wallet_balance=valuation.balances.get(asset, ZERO),
                equity=equity[asset],
                price=price,
                value_usd=collateral_value_usd(equity[asset], price, spec),
                available=div(figures.available_balance, ask_rate(price, spec), rounding=Rounding.FLOOR),
            )
        )
    return tuple(rows)
