"""OKX v5 responses into an account.

- ``GET /api/v5/account/positions``: ``{"code": "0", "data": [...]}`` whose rows carry
  ``instId``, ``pos`` and ``mgnMode``: positions (``pos`` in contracts), marks, the venue's
  liquidation price, initial and maintenance margin;
- ``GET /api/v5/account/balance``: ``data`` rows with ``details`` and ``totalEq``.

A linear swap's size here is in base units, so contracts are multiplied by the contract value
of the rulebook's instrument. A filled ``adjEq`` means a multi-currency account: one USD pool,
each currency priced at its ``eqUsd / eq``. Otherwise each currency is its own pool, its cross
wallet the cash balance less the margin of its isolated positions. OKX's per-currency ``mmr``
leaves out the liquidation fees its ratio counts, so a pool is compared on ``mgnRatio``.
"""

from __future__ import annotations

from decimal import Decimal

from crossmargin.connect.draft import AccountDraft, DraftPosition
from crossmargin.connect.responses import Body, iso_time
from crossmargin.rules import Rulebook
from crossmargin.units import ZERO, Rounding, div, quantize

KNOWN = "/api/v5/account/positions, /api/v5/account/balance"
PRICE_UNIT = Decimal("0.00000001")
DERIVATIVES = ("SWAP", "FUTURES")


def classify(body: Body) -> str | None:
    value = body.value
    if not isinstance(value, dict) or not isinstance(value.get("data"), list) or "code" not in value:
        return None
    rows = value["data"]
    if not all(isinstance(row, dict) for row in rows):
        return None
    if rows and all("details" in row and "totalEq" in row for row in rows):
        return "balance"
    if all("instId" in row and "pos" in row and "mgnMode" in row for row in rows):
        return "positions"
    return None


def _data(body: Body) -> list[Body]:
    if str(body.value.get("code")) != "0":
        raise body.error(f"is an error response (code {body.value['code']}: {body.value.get('msg')})")
    return body.get("data").items()


def _latest(rows: list[Body]) -> str | None:
    found = [t for t in (iso_time(row.value.get("uTime")) for row in rows) if t is not None]
    return max(found) if found else None


def _position(row: Body, rulebook: Rulebook) -> DraftPosition | None:
    if row.text("instType") not in DERIVATIVES:
        raise row.error(f"{row.value['instType']} positions are not margined here (SWAP and FUTURES are)", "instType")
    contracts = row.decimal("pos")
    if contracts == 0:
        return None
    symbol = row.text("instId")
    leg = row.text("posSide") if row.has("posSide") else "net"
    side = leg if leg in ("long", "short") else ("long" if contracts > 0 else "short")
    instrument = rulebook.find_instrument(symbol)
    size = abs(contracts)
    if instrument is not None and instrument.kind == "linear":
        size *= instrument.contract_size
    isolated = row.text("mgnMode") == "isolated"
    reported: dict[str, Decimal | None] = {
        "liquidation_price": row.optional_decimal("liqPx"),
        "unrealized_pnl": row.optional_decimal("upl"),
        "maintenance_margin": row.optional_decimal("mmr"),
    }
    if isolated:
        reported["margin_ratio"] = row.optional_decimal("mgnRatio")
    else:
        reported["initial_margin"] = row.optional_decimal("imr")
    return DraftPosition(
        symbol=symbol,
        side=side,
        size=size,
        entry_price=row.decimal("avgPx"),
        mark_price=row.decimal("markPx"),
        margin_mode="isolated" if isolated else "cross",
        leverage=row.optional_decimal("lever"),
        position_side="both" if leg == "net" else leg,
        isolated_margin=row.decimal("margin") if isolated else None,
        reported={k: v for k, v in reported.items() if v is not None or k == "liquidation_price"},
        where=f"{row.file}: {row.path}",
    )


def _balance(draft: AccountDraft, account: Body) -> None:
    multi = account.optional_decimal("adjEq") is not None
    isolated: dict[str, Decimal] = {}
    for position in draft.positions:
        if position.margin_mode == "isolated" and position.isolated_margin is not None:
            held = position.symbol.split("-")
            settle = held[1] if held[-1] == "SWAP" and held[1] in ("USDT", "USDC") else held[0]
            isolated[settle] = isolated.get(settle, ZERO) + position.isolated_margin
    for detail in account.get("details").items():
        ccy = detail.text("ccy")
        draft.balances[ccy] = detail.decimal("cashBal") - isolated.get(ccy, ZERO)
        equity = detail.decimal("eq")
        if multi and equity != 0:
            price = div(detail.decimal("eqUsd"), equity, rounding=Rounding.HALF_EVEN)
            draft.prices[ccy] = quantize(price, PRICE_UNIT, rounding=Rounding.HALF_EVEN)
        if not multi:
            draft.report_pool(ccy, {"margin_ratio": detail.optional_decimal("mgnRatio")})
    if multi:
        draft.asset_mode = "multi"
        draft.report_pool(
            "USD", {"margin_ratio": account.optional_decimal("mgnRatio"), "initial_margin": account.decimal("imr")}
        )


def build(venue: str, bodies: list[tuple[str, Body]], rulebook: Rulebook) -> AccountDraft:
    draft = AccountDraft(venue)
    for kind, body in bodies:
        if kind == "positions":
            rows = _data(body)
            for row in rows:
                position = _position(row, rulebook)
                if position is not None:
                    draft.positions.append(position)
            draft.source("GET /api/v5/account/positions", _latest(rows))
    for kind, body in bodies:
        if kind == "balance":
            accounts = _data(body)
            if len(accounts) != 1:
                raise body.error("must hold one account", "data")
            _balance(draft, accounts[0])
            draft.source("GET /api/v5/account/balance", iso_time(accounts[0].value.get("uTime")))
    draft.pools = {asset: {k: v for k, v in figures.items() if v is not None} for asset, figures in draft.pools.items()}
    return draft
