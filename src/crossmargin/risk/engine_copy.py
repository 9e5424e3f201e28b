"""A copy of an account in a fresh engine: how stress, reserves and exact replays start.

The copy holds the account as it stands: the marks, the balances deposited, the settings, and
the positions imported as they are (``import_position``: no fill, no fee). The engine checks an
account for liquidation after each import, so the order of the imports matters: importing a
losing leg of a hedged book before its winning leg would show the engine a pool that never
existed and liquidate it.
Positions therefore enter in decreasing order of what each adds to the pool's margin balance
less its requirement. In a pool where those terms add up per position, every prefix of that
order then keeps at least the smaller of the wallet's margin and the whole account's: a sound
account with a positive wallet is never liquidated half-imported, and an account the engine
liquidates during the copy is one the margin functions call liquidatable, before the market
moved at all.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

from crossmargin.engine import commands as c
from crossmargin.engine.core import Engine
from crossmargin.engine.state import snapshot as engine_snapshot
from crossmargin.margin.account import AccountSnapshot
from crossmargin.margin.evaluate import Evaluation, evaluate_account
from crossmargin.margin.pool import counted_pnl
from crossmargin.margin.position import position_figures
from crossmargin.margin.types import MarginMode, Position
from crossmargin.units import InputError

ACCOUNT = "account"


def copy_into_engine(snapshot: AccountSnapshot, events: list[dict[str, Any]] | None = None) -> Engine:
    """A fresh engine holding the account as it stands; what the copy set off (a liquidation of
    an account already liquidatable) is appended to ``events``. Debts come in last, once the
    positions and the collateral that back them are there."""
    snapshot = carry_debts(snapshot)
    engine = Engine(snapshot.rulebook)
    ids = (f"setup-{n}" for n in itertools.count())
    found: list[dict[str, Any]] = []
    _markets(engine, snapshot, ids)
    for asset, balance in sorted(snapshot.balances.items()):
        if balance > 0:
            _refused(engine.execute(c.Deposit(next(ids), ACCOUNT, asset, balance)), f"balances.{asset}")
    for position in snapshot.positions:
        engine.execute(c.SetLeverage(next(ids), ACCOUNT, position.symbol, position.leverage))
    for n in _import_order(snapshot):
        found += _import(engine, snapshot.positions[n], n, ids)
    for asset, balance in sorted(snapshot.balances.items()):
        if balance < 0:
            result = engine.execute(c.ImportBalance(next(ids), ACCOUNT, asset, balance))
            _refused(result, f"balances.{asset}")
            found += result.events
    for asset in sorted(snapshot.balances):
        if not snapshot.approved(asset):
            engine.execute(c.ApproveCollateral(next(ids), ACCOUNT, asset, False))
    if events is not None:
        events += found
    return engine


def _markets(engine: Engine, snapshot: AccountSnapshot, ids: Iterator[str]) -> None:
    """The marks, and for a multi-asset pool its mode and its assets' prices, before any money."""
    for symbol, mark in sorted({p.symbol: p.mark_price for p in snapshot.positions}.items()):
        engine.execute(c.MarketUpdate(next(ids), symbol, 0, mark=mark))
    if snapshot.asset_mode == "multi":
        _refused(engine.execute(c.SetAssetMode(next(ids), ACCOUNT, "multi")), "asset_mode")
        for asset, price in sorted(snapshot.prices.items()):
            if asset != "USD":
                _refused(engine.execute(c.AssetPrice(next(ids), asset, 0, price)), f"prices.{asset}")


def carry_debts(snapshot: AccountSnapshot) -> AccountSnapshot:
    """A single-asset pool's debt (dYdX's negative USDC, a position bought on credit) carried in
    the entry price of one of its cross positions, the wallet brought to zero: the pool's equity,
    margin balance and requirement are the same at every price, and the engine holds it (only a
    multi-asset pool may owe there). Refused, naming the balance, where a venue's figures depend
    on the entry price (a fee to close inside maintenance) or leave profit out of maintenance,
    or where no position can carry it."""
    if snapshot.asset_mode == "multi" or all(b >= 0 for b in snapshot.balances.values()):
        return snapshot
    positions, balances = list(snapshot.positions), dict(snapshot.balances)
    conventions = snapshot.rulebook.conventions
    for asset, debt in sorted(snapshot.balances.items()):
        if debt >= 0:
            continue
        if conventions.close_fee_in_maintenance or conventions.positive_pnl.maintenance != "full":
            raise InputError(f"balances.{asset}", f"{snapshot.rulebook.venue} cannot carry a debt in the engine")
        carriers = [
            n for n, p in enumerate(positions) if p.margin_mode is MarginMode.CROSS and p.settlement_asset == asset
        ]
        moved = [
            (n, _entry_carrying(positions[n], debt)) for n in sorted(carriers, key=lambda n: positions[n].side.sign)
        ]
        usable = [(n, entry) for n, entry in moved if entry is not None]
        if not usable:
            raise InputError(f"balances.{asset}", "a debt with no cross position able to carry it cannot be copied")
        n, entry = usable[-1]  # a long if there is one: raising its entry always stays positive
        assert entry is not None
        positions[n] = positions[n]._replace(entry_price=entry)
        balances[asset] = Decimal(0)
    return snapshot._replace(positions=tuple(positions), balances=balances)


def _entry_carrying(position: Position, debt: Decimal) -> Decimal | None:
    """The entry price at which ``position``'s PnL is lower by ``-debt`` at every mark (``None``:
    none is positive)."""
    sign = position.side.sign
    if position.instrument.kind == "linear":
        entry = position.entry_price - debt / (sign * position.size * position.instrument.contract_size)
        return entry if entry > 0 else None
    face = position.size * position.instrument.contract_size
    inverse = 1 / position.entry_price + debt / (sign * face)
    return 1 / inverse if inverse > 0 else None


def _import(engine: Engine, position: Position, n: int, ids: Iterator[str]) -> list[dict[str, Any]]:
    isolated = position.margin_mode is MarginMode.ISOLATED
    if isolated and position.isolated_margin:
        engine.execute(c.Deposit(next(ids), ACCOUNT, position.settlement_asset, position.isolated_margin))
    command = c.ImportPosition(
        next(ids), ACCOUNT, position.symbol, position.side.value, position.size, position.entry_price,
        position.margin_mode.value, position.isolated_margin if isolated else None,
        position.position_side.value, position.mmr_override, position.maintenance_amount_override,
    )  # fmt: skip
    result = engine.execute(command)
    _refused(result, f"positions[{n}]")
    return list(result.events)


def _import_order(snapshot: AccountSnapshot) -> list[int]:
    """Isolated positions first (each is its own pool), then cross positions from the one that
    adds most to margin balance less requirement to the one that adds least."""
    conventions = snapshot.rulebook.conventions
    rule = conventions.positive_pnl.maintenance

    def key(n: int) -> tuple[int, Decimal]:
        position = snapshot.positions[n]
        if position.margin_mode is MarginMode.ISOLATED:
            return (0, Decimal(0))
        figures = position_figures(position, conventions)
        return (1, figures.requirement - counted_pnl(figures.unrealized_pnl, rule))

    return sorted(range(len(snapshot.positions)), key=key)


def _refused(result: c.Result, field_name: str) -> None:
    if not result.code.accepted:
        raise InputError(field_name, f"the engine refused it: {result.code.value} {result.message}".strip())


def account_equity(evaluation: Evaluation) -> Decimal:
    """Every pool's wallet plus unrealised PnL, and every isolated margin with its PnL."""
    total = sum((p.figures.wallet_balance + p.figures.unrealized_pnl for p in evaluation.pools), Decimal(0))
    return total + sum((i.isolated_margin + i.figures.unrealized_pnl for i in evaluation.isolated), Decimal(0))


def equity(engine: Engine) -> Decimal:
    """The copy's equity, as :func:`account_equity` counts it."""
    account = engine.accounts.get(ACCOUNT)
    if account is None:
        return Decimal(0)
    return account_equity(engine.evaluate(account))


def health(
    engine: Engine,
    marks: dict[str, Decimal] | None = None,
    payments: dict[str, Decimal] | None = None,
    asset_prices: dict[str, Decimal] | None = None,
) -> Decimal | None:
    """The lowest health over the copy's pools and isolated positions (``None``: nothing
    required), at the engine's marks and collateral prices or at ``marks`` and ``asset_prices``,
    with the wallets changed by ``payments``: what a step brings before the venue acts on it."""
    account = engine.accounts.get(ACCOUNT)
    if account is None or not account.positions:
        return None
    prices = {**engine.asset_prices, **(asset_prices or {})}
    view = engine_snapshot(engine.rulebook, engine.ledger, account, engine.markets, None, payments, asset_prices=prices)
    if marks:
        view = view._replace(positions=tuple(p.with_mark(marks.get(p.symbol, p.mark_price)) for p in view.positions))
    return evaluate_account(view, with_prices=False).lowest_health()
