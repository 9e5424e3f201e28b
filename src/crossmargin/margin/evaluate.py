"""Evaluate a whole account: every pool, every isolated position, every price and move.

This is the one place that puts the margin functions together for ``crossmargin evaluate``
(and, later, for the risk lab and the server). It computes exact figures; rounding for
output happens in :mod:`crossmargin.margin.report`.
"""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal
from typing import NamedTuple

from crossmargin.margin.account import AccountSnapshot
from crossmargin.margin.collateral import collateral_value_usd, require_price
from crossmargin.margin.liquidation import PricePair, price_pair, rounded_pair
from crossmargin.margin.move import LiquidationMove, liquidation_move
from crossmargin.margin.numeric import solve_by_bisection, symbol_gap
from crossmargin.margin.orders import open_order_margin
from crossmargin.margin.pool import MultiAssetValuation, PoolFigures, PoolInput, counted_pnl, pool_figures
from crossmargin.margin.position import close_fee, position_figures
from crossmargin.margin.types import MarginMode, Position, PositionFigures
from crossmargin.rules.schema import Conventions
from crossmargin.units import RATIO_UNIT, ZERO, Rounding, div, exact_arithmetic, quantize


def _ratio(value: Decimal | None) -> Decimal | None:
    """A health for a repr: to 1e-8, rounded down as ``evaluate`` prints it."""
    return None if value is None else quantize(value, RATIO_UNIT, rounding=Rounding.FLOOR)


class PoolReport(NamedTuple):
    """A cross pool's figures with each position's prices and the pool's liquidation move."""

    figures: PoolFigures
    prices: tuple[PricePair, ...]  # one per position, in the order of ``figures.positions``
    move: LiquidationMove
    liquidatable: bool

    def __repr__(self) -> str:
        return (
            f"PoolReport({self.figures.pool.settlement_asset}, {len(self.prices)} positions, health "
            f"{_ratio(self.figures.health())}, move down {self.move.down} up {self.move.up}, "
            f"liquidatable={self.liquidatable})"
        )


class IsolatedReport(NamedTuple):
    """An isolated position: its own margin is its whole wallet."""

    figures: PositionFigures
    isolated_margin: Decimal
    margin_balance: Decimal
    prices: PricePair
    liquidatable: bool

    def __repr__(self) -> str:
        position = self.figures.position
        return (
            f"IsolatedReport({position.symbol} {position.side.value} {position.size}, isolated margin "
            f"{self.isolated_margin}, health {_ratio(self.health())}, liquidatable={self.liquidatable})"
        )

    def health(self) -> Decimal | None:
        requirement = self.figures.requirement
        if requirement <= 0:
            return None
        return div(self.margin_balance, requirement, rounding=Rounding.FLOOR)


class Evaluation(NamedTuple):
    """Every pool and isolated position of an account; ``evaluation_to_json`` gives the document."""

    snapshot: AccountSnapshot
    pools: tuple[PoolReport, ...]
    isolated: tuple[IsolatedReport, ...]

    def __repr__(self) -> str:
        """One line: the figures are in ``evaluation_to_json``, the full fields a screen each."""
        return (
            f"Evaluation({self.snapshot.rulebook.venue}, pools: {len(self.pools)}, isolated: {len(self.isolated)}, "
            f"lowest health {_ratio(self.lowest_health())}, liquidatable={self.liquidatable})"
        )

    @property
    def liquidatable(self) -> bool:
        return any(p.liquidatable for p in self.pools) or any(i.liquidatable for i in self.isolated)

    def lowest_health(self) -> Decimal | None:
        """The lowest health over the pools holding positions and the isolated positions: the
        account's nearest brush with liquidation (``None`` where nothing is required)."""
        values = [p.figures.health() for p in self.pools if p.figures.positions]
        values += [i.health() for i in self.isolated]
        present = [v for v in values if v is not None]
        return min(present) if present else None


def _multi_asset_pool(snapshot: AccountSnapshot) -> PoolInput:
    """All cross positions in one USD pool backed by every approved asset (and every debt)."""
    rulebook = snapshot.rulebook
    cross = tuple(p for p in snapshot.positions if p.margin_mode is MarginMode.CROSS)
    settled_in = {p.settlement_asset for p in cross} | {o.instrument.settlement_asset for o in snapshot.open_orders}
    assets = set(snapshot.balances) | settled_in
    balances = {
        a: snapshot.balances.get(a, ZERO)
        for a in sorted(assets)
        if snapshot.approved(a) or snapshot.balances.get(a, ZERO) < 0 or a in settled_in
    }
    collateral = {a: rulebook.collateral(a) if snapshot.approved(a) else None for a in balances}
    prices = {a: require_price(snapshot.prices, a) for a in balances}
    stable = {a for a, spec in collateral.items() if spec is not None and spec.stable} | {"USD"}
    moving = frozenset(a for a in balances if a not in stable)
    valuation = MultiAssetValuation(balances=balances, prices=prices, collateral=collateral, moving=moving)
    wallet = sum((collateral_value_usd(x, prices[a], collateral[a]) for a, x in balances.items()), ZERO)
    include_fees = rulebook.conventions.order_cost_includes_fees
    held = open_order_margin(snapshot.open_orders, snapshot.positions, include_fees=include_fees)
    return PoolInput("USD", wallet, cross, valuation, held)


#: The move reported when prices were not asked for (an immutable value, shared).
NO_MOVE = LiquidationMove(down=None, up=None)


def build_pools(snapshot: AccountSnapshot) -> tuple[PoolInput, ...]:
    """One cross pool per settlement asset holding cross positions or a balance the venue takes.

    An asset that is held but not approved does not back its pool; a negative balance (a
    debt) always counts in full. Resting orders hold margin back from the pool of their
    settlement asset (which they open if it has none yet).
    """
    if snapshot.asset_mode == "multi":
        return (_multi_asset_pool(snapshot),)
    settlement_assets = snapshot.rulebook.settlement_assets
    grouped: dict[str, list[Position]] = {asset: [] for asset in snapshot.balances if asset in settlement_assets}
    held = {}
    if snapshot.open_orders:
        include_fees = snapshot.rulebook.conventions.order_cost_includes_fees
        margins = open_order_margin(snapshot.open_orders, snapshot.positions, include_fees=include_fees)
        held = {m.asset: m for m in margins}
        for asset in held:
            grouped.setdefault(asset, [])
    for position in snapshot.positions:
        if position.margin_mode is MarginMode.CROSS:
            asset = position.instrument.settlement_asset
            if asset in grouped:
                grouped[asset].append(position)
            else:
                grouped[asset] = [position]
    pools = []
    for asset in sorted(grouped):
        balance = snapshot.balances.get(asset, ZERO)
        counted = balance if (snapshot.approved(asset) or balance < 0) else ZERO
        if asset in held:
            pools.append(PoolInput(asset, counted, tuple(grouped[asset]), None, (held[asset],)))
        else:
            pools.append(PoolInput(asset, counted, tuple(grouped[asset])))
    return tuple(pools)


def _leg_groups(pool: PoolInput, conventions: Conventions) -> list[list[int]]:
    """Indices of positions that share one liquidation price (hedge legs in cross)."""
    if not conventions.hedge_mode_shared_cross_price:
        return [[i] for i in range(len(pool.positions))]
    by_symbol: dict[str, list[int]] = defaultdict(list)
    for index, position in enumerate(pool.positions):
        by_symbol[position.symbol].append(index)
    return list(by_symbol.values())


def _numeric_pair(pool: PoolInput, group: list[int], conventions: Conventions) -> PricePair:
    """Liquidation and bankruptcy price of a multi-asset pool's legs, by evaluating the pool.

    Hedge legs of one symbol may have a root on each side of the mark: both sides are
    searched and the nearer one reported, as the closed form does.
    """
    legs = [pool.positions[i] for i in group]
    bankruptcy = solve_by_bisection(pool, group, conventions, bankruptcy=True)
    gap = symbol_gap(pool, group, conventions)
    mark = legs[0].mark_price
    rises_with_price = gap(mark * Decimal("1.000001")) > gap(mark)
    if len(group) == 1:
        liquidation = solve_by_bisection(pool, group, conventions)
        pair = rounded_pair(legs, liquidation, bankruptcy, falls_liquidate=rises_with_price)
        below = liquidation is not None and liquidation <= mark
        return pair._replace(
            liquidation_down=pair.liquidation_price if below else None,
            liquidation_up=None if below else pair.liquidation_price,
            down_exact=liquidation if below else None,
            up_exact=None if below else liquidation,
        )
    inverse = legs[0].instrument.kind == "inverse"
    low_t, high_t = (solve_by_bisection(pool, group, conventions, downward=d) for d in (True, False))
    down, up = (high_t, low_t) if inverse else (low_t, high_t)
    sides = [p for p in (down, up) if p is not None]
    nearest = min(sides, key=lambda p: abs(p - mark)) if sides else None
    pair = rounded_pair(legs, nearest, bankruptcy, falls_liquidate=nearest is None or nearest <= mark)
    return pair._replace(
        liquidation_down=rounded_pair(legs, down, None, falls_liquidate=True).liquidation_price,
        liquidation_up=rounded_pair(legs, up, None, falls_liquidate=False).liquidation_price,
        down_exact=down,
        up_exact=up,
    )


def cross_prices(figures: PoolFigures, conventions: Conventions) -> tuple[PricePair, ...]:
    """Each cross position's liquidation and bankruptcy price, the other marks frozen."""
    if figures.pool.valuation is not None:
        groups = _leg_groups(figures.pool, conventions)
        pairs: dict[int, PricePair] = {}
        for group in groups:
            pair = _numeric_pair(figures.pool, group, conventions)
            pairs.update(dict.fromkeys(group, pair))
        return tuple(pairs[i] for i in range(len(figures.positions)))
    rule = conventions.positive_pnl.maintenance
    counted = [counted_pnl(f.unrealized_pnl, rule) for f in figures.positions]
    total_equity = figures.wallet_balance + sum(counted, ZERO)
    total_gap = total_equity - figures.requirement
    results: list[PricePair | None] = [None] * len(figures.positions)
    for group in _leg_groups(figures.pool, conventions):
        legs = [figures.pool.positions[i] for i in group]
        leg_equity = sum((counted[i] for i in group), ZERO)
        leg_requirement = sum((figures.positions[i].requirement for i in group), ZERO)
        pair = price_pair(legs, total_gap - leg_equity + leg_requirement, total_equity - leg_equity, conventions)
        for i in group:
            results[i] = pair
    assert all(r is not None for r in results)
    return tuple(r for r in results if r is not None)


def isolated_report(position: Position, conventions: Conventions, *, with_prices: bool = True) -> IsolatedReport:
    """Figures and prices of one isolated position (its own margin, no other position)."""
    assert position.isolated_margin is not None
    figures = position_figures(position, conventions)
    counted = counted_pnl(figures.unrealized_pnl, conventions.positive_pnl.maintenance)
    margin_balance = position.isolated_margin + counted
    requirement = figures.requirement
    if conventions.liquidate_at_equality:
        liquidatable = requirement > 0 and margin_balance <= requirement
    else:
        liquidatable = margin_balance < requirement
    if with_prices:
        # Bybit's position margin holds the fee to close, which the bankruptcy price leaves
        # reserved: EP x (1 - 1/L) when the margin is IM plus that fee.
        reserved = close_fee(position) if conventions.close_fee_in_initial else ZERO
        prices = price_pair([position], position.isolated_margin, position.isolated_margin - reserved, conventions)
    else:
        prices = PricePair(None, None, None, None)
    return IsolatedReport(figures, position.isolated_margin, margin_balance, prices, liquidatable)


@exact_arithmetic
def evaluate_account(snapshot: AccountSnapshot, *, with_prices: bool = True) -> Evaluation:
    """Everything ``crossmargin evaluate`` reports, exact and unrounded.

    ``with_prices=False`` skips the liquidation and bankruptcy prices and the liquidation move
    (left empty): the figures a margin check needs, at a fraction of the cost.
    """
    conventions = snapshot.rulebook.conventions
    pools = []
    for pool in build_pools(snapshot):
        figures = pool_figures(pool, conventions)
        if with_prices:
            prices = cross_prices(figures, conventions) if pool.positions else ()
            move = liquidation_move(pool, conventions, figures=figures)
        else:
            prices, move = (), NO_MOVE
        pools.append(PoolReport(figures, prices, move, figures.is_liquidatable(conventions)))
    isolated_mode = MarginMode.ISOLATED
    isolated = [p for p in snapshot.positions if p.margin_mode is isolated_mode]
    reports = tuple(isolated_report(p, conventions, with_prices=with_prices) for p in isolated) if isolated else ()
    return Evaluation(snapshot, tuple(pools), reports)
