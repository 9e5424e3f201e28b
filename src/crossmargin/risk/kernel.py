"""The float64 figures of one position at one price, shared by every compiled loop of the risk lab.

Bulk health and Monte Carlo both price positions in fused Numba loops; they call this one
function, so a position is valued one way in float64 (and tested against the margin functions,
which value it the exact way): notional in the settlement asset, unrealised PnL, and what the
position adds to the pool's requirement (its tier's maintenance margin, floored at zero, plus a
liquidation fee inside the ratio and a fixed fee to close where the venue counts them).
"""

from __future__ import annotations

import numba
import numpy as np
import numpy.typing as npt

F64 = npt.NDArray[np.float64]

NOTIONAL, SIZE, CONTRACTS = 0, 1, 2  # what a tier table is keyed by
#: Added to the basis code where maintenance and tier are on the entry value (Bybit before
#: 2025-09-02), so the requirement does not move with the price.
ENTRY_VALUED = 4


@numba.njit(inline="always", cache=True)
def position_terms(
    price: float,
    size: float,
    entry: float,
    inverse: bool,
    contract_size: float,
    basis: int,
    cap_inclusive: bool,
    fee_rate: float,
    fixed_fee: float,
    first_tier: int,
    last_tier: int,
    tier_floor: F64,
    tier_mmr: F64,
    tier_amount: F64,
) -> tuple[float, float, float]:
    """``(notional, unrealised PnL, requirement)`` of a position of signed ``size`` at ``price``."""
    quantity = abs(size)
    if inverse:
        face = quantity * contract_size
        notional = face / price
        pnl = face / entry - notional if size > 0 else notional - face / entry
    else:
        notional = quantity * price
        pnl = size * (price - entry)
    value = notional
    if basis >= ENTRY_VALUED:
        value = quantity * contract_size / entry if inverse else quantity * entry
        basis -= ENTRY_VALUED
    key = value if basis == NOTIONAL else (quantity if basis == SIZE else quantity / contract_size)
    tier = first_tier
    if cap_inclusive:  # a value on a boundary belongs to the lower tier (OKX)
        while tier < last_tier and tier_floor[tier + 1] < key:
            tier += 1
    else:  # ... or to the higher one (Binance)
        while tier < last_tier and tier_floor[tier + 1] <= key:
            tier += 1
    maintenance = max(value * tier_mmr[tier] - tier_amount[tier], 0.0)
    return notional, pnl, maintenance + notional * fee_rate + fixed_fee
