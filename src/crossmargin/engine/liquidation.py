"""Liquidation as the engine runs it: checked after every mark update, fill and funding.

An account is checked exactly when its safe bands say a price may have put it at risk
(:mod:`crossmargin.engine.watch`). A pool (or isolated position) at or below maintenance is
liquidated in the venue's style: its resting orders are cancelled, the venue's partial rule is
tried first (:mod:`crossmargin.engine.partial`), a multi-asset pool is liquidated asset by asset
(:mod:`crossmargin.engine.multi_liquidation`), and otherwise the whole pool is closed and settled
at its bankruptcy price (:mod:`crossmargin.engine.settlement`). Every step is an event with its
reason.
"""

from __future__ import annotations

from typing import Any

from crossmargin.engine import partial, watch
from crossmargin.engine.base import EngineBase
from crossmargin.engine.multi_liquidation import cover_debts, liquidate_multi_asset_pool
from crossmargin.engine.oracle import Action
from crossmargin.engine.settlement import bankruptcy_prices, close_positions, settle
from crossmargin.engine.state import AccountState, isolated, key_of, leg_keys, wallet
from crossmargin.units import ZERO


def check_account(engine: EngineBase, account: AccountState, symbol: str) -> list[dict[str, Any]]:
    """After one account's own fill: only that account can have changed (a position it closed
    in full may have cost its pool the margin the others need)."""
    if not engine.allowed(Action.LIQUIDATE, [symbol]) or not account.positions:
        return []
    return _check(engine, account)


def check_holder(engine: EngineBase, account: AccountState) -> list[dict[str, Any]]:
    """After a change to one account's money: check it, where the oracle lets every mark it holds
    proceed to a liquidation."""
    symbols = account.symbols()
    if not symbols or not engine.allowed(Action.LIQUIDATE, symbols):
        return []
    return _check(engine, account)


def check_liquidations(engine: EngineBase, symbol: str) -> list[dict[str, Any]]:
    """Liquidate every pool or isolated position that the symbol's new price puts at or below 1."""
    return check_liquidations_of(engine, [symbol])


def check_liquidations_of(engine: EngineBase, symbols: list[str]) -> list[dict[str, Any]]:
    """After one or several marks moved at once: every account still holding one of them whose band
    one of them left (or that has none; every holder without bands) is checked once, in account order."""
    valid = [s for s in symbols if engine.allowed(Action.LIQUIDATE, [s])]
    events: list[dict[str, Any]] = [
        {"event": "liquidation_deferred", "symbol": s, "validity": engine.validity(s).value}
        for s in symbols
        if s not in valid
    ]
    if not valid:
        return events
    if watch.eligible(engine):
        pending: set[str] = set()
        for symbol in valid:
            pending |= watch.triggered(engine, symbol) | _unwatched(engine, symbol)
    else:
        pending = set(engine.accounts)
    for account_id in sorted(pending):
        account = engine.accounts.get(account_id)
        # a deleveraging earlier in this loop may have closed a position since ``pending`` was read
        if account is not None and any(s in account.positions or account.holds(s) for s in valid):
            events += _check(engine, account)
    return events


def check_multi_asset_holders(engine: EngineBase, asset: str) -> list[dict[str, Any]]:
    """After a collateral price moves: check exactly every multi-asset account whose price band for
    ``asset`` the new price left (or that has no current bands), where the oracle lets it proceed."""
    events: list[dict[str, Any]] = []
    for account_id in sorted(engine.ledger.debt_owners):
        account = engine.accounts[account_id]
        if not account.positions or not engine.allowed(Action.LIQUIDATE, account.symbols()):
            continue
        if watch.price_moved_out(engine, account_id, asset, engine.asset_prices[asset]):
            events += _check(engine, account)
    return events


def _unwatched(engine: EngineBase, symbol: str) -> set[str]:
    """Holders with no current bands (new, or changed since): they are checked exactly."""
    accounts, unwatched = engine.accounts, engine.watch.unwatched
    flat = {a for a in unwatched if a not in accounts or not accounts[a].positions}
    unwatched -= flat  # nothing to check until a fill opens a position, which files or forgets bands
    long_key, short_key = leg_keys(symbol)  # a hedged holder holds the symbol under its legs' keys
    return {a for a in unwatched if symbol in (held := accounts[a].positions) or long_key in held or short_key in held}


def _check(engine: EngineBase, account: AccountState) -> list[dict[str, Any]]:
    """The exact check of one account: liquidate what is at or below maintenance."""
    events: list[dict[str, Any]] = []
    evaluation = engine.evaluate(account)
    watch.remember(engine, account, evaluation)

    for report in evaluation.pools:
        if report.liquidatable and report.figures.positions:
            keys = [key_of(f.position) for f in report.figures.positions]
            events += _liquidate(engine, account, keys, report.figures.pool.settlement_asset, cross=True)
    for iso in evaluation.isolated:
        if iso.liquidatable and key_of(iso.figures.position) in account.positions:
            position = iso.figures.position
            events += _liquidate(engine, account, [key_of(position)], position.settlement_asset, cross=False)
    if events:  # positions changed: file fresh bands
        watch.remember(engine, account, engine.evaluate(account))
    return events


def _cancel_orders(engine: EngineBase, account: AccountState) -> list[dict[str, Any]]:
    events = [
        {"event": "order_cancelled", "account": account.account_id, "order_id": order_id, "reason": "liquidation"}
        for order_id in account.orders
    ]
    for order in account.orders.values():
        engine.resting.get(order.symbol, set()).discard((account.account_id, order.order_id))
    account.orders.clear()
    return events


def _liquidate(
    engine: EngineBase, account: AccountState, keys: list[str], asset: str, *, cross: bool
) -> list[dict[str, Any]]:
    owner = account.account_id
    style = engine.rulebook.conventions.liquidation.style
    events: list[dict[str, Any]] = [
        {
            "event": "liquidation_started",
            "account": owner,
            "asset": asset,
            "symbols": keys,  # the positions' keys (a hedge leg's names its leg)
            "style": style,
            "reason": "health at or below 1",
        }
    ]
    events += _cancel_orders(engine, account)
    reduced = _partial(engine, account, keys, style)
    if reduced is not None:
        account.liquidations += 1
        if account.asset_mode == "multi":  # the venue's auto-exchange runs on liquidation
            reduced += cover_debts(engine, account, "liquidation")
        return events + reduced
    if cross and account.asset_mode == "multi":
        events += liquidate_multi_asset_pool(engine, account, keys)
        account.liquidations += 1
        return events
    bankruptcy = bankruptcy_prices(engine, account, keys, asset)
    target = wallet(owner, asset) if cross else isolated(owner, asset, keys[0])
    closes = close_positions(engine, account, keys, lambda _asset: target)
    balance = engine.ledger.balance(target) + closes.realized.get(asset, ZERO)
    fee_due = closes.fee_due.get(asset, ZERO)
    events += closes.events
    transfers = closes.transfers + settle(engine, account, target, asset, balance, fee_due, events, bankruptcy)
    engine.post(transfers)
    account.liquidations += 1
    return events


def _partial(engine: EngineBase, account: AccountState, keys: list[str], style: str) -> list[dict[str, Any]] | None:
    """The venue's partial rule, when it restores the pool (``None``: close it in full)."""
    if style == "reduce_then_bankruptcy":
        return partial.reduce_until_compliant(engine, account, keys)
    if style == "tier_step_down":
        return partial.step_down(engine, account, keys)
    if style == "chunks":
        now = max(engine.market(account.positions[k].symbol).timestamp_ms for k in keys)
        return partial.chunks(engine, account, keys, now)
    return None
