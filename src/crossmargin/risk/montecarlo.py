"""Monte Carlo liquidation odds of a cross account: correlated paths, funding, the venue's trigger.

The question a cross-margin user has is how likely the whole pool is to be liquidated within a
horizon, not where one position's liquidation price sits with every other mark frozen. Each path
moves every mark by its asset's simulated return (a model from :mod:`crossmargin.risk.models`),
pays or receives funding at each funding time, and at every step compares the pool's margin
balance with its maintenance requirement as the venue does: its tiers, its fee inside the ratio,
whether profit counts, liquidation at or below the threshold. The first step at or below it
liquidates the path. The float64 figures here are tested against the margin functions, and
:func:`exact_decisions` replays paths through them.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

import numba
import numpy as np
import numpy.typing as npt

from crossmargin.margin.account import AccountSnapshot
from crossmargin.margin.position import close_fee, position_figures
from crossmargin.margin.types import MarginMode
from crossmargin.risk.book import basis_code
from crossmargin.risk.kernel import position_terms
from crossmargin.risk.models import ReturnModel
from crossmargin.units import InputError

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]
QUANTILES = (0.01, 0.05, 0.25, 0.5)
ES_LEVEL = 0.95
CHUNK_PATHS = 4096


@dataclass(frozen=True)
class Pool:
    """The account's cross pool as arrays, one entry per position (see the kernel for their use)."""

    assets: tuple[str, ...]
    asset_of: I64
    signed_size: F64
    entry: F64
    mark: F64
    inverse: npt.NDArray[np.bool_]
    contract_size: F64
    basis: I64
    cap_inclusive: npt.NDArray[np.bool_]
    fee_rate: F64
    fixed_fee: F64
    liquidation_fee: F64
    funding_rate: F64  # per funding interval, positive: longs pay
    funding_hours: I64
    tier_start: I64
    tier_floor: F64
    tier_mmr: F64
    tier_amount: F64
    wallet: float
    profit_counts: bool
    at_equality: bool
    keeps_equity: bool
    start_equity: float  # wallet plus unrealised PnL at the marks, from the margin functions


def pool_of(snapshot: AccountSnapshot, funding_rate: float | None) -> Pool:
    """The single-asset cross pool of an account, for simulation; other shapes are refused by field."""
    if snapshot.asset_mode != "single":
        raise InputError("asset_mode", "montecarlo simulates single-asset cross pools; multi-asset pools are not yet")
    conventions = snapshot.rulebook.conventions
    positions = list(snapshot.positions)
    if not positions:
        raise InputError("positions", "there is nothing to simulate: the account holds no position")
    for n, position in enumerate(positions):
        if position.margin_mode is not MarginMode.CROSS:
            raise InputError(f"positions[{n}].margin_mode", "montecarlo simulates the cross pool; isolated not yet")
    settlement = {p.settlement_asset for p in positions}
    if len(settlement) > 1:
        raise InputError("positions", f"one cross pool at a time; these settle in {sorted(settlement)}")
    asset = settlement.pop()
    assets = sorted({p.instrument.base_asset for p in positions})
    starts, floors, mmrs, amounts = [0], [], [], []
    for position in positions:
        instrument = position.instrument
        if position.mmr_override is not None:
            rows = [(Decimal(0), position.mmr_override, position.maintenance_amount_override or Decimal(0))]
        else:
            rows = [(f, m, a) for f, (m, a) in zip(instrument.tier_floors, instrument.tier_rates, strict=True)]
        for floor, mmr, amount in rows:
            floors.append(float(floor))
            mmrs.append(float(mmr))
            amounts.append(float(amount))
        starts.append(len(floors))
    in_ratio = conventions.liquidation_fee_in_ratio
    wallet = snapshot.balances.get(asset, Decimal(0)) if snapshot.approved(asset) else Decimal(0)

    def rate_of(position_index: int) -> float:
        """Per funding interval: the given rate, or the rulebook's baseline (published per its basis)."""
        funding = positions[position_index].instrument.funding
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
        funding_rate=np.array([rate_of(n) for n in range(len(positions))]),
        funding_hours=np.array(
            [p.instrument.funding.interval_hours if p.instrument.funding else 0 for p in positions], dtype=np.int64
        ),
        tier_start=np.array(starts, dtype=np.int64),
        tier_floor=np.array(floors),
        tier_mmr=np.array(mmrs),
        tier_amount=np.array(amounts),
        wallet=float(wallet),
        profit_counts=conventions.positive_pnl.maintenance == "full",
        at_equality=conventions.liquidate_at_equality,
        keeps_equity=conventions.liquidation.user_keeps_remaining_equity,
        start_equity=float(
            wallet + sum((position_figures(p, conventions).unrealized_pnl for p in positions), Decimal(0))
        ),
    )


def funding_events(pool: Pool, steps: int, step_hours: int) -> I64:
    """How many funding times each position crosses in each step (steps x positions)."""
    ends = np.arange(1, steps + 1, dtype=np.int64)[:, None] * step_hours
    interval = np.where(pool.funding_hours > 0, pool.funding_hours, 1)
    counts: I64 = ends // interval - (ends - step_hours) // interval
    counts[:, pool.funding_hours == 0] = 0
    return counts


@numba.njit(parallel=True, cache=True, nogil=True)
def _simulate(  # the fused loop per path: prices, funding, margin, the venue's trigger
    returns: F64,
    asset_of: I64,
    signed_size: F64,
    entry: F64,
    mark: F64,
    inverse: npt.NDArray[np.bool_],
    contract_size: F64,
    basis: I64,
    cap_inclusive: npt.NDArray[np.bool_],
    fee_rate: F64,
    fixed_fee: F64,
    liquidation_fee: F64,
    funding_rate: F64,
    events: I64,
    tier_start: I64,
    tier_floor: F64,
    tier_mmr: F64,
    tier_amount: F64,
    wallet0: float,
    profit_counts: bool,
    at_equality: bool,
    keeps_equity: bool,
    liquidated_at: I64,
    min_health: F64,
    final_equity: F64,
) -> None:
    paths, steps, assets = returns.shape
    positions = signed_size.shape[0]
    for path in numba.prange(paths):
        log_price = np.zeros(assets)
        wallet = wallet0
        lowest = np.inf
        liquidated_at[path] = -1
        equity = wallet0
        for step in range(steps):
            for a in range(assets):
                log_price[a] += returns[path, step, a]
            margin = 0.0
            requirement = 0.0
            equity = 0.0
            fee_due = 0.0
            paid = 0.0
            for k in range(positions):
                price = mark[k] * math.exp(log_price[asset_of[k]])
                notional, pnl, required = position_terms(
                    price, signed_size[k], entry[k], inverse[k], contract_size[k], basis[k], cap_inclusive[k],
                    fee_rate[k], fixed_fee[k], tier_start[k], tier_start[k + 1] - 1, tier_floor, tier_mmr, tier_amount,
                )  # fmt: skip
                if events[step, k] > 0:  # funding on the notional, longs pay a positive rate
                    paid += events[step, k] * funding_rate[k] * notional * (1.0 if signed_size[k] > 0 else -1.0)
                requirement += required
                fee_due += notional * liquidation_fee[k]
                equity += pnl
                if pnl < 0.0 or profit_counts:
                    margin += pnl
            # as the venue runs it: the new marks are checked first, then funding settles and is checked
            hit = False
            for stage in range(2 if paid != 0.0 else 1):
                if stage == 1:
                    wallet -= paid
                total = margin + wallet
                health = total / requirement if requirement > 0.0 else np.inf
                lowest = min(lowest, health)
                hit = total <= requirement if at_equality else total < requirement
                if hit:
                    break
            equity += wallet
            if hit:
                liquidated_at[path] = step
                equity = max(equity - fee_due, 0.0) if keeps_equity else 0.0
                break
        min_health[path] = lowest
        final_equity[path] = equity


@dataclass(frozen=True)
class MonteCarloResult:
    """Per path: the step of liquidation (-1: none), the lowest health, the equity at the end (what
    the venue leaves after a liquidation: nothing where the fund takes the rest)."""

    liquidated_at: I64
    min_health: F64
    final_equity: F64
    start_equity: float
    steps: int

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
    chunks = -(-paths // CHUNK_PATHS)
    seeds = np.random.SeedSequence(seed).spawn(chunks)
    for index, child in enumerate(seeds):
        first, stop = index * CHUNK_PATHS, min(paths, (index + 1) * CHUNK_PATHS)
        returns = model.draw(np.random.default_rng(child), stop - first, steps)
        _simulate(
            returns, pool.asset_of, pool.signed_size, pool.entry, pool.mark, pool.inverse, pool.contract_size,
            pool.basis, pool.cap_inclusive, pool.fee_rate, pool.fixed_fee, pool.liquidation_fee, pool.funding_rate,
            events, pool.tier_start, pool.tier_floor, pool.tier_mmr, pool.tier_amount, pool.wallet,
            pool.profit_counts, pool.at_equality, pool.keeps_equity,
            liquidated[first:stop], lowest[first:stop], final[first:stop],
        )  # fmt: skip
        if on_chunk is not None:
            on_chunk(stop - first)
    return MonteCarloResult(liquidated, lowest, final, pool.start_equity, steps)
