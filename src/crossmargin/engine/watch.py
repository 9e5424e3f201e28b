"""Skipping liquidation checks that cannot fire: a bound on how fast a surplus can shrink.

After a full check the engine remembers each pool's surplus (margin balance less
requirement) and the marks it was computed at. A mark move of ``dP`` changes a position's
PnL by ``size x dP`` and its requirement by at most ``size x dP`` times its highest tier rate
(plus the liquidation fee where the venue counts it): for marginal tiers maintenance is
continuous with that slope. While the summed bound stays below the remembered surplus, the
pool cannot have reached maintenance and the exact check is skipped. Anything that changes
the account (a fill, funding, a deposit, a new setting) changes its balances or positions and
so invalidates the memory; venues whose tiers jump (whole-position rates) or whose pools value
several assets are always checked in full.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING

from crossmargin.engine.state import AccountState
from crossmargin.margin.evaluate import Evaluation
from crossmargin.margin.types import MarginMode
from crossmargin.units import ONE, ZERO, Rounding, div

if TYPE_CHECKING:
    from crossmargin.engine.core import Engine


@dataclass(frozen=True, slots=True)
class Memory:
    """What a full check saw: the account's state key, its marks, and the surplus per pool."""

    key: tuple[object, ...]
    marks: dict[str, Decimal]
    surplus: dict[str, Decimal]  # by settlement asset (isolated: "iso:" + symbol)


def _key(engine: Engine, account: AccountState) -> tuple[object, ...]:
    """Changes whenever the account's money, positions or approvals do."""
    positions = tuple((s, p.side, p.size, p.margin_mode) for s, p in account.positions.items())
    return engine.ledger.version(account.account_id), positions, tuple(account.revoked)


def eligible(engine: Engine) -> bool:
    conventions = engine.rulebook.conventions
    return conventions.asset_mode == "single" and not conventions.close_fee_in_maintenance


def remember(engine: Engine, account: AccountState, evaluation: Evaluation) -> None:
    if not eligible(engine):
        return
    surplus = {
        r.figures.pool.settlement_asset: r.figures.margin_balance - r.figures.requirement for r in evaluation.pools
    }
    for iso in evaluation.isolated:
        surplus["iso:" + iso.figures.position.symbol] = iso.margin_balance - iso.figures.requirement
    marks = {s: m for s in account.positions if (m := engine.market(s).mark) is not None}
    engine.watch[account.account_id] = Memory(_key(engine, account), marks, surplus)


def _slope(engine: Engine, symbol: str) -> Decimal | None:
    """Highest rate at which a unit of notional can raise the requirement; None: no bound."""
    cache: dict[str, Decimal | None] = engine.watch.setdefault("", {})
    if symbol not in cache:
        cache[symbol] = _compute_slope(engine, symbol)
    return cache[symbol]


def _compute_slope(engine: Engine, symbol: str) -> Decimal | None:
    instrument = engine.rulebook.instrument(symbol)
    if instrument.tier_style != "marginal" or not instrument.tiers:
        return None
    fee = instrument.liquidation_fee or ZERO if engine.rulebook.conventions.liquidation_fee_in_ratio else ZERO
    return max(rate for rate, _ in instrument.tier_rates) + fee


def certainly_safe(engine: Engine, account: AccountState) -> bool:
    """Whether no pool of the account can have reached maintenance since the last full check."""
    memory = engine.watch.get(account.account_id)
    if memory is None or memory.key != _key(engine, account):
        return False
    shrink: dict[str, Decimal] = {}
    for symbol, position in account.positions.items():
        slope = _slope(engine, symbol)
        mark, before = engine.market(symbol).mark, memory.marks.get(symbol)
        if slope is None or mark is None or before is None:
            return False
        instrument = engine.rulebook.instrument(symbol)
        if instrument.kind == "linear":
            moved = position.size * abs(mark - before)
        else:
            face = position.size * instrument.contract_size
            moved = div(face * abs(mark - before), mark * before, rounding=Rounding.CEILING)
        pool = instrument.settlement_asset if position.margin_mode is MarginMode.CROSS else "iso:" + symbol
        shrink[pool] = shrink.get(pool, ZERO) + moved * (ONE + slope)
    return all(memory.surplus.get(pool, ZERO) - amount > 0 for pool, amount in shrink.items())
