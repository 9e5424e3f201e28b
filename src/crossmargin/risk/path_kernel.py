"""The compiled Monte Carlo loop: every path of an account, step by step, as the venue checks it.

An account is a set of segments that are liquidated independently: a cross pool (one wallet in
its settlement asset), an isolated position (its own margin), or a multi-asset pool, whose
margin balance adds every collateral asset's equity in USD, haircut slice by slice when owned
and in full at the ask rate when owed, with the price of a collateral asset such as BTC moving
along its own simulated path. Each step moves the marks, checks every segment at the new marks,
then settles funding where a funding time falls and checks again. The first segment at or below
its requirement liquidates the path; the start itself is checked first (an account already
liquidatable is liquidated before any move). The float64 figures mirror the margin functions
(:mod:`crossmargin.margin.pool`, :mod:`crossmargin.margin.collateral`) and are tested against them.
"""

from __future__ import annotations

import math

import numba
import numpy as np
import numpy.typing as npt

from crossmargin.risk.kernel import position_terms

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]
B1 = npt.NDArray[np.bool_]


@numba.njit(inline="always", cache=True)
def collateral_usd(
    amount: float, price: float, c: int, approved: B1, usd_tiers: B1, bid: F64, ask: F64,
    tier_start: I64, tier_floor: F64, tier_rate: F64,
) -> float:  # fmt: skip
    """A signed asset equity in USD: haircut slices when owned, in full at the ask when owed
    (``collateral_value_usd`` in float64)."""
    if not approved[c]:
        return amount * price if amount < 0.0 else 0.0
    if amount < 0.0:
        return amount * price * (1.0 + float(ask[c]))
    value = amount * price if usd_tiers[c] else amount
    sliced = 0.0
    last = tier_start[c + 1] - 1
    for t in range(tier_start[c], last + 1):
        if value <= tier_floor[t]:
            break
        top = tier_floor[t + 1] if t < last else np.inf
        sliced += (min(value, top) - tier_floor[t]) * tier_rate[t]
    kept = 1.0 - float(bid[c])
    return sliced * kept if usd_tiers[c] else sliced * price * kept


MARGIN, REQUIRED, EQUITY, FEE, PAID = 0, 1, 2, 3, 4  # columns of a segment's figures at one step


@numba.njit(inline="always", cache=True)
def _start_step(
    step: int, returns: F64, log_price: F64, price: F64, price0: F64, driver: I64, balance: F64, counted: F64,
    owed: F64, figures: F64,
) -> None:  # fmt: skip
    """Move the prices by the step's returns (none at the start) and clear the step's figures."""
    if step >= 0:
        for a in range(log_price.shape[0]):
            log_price[a] += returns[step, a]
    for c in range(price.shape[0]):
        price[c] = price0[c] * math.exp(log_price[driver[c]]) if driver[c] >= 0 else price0[c]
        counted[c] = balance[c]
        owed[c] = 0.0
    for s in range(figures.shape[0]):
        for column in range(5):
            figures[s, column] = 0.0


@numba.njit(inline="always", cache=True)
def _paying(figures: F64, owed: F64) -> bool:
    """Whether funding moves money at this step."""
    paying = False
    for s in range(figures.shape[0]):
        paying = paying or figures[s, PAID] != 0.0
    for c in range(owed.shape[0]):
        paying = paying or owed[c] != 0.0
    return paying


@numba.njit(inline="always", cache=True)
def _settle_funding(figures: F64, wallet: F64, balance: F64, counted: F64, owed: F64) -> None:
    """Funding out of (or into) each segment's wallet and each multi-asset pool asset."""
    for s in range(figures.shape[0]):
        wallet[s] -= figures[s, PAID]
    for c in range(owed.shape[0]):
        balance[c] -= owed[c]
        counted[c] -= owed[c]


@numba.njit(inline="always", cache=True)
def _value_positions(
    step: int, log_price: F64, price: F64, events: I64,
    asset_of: I64, signed_size: F64, entry: F64, mark: F64, inverse: B1, contract_size: F64, basis: I64,
    cap_inclusive: B1, fee_rate: F64, fixed_fee: F64, liquidation_fee: F64, funding_rate: F64,
    tier_start: I64, tier_floor: F64, tier_mmr: F64, tier_amount: F64,
    segment_of: I64, settle_of: I64, multi_segment: int, approved: B1, ask: F64, profit_counts: bool,
    figures: F64, counted: F64, owed: F64,
) -> None:  # fmt: skip
    """Every position at the step's prices, added into its segment's figures (a multi-asset pool's
    PnL and funding go to its settlement asset's equity, its requirement at that asset's ask)."""
    for k in range(signed_size.shape[0]):
        s = segment_of[k]
        at = mark[k] * math.exp(log_price[asset_of[k]])
        notional, pnl, required = position_terms(
            at, signed_size[k], entry[k], inverse[k], contract_size[k], basis[k], cap_inclusive[k],
            fee_rate[k], fixed_fee[k], tier_start[k], tier_start[k + 1] - 1, tier_floor, tier_mmr, tier_amount,
        )  # fmt: skip
        payment = 0.0
        if step >= 0 and events[step, k] > 0:  # funding on the notional, longs pay a positive rate
            payment = events[step, k] * funding_rate[k] * notional * (1.0 if signed_size[k] > 0 else -1.0)
        kept = pnl < 0.0 or profit_counts
        usd = 1.0
        if s == multi_segment:
            c = settle_of[k]
            usd = price[c]
            required *= price[c] * (1.0 + ask[c]) if approved[c] else price[c]
            owed[c] += payment
            if kept:
                counted[c] += pnl
        else:
            figures[s, PAID] += payment
            if kept:
                figures[s, MARGIN] += pnl
        figures[s, REQUIRED] += required
        figures[s, FEE] += notional * liquidation_fee[k] * usd
        figures[s, EQUITY] += pnl * usd


@numba.njit(inline="always", cache=True)
def _pool_usd(
    amounts: F64, price: F64, approved: B1, usd_tiers: B1, bid: F64, ask: F64,
    haircut_start: I64, haircut_floor: F64, haircut_rate: F64,
) -> float:  # fmt: skip
    """A multi-asset pool's equities (per asset) in USD, each haircut or charged at the ask."""
    total = 0.0
    for c in range(amounts.shape[0]):
        total += collateral_usd(
            amounts[c], price[c], c, approved, usd_tiers, bid, ask, haircut_start, haircut_floor, haircut_rate
        )
    return total


@numba.njit(inline="always", cache=True)
def _first_hit(figures: F64, balances: F64, at_equality: bool) -> tuple[int, float]:
    """The first segment at or below its requirement (-1: none) and the lowest health seen."""
    lowest = np.inf
    first = -1
    for s in range(figures.shape[0]):
        total, requirement = balances[s], figures[s, REQUIRED]
        if requirement > 0.0:
            lowest = min(lowest, total / requirement)
            hit = total <= requirement if at_equality else total < requirement
        else:
            hit = total < 0.0
        if hit and first < 0:
            first = s
    return first, lowest


@numba.njit(parallel=True, cache=True, nogil=True)
def simulate_paths(  # the fused loop per path: prices, funding, margin per segment, the venue's trigger
    returns: F64, events: I64,
    asset_of: I64, signed_size: F64, entry: F64, mark: F64, inverse: B1, contract_size: F64, basis: I64,
    cap_inclusive: B1, fee_rate: F64, fixed_fee: F64, liquidation_fee: F64, funding_rate: F64,
    tier_start: I64, tier_floor: F64, tier_mmr: F64, tier_amount: F64,
    segment_of: I64, settle_of: I64, segment_wallet: F64, multi_segment: int,
    balance0: F64, price0: F64, driver: I64, approved: B1, usd_tiers: B1, bid: F64, ask: F64,
    haircut_start: I64, haircut_floor: F64, haircut_rate: F64,
    profit_counts: bool, at_equality: bool, keeps_equity: bool, liquidated_at_start: bool,
    liquidated_at: I64, min_health: F64, final_equity: F64,
) -> None:  # fmt: skip
    paths, steps, assets = returns.shape
    segments, coins = segment_wallet.shape[0], balance0.shape[0]
    for path in numba.prange(paths):
        log_price = np.zeros(assets)
        wallet, balance, price = segment_wallet.copy(), balance0.copy(), price0.copy()
        figures = np.zeros((segments, 5))
        counted = np.zeros(coins)  # a multi-asset pool's equity per asset, as maintenance counts it
        owed = np.zeros(coins)  # ... and the funding it pays per asset
        totals = np.zeros(segments)
        lowest = np.inf
        liquidated_at[path] = -1
        for step in range(-1, steps):  # -1: the account as it stands, before any move
            _start_step(step, returns[path], log_price, price, price0, driver, balance, counted, owed, figures)
            _value_positions(
                step, log_price, price, events, asset_of, signed_size, entry, mark, inverse, contract_size, basis,
                cap_inclusive, fee_rate, fixed_fee, liquidation_fee, funding_rate, tier_start, tier_floor, tier_mmr,
                tier_amount, segment_of, settle_of, multi_segment, approved, ask, profit_counts, figures, counted, owed,
            )  # fmt: skip
            # as the venue runs it: the new marks are checked first, then funding settles and is checked
            hit = -1
            for stage in range(2 if _paying(figures, owed) else 1):
                if stage == 1:
                    _settle_funding(figures, wallet, balance, counted, owed)
                for s in range(segments):
                    totals[s] = figures[s, MARGIN] + wallet[s]
                if multi_segment >= 0:
                    totals[multi_segment] = _pool_usd(
                        counted, price, approved, usd_tiers, bid, ask, haircut_start, haircut_floor, haircut_rate
                    )
                hit, seen = _first_hit(figures, totals, at_equality)
                lowest = min(lowest, seen)
                if hit >= 0:
                    break
            # at the start the margin functions decided, exactly, at the account's own marks
            hit = 0 if step == -1 and liquidated_at_start and hit < 0 else hit
            if hit >= 0 or step == steps - 1:  # the path ends here
                final_equity[path] = _equity(
                    figures, wallet, balance, price, multi_segment, hit, keeps_equity, approved, usd_tiers, bid, ask,
                    haircut_start, haircut_floor, haircut_rate,
                )  # fmt: skip
            if hit >= 0:
                liquidated_at[path] = max(step, 0)
                break
        min_health[path] = lowest


@numba.njit(inline="always", cache=True)
def _equity(
    figures: F64, wallet: F64, balance: F64, price: F64, multi_segment: int, hit: int, keeps_equity: bool,
    approved: B1, usd_tiers: B1, bid: F64, ask: F64, haircut_start: I64, haircut_floor: F64, haircut_rate: F64,
) -> float:  # fmt: skip
    """The account's equity: each segment's wallet (a multi-asset pool's collateral in USD) plus
    its PnL; a liquidated segment leaves what the venue returns (nothing where the fund keeps it)."""
    total = 0.0
    for s in range(figures.shape[0]):
        value = figures[s, EQUITY] + wallet[s]
        if s == multi_segment:
            value = figures[s, EQUITY] + _pool_usd(
                balance, price, approved, usd_tiers, bid, ask, haircut_start, haircut_floor, haircut_rate
            )
        if s == hit:
            value = max(value - figures[s, FEE], 0.0) if keeps_equity else 0.0
        total += value
    return total
