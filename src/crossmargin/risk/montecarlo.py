"""Monte Carlo liquidation odds of an account: correlated paths, funding, the venue's trigger.

The question a cross-margin user has is how likely the account is to be liquidated within a
horizon, not where one position's liquidation price sits with every other mark frozen. Each path
moves every mark by its asset's simulated return (a model from :mod:`crossmargin.risk.models`),
pays or receives funding at each funding time, and at every step compares each part of the
account that the venue liquidates on its own (a cross pool, a multi-asset pool, an isolated
position) with its requirement as the venue does: its tiers, its fee inside the ratio, whether
profit counts, collateral haircuts, liquidation at or below the threshold. The first part at or
below it liquidates the path; an account already liquidatable is liquidated on every path before
any move. The loop itself is :mod:`crossmargin.risk.path_kernel`; its float64 figures are tested
against the margin functions, and :mod:`crossmargin.risk.exact_paths` replays paths through them.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, replace
from decimal import Decimal

import numpy as np
import numpy.typing as npt

from crossmargin.margin.account import AccountSnapshot
from crossmargin.margin.evaluate import build_pools, evaluate_account
from crossmargin.margin.position import close_fee
from crossmargin.margin.types import MarginMode, Position
from crossmargin.risk.book import basis_code
from crossmargin.risk.engine_copy import account_equity
from crossmargin.risk.models import ReturnModel
from crossmargin.risk.path_kernel import simulate_paths
from crossmargin.units import InputError

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]
B1 = npt.NDArray[np.bool_]
QUANTILES = (0.01, 0.05, 0.25, 0.5)
ES_LEVEL = 0.95
CHUNK_PATHS = 4096
#: Draws held at once: a chunk of paths shrinks below CHUNK_PATHS past 30 days of hours x 8 assets.
CHUNK_VALUES = CHUNK_PATHS * 720 * 8
MAX_PATHS = 1_000_000
MAX_HORIZON_HOURS = 365 * 24


@dataclass(frozen=True)
class CollateralArrays:
    """The assets of a multi-asset pool (empty otherwise): signed balance, USD price, the model
    asset whose path moves the price (-1: it stays), and the venue's haircut schedule."""

    assets: tuple[str, ...]
    balance: F64
    price: F64
    driver: I64
    approved: B1  # the venue takes it as collateral (owed in full either way)
    usd_tiers: B1
    bid: F64
    ask: F64
    tier_start: I64
    tier_floor: F64
    tier_rate: F64


@dataclass(frozen=True)
class Pool:
    """An account as arrays, one entry per position (see the kernels for their use). Positions
    belong to segments that are liquidated on their own: cross pools, then isolated positions;
    ``multi_segment`` is the index of a multi-asset pool (-1: none)."""

    assets: tuple[str, ...]
    asset_of: I64
    signed_size: F64
    entry: F64
    mark: F64
    inverse: B1
    contract_size: F64
    basis: I64
    cap_inclusive: B1
    fee_rate: F64
    fixed_fee: F64
    liquidation_fee: F64
    funding_rate: F64  # per funding interval, positive: longs pay
    funding_hours: I64
    tier_start: I64
    tier_floor: F64
    tier_mmr: F64
    tier_amount: F64
    segment_of: I64
    settle_of: I64  # the collateral index of each position's settlement asset (multi-asset pools)
    segment_wallet: F64  # each segment's wallet or isolated margin (unused for a multi-asset pool)
    multi_segment: int
    cross_pools: int  # segments 0 .. cross_pools - 1 are cross pools; the rest isolated positions
    collateral: CollateralArrays
    settlement_asset: str  # what the equities are counted in (USD for a multi-asset pool)
    profit_counts: bool
    at_equality: bool
    keeps_equity: bool
    start_equity: float  # wallets plus unrealised PnL at the marks, from the margin functions
    liquidatable_at_start: bool  # decided by the margin functions at the account's own marks

    def with_deposit(self, amount: float) -> Pool:
        """The account with ``amount`` more of its first cross position's settlement asset in its
        first pool (the float check then decides the start: a deposit only ever helps). An
        isolated position's margin is its own: with no cross pool a deposit changes nothing."""
        if self.cross_pools == 0:
            return self
        changes: dict[str, object] = {"start_equity": self.start_equity + amount}
        changes["liquidatable_at_start"] = self.liquidatable_at_start and amount <= 0
        if self.multi_segment == 0:
            balance = self.collateral.balance.copy()
            balance[self.settle_of[int(np.argmax(self.segment_of == 0))]] += amount
            changes["collateral"] = replace(self.collateral, balance=balance)
        else:
            wallets = self.segment_wallet.copy()
            wallets[0] += amount
            changes["segment_wallet"] = wallets
        return replace(self, **changes)  # type: ignore[arg-type]


def _segments(snapshot: AccountSnapshot) -> tuple[list[int], list[float], int, int, str]:
    """Each position's segment, each segment's wallet, the multi-asset pool's index and the
    asset the account's equity is counted in; several settlement assets are refused."""
    positions = snapshot.positions
    pools = [p for p in build_pools(snapshot) if p.positions]
    segment = {}
    for index, pool in enumerate(pools):
        for position in pool.positions:
            segment[id(position)] = index
    wallets = [float(p.wallet_balance) for p in pools]
    cross_pools = len(wallets)
    multi = next((i for i, p in enumerate(pools) if p.valuation is not None), -1)
    for position in positions:
        if position.margin_mode is MarginMode.ISOLATED:
            segment[id(position)] = len(wallets)
            wallets.append(float(position.isolated_margin or 0))
    assets = {pool.settlement_asset for pool in pools}
    assets |= {p.settlement_asset for p in positions if p.margin_mode is MarginMode.ISOLATED}
    if len(assets) > 1:
        raise InputError("positions", f"one settlement asset at a time; these settle in {sorted(assets)}")
    return [segment[id(p)] for p in positions], wallets, multi, cross_pools, assets.pop()


def _collateral(snapshot: AccountSnapshot, model_assets: list[str]) -> CollateralArrays:
    """The multi-asset pool's assets; a non-stable one moves along its own path (it joins the
    model's assets)."""
    pools = [p for p in build_pools(snapshot) if p.valuation is not None]
    valuation = pools[0].valuation if pools else None
    names = sorted(valuation.balances) if valuation is not None else []
    starts, floors, rates = [0], [], []
    specs = []
    for name in names:
        assert valuation is not None
        spec = valuation.collateral.get(name)
        specs.append(spec)
        for tier in spec.haircut_tiers if spec is not None else ():
            floors.append(float(tier.floor))
            rates.append(float(tier.rate))
        starts.append(len(floors))
        if name in valuation.moving and not _stable(snapshot, name) and name not in model_assets:
            model_assets.append(name)
    return CollateralArrays(
        assets=tuple(names),
        balance=np.array([float(valuation.balances[a]) for a in names] if valuation else [], dtype=np.float64),
        price=np.array([float(valuation.prices[a]) for a in names] if valuation else [], dtype=np.float64),
        driver=np.array([-1] * len(names), dtype=np.int64),  # set once the model's assets are known
        approved=np.array([s is not None for s in specs], dtype=np.bool_),
        usd_tiers=np.array([s is not None and s.tier_unit == "usd" for s in specs], dtype=np.bool_),
        bid=np.array([float(s.bid_buffer) if s else 0.0 for s in specs], dtype=np.float64),
        ask=np.array([float(s.ask_buffer) if s else 0.0 for s in specs], dtype=np.float64),
        tier_start=np.array(starts, dtype=np.int64),
        tier_floor=np.array(floors, dtype=np.float64),
        tier_rate=np.array(rates, dtype=np.float64),
    )


def _stable(snapshot: AccountSnapshot, asset: str) -> bool:
    spec = snapshot.rulebook.collateral(asset)
    return asset == "USD" or (spec is not None and spec.stable)


def _tier_rows(position: Position) -> list[tuple[Decimal, Decimal, Decimal]]:
    """The position's tier table, or its one fixed rate where the account overrides it."""
    if position.mmr_override is not None:
        return [(Decimal(0), position.mmr_override, position.maintenance_amount_override or Decimal(0))]
    instrument = position.instrument
    return [(f, m, a) for f, (m, a) in zip(instrument.tier_floors, instrument.tier_rates, strict=True)]


def pool_of(snapshot: AccountSnapshot, funding_rate: float | None) -> Pool:
    """Every position of an account, for simulation: its cross pools (single- or multi-asset)
    and its isolated positions. Positions settling in several assets are refused by field."""
    conventions = snapshot.rulebook.conventions
    positions = list(snapshot.positions)
    if not positions:
        raise InputError("positions", "there is nothing to simulate: the account holds no position")
    segment_of, wallets, multi, cross_pools, settlement = _segments(snapshot)
    assets = sorted({p.instrument.base_asset for p in positions})
    collateral = _collateral(snapshot, assets)
    collateral = replace(collateral, driver=np.array(
        [assets.index(a) if a in assets and not _stable(snapshot, a) else -1 for a in collateral.assets],
        dtype=np.int64))  # fmt: skip
    starts, floors, mmrs, amounts = [0], [], [], []
    for position in positions:
        for floor, mmr, amount in _tier_rows(position):
            floors.append(float(floor))
            mmrs.append(float(mmr))
            amounts.append(float(amount))
        starts.append(len(floors))
    in_ratio = conventions.liquidation_fee_in_ratio
    start = evaluate_account(snapshot, with_prices=False)
    coins = collateral.assets
    settle_of = [coins.index(p.settlement_asset) if p.settlement_asset in coins else -1 for p in positions]

    def rate_of(position: Position) -> float:
        """Per funding interval: the given rate, or the rulebook's baseline (published per its basis)."""
        funding = position.instrument.funding
        if funding is None:
            return 0.0
        if funding_rate is not None:
            return funding_rate
        return float(funding.baseline_rate) * funding.interval_hours / funding.rate_basis_hours

    return Pool(
        assets=tuple(assets),
        asset_of=np.array([assets.index(p.instrument.base_asset) for p in positions], dtype=np.int64),
        signed_size=np.array([float(p.size) * p.side.sign for p in positions]),
        entry=np.array([float(p.entry_price) for p in positions]),
        mark=np.array([float(p.mark_price) for p in positions]),
        inverse=np.array([p.instrument.kind == "inverse" for p in positions]),
        contract_size=np.array([float(p.instrument.contract_size) for p in positions]),
        basis=np.array(
            [
                basis_code(p.instrument.kind, p.instrument.tier_basis, conventions.position_value_basis == "entry")
                for p in positions
            ],
            dtype=np.int64,
        ),
        cap_inclusive=np.array([p.instrument.tier_boundary == "cap_inclusive" for p in positions]),
        fee_rate=np.array([float(p.instrument.fee("liquidation_fee")) if in_ratio else 0.0 for p in positions]),
        fixed_fee=np.array([float(close_fee(p)) if conventions.close_fee_in_maintenance else 0.0 for p in positions]),
        liquidation_fee=np.array([float(p.instrument.liquidation_fee or 0) for p in positions]),
        funding_rate=np.array([rate_of(p) for p in positions]),
        funding_hours=np.array(
            [p.instrument.funding.interval_hours if p.instrument.funding else 0 for p in positions], dtype=np.int64
        ),
        tier_start=np.array(starts, dtype=np.int64),
        tier_floor=np.array(floors),
        tier_mmr=np.array(mmrs),
        tier_amount=np.array(amounts),
        segment_of=np.array(segment_of, dtype=np.int64),
        settle_of=np.array(settle_of, dtype=np.int64),
        segment_wallet=np.array(wallets, dtype=np.float64),
        multi_segment=multi,
        cross_pools=cross_pools,
        collateral=collateral,
        settlement_asset=settlement,
        profit_counts=conventions.positive_pnl.maintenance == "full",
        at_equality=conventions.liquidate_at_equality,
        keeps_equity=conventions.liquidation.user_keeps_remaining_equity,
        start_equity=float(account_equity(start)),
        liquidatable_at_start=start.liquidatable,
    )


def funding_events(pool: Pool, steps: int, step_hours: int) -> I64:
    """How many funding times each position crosses in each step (steps x positions)."""
    ends = np.arange(1, steps + 1, dtype=np.int64)[:, None] * step_hours
    interval = np.where(pool.funding_hours > 0, pool.funding_hours, 1)
    counts: I64 = ends // interval - (ends - step_hours) // interval
    counts[:, pool.funding_hours == 0] = 0
    return counts


def chunk_paths(model: ReturnModel, steps: int) -> int:
    """Paths drawn at once: CHUNK_PATHS, fewer where the horizon and assets would hold too much."""
    values = steps * model.step_hours * len(model.assets)
    return max(1, min(CHUNK_PATHS, CHUNK_VALUES // max(values, 1)))


@dataclass(frozen=True)
class MonteCarloResult:
    """Per path: the step of liquidation (-1: none), the lowest health, the equity at the end (what
    the venue leaves after a liquidation: nothing where the fund takes the rest)."""

    liquidated_at: I64
    min_health: F64
    final_equity: F64
    start_equity: float
    steps: int
    liquidatable_at_start: bool = False  # liquidated on every path before any move

    @property
    def liquidation_probability(self) -> float:
        return float(np.mean(self.liquidated_at >= 0))

    @property
    def standard_error(self) -> float:
        p, n = self.liquidation_probability, len(self.liquidated_at)
        return math.sqrt(p * (1 - p) / n)

    def min_health_quantiles(self) -> dict[str, float]:
        finite = np.where(np.isfinite(self.min_health), self.min_health, np.finfo(np.float64).max)
        return {str(q): float(np.quantile(finite, q)) for q in QUANTILES}

    def expected_shortfall(self, level: float = ES_LEVEL) -> float:
        """Mean loss of equity over the worst ``1 - level`` of paths."""
        losses = np.sort(self.start_equity - self.final_equity)
        tail = losses[math.floor(level * len(losses)) :]
        return float(tail.mean()) if len(tail) else 0.0

    def __repr__(self) -> str:
        """One line: the per-path arrays are in the fields."""
        return (
            f"MonteCarloResult({len(self.liquidated_at):,} paths of {self.steps} steps: liquidation probability "
            f"{self.liquidation_probability:.4%} (standard error {self.standard_error:.4%}))"
        )


def simulate(
    pool: Pool,
    model: ReturnModel,
    *,
    steps: int,
    paths: int,
    seed: int,
    on_chunk: Callable[[int], None] | None = None,
) -> MonteCarloResult:
    """Simulate ``paths`` paths of ``steps`` steps, chunk by chunk, each chunk from its own child
    seed (so a seed gives the same paths whatever the machine); ``on_chunk`` hears each chunk's size."""
    if paths < 1 or steps < 1:
        raise InputError("paths" if paths < 1 else "horizon", "must be at least one")
    if model.assets != pool.assets:
        raise InputError("model", f"is for {model.assets}, the pool holds {pool.assets}")
    events = funding_events(pool, steps, model.step_hours)
    liquidated = np.empty(paths, dtype=np.int64)
    lowest = np.empty(paths)
    final = np.empty(paths)
    chunk = chunk_paths(model, steps)
    seeds = np.random.SeedSequence(seed).spawn(-(-paths // chunk))
    c = pool.collateral
    for index, child in enumerate(seeds):
        first, stop = index * chunk, min(paths, (index + 1) * chunk)
        returns = model.draw(np.random.default_rng(child), stop - first, steps)
        simulate_paths(
            returns, events, pool.asset_of, pool.signed_size, pool.entry, pool.mark, pool.inverse,
            pool.contract_size, pool.basis, pool.cap_inclusive, pool.fee_rate, pool.fixed_fee, pool.liquidation_fee,
            pool.funding_rate, pool.tier_start, pool.tier_floor, pool.tier_mmr, pool.tier_amount,
            pool.segment_of, pool.settle_of, pool.segment_wallet, pool.multi_segment,
            c.balance, c.price, c.driver, c.approved, c.usd_tiers, c.bid, c.ask, c.tier_start, c.tier_floor,
            c.tier_rate, pool.profit_counts, pool.at_equality, pool.keeps_equity, pool.liquidatable_at_start,
            liquidated[first:stop], lowest[first:stop], final[first:stop],
        )  # fmt: skip
        if on_chunk is not None:
            on_chunk(stop - first)
    return MonteCarloResult(liquidated, lowest, final, pool.start_equity, steps, pool.liquidatable_at_start)
