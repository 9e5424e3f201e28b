"""Funding: at a funding timestamp every open position pays or receives the current rate.

The payment is the margin functions' own (``funding_payment`` on the reference price). A payer
whose wallet (or isolated margin) cannot pay it all first settles its own unrealised profit;
what still cannot be paid is paid to the receivers by the insurance fund, then by the venue's
backstop, so receivers are paid in full and the ledger balances. Funding ends with the
liquidation check, as a payment can tip a payer over.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, NamedTuple

from crossmargin.engine.base import EngineBase
from crossmargin.engine.commands import Result, ResultCode, SettleFunding
from crossmargin.engine.fills import pnl_settled_event, settle_profits
from crossmargin.engine.ledger import AccountKind, LedgerAccount, Transfer
from crossmargin.engine.liquidation import check_liquidations
from crossmargin.engine.oracle import Action
from crossmargin.engine.state import AccountState, MarketState, PositionState, isolated, leg_keys
from crossmargin.engine.watch import absorb_payment, forget, pool_key
from crossmargin.margin.funding import funding_payment
from crossmargin.margin.types import MarginMode, PositionSide
from crossmargin.rules.schema import Instrument
from crossmargin.units import ZERO

HOUR_MS = 3_600_000


class _Shortfall(NamedTuple):
    transfers: list[Transfer]
    events: list[dict[str, Any]]
    settled: dict[str, PositionState]
    from_fund: Decimal


def _pay_beyond_balance(
    engine: EngineBase,
    account: AccountState,
    owner: LedgerAccount,
    pool: LedgerAccount,
    paid: Decimal,
    held: Decimal,
    cross: bool,
    fund_left: Decimal,
) -> _Shortfall:
    """A funding payment larger than the balance it comes from.

    A cross payer first settles its own unrealised profit into the wallet (equity unchanged, as
    for a realised loss beyond the wallet). What still cannot be paid (an account that funding
    makes bankrupt, which the check that follows liquidates) is paid to the receivers by the
    insurance fund, and past the fund by an explicit venue backstop, so receivers are paid in full.
    """
    asset = owner.asset
    settled: dict[str, PositionState] = {}
    transfers: list[Transfer] = []
    events: list[dict[str, Any]] = []
    if cross:
        settled, transfers, gathered = settle_profits(engine, account, asset, "", paid - held)
        held += gathered
        if settled:
            events.append(pnl_settled_event(account.account_id, asset, gathered, settled))
    own = min(paid, held)
    if own > 0:
        transfers.append(Transfer(owner, pool, own, "funding"))
    rest = paid - own
    if rest <= 0:
        return _Shortfall(transfers, events, settled, ZERO)
    from_fund = min(rest, max(fund_left, ZERO))
    if from_fund > 0:
        transfers.append(
            Transfer(LedgerAccount.venue(AccountKind.INSURANCE, asset), pool, from_fund, "funding_shortfall")
        )
    if rest > from_fund:
        transfers.append(Transfer(engine.clearing(asset), pool, rest - from_fund, "venue_backstop"))
    shortfall_event = {
        "event": "funding_shortfall",
        "account": account.account_id,
        "asset": asset,
        "amount": str(rest),
        "insurance_fund": str(from_fund),
        "venue_backstop": str(rest - from_fund),
    }
    return _Shortfall(transfers, [*events, shortfall_event], settled, from_fund)


def _not_due(interval_hours: int, market: MarketState | None, timestamp_ms: int) -> str | None:
    """Why no funding is due at ``timestamp_ms``, or ``None`` when it is.

    Funding is exchanged only at the instrument's funding timestamps, the multiples of its
    interval since the epoch (00:00, 08:00 and 16:00 UTC for 8 hours), and once per timestamp:
    a venue's positions pay at the funding time, not whenever a settlement is asked for.
    """
    interval_ms = interval_hours * HOUR_MS
    if timestamp_ms % interval_ms:
        before = timestamp_ms - timestamp_ms % interval_ms
        following = before + interval_ms
        return f"{timestamp_ms} is not a funding time: funding is every {interval_hours} h ({before}, {following}, ...)"
    settled = market.funding_settled_ms if market else None
    if settled is not None and timestamp_ms <= settled:
        return f"funding at {settled} was already settled, and {timestamp_ms} is not after it"
    return None


def settle_funding(engine: EngineBase, command: SettleFunding) -> Result:
    """At a funding timestamp, positions open now pay or receive the current rate on the
    reference price (a timestamp off the schedule, or settled already, is refused: ``no_funding_due``)."""
    instrument = engine.rulebook.find_instrument(command.symbol)
    if instrument is None:
        return engine.reject(command, ResultCode.UNKNOWN_SYMBOL)
    if instrument.funding is None:
        engine.market(instrument.symbol)
        return engine.reject(command, ResultCode.INVALID_ARGUMENT, "not a perpetual")
    not_due = _not_due(instrument.funding.interval_hours, engine.markets.get(instrument.symbol), command.timestamp_ms)
    if not_due:
        return engine.reject(command, ResultCode.NO_FUNDING_DUE, not_due)
    market = engine.market(instrument.symbol)
    engine.now_ms = max(engine.now_ms, command.timestamp_ms)
    if not engine.allowed(Action.SETTLE_FUNDING, [instrument.symbol]):
        return engine.reject(command, ResultCode.STALE_PRICE, "the mark is not valid for settling funding")
    reference = market.index if instrument.funding.reference_price != "mark" and market.index else market.mark
    if reference is None or market.funding_rate is None:
        return engine.reject(command, ResultCode.NO_MARK_PRICE, "no reference price or funding rate yet")
    events = _exchange(engine, instrument, reference, market.funding_rate)
    market.funding_settled_ms = command.timestamp_ms
    events += check_liquidations(engine, instrument.symbol)
    return engine.accept(command, events)


def _exchange(engine: EngineBase, instrument: Instrument, reference: Decimal, rate: Decimal) -> list[dict[str, Any]]:
    """Every holder of the instrument pays or receives ``rate`` on ``reference``; the events."""
    asset = instrument.settlement_asset
    pool = LedgerAccount.venue(AccountKind.FUNDING_POOL, asset)
    transfers: list[Transfer] = []
    events: list[dict[str, Any]] = []
    payers: list[tuple[str, str, Decimal]] = []  # (account, pool key, amount paid)
    symbol, unit = instrument.symbol, engine.unit(asset)
    rate_text, price_text = str(rate), str(reference)  # the same on every event of this settlement
    cross_mode = MarginMode.CROSS
    fund_left = engine.ledger.balance(LedgerAccount.venue(AccountKind.INSURANCE, asset))
    resettled: list[tuple[AccountState, dict[str, PositionState]]] = []  # profits settled to pay
    long_key, short_key = leg_keys(symbol)
    moved: dict[LedgerAccount, Decimal] = {}  # what this settlement already moved (a hedged account's legs)
    for account_id, account in engine.accounts.items():
        positions = account.positions
        position = positions.get(symbol)
        if position is not None:
            holding: list[tuple[str, PositionState]] = [(symbol, position)]
        elif long_key in positions or short_key in positions:
            holding = account.legs(symbol)
        else:
            continue
        for key, position in holding:
            amount = funding_payment(instrument, position.side, position.size, reference, rate, unit=unit)
            cross = position.margin_mode is cross_mode
            owner = account.wallet(asset) if cross else isolated(account_id, asset, key)
            if amount < 0:
                paid = -amount
                held = engine.ledger.balance(owner) + moved.get(owner, ZERO)
                if paid <= held or (cross and account.asset_mode == "multi"):  # a multi pool may owe it
                    transfers.append(Transfer(owner, pool, paid, "funding"))
                else:  # rare: the wallet (or isolated margin) cannot pay it all
                    shortfall = _pay_beyond_balance(engine, account, owner, pool, paid, held, cross, fund_left)
                    transfers += shortfall.transfers
                    events += shortfall.events
                    fund_left -= shortfall.from_fund
                    resettled.append((account, shortfall.settled))
                payers.append((account_id, pool_key(key, position.margin_mode, asset), paid))
            elif amount > 0:
                transfers.append(Transfer(pool, owner, amount, "funding"))
            if key != symbol:
                moved[owner] = moved.get(owner, ZERO) + amount
            events.append(_funding_event(account_id, position, amount, rate_text, price_text))
    engine.post(transfers)
    for account, settled in resettled:
        account.positions.update(settled)
        forget(engine, account.account_id)
    # A payer's surplus shrank: its reserve absorbs the payment, or it is checked exactly. A
    # receiver's only grew, so the bands it has are still sound (conservative).
    for account_id, key, paid in payers:
        absorb_payment(engine, account_id, key, paid)
    return events


def _funding_event(
    account_id: str, position: PositionState, amount: Decimal, rate_text: str, price_text: str
) -> dict[str, Any]:
    event: dict[str, Any] = {
        "event": "funding",
        "account": account_id,
        "symbol": position.symbol,
        "amount": str(amount),
        "rate": rate_text,
        "price": price_text,
    }
    if position.position_side is not PositionSide.BOTH:  # a hedge-mode leg
        event["position_side"] = position.position_side.value
    return event
