"""Settling a liquidation: closing positions through the book, and what is left at bankruptcy.

The positions are closed through the depth model (what the book cannot take is taken over at its
worst level, or the mark), the venue's liquidation fee is charged on the liquidated notional, and
the account is settled at its bankruptcy price against the insurance fund: equity above it goes
to the fund (or stays with the user where the venue says so), a deficit is paid by the account's
own staked collateral, then the fund, then by deleveraging ranked opposite positions, and only
then by an explicit venue backstop.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any, NamedTuple

from crossmargin.engine.base import EngineBase
from crossmargin.engine.deleverage import deleverage
from crossmargin.engine.fills import sweep_for
from crossmargin.engine.ledger import AccountKind, LedgerAccount, Transfer, signed_transfer
from crossmargin.engine.positions import apply_fill, notional_of
from crossmargin.engine.state import AccountState, key_of, staked, wallet
from crossmargin.margin.types import PositionSide, Side
from crossmargin.units import ZERO, Rounding


class Closes(NamedTuple):
    """Positions closed through the book: the transfers, and per settlement asset the realised
    PnL and the liquidation fee due (on the liquidated notional)."""

    transfers: list[Transfer]
    events: list[dict[str, Any]]
    realized: dict[str, Decimal]
    fee_due: dict[str, Decimal]


def close_positions(
    engine: EngineBase, account: AccountState, keys: list[str], target_for: Callable[[str], LedgerAccount]
) -> Closes:
    """Close each position (by key) in full through the depth model; what the book cannot absorb is
    taken over at its worst level (or the mark). ``target_for(asset)`` is where its PnL is booked."""
    closes = Closes([], [], {}, {})
    for key in keys:
        position = account.positions[key]
        symbol = position.symbol
        instrument = engine.rulebook.instrument(symbol)
        asset = instrument.settlement_asset
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
        event = {
            "event": "liquidation_fill",
            "account": account.account_id,
            "symbol": symbol,
            "side": side,
            "quantity": str(position.size),
            "price": str(price),
            "realized_pnl": str(realized),
        }
        if position.position_side is not PositionSide.BOTH:
            event["position_side"] = position.position_side.value
        closes.events.append(event)
        del account.positions[key]
    return closes


def bankruptcy_prices(
    engine: EngineBase, account: AccountState, keys: list[str], asset: str
) -> dict[str, tuple[Decimal, Side]]:
    """Each position's bankruptcy price before the close (others frozen), by key, for deleveraging."""
    evaluation = engine.evaluate(account, with_prices=True)
    prices: dict[str, tuple[Decimal, Side]] = {}
    for report in evaluation.pools:
        for figures, pair in zip(report.figures.positions, report.prices, strict=True):
            if pair.bankruptcy_exact is not None:
                prices[key_of(figures.position)] = (pair.bankruptcy_exact, figures.position.side)
    for iso in evaluation.isolated:
        if iso.prices.bankruptcy_exact is not None:
            prices[key_of(iso.figures.position)] = (iso.prices.bankruptcy_exact, iso.figures.position.side)
    return {k: p for k, p in prices.items() if k in keys}


def settle(
    engine: EngineBase,
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
    engine: EngineBase,
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
    engine: EngineBase,
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
