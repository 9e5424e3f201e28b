"""The figures a scenario step reads from the engine: a pool's health, ratio and withdrawable, a
wallet, a position, the insurance fund, and the key figures shown beside each step.

They are read from the engine itself (its ledger, its positions, ``engine.evaluate``), never
recomputed here, so a scenario checks what the engine would answer.
"""

from __future__ import annotations

from decimal import Decimal

from crossmargin.engine import funds
from crossmargin.engine.commands import Command, Result
from crossmargin.engine.core import Engine
from crossmargin.engine.ledger import AccountKind, LedgerAccount
from crossmargin.engine.state import AccountState, wallet
from crossmargin.margin.evaluate import PoolReport
from crossmargin.margin.types import Side
from crossmargin.units import RATIO_UNIT, ZERO, Rounding, quantize


def pool_of(engine: Engine, account: AccountState, asset: str | None) -> PoolReport | str:
    """The pool that figures refer to: the named one, the only one, or the only one holding positions."""
    pools = engine.evaluate(account).pools
    if asset is not None:
        found = [p for p in pools if p.figures.pool.settlement_asset == asset]
        return found[0] if found else f"account {account.account_id} has no {asset} pool"
    holding = [p for p in pools if p.figures.positions]
    if len(pools) == 1 or len(holding) == 1:
        return pools[0] if len(pools) == 1 else holding[0]
    names = ", ".join(p.figures.pool.settlement_asset for p in pools) or "none"
    return f"account {account.account_id} has pools: {names}; name one with pool:"


def figure(engine: Engine, account: AccountState, pool_asset: str | None, label: str) -> Decimal | str:
    """The engine's current value of one figure, or the reason it has none."""
    group, _, key = label.partition(".")
    if group == "wallet":
        return engine.ledger.balance(wallet(account.account_id, key))
    if group == "insurance":
        return engine.ledger.balance(LedgerAccount.venue(AccountKind.INSURANCE, key))
    if group == "position":  # signed: a short is negative, flat is 0; a hedged symbol's legs net
        held = account.positions.get(key)
        if held is not None:
            return held.size if held.side is Side.LONG else -held.size
        legs = [p for p in account.positions.values() if p.symbol == key]
        return sum((p.size if p.side is Side.LONG else -p.size for p in legs), ZERO)
    pool = pool_of(engine, account, pool_asset)
    if isinstance(pool, str):
        return pool
    if group == "withdrawable":  # what the engine's own withdrawal check lets leave
        if pool.figures.pool.valuation is not None:  # a multi-asset pool: its USD figure
            return quantize(pool.figures.max_withdrawable, RATIO_UNIT, rounding=Rounding.FLOOR)
        return funds.withdrawable(engine, account, pool.figures.pool.settlement_asset, settling=True)
    conventions = engine.rulebook.conventions
    if group == "health":
        value, rounding = pool.figures.health(), Rounding.FLOOR
    else:  # the venue's own ratio, rounded toward riskier as `crossmargin evaluate` prints it
        value = pool.figures.margin_ratio(conventions)
        rounding = Rounding.CEILING if conventions.margin_ratio == "maintenance_over_equity" else Rounding.FLOOR
    if value is None:
        return "does not exist (no requirement, or no equity)"
    return quantize(value, RATIO_UNIT, rounding=rounding)


def display(
    engine: Engine,
    kind: str,
    command: Command,
    account_id: str,
    pool_asset: str | None,
    labels: list[str],
    result: Result,
) -> dict[str, str]:
    """Key figures after the step: the subject account's health, wallet and positions, or the mark."""
    figures: dict[str, str] = {}
    symbol = getattr(command, "symbol", None)
    if kind == "market_update" and symbol in engine.markets:
        figures[f"mark {symbol}"] = text(engine.markets[symbol].mark)
    account = engine.accounts.get(account_id)
    if account is not None:
        pool = pool_of(engine, account, pool_asset)
        if isinstance(pool, PoolReport):
            asset = pool.figures.pool.settlement_asset
            health = figure(engine, account, asset, "health")
            if isinstance(health, Decimal):
                figures["health"] = text(health)
            valuation = pool.figures.pool.valuation  # a multi-asset pool: each asset's wallet
            for shown in sorted(valuation.balances) if valuation is not None else [asset]:
                figures[f"wallet {shown}"] = text(engine.ledger.balance(wallet(account.account_id, shown)))
        for held in account.positions:
            figures[held] = text(figure(engine, account, None, f"position.{held}"))
    assets = {label.partition(".")[2] for label in labels if label.startswith("insurance.")}
    assets |= {str(e["asset"]) for e in result.events if e.get("event") == "insurance_fund"}
    for asset in sorted(assets):
        figures[f"insurance {asset}"] = text(engine.ledger.balance(LedgerAccount.venue(AccountKind.INSURANCE, asset)))
    return figures


def text(value: Decimal | str | None) -> str:
    """Plain decimal text without trailing zeros (``9950``, ``12.5``), for messages and tables."""
    if not isinstance(value, Decimal):
        return str(value)
    return "0" if value.is_zero() else format(value.normalize(), "f")
