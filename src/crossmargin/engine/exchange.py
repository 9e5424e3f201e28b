"""Auto-exchange: selling a multi-asset pool's collateral to cover a debt in another asset.

In a multi-asset pool a realised loss, a fee or a funding payment in a settlement asset can
take that wallet below zero while other collateral (BTC, say) backs it. The debt counts in full
and the collateral with its haircut, so the pool is sound; but the venue does not carry the
debt for ever. Binance sells collateral when a debt is worth more than its threshold (10,000
USD), when the account is liquidated, and when the debts outweigh the collateral with no
position left (LTV >= 1). It sells ``debt / collateral ratio`` worth of collateral (Binance's
example: a 20,000 BUSD debt against BTC at 97.5 % sells 20,512.82 BUSD of BTC), so what the haircut
withheld comes back as a small positive balance of the debt's asset.

The sale is booked at the assets' USD prices against the clearing account of each asset (the
outside market), so each asset's ledger still balances. The units sold round up and the
proceeds round down: the venue wins the last unit.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from crossmargin.engine.base import EngineBase
from crossmargin.engine.ledger import AccountKind, LedgerAccount, Transfer
from crossmargin.engine.settlement import cover_deficit
from crossmargin.engine.state import AccountState, usd_price, wallet
from crossmargin.engine.watch import forget
from crossmargin.margin.collateral import collateral_value_usd, haircut_amount
from crossmargin.units import ONE, ZERO, Rounding, div


def price_of(engine: EngineBase, asset: str) -> Decimal | None:
    """The USD price a multi-asset pool values ``asset`` at (USD itself is 1)."""
    return usd_price(engine.asset_prices, asset)


def backs_pool(engine: EngineBase, account: AccountState, asset: str) -> bool:
    """Whether ``asset`` backs the account's multi-asset pool: approved by the user, listed as
    collateral by the venue, and priced. Nothing else is ever sold or taken."""
    return (
        asset not in account.revoked
        and engine.rulebook.collateral(asset) is not None
        and price_of(engine, asset) is not None
    )


def collateral_ratio(engine: EngineBase, asset: str, amount: Decimal) -> Decimal:
    """How much of ``amount`` the pool counts: its haircut value over its plain value (the tier
    rate for one tier), after the bid buffer. What a sale divides the debt by."""
    spec = engine.rulebook.collateral(asset)
    if spec is None or amount <= 0:
        return ZERO
    counted = haircut_amount(amount, spec, price_of(engine, asset) or ONE) * (ONE - spec.bid_buffer)
    return div(counted, amount, rounding=Rounding.FLOOR)


def _sellable(engine: EngineBase, account: AccountState, debt_asset: str, with_stakes: bool) -> list[LedgerAccount]:
    """Approved, priced collateral the account holds, best ratio first (then by name): wallets,
    then (in a liquidation) staked lots. Unapproved assets are never sold."""
    owner = account.account_id
    rows: list[tuple[int, Decimal, str, LedgerAccount]] = []
    for ledger_account, balance in engine.ledger.owner_items(owner):
        asset = ledger_account.asset
        kind = ledger_account.kind
        if balance <= 0 or asset == debt_asset or not backs_pool(engine, account, asset):
            continue
        if kind is AccountKind.WALLET or (with_stakes and kind is AccountKind.STAKED):
            rank = 0 if kind is AccountKind.WALLET else 1
            rows.append((rank, -collateral_ratio(engine, asset, balance), asset, ledger_account))
    rows.sort(key=lambda row: row[:3])
    return [row[3] for row in rows]


def cover_debt(
    engine: EngineBase, account: AccountState, debt_asset: str, reason: str, *, with_stakes: bool = False
) -> list[dict[str, Any]]:
    """Sell collateral until the wallet's debt in ``debt_asset`` is covered, or nothing is left;
    the sales are posted as one group and returned as events."""
    owner = account.account_id
    debt = -engine.ledger.balance(wallet(owner, debt_asset))
    debt_price = price_of(engine, debt_asset)
    transfers: list[Transfer] = []
    events: list[dict[str, Any]] = []
    if debt <= 0 or debt_price is None:
        return events
    for source in _sellable(engine, account, debt_asset, with_stakes):
        if debt <= 0:
            break
        asset, held = source.asset, engine.ledger.balance(source)
        price = price_of(engine, asset)
        assert price is not None
        ratio = collateral_ratio(engine, asset, held)
        if ratio <= 0:
            continue
        wanted = div(debt * debt_price, ratio * price, rounding=Rounding.CEILING)
        sold = min(held, engine.money(wanted, asset, rounding=Rounding.CEILING))
        value = div(sold * price, debt_price, rounding=Rounding.FLOOR)
        proceeds = engine.money(value, debt_asset, rounding=Rounding.FLOOR)
        if proceeds <= 0:
            continue
        label = f"auto_exchange:{reason}"
        transfers.append(Transfer(source, engine.clearing(asset), sold, label))
        transfers.append(Transfer(engine.clearing(debt_asset), wallet(owner, debt_asset), proceeds, label))
        events.append(
            {
                "event": "auto_exchange",
                "account": owner,
                "sold_asset": asset,
                "sold": str(sold),
                "bought_asset": debt_asset,
                "bought": str(proceeds),
                "reason": reason,
                "from": "staked" if source.kind is AccountKind.STAKED else "wallet",
            }
        )
        debt -= proceeds
    engine.post(transfers)
    if transfers:
        forget(engine, owner)  # its pool changed: check it exactly at the next update
    return events


def _debt_usd(engine: EngineBase, debt_wallet: LedgerAccount) -> Decimal:
    price = price_of(engine, debt_wallet.asset) or ZERO
    return -engine.ledger.balance(debt_wallet) * price


def _ltv_at_least_one(engine: EngineBase, account: AccountState) -> bool:
    """Debts (in full) at least as large as the approved collateral's haircut value."""
    debts = collateral = ZERO
    for ledger_account, balance in engine.ledger.owner_items(account.account_id):
        price = price_of(engine, ledger_account.asset)
        if ledger_account.kind not in (AccountKind.WALLET, AccountKind.STAKED) or price is None:
            continue
        if balance < 0:
            debts -= balance * price
        elif ledger_account.asset not in account.revoked:
            collateral += collateral_value_usd(balance, price, engine.rulebook.collateral(ledger_account.asset))
    return debts > 0 and debts >= collateral


def settle_debts(engine: EngineBase, candidates: set[LedgerAccount]) -> list[dict[str, Any]]:
    """After a command: the venue's auto-exchange triggers, for the wallets in debt that it
    touched (or, after a price update, for every wallet in debt).

    A debt above the threshold is covered at once; an account with no position left whose
    debts reach its collateral (LTV >= 1) sells everything it may, and a debt that still remains
    is bad debt, which the insurance fund (then the venue's backstop) pays.
    """
    threshold = engine.rulebook.conventions.auto_exchange_threshold_usd
    events: list[dict[str, Any]] = []
    for debt_wallet in sorted(candidates):
        account = engine.accounts.get(debt_wallet.owner)
        if account is None or engine.ledger.balance(debt_wallet) >= 0:
            continue
        if threshold is not None and _debt_usd(engine, debt_wallet) > threshold:
            events += cover_debt(engine, account, debt_wallet.asset, "threshold")
        elif not account.positions and _ltv_at_least_one(engine, account):
            events += cover_debt(engine, account, debt_wallet.asset, "no_positions", with_stakes=True)
            events += _bad_debt(engine, account, debt_wallet)
    return events


def _bad_debt(engine: EngineBase, account: AccountState, debt_wallet: LedgerAccount) -> list[dict[str, Any]]:
    """What no collateral is left to cover, with no position to liquidate: the fund pays it."""
    deficit = -engine.ledger.balance(debt_wallet)
    if deficit <= 0:
        return []
    events: list[dict[str, Any]] = []
    fund = engine.ledger.balance(LedgerAccount.venue(AccountKind.INSURANCE, debt_wallet.asset))
    engine.post(cover_deficit(engine, account, debt_wallet, deficit, fund, events, {}))
    return events
