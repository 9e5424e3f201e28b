"""Liquidation as the engine runs it: checked after every mark update, fill and funding.

The whole cross pool (or one isolated position) is closed through the depth model, the
venue's liquidation fee is charged on the liquidated notional, and the account is settled at
its bankruptcy price against the insurance fund: what equity is left goes to the fund, a
deficit is paid by it. Every step is an event with its reason.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import TYPE_CHECKING, Any, NamedTuple

from crossmargin.engine import watch
from crossmargin.engine.ledger import AccountKind, LedgerAccount, Transfer, signed_transfer
from crossmargin.engine.oracle import Action
from crossmargin.engine.positions import apply_fill, notional_of
from crossmargin.engine.state import AccountState, isolated, staked, wallet
from crossmargin.margin.types import Side
from crossmargin.units import ZERO, Rounding

if TYPE_CHECKING:
    from crossmargin.engine.core import Engine


def check_account(engine: Engine, account: AccountState, symbol: str) -> list[dict[str, Any]]:
    """After one account's own fill: only that account can have changed (a position it closed
    in full may have cost its pool the margin the others need)."""
    if not engine.allowed(Action.LIQUIDATE, [symbol]) or not account.positions:
        return []
    return _check(engine, account)


def check_liquidations(engine: Engine, symbol: str) -> list[dict[str, Any]]:
    """Liquidate every pool or isolated position that the symbol's new price puts at or below 1."""
    return check_liquidations_of(engine, [symbol])


def check_liquidations_of(engine: Engine, symbols: list[str]) -> list[dict[str, Any]]:
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
        if account is not None and any(s in account.positions for s in valid):
            events += _check(engine, account)
    return events


def check_multi_asset_holders(engine: Engine, asset: str) -> list[dict[str, Any]]:
    """After a collateral price moves: check exactly every multi-asset account whose price band for
    ``asset`` the new price left (or that has no current bands), where the oracle lets it proceed."""
    events: list[dict[str, Any]] = []
    for account_id in sorted(engine.ledger.debt_owners):
        account = engine.accounts[account_id]
        if not account.positions or not engine.allowed(Action.LIQUIDATE, account.positions):
            continue
        if watch.price_moved_out(engine, account_id, asset, engine.asset_prices[asset]):
            events += _check(engine, account)
    return events


def _unwatched(engine: Engine, symbol: str) -> set[str]:
    """Holders with no current bands (new, or changed since): they are checked exactly."""
    accounts, unwatched = engine.accounts, engine.watch.unwatched
    flat = {a for a in unwatched if a not in accounts or not accounts[a].positions}
    unwatched -= flat  # nothing to check until a fill opens a position, which files or forgets bands
    return {a for a in unwatched if symbol in accounts[a].positions}


def _check(engine: Engine, account: AccountState) -> list[dict[str, Any]]:
    """The exact check of one account: liquidate what is at or below maintenance."""
    events: list[dict[str, Any]] = []
    evaluation = engine.evaluate(account)
    watch.remember(engine, account, evaluation)

    for report in evaluation.pools:
        if report.liquidatable and report.figures.positions:
            symbols = [f.position.symbol for f in report.figures.positions]
            events += _liquidate(engine, account, symbols, report.figures.pool.settlement_asset, cross=True)
    for iso in evaluation.isolated:
        if iso.liquidatable and iso.figures.position.symbol in account.positions:
            position = iso.figures.position
            events += _liquidate(engine, account, [position.symbol], position.settlement_asset, cross=False)
    if events:  # positions changed: file fresh bands
        watch.remember(engine, account, engine.evaluate(account))
    return events


def _cancel_orders(engine: Engine, account: AccountState) -> list[dict[str, Any]]:
    events = [
        {"event": "order_cancelled", "account": account.account_id, "order_id": order_id, "reason": "liquidation"}
        for order_id in account.orders
    ]
    for order in account.orders.values():
        engine.resting.get(order.symbol, set()).discard((account.account_id, order.order_id))
    account.orders.clear()
    return events


def _liquidate(
    engine: Engine, account: AccountState, symbols: list[str], asset: str, *, cross: bool
) -> list[dict[str, Any]]:
    owner = account.account_id
    style = engine.rulebook.conventions.liquidation.style
    events: list[dict[str, Any]] = [
        {
            "event": "liquidation_started",
            "account": owner,
            "asset": asset,
            "symbols": symbols,
            "style": style,
            "reason": "health at or below 1",
        }
    ]
    events += _cancel_orders(engine, account)
    partial = _partial(engine, account, symbols, style)
    if partial is not None:
        account.liquidations += 1
        if account.asset_mode == "multi":  # the venue's auto-exchange runs on liquidation
            from crossmargin.engine.multi_liquidation import cover_debts

            partial += cover_debts(engine, account, "liquidation")
        return events + partial
    if cross and account.asset_mode == "multi":
        from crossmargin.engine.multi_liquidation import liquidate_multi_asset_pool

        events += liquidate_multi_asset_pool(engine, account, symbols)
        account.liquidations += 1
        return events
    bankruptcy = bankruptcy_prices(engine, account, symbols, asset)
    target = wallet(owner, asset) if cross else isolated(owner, asset, symbols[0])
    closes = close_positions(engine, account, symbols, lambda _asset: target)
    balance = engine.ledger.balance(target) + closes.realized.get(asset, ZERO)
    fee_due = closes.fee_due.get(asset, ZERO)
    events += closes.events
    transfers = closes.transfers + _settle(engine, account, target, asset, balance, fee_due, events, bankruptcy)
    engine.post(transfers)
    account.liquidations += 1
    return events


class Closes(NamedTuple):
    """Positions closed through the book: the transfers, and per settlement asset the realised
    PnL and the liquidation fee due (on the liquidated notional)."""

    transfers: list[Transfer]
    events: list[dict[str, Any]]
    realized: dict[str, Decimal]
    fee_due: dict[str, Decimal]


def close_positions(
    engine: Engine, account: AccountState, symbols: list[str], target_for: Callable[[str], LedgerAccount]
) -> Closes:
    """Close each position in full through the depth model; what the book cannot absorb is taken
    over at its worst level (or the mark). ``target_for(asset)`` is where its PnL is booked."""
    from crossmargin.engine.trading import sweep_for

    closes = Closes([], [], {}, {})
    for symbol in symbols:
        instrument = engine.rulebook.instrument(symbol)
        asset = instrument.settlement_asset
        position = account.positions[symbol]
        mark = engine.market(symbol).mark
        assert mark is not None
        side = "sell" if position.side is Side.LONG else "buy"
        filled, average, worst = sweep_for(engine, instrument, side, position.size, mark)
        price = average if filled == position.size and average is not None else (worst or mark)
        outcome = apply_fill(instrument, position, side, position.size, price, position.margin_mode)
        realized = engine.money(outcome.realized_pnl, asset, rounding=Rounding.FLOOR)
        closes.realized[asset] = closes.realized.get(asset, ZERO) + realized
        booked = signed_transfer(engine.clearing(asset), target_for(asset), realized, "liquidation_close")
        closes.transfers.extend(booked)
        fee = notional_of(instrument, position.size, price) * (instrument.liquidation_fee or ZERO)
        closes.fee_due[asset] = closes.fee_due.get(asset, ZERO) + fee
        closes.events.append(
            {
                "event": "liquidation_fill",
                "account": account.account_id,
                "symbol": symbol,
                "side": side,
                "quantity": str(position.size),
                "price": str(price),
                "realized_pnl": str(realized),
            }
        )
        del account.positions[symbol]
    return closes


def _partial(engine: Engine, account: AccountState, symbols: list[str], style: str) -> list[dict[str, Any]] | None:
    """The venue's partial rule, when it restores the pool (``None``: close it in full)."""
    from crossmargin.engine import partial

    if style == "reduce_then_bankruptcy":
        return partial.reduce_until_compliant(engine, account, symbols)
    if style == "tier_step_down":
        return partial.step_down(engine, account, symbols)
    if style == "chunks":
        now = max(engine.market(s).timestamp_ms for s in symbols)
        return partial.chunks(engine, account, symbols, now)
    return None


def bankruptcy_prices(
    engine: Engine, account: AccountState, symbols: list[str], asset: str
) -> dict[str, tuple[Decimal, Side]]:
    """Each position's bankruptcy price before the close (others frozen), for deleveraging."""
    evaluation = engine.evaluate(account, with_prices=True)
    prices: dict[str, tuple[Decimal, Side]] = {}
    for report in evaluation.pools:
        for figures, pair in zip(report.figures.positions, report.prices, strict=True):
            if pair.bankruptcy_exact is not None:
                prices[figures.position.symbol] = (pair.bankruptcy_exact, figures.position.side)
    for iso in evaluation.isolated:
        if iso.prices.bankruptcy_exact is not None:
            prices[iso.figures.position.symbol] = (iso.prices.bankruptcy_exact, iso.figures.position.side)
    return {s: p for s, p in prices.items() if s in symbols}


def _settle(
    engine: Engine,
    account: AccountState,
    target: LedgerAccount,
    asset: str,
    balance: Decimal,
    fee_due: Decimal,
    events: list[dict[str, Any]],
    bankruptcy: dict[str, tuple[Decimal, Side]],
) -> list[Transfer]:
    """Fee to the fund, then settlement at the bankruptcy price: equity to the fund, or deficit from it."""
    insurance = LedgerAccount.venue(AccountKind.INSURANCE, asset)
    transfers: list[Transfer] = []
    fee = min(engine.money(fee_due, asset, rounding=Rounding.CEILING), max(balance, ZERO))
    if fee > 0:
        transfers.append(Transfer(target, insurance, fee, "liquidation_fee"))
        balance -= fee
    if balance < 0:  # the account's own staked collateral in that asset pays first
        balance += _seize_stake(engine, account, target, asset, -balance, transfers, events)
    fund = engine.ledger.balance(insurance) + fee
    keeps = engine.rulebook.conventions.liquidation.user_keeps_remaining_equity
    if balance > 0 and keeps:
        if target.kind is AccountKind.ISOLATED:  # what is left returns to the cross wallet
            transfers.append(Transfer(target, wallet(account.account_id, asset), balance, "isolated_margin_released"))
        events.append({"event": "equity_kept", "account": account.account_id, "asset": asset, "amount": str(balance)})
    elif balance > 0:
        transfer, event = equity_to_fund(account.account_id, target, balance)
        transfers.append(transfer)
        events.append(event)
    elif balance < 0:
        transfers += cover_deficit(engine, account, target, -balance, fund, events, bankruptcy)
    if target.kind is AccountKind.ISOLATED:
        events.append({"event": "isolated_closed", "account": account.account_id, "symbol": target.symbol})
    return transfers


def equity_to_fund(account_id: str, source: LedgerAccount, amount: Decimal) -> tuple[Transfer, dict[str, Any]]:
    """Equity above the bankruptcy price, taken by the insurance fund in its own asset."""
    insurance = LedgerAccount.venue(AccountKind.INSURANCE, source.asset)
    event = {
        "event": "insurance_fund",
        "account": account_id,
        "asset": source.asset,
        "amount": str(amount),
        "reason": "equity above bankruptcy",
    }
    return Transfer(source, insurance, amount, "bankruptcy_settlement"), event


def _seize_stake(
    engine: Engine,
    account: AccountState,
    target: LedgerAccount,
    asset: str,
    deficit: Decimal,
    transfers: list[Transfer],
    events: list[dict[str, Any]],
) -> Decimal:
    """Take up to ``deficit`` from the account's own staked collateral in ``asset``; the amount seized."""
    holding = staked(account.account_id, asset)
    seized = min(deficit, engine.ledger.balance(holding))
    if seized > 0:
        transfers.append(Transfer(holding, target, seized, "staked_collateral_seized"))
        events.append(
            {"event": "staked_collateral_seized", "account": account.account_id, "asset": asset, "amount": str(seized)}
        )
    return seized if seized > 0 else ZERO


def cover_deficit(
    engine: Engine,
    account: AccountState,
    target: LedgerAccount,
    deficit: Decimal,
    fund: Decimal,
    events: list[dict[str, Any]],
    bankruptcy: dict[str, tuple[Decimal, Side]],
) -> list[Transfer]:
    """A deficit past bankruptcy: the insurance fund pays what it holds, then deleveraging of ranked
    opposite positions, then (only if nothing is left to deleverage) an explicit venue backstop."""
    asset = target.asset
    transfers: list[Transfer] = []
    covered = min(deficit, fund)
    if covered > 0:
        transfers.append(
            Transfer(LedgerAccount.venue(AccountKind.INSURANCE, asset), target, covered, "insurance_cover")
        )
    events.append(
        {
            "event": "insurance_fund",
            "account": account.account_id,
            "asset": asset,
            "amount": str(-covered),
            "reason": "deficit covered",
        }
    )
    shortfall = deficit - covered
    if shortfall > 0:
        from crossmargin.engine.deleverage import deleverage

        recovered, adl_transfers, adl_events = deleverage(engine, account, target, shortfall, bankruptcy)
        transfers += adl_transfers
        events += adl_events
        shortfall -= recovered
    if shortfall > 0:  # no profitable opposite position left: the venue books the rest
        transfers.append(Transfer(engine.clearing(asset), target, shortfall, "venue_backstop"))
        events.append(
            {"event": "venue_backstop", "account": account.account_id, "asset": asset, "amount": str(shortfall)}
        )
    return transfers
