"""Auto-deleveraging: when the insurance fund cannot cover a bankrupt account's deficit,
profitable positions on the other side are closed, ranked as the venue ranks them, and give up
what separates the mark from the bankrupt position's bankruptcy price.

Each deleveraged trader's position is closed at the mark (its PnL booked against the market)
and then ``quantity x |mark - bankruptcy price|`` moves from that trader to the bankrupt
account, never more than the profit the close realised: in the end the trader was closed at
the bankruptcy price, as the venues do. A flat account is never touched.
"""

from __future__ import annotations

import hashlib
from decimal import Decimal
from typing import Any

from crossmargin.engine.base import EngineBase
from crossmargin.engine.ledger import LedgerAccount, Transfer
from crossmargin.engine.positions import apply_fill
from crossmargin.engine.state import AccountState, PositionState, isolated, key_symbol, leg_keys, wallet
from crossmargin.engine.watch import forget
from crossmargin.margin.position import unrealized_pnl
from crossmargin.margin.types import MarginMode, Side
from crossmargin.units import ZERO, Rounding, div, steps_of


def _rank_key(engine: EngineBase, account: AccountState, position: PositionState, profit: Decimal) -> Decimal:
    """Higher first. Binance: PnL% x margin ratio; Bybit and others: PnL% x effective leverage."""
    ranking = engine.rulebook.conventions.adl_ranking
    instrument = engine.rulebook.instrument(position.symbol)
    asset = instrument.settlement_asset
    if ranking == "random":  # reproducible: a hash of the account and symbol
        digest = hashlib.sha256(f"{account.account_id}:{position.symbol}".encode()).hexdigest()
        return Decimal(int(digest[:12], 16))
    pools = [p for p in engine.evaluate(account).pools if p.figures.pool.settlement_asset in (asset, "USD")]
    figures = pools[0].figures if pools else None
    if ranking == "pnl_times_margin_ratio":
        wallet_balance = max(Decimal(1), figures.wallet_balance if figures else Decimal(1))
        ratio = figures.margin_ratio(engine.rulebook.conventions) if figures else None
        return div(profit, wallet_balance, rounding=Rounding.FLOOR) * (ratio or ZERO)
    entry_value = position.size * position.entry_price
    margin = figures.margin_balance if figures and figures.margin_balance > 0 else Decimal(1)
    leverage = div(figures.notional if figures else entry_value, margin, rounding=Rounding.FLOOR)
    return div(profit, entry_value, rounding=Rounding.FLOOR) * leverage


def _candidates(
    engine: EngineBase, bankrupt: AccountState, symbol: str, side: Side
) -> list[tuple[AccountState, str, PositionState]]:
    """Profitable positions on the other side of ``symbol`` (a hedged account's opposite leg), by
    the venue's rank, then account; with the key each is held under."""
    instrument = engine.rulebook.instrument(symbol)
    mark = engine.market(symbol).mark
    assert mark is not None
    keys = (symbol, *leg_keys(symbol))  # one-way, or a hedged account's legs
    found = []
    for account in engine.accounts.values():
        if account is bankrupt:
            continue
        for key in keys:
            position = account.positions.get(key)
            if position is None or position.side is side:
                continue
            profit = unrealized_pnl(instrument, position.side.sign, position.size, position.entry_price, mark)
            if profit > 0:
                found.append((account, key, position, _rank_key(engine, account, position, profit)))
    found.sort(key=lambda row: (-row[3], row[0].account_id))
    return [(account, key, position) for account, key, position, _ in found]


def deleverage(
    engine: EngineBase,
    bankrupt: AccountState,
    target: LedgerAccount,
    shortfall: Decimal,
    bankruptcy: dict[str, tuple[Decimal, Side]],
) -> tuple[Decimal, list[Transfer], list[dict[str, Any]]]:
    """Recover up to ``shortfall`` from ranked opposite positions (``bankruptcy`` by the bankrupt
    positions' keys); returns what was recovered."""
    recovered = ZERO
    transfers: list[Transfer] = []
    events: list[dict[str, Any]] = []
    asset = target.asset
    for bankrupt_key, (price, side) in bankruptcy.items():
        symbol = key_symbol(bankrupt_key)
        instrument = engine.rulebook.instrument(symbol)
        mark = engine.market(symbol).mark
        if mark is None or mark == price:
            continue
        gap = abs(mark - price)
        for account, key, position in _candidates(engine, bankrupt, symbol, side):
            if recovered >= shortfall:
                break
            need = div(shortfall - recovered, gap, rounding=Rounding.CEILING)
            lots = steps_of(need, instrument.lot_size, rounding=Rounding.CEILING)
            quantity = min(position.size, lots * instrument.lot_size)
            closing = "sell" if position.side is Side.LONG else "buy"
            outcome = apply_fill(instrument, position, closing, quantity, mark, position.margin_mode)
            realized = engine.money(outcome.realized_pnl, asset, rounding=Rounding.FLOOR)
            give = min(engine.money(quantity * gap, asset, rounding=Rounding.CEILING), realized, shortfall - recovered)
            holder = wallet(account.account_id, asset)
            if position.margin_mode is MarginMode.ISOLATED:
                holder = isolated(account.account_id, asset, key)
            if realized > 0:
                transfers.append(Transfer(engine.clearing(asset), holder, realized, "adl_close"))
            if give > 0:
                transfers.append(Transfer(holder, target, give, "adl_cover"))
            if outcome.position is None:
                del account.positions[key]
            else:
                account.positions[key] = outcome.position
            recovered += give
            forget(engine, account.account_id)  # its position changed: check it exactly next time
            events.append(
                {
                    "event": "deleveraged",
                    "account": account.account_id,
                    "symbol": symbol,
                    "quantity": format(quantity.normalize(), "f"),
                    "bankruptcy_price": str(price),
                    "mark": str(mark),
                    "amount": str(give),
                    "for": bankrupt.account_id,
                }
            )
    return recovered, transfers, events
