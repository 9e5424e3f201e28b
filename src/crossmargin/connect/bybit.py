"""Bybit v5 responses into an account.

- ``GET /v5/position/list``: ``{"retCode": 0, "result": {"category", "list": [...]}}`` whose
  rows carry ``positionIdx``: positions, marks and the venue's figures;
- ``GET /v5/account/wallet-balance``: ``result.list`` rows with ``accountType`` and ``coin``.

A unified account (``accountType`` UNIFIED) is one USD pool of every coin marked as margin
collateral: its asset mode is ``multi``, each coin's USD price is the venue's ``usdValue /
equity`` (to 1e-8) and the pool's figures are the account totals. A classic (CONTRACT) account
has one pool per coin. ``positionValue`` is the entry value, so it is not compared with our
notional at the mark; ``positionIM`` and ``positionMM`` are.
"""

from __future__ import annotations

from decimal import Decimal

from crossmargin.connect.draft import AccountDraft, DraftPosition
from crossmargin.connect.responses import Body, iso_time
from crossmargin.rules import Rulebook
from crossmargin.units import InputError, Rounding, div, quantize

KNOWN = "/v5/position/list, /v5/account/wallet-balance"
PRICE_UNIT = Decimal("0.00000001")
LEGS = {0: "both", 1: "long", 2: "short"}


def _rows(body: Body) -> list[object] | None:
    value = body.value
    if not isinstance(value, dict) or not isinstance(value.get("result"), dict):
        return None
    rows = value["result"].get("list")
    return rows if isinstance(rows, list) else None


def classify(body: Body) -> str | None:
    rows = _rows(body)
    if rows is None:
        return None
    if rows and all(isinstance(row, dict) and "accountType" in row and "coin" in row for row in rows):
        return "wallet-balance"
    if all(isinstance(row, dict) and "positionIdx" in row and "symbol" in row for row in rows):
        return "position-list"
    return None


def _checked(body: Body) -> Body:
    if body.value.get("retCode", 0) not in (0, "0"):
        raise body.error(f"is an error response (retCode {body.value['retCode']}: {body.value.get('retMsg')})")
    return body.get("result")


def _position(row: Body) -> DraftPosition | None:
    size = row.decimal("size")
    if size == 0:
        return None
    side = {"Buy": "long", "Sell": "short"}.get(row.text("side"))
    if side is None:
        raise row.error(f"must be Buy or Sell, got {row.value['side']!r}", "side")
    leg = LEGS.get(int(row.decimal("positionIdx")))
    if leg is None:
        raise row.error("must be 0, 1 or 2", "positionIdx")
    isolated = row.has("tradeMode") and int(row.decimal("tradeMode")) == 1
    entry_key = "avgPrice" if row.has("avgPrice") else "entryPrice"
    reported: dict[str, Decimal | None] = {
        "liquidation_price": row.optional_decimal("liqPrice", none_if=("", "0")),
        "bankruptcy_price": row.optional_decimal("bustPrice", none_if=("", "0")),
        "unrealized_pnl": row.decimal("unrealisedPnl"),
    }
    for key, name in (("positionIM", "initial_margin"), ("positionMM", "maintenance_margin")):
        if row.has(key) and row.value[key] != "":
            reported[name] = row.decimal(key)
    return DraftPosition(
        symbol=row.text("symbol"),
        side=side,
        size=size,
        entry_price=row.decimal(entry_key),
        mark_price=row.decimal("markPrice"),
        margin_mode="isolated" if isolated else "cross",
        leverage=row.optional_decimal("leverage"),
        position_side=leg,
        isolated_margin=row.decimal("positionBalance") if isolated else None,
        reported=reported,
        where=f"{row.file}: {row.path}",
    )


def _unified(draft: AccountDraft, account: Body) -> None:
    """One USD pool: balances per coin, prices from the venue's own USD values."""
    draft.asset_mode = "multi"
    collateral = []
    for coin in account.get("coin").items():
        name = coin.text("coin")
        draft.balances[name] = coin.decimal("walletBalance")
        equity = coin.decimal("equity")
        if equity != 0:
            price = div(coin.decimal("usdValue"), equity, rounding=Rounding.HALF_EVEN)
            draft.prices[name] = quantize(price, PRICE_UNIT, rounding=Rounding.HALF_EVEN)
        if coin.value.get("marginCollateral", True) and coin.value.get("collateralSwitch", True):
            collateral.append(name)
    draft.collateral = collateral
    draft.report_pool(
        "USD",
        {
            "wallet_balance": account.decimal("totalWalletBalance"),
            "margin_balance": account.decimal("totalMarginBalance"),
            "initial_margin": account.optional_decimal("totalInitialMargin"),
            "maintenance_margin": account.optional_decimal("totalMaintenanceMargin"),
            "margin_ratio": account.optional_decimal("accountMMRate"),
            "available_balance": account.optional_decimal("totalAvailableBalance"),
        },
    )


def _classic(draft: AccountDraft, account: Body) -> None:
    """One pool per coin, each with the coin's own figures."""
    for coin in account.get("coin").items():
        name = coin.text("coin")
        wallet = coin.decimal("walletBalance")
        if wallet == 0 and coin.decimal("equity") == 0:
            continue
        draft.balances[name] = wallet
        draft.report_pool(
            name,
            {
                "wallet_balance": wallet,
                "unrealized_pnl": coin.optional_decimal("unrealisedPnl"),
                "margin_balance": coin.decimal("equity"),
                "initial_margin": coin.optional_decimal("totalPositionIM"),
                "maintenance_margin": coin.optional_decimal("totalPositionMM"),
            },
        )


def _wallet(draft: AccountDraft, result: Body, time: str | None) -> None:
    accounts = result.get("list").items()
    if len(accounts) != 1:
        raise result.error("must hold one account (ask for one accountType)", "list")
    account = accounts[0]
    kind = account.text("accountType")
    if kind == "UNIFIED":
        _unified(draft, account)
    elif kind == "CONTRACT":
        _classic(draft, account)
    else:
        raise InputError(f"{account.file}: {account.path}.accountType", f"{kind} holds no derivatives")
    draft.source(f"GET /v5/account/wallet-balance?accountType={kind}", time)


def build(venue: str, bodies: list[tuple[str, Body]], rulebook: Rulebook) -> AccountDraft:
    del rulebook  # Bybit's responses carry no instrument parameters to lay over it
    draft = AccountDraft(venue)
    for kind, body in bodies:
        result = _checked(body)
        time = iso_time(body.value.get("time"))
        if kind == "wallet-balance":
            _wallet(draft, result, time)
            continue
        category = result.value.get("category", "linear")
        for row in result.get("list").items():
            position = _position(row)
            if position is not None:
                draft.positions.append(position)
        draft.source(f"GET /v5/position/list?category={category}", time)
    return draft
