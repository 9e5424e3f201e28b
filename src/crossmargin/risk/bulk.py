"""Bulk health: re-mark a whole book on a price vector, then confirm the boundary exactly.

The float64 pass gives every account's margin balance, requirement, health and liquidatable
flag in one compiled loop over the position rows (Numba, in parallel over accounts). Float
figures are for analytics; a decision is not. Every account the pass flags, and every account
whose health lies within ``tolerance`` of 1, is re-evaluated with the margin functions
(``evaluate_account``, the same code as ``crossmargin evaluate``). The exact verdict is the
one reported.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import NamedTuple

import numba
import numpy as np
import numpy.typing as npt

from crossmargin.margin.account import AccountSnapshot
from crossmargin.margin.evaluate import evaluate_account
from crossmargin.margin.types import MarginMode, Position, Side
from crossmargin.risk.book import F64, I64, Book
from crossmargin.risk.kernel import position_terms
from crossmargin.units import InputError

#: Relative distance of health from 1 within which the float verdict is confirmed exactly.
DEFAULT_TOLERANCE = 1e-6


@dataclass(frozen=True)
class BulkHealth:
    """Per account: float figures, the liquidatable verdict (exact where it was re-checked), and
    which accounts were re-checked and how many of those the float pass had judged wrongly."""

    margin_balance: F64
    requirement: F64
    health: F64  # NaN where nothing is required
    liquidatable: npt.NDArray[np.bool_]
    rechecked: I64
    corrected: int


@numba.njit(parallel=True, cache=True, nogil=True)
def _remark(
    prices: F64,
    wallet: F64,
    account_start: I64,
    instrument: I64,
    signed_size: F64,
    entry: F64,
    fixed_fee: F64,
    inverse: npt.NDArray[np.bool_],
    contract_size: F64,
    basis: I64,
    cap_inclusive: npt.NDArray[np.bool_],
    fee_rate: F64,
    tier_start: I64,
    tier_floor: F64,
    tier_mmr: F64,
    tier_amount: F64,
    profit_counts: bool,
    at_equality: bool,
    tolerance: float,
    margin_out: F64,
    requirement_out: F64,
    health_out: F64,
    status_out: npt.NDArray[np.int8],
) -> None:
    for account in numba.prange(wallet.shape[0]):
        margin = wallet[account]
        requirement = 0.0
        for row in range(account_start[account], account_start[account + 1]):
            i = instrument[row]
            _, pnl, required = position_terms(
                prices[i], signed_size[row], entry[row], inverse[i], contract_size[i], basis[i], cap_inclusive[i],
                fee_rate[i], fixed_fee[row], tier_start[i], tier_start[i + 1] - 1, tier_floor, tier_mmr, tier_amount,
            )  # fmt: skip
            requirement += required
            if pnl < 0.0 or profit_counts:
                margin += pnl
        margin_out[account] = margin
        requirement_out[account] = requirement
        # status: 1 liquidatable by the float figures, 2 safe but within tolerance of the boundary
        if requirement > 0.0:
            health_out[account] = margin / requirement
            flagged = margin <= requirement if at_equality else margin < requirement
            near = abs(margin - requirement) <= tolerance * max(abs(margin), requirement, 1.0)
        else:
            health_out[account] = np.nan
            flagged = margin < 0.0
            near = abs(margin) <= tolerance
        status_out[account] = 1 if flagged else (2 if near else 0)


class Remarked(NamedTuple):
    """Float64 figures of every account at one price vector; ``status`` 1: liquidatable by the
    float figures, 2: safe but within the tolerance of the boundary, 0: safe."""

    margin_balance: F64
    requirement: F64
    health: F64  # NaN where nothing is required
    status: npt.NDArray[np.int8]


def remark(book: Book, prices: npt.ArrayLike, *, tolerance: float = DEFAULT_TOLERANCE) -> Remarked:
    """Every account's float64 figures and status at ``prices`` (one per instrument), in one pass."""
    marks = np.ascontiguousarray(prices, dtype=np.float64)
    table = book.instruments
    if marks.shape != (len(table.symbols),):
        raise InputError("prices", f"must hold one price per instrument ({len(table.symbols)}), got {marks.shape}")
    if not np.all(np.isfinite(marks) & (marks > 0)):
        raise InputError(f"prices[{int(np.argmin(np.isfinite(marks) & (marks > 0)))}]", "must be positive")
    conventions = table.rulebook.conventions
    out = Remarked(
        np.empty(book.accounts), np.empty(book.accounts), np.empty(book.accounts), np.empty(book.accounts, np.int8)
    )
    _remark(
        marks,
        book.wallet,
        book.account_start,
        book.instrument,
        book.signed_size,
        book.entry_price,
        book.fixed_fee,
        table.inverse,
        table.contract_size,
        table.basis,
        table.cap_inclusive,
        table.fee_rate,
        table.tier_start,
        table.tier_floor,
        table.tier_mmr,
        table.tier_amount,
        conventions.positive_pnl.maintenance == "full",
        conventions.liquidate_at_equality,
        tolerance,
        *out,
    )
    return out


def bulk_health(book: Book, prices: npt.ArrayLike, *, tolerance: float = DEFAULT_TOLERANCE) -> BulkHealth:
    """Re-mark every account, then confirm each flagged or near-boundary one with the margin functions."""
    marks = np.asarray(prices, dtype=np.float64)
    figures = remark(book, marks, tolerance=tolerance)
    suspects = np.flatnonzero(figures.status)
    verdict = figures.status == 1
    corrected = 0
    for account in suspects:
        exact = exact_liquidatable(book, int(account), marks)
        corrected += int(exact != verdict[account])
        verdict[account] = exact
    return BulkHealth(
        figures.margin_balance, figures.requirement, figures.health, verdict, suspects.astype(np.int64), corrected
    )


def snapshot_of(book: Book, account: int, prices: F64) -> AccountSnapshot:
    """One account of the book as the margin functions' input, every float taken at its exact value."""
    table = book.instruments
    positions = []
    for row in range(book.account_start[account], book.account_start[account + 1]):
        index = int(book.instrument[row])
        size = float(book.signed_size[row])
        positions.append(
            Position(
                table.rulebook.instrument(table.symbols[index]),
                Side.LONG if size > 0 else Side.SHORT,
                Decimal(abs(size)),
                Decimal(float(book.entry_price[row])),
                Decimal(float(prices[index])),
                MarginMode.CROSS,
                Decimal(float(book.leverage[row])),
            )
        )
    balances = {book.asset: Decimal(float(book.wallet[account]))}
    return AccountSnapshot(table.rulebook, balances, None, {}, tuple(positions), "single")


def exact_liquidatable(book: Book, account: int, prices: F64) -> bool:
    """The margin functions' verdict on one account at ``prices``."""
    evaluation = evaluate_account(snapshot_of(book, account, prices), with_prices=False)
    return any(report.liquidatable for report in evaluation.pools)
