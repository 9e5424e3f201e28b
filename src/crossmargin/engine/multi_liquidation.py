"""Liquidating a multi-asset pool: each position settles in its own asset, collateral is sold.

A multi-asset pool (one USD pool backed by every approved asset) is liquidated as a whole,
like a single-asset pool, but its money lives in several assets:

1. every position is closed through the depth model and its PnL booked in its own settlement
   asset (a loss may leave that wallet in debt);
2. the auto-exchange sells approved collateral, staked lots included, to cover each debt
   (Binance runs it on liquidation);
3. the liquidation fee is charged per settlement asset on the notional liquidated there, out of
   what that asset's wallet holds;
4. settled at the bankruptcy price: what approved collateral is left goes to the insurance fund
   in its own asset (or stays with the user where the venue says so), and a debt that no
   collateral could cover is paid per asset by the fund, then by deleveraging the positions
   that settle in that asset, then by the venue's backstop.

Unapproved assets are never sold nor taken: they never backed the pool.
"""

from __future__ import annotations

from typing import Any

from crossmargin.engine.base import EngineBase
from crossmargin.engine.exchange import backs_pool, cover_debt
from crossmargin.engine.ledger import AccountKind, LedgerAccount, Transfer
from crossmargin.engine.settlement import bankruptcy_prices, close_positions, cover_deficit, equity_to_fund
from crossmargin.engine.state import BACKING_KINDS, AccountState, key_symbol, wallet
from crossmargin.units import ZERO, Rounding


def liquidate_multi_asset_pool(engine: EngineBase, account: AccountState, keys: list[str]) -> list[dict[str, Any]]:
    """Close the pool's positions (by key) and settle every asset of it (see the module's steps)."""
    owner = account.account_id
    bankruptcy = bankruptcy_prices(engine, account, keys, "USD")
    settles_in = {k: engine.rulebook.instrument(key_symbol(k)).settlement_asset for k in keys}
    closes = close_positions(engine, account, keys, lambda asset: wallet(owner, asset))
    engine.post(closes.transfers)
    events = list(closes.events)
    events += cover_debts(engine, account, "liquidation")
    transfers: list[Transfer] = []
    for asset in sorted(closes.fee_due):
        held = engine.ledger.balance(wallet(owner, asset))
        fee = min(engine.money(closes.fee_due[asset], asset, rounding=Rounding.CEILING), max(held, ZERO))
        if fee > 0:
            insurance = LedgerAccount.venue(AccountKind.INSURANCE, asset)
            transfers.append(Transfer(wallet(owner, asset), insurance, fee, "liquidation_fee"))
    engine.post(transfers)
    if not engine.rulebook.conventions.liquidation.user_keeps_remaining_equity:
        events += _equity_to_fund(engine, account)
    for asset in sorted(set(settles_in.values()) | _debt_assets(engine, account)):
        target = wallet(owner, asset)
        deficit = -engine.ledger.balance(target)
        if deficit <= 0:
            continue
        fund = engine.ledger.balance(LedgerAccount.venue(AccountKind.INSURANCE, asset))
        in_asset = {s: p for s, p in bankruptcy.items() if settles_in.get(s) == asset}
        engine.post(cover_deficit(engine, account, target, deficit, fund, events, in_asset))
    return events


def cover_debts(engine: EngineBase, account: AccountState, reason: str) -> list[dict[str, Any]]:
    """Run the auto-exchange for every asset the account owes, staked collateral included."""
    events: list[dict[str, Any]] = []
    for asset in sorted(_debt_assets(engine, account)):
        events += cover_debt(engine, account, asset, reason, with_stakes=True)
    return events


def _debt_assets(engine: EngineBase, account: AccountState) -> set[str]:
    return {a.asset for a in engine.ledger.debts if a.owner == account.account_id}


def _equity_to_fund(engine: EngineBase, account: AccountState) -> list[dict[str, Any]]:
    """What approved, priced collateral is left above bankruptcy goes to the fund, asset by asset."""
    transfers: list[Transfer] = []
    events: list[dict[str, Any]] = []
    items = engine.ledger.owner_items(account.account_id)
    # in a fixed order (a replay must post the same transfers); enum kinds do not sort, their values do
    for ledger_account, balance in sorted(items, key=lambda item: (item[0].kind.value, item[0].asset, item[0].symbol)):
        asset = ledger_account.asset
        if ledger_account.kind not in BACKING_KINDS or balance <= 0 or not backs_pool(engine, account, asset):
            continue  # it never backed the pool
        transfer, event = equity_to_fund(account.account_id, ledger_account, balance)
        transfers.append(transfer)
        events.append(event)
    engine.post(transfers)
    return events
