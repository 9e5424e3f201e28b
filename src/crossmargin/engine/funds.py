"""Money in and out of an account: deposits, withdrawals, isolated margin transfers, staking.

Every amount is checked against the asset's unit; what may leave is what the margin functions
say the account can spare (the venue's withdrawable), and staked collateral backs margin but is
locked until its time. Where the venue lets unrealised profit be withdrawn (``positive_pnl.
withdrawals: full``: Hyperliquid, dYdX), a withdrawal larger than the wallet first settles the
account's cross profits into it at the mark, so the profit the venue counts can leave.
"""

from __future__ import annotations

from decimal import Decimal

from crossmargin.engine.base import EngineBase
from crossmargin.engine.commands import Deposit, Result, ResultCode, Stake, TransferMargin, Unstake, Withdraw
from crossmargin.engine.exchange import price_of
from crossmargin.engine.fills import pnl_settled_event, settle_profits
from crossmargin.engine.ledger import AccountKind, LedgerAccount, Transfer
from crossmargin.engine.oracle import Action
from crossmargin.engine.state import AccountState, PositionState, StakeLot, isolated, staked, wallet
from crossmargin.margin.collateral import ask_rate
from crossmargin.margin.types import MarginMode
from crossmargin.units import ZERO, InputError, Rounding, div


def _checked_amount(engine: EngineBase, amount: Decimal, asset: str, field: str) -> Decimal:
    if asset not in engine.rulebook.data.assets:
        raise InputError(field, f"{asset} is not an asset of {engine.rulebook.venue}")
    if amount <= 0 or engine.money(amount, asset, rounding=Rounding.FLOOR) != amount:
        raise InputError(field, f"must be positive in units of {engine.unit(asset)}, got {amount}")
    return amount


def deposit(engine: EngineBase, command: Deposit) -> Result:
    amount = _checked_amount(engine, command.amount, command.asset, "amount")
    target = wallet(command.account, command.asset)
    if command.account == "insurance":  # seeding the venue's insurance fund
        target = LedgerAccount.venue(AccountKind.INSURANCE, command.asset)
    else:
        engine.account(command.account)
    engine.post([Transfer(engine.clearing(command.asset), target, amount, "deposit")])
    return engine.accept(
        command, [{"event": "deposited", "account": command.account, "asset": command.asset, "amount": str(amount)}]
    )


def withdrawable(engine: EngineBase, account: AccountState, asset: str, *, settling: bool = False) -> Decimal:
    """What may leave the wallet in ``asset``: the venue's max withdrawable of its pool, never
    more than the balance; an asset whose approval is revoked backs nothing, so all of it.

    ``settling``: what a withdrawal may take, which on a venue that lets unrealised profit be
    withdrawn includes the cross profit it would settle into the wallet first (see
    :func:`_settled_for_withdrawal`); staking and isolated transfers move only the balance.
    """
    balance = engine.ledger.balance(wallet(account.account_id, asset))
    if asset in account.revoked:
        return balance  # it backs nothing, so nothing holds it back
    if account.asset_mode == "multi":
        return _multi_asset_withdrawable(engine, account, asset, balance)
    plain = _limit(engine, account, asset, balance)
    if settling and _profit_leaves(engine, account):
        settled, _, gathered = settle_profits(engine, account, asset, "", _ALL)
        if settled:  # re-based at the mark, a venue valuing margin on entry (Bybit) may ask more
            return max(plain, _limit(engine, account, asset, balance + gathered, settled, gathered))
    return plain


#: More than any account holds: settle every profit there is.
_ALL = Decimal("1e40")


def _profit_leaves(engine: EngineBase, account: AccountState) -> bool:
    """Whether the venue lets this account's unrealised profit be withdrawn (a single-asset
    account: a multi-asset pool's assets leave from their balances)."""
    return engine.rulebook.conventions.positive_pnl.withdrawals == "full" and account.asset_mode != "multi"


def _limit(
    engine: EngineBase,
    account: AccountState,
    asset: str,
    balance: Decimal,
    settled: dict[str, PositionState] | None = None,
    gathered: Decimal = ZERO,
) -> Decimal:
    """The pool's max withdrawable (after ``settled`` positions are re-based at their marks and
    ``gathered`` credited to the wallet), never more than ``balance``."""
    if settled:
        evaluation = engine.evaluate(account, overrides=dict(settled), balance_changes={asset: gathered})
    else:
        evaluation = engine.evaluate(account)
    pools = [p for p in evaluation.pools if p.figures.pool.settlement_asset == asset]
    if not pools:
        return balance
    limit = engine.money(pools[0].figures.max_withdrawable, asset, rounding=Rounding.FLOOR)
    return min(balance, limit)


def _multi_asset_withdrawable(engine: EngineBase, account: AccountState, asset: str, balance: Decimal) -> Decimal:
    """A multi-asset pool's max withdrawable is in USD; an asset may take it out at its ask rate
    (Binance: available per asset = the pool's available / askRate). An asset that backs
    nothing (no price yet, or not collateral on this venue) leaves freely."""
    if balance <= 0:
        return ZERO
    price = price_of(engine, asset)
    spec = engine.rulebook.collateral(asset)
    if price is None or spec is None:
        return balance
    pools = engine.evaluate(account).pools
    limit_usd = pools[0].figures.max_withdrawable if pools else balance * price
    limit = engine.money(div(limit_usd, ask_rate(price, spec), rounding=Rounding.FLOOR), asset, rounding=Rounding.FLOOR)
    return min(balance, limit)


def withdraw(engine: EngineBase, command: Withdraw) -> Result:
    amount = _checked_amount(engine, command.amount, command.asset, "amount")
    if command.account not in engine.accounts:
        return engine.reject(command, ResultCode.UNKNOWN_ACCOUNT)
    account = engine.accounts[command.account]
    if not engine.allowed(Action.WITHDRAW, account.symbols()):
        return engine.reject(command, ResultCode.STALE_PRICE, "a mark behind a position is not valid now")
    settled: dict[str, PositionState] = {}
    transfers: list[Transfer] = []
    gathered = ZERO
    allowed = withdrawable(engine, account, command.asset)
    if amount > allowed:  # more than the wallet spares: where the venue lets profit leave, settle it first
        settled, transfers, gathered = _settled_for_withdrawal(engine, account, command.asset, amount)
        if settled:
            balance = engine.ledger.balance(account.wallet(command.asset)) + gathered
            allowed = _limit(engine, account, command.asset, balance, settled, gathered)
    if amount > allowed:
        most = withdrawable(engine, account, command.asset, settling=True)
        return engine.reject(command, ResultCode.WOULD_BREACH_WITHDRAWABLE, f"at most {most.normalize():f} may leave")
    transfers.append(Transfer(account.wallet(command.asset), engine.clearing(command.asset), amount, "withdraw"))
    engine.post(transfers)
    account.positions.update(settled)
    events = [{"event": "withdrew", "account": command.account, "asset": command.asset, "amount": str(amount)}]
    if settled:
        events.insert(0, pnl_settled_event(account.account_id, command.asset, gathered, settled))
    return engine.accept(command, events)


def _settled_for_withdrawal(
    engine: EngineBase, account: AccountState, asset: str, amount: Decimal
) -> tuple[dict[str, PositionState], list[Transfer], Decimal]:
    """The cross profits a withdrawal of ``amount`` settles into the wallet first: none unless it
    exceeds the balance on a venue that lets unrealised profit be withdrawn.

    Hyperliquid lets unrealised PnL be withdrawn as long as the margin left covers the initial
    margin and 10 % of the notional (docs, Trading > Margining); dYdX v4 counts unrealised PnL in a
    subaccount's free collateral, and its USDC balance may go below zero. Settling at the mark
    moves that profit into the wallet without changing equity (as a realised loss or funding
    beyond the wallet does), so the ledger, which holds no negative wallet outside a multi-asset
    pool, can pay it out.
    """
    shortfall = amount - engine.ledger.balance(account.wallet(asset))
    if shortfall <= 0 or asset in account.revoked or not _profit_leaves(engine, account):
        return {}, [], ZERO
    return settle_profits(engine, account, asset, "", shortfall)


def transfer_margin(engine: EngineBase, command: TransferMargin) -> Result:
    if command.account not in engine.accounts:
        return engine.reject(command, ResultCode.UNKNOWN_ACCOUNT)
    account = engine.accounts[command.account]
    position = account.positions.get(command.symbol)
    if position is None or position.margin_mode is not MarginMode.ISOLATED:
        return engine.reject(command, ResultCode.INVALID_ARGUMENT, "no isolated position in that symbol")
    asset = engine.rulebook.instrument(command.symbol).settlement_asset
    amount = _checked_amount(engine, abs(command.amount), asset, "amount")
    if not engine.allowed(Action.TRANSFER, account.symbols()):
        return engine.reject(command, ResultCode.STALE_PRICE, "a mark behind a position is not valid now")
    source, target = wallet(account.account_id, asset), isolated(account.account_id, asset, command.symbol)
    if command.amount > 0:
        if amount > withdrawable(engine, account, asset):
            return engine.reject(command, ResultCode.WOULD_BREACH_WITHDRAWABLE)
    else:
        source, target = target, source
        report = next(r for r in engine.evaluate(account).isolated if r.figures.position.symbol == command.symbol)
        removable = min(
            report.isolated_margin - report.figures.maintenance_margin,
            report.margin_balance - report.figures.initial_margin,
        )
        if amount > removable:
            return engine.reject(command, ResultCode.WOULD_BREACH_WITHDRAWABLE)
    engine.post([Transfer(source, target, amount, "isolated_margin")])
    return engine.accept(
        command,
        [
            {
                "event": "margin_moved",
                "account": account.account_id,
                "symbol": command.symbol,
                "amount": str(command.amount),
            }
        ],
    )


def stake(engine: EngineBase, command: Stake) -> Result:
    amount = _checked_amount(engine, command.amount, command.asset, "amount")
    if command.unlock_ms < command.timestamp_ms or command.annual_rate < 0:
        raise InputError("unlock_ms", "must not be before the stake's time, with a non-negative rate")
    account = engine.accounts.get(command.account)
    if account is None:
        return engine.reject(command, ResultCode.UNKNOWN_ACCOUNT)
    if amount > withdrawable(engine, account, command.asset):
        return engine.reject(command, ResultCode.INSUFFICIENT_BALANCE)
    source = wallet(account.account_id, command.asset)
    engine.post([Transfer(source, staked(account.account_id, command.asset), amount, "stake")])
    account.stakes.append(StakeLot(command.asset, amount, command.timestamp_ms, command.unlock_ms, command.annual_rate))
    engine.now_ms = max(engine.now_ms, command.timestamp_ms)
    return engine.accept(
        command,
        [
            {
                "event": "staked",
                "account": account.account_id,
                "asset": command.asset,
                "amount": str(amount),
                "unlock_ms": command.unlock_ms,
            }
        ],
    )


def unstake(engine: EngineBase, command: Unstake) -> Result:
    account = engine.accounts.get(command.account)
    if account is None:
        return engine.reject(command, ResultCode.UNKNOWN_ACCOUNT)
    lots = [lot for lot in account.stakes if lot.asset == command.asset]
    ready = [lot for lot in lots if lot.unlock_ms <= command.timestamp_ms]
    if not ready:
        return engine.reject(command, ResultCode.LOCKED_COLLATERAL, "nothing of that asset has unlocked yet")
    year_ms = Decimal(365 * 24 * 3600 * 1000)
    transfers: list[Transfer] = []
    released = reward = Decimal(0)
    holding = staked(account.account_id, command.asset)
    for lot in ready:
        # a stake seized by a liquidation releases only what is left of it
        amount = min(lot.amount, engine.ledger.balance(holding) - released)
        released += amount
        elapsed = Decimal(min(command.timestamp_ms, lot.unlock_ms) - lot.start_ms)
        accrued = div(amount * lot.annual_rate * elapsed, year_ms, rounding=Rounding.FLOOR)
        reward += engine.money(accrued, command.asset, rounding=Rounding.FLOOR)
        account.stakes.remove(lot)
    if released > 0:
        transfers.append(Transfer(holding, wallet(account.account_id, command.asset), released, "unstake"))
    if reward > 0:
        transfers.append(
            Transfer(
                engine.clearing(command.asset), wallet(account.account_id, command.asset), reward, "staking_reward"
            )
        )
    engine.post(transfers)
    engine.now_ms = max(engine.now_ms, command.timestamp_ms)
    return engine.accept(
        command,
        [
            {
                "event": "unstaked",
                "account": account.account_id,
                "asset": command.asset,
                "amount": str(released),
                "reward": str(reward),
            }
        ],
    )
