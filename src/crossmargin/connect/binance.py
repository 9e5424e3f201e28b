"""Binance USDⓈ-M and COIN-M responses into an account.

Recognised by shape, never by file name:

- ``GET /fapi/v2|v3/account`` (``/dapi/v1/account``): an object with ``assets`` (and
  ``positions``): cross wallet balances and the venue's per-asset totals;
- ``GET /fapi/v2|v3/positionRisk`` (``/dapi/v1/positionRisk``): a list of rows with
  ``positionAmt`` and ``markPrice``: positions, marks and liquidation prices;
- ``GET /fapi/v1/leverageBracket`` (``/dapi/v2/leverageBracket``): rows with ``brackets``: the
  account's current brackets, which replace the rulebook's tiers for the symbols held;
- ``GET /fapi/v1/premiumIndex`` (``/dapi/v1/premiumIndex``): rows with ``markPrice`` and
  ``indexPrice``: marks for positions read from the account response alone.

Binance prints its figures truncated to 8 decimals; a liquidation price of ``0`` means none.
``positionRisk`` v3 carries no leverage: it is read back as ``notional / positionInitialMargin``
rounded to a whole number (Binance's leverage settings are integers).
"""

from __future__ import annotations

from decimal import Decimal

from crossmargin.connect.binance_brackets import bracket_instruments
from crossmargin.connect.draft import AccountDraft, DraftPosition
from crossmargin.connect.responses import Body, iso_time
from crossmargin.rules import Rulebook
from crossmargin.units import InputError, Rounding, div, quantize

USDM_ENDPOINTS = {
    "account": "/fapi/v{version}/account",
    "positionRisk": "/fapi/v{version}/positionRisk",
    "leverageBracket": "/fapi/v1/leverageBracket",
    "premiumIndex": "/fapi/v1/premiumIndex",
}
COINM_ENDPOINTS = {
    "account": "/dapi/v1/account",
    "positionRisk": "/dapi/v1/positionRisk",
    "leverageBracket": "/dapi/v2/leverageBracket",
    "premiumIndex": "/dapi/v1/premiumIndex",
}
KNOWN = "/fapi/v2|v3/account, /fapi/v2|v3/positionRisk, /fapi/v1/leverageBracket, /fapi/v1/premiumIndex"


def classify(body: Body) -> str | None:
    """The kind of Binance response a body is, or ``None`` when its shape is not one."""
    value = body.value
    if isinstance(value, dict) and isinstance(value.get("assets"), list):
        return "account"
    rows = value if isinstance(value, list) else [value] if isinstance(value, dict) else None
    if not rows or not all(isinstance(row, dict) for row in rows):
        return None
    if all("brackets" in row for row in rows):
        return "leverageBracket"
    if all("positionAmt" in row and "markPrice" in row for row in rows):
        return "positionRisk"
    if all("markPrice" in row and "indexPrice" in row for row in rows):
        return "premiumIndex"
    return None


def _rows(body: Body) -> list[Body]:
    return body.items() if isinstance(body.value, list) else [body]


def _latest(rows: list[Body], key: str) -> str | None:
    times = [row.value.get(key) for row in rows if isinstance(row.value, dict)]
    found = [t for t in (iso_time(t) for t in times) if t is not None]
    return max(found) if found else None


def _version(body: Body, kind: str) -> str:
    """v2 and v3 differ by fields: v2 rows carry ``leverage`` (positions) or ``feeTier`` (account)."""
    if kind == "account":
        return "2" if isinstance(body.value, dict) and "feeTier" in body.value else "3"
    rows = body.value if isinstance(body.value, list) else [body.value]
    return "2" if rows and all("leverage" in row for row in rows) else "3"


def _sides(row: Body, amount: Decimal) -> tuple[str, str]:
    """(side, position side) of a row: hedge legs name their side, one-way rows sign theirs."""
    leg = row.text("positionSide").lower() if row.has("positionSide") else "both"
    if leg not in ("both", "long", "short"):
        raise row.error(f"must be BOTH, LONG or SHORT, got {leg.upper()!r}", "positionSide")
    side = leg if leg != "both" else ("long" if amount > 0 else "short")
    return side, leg


def _isolated(row: Body) -> bool:
    if row.has("marginType"):
        return row.text("marginType").lower() == "isolated"
    if row.has("isolated"):
        return bool(row.value["isolated"])
    wallet = row.optional_decimal("isolatedWallet")
    return wallet is not None and wallet != 0


def _leverage(row: Body) -> Decimal | None:
    if row.has("leverage"):
        return row.decimal("leverage")
    notional = row.optional_decimal("notional") or row.optional_decimal("notionalValue")
    margin = row.optional_decimal("positionInitialMargin")
    if notional is None or not margin:
        return None
    return quantize(div(abs(notional), margin, rounding=Rounding.HALF_EVEN), Decimal(1), rounding=Rounding.HALF_EVEN)


def _position(row: Body, mark: Decimal | None) -> DraftPosition | None:
    amount = row.decimal("positionAmt")
    if amount == 0:
        return None
    side, leg = _sides(row, amount)
    isolated = _isolated(row)
    reported: dict[str, Decimal | None] = {}
    if row.has("liquidationPrice"):
        liquidation = row.decimal("liquidationPrice")
        reported["liquidation_price"] = liquidation if liquidation > 0 else None
    for key, name in (("notional", "notional"), ("notionalValue", "notional")):
        if row.has(key):
            reported[name] = abs(row.decimal(key))
    pnl_key = "unRealizedProfit" if row.has("unRealizedProfit") else "unrealizedProfit"
    if row.has(pnl_key):
        reported["unrealized_pnl"] = row.decimal(pnl_key)
    if row.has("maintMargin"):
        reported["maintenance_margin"] = row.decimal("maintMargin")
    if row.has("positionInitialMargin"):
        reported["initial_margin"] = row.decimal("positionInitialMargin")
    if isolated and row.has("isolatedMargin"):
        reported["margin_balance"] = row.decimal("isolatedMargin")
    return DraftPosition(
        symbol=row.text("symbol"),
        side=side,
        size=abs(amount),
        entry_price=row.decimal("entryPrice"),
        mark_price=row.decimal("markPrice") if row.has("markPrice") else mark,
        margin_mode="isolated" if isolated else "cross",
        leverage=_leverage(row),
        position_side=leg,
        isolated_margin=row.decimal("isolatedWallet") if isolated else None,
        reported=reported,
        where=f"{row.file}: {row.path}",
    )


def _merge(draft: AccountDraft, found: DraftPosition) -> None:
    """Add a position, or complete the one another response gave (the row with a mark leads)."""
    for index, held in enumerate(draft.positions):
        if held.key() == found.key():
            primary, other = (found, held) if held.mark_price is None else (held, found)
            fields = {k: v if v is not None else getattr(other, k) for k, v in primary.__dict__.items()}
            fields["reported"] = {**other.reported, **primary.reported}
            draft.positions[index] = DraftPosition(**fields)
            return
    draft.positions.append(found)


def _account(draft: AccountDraft, body: Body, marks: dict[str, Decimal], endpoint: str) -> None:
    """Cross wallet balances, the venue's per-asset (or, in Multi-Assets mode, USD) figures."""
    assets = body.get("assets").items()
    rows = body.get("positions").items() if body.has("positions") else []
    found = [p for p in (_position(row, marks.get(row.text("symbol"))) for row in rows) if p is not None]
    multi = bool(body.value.get("multiAssetsMargin"))
    isolated_assets = set()
    for position in found:
        _merge(draft, position)
    for asset in assets:
        name = asset.text("asset")
        wallet = asset.decimal("crossWalletBalance")
        if wallet != 0 or asset.decimal("walletBalance") != 0:
            draft.balances[name] = wallet
        if asset.decimal("walletBalance") != wallet:
            isolated_assets.add(name)
        if not multi and (wallet != 0 or name in isolated_assets):
            draft.report_pool(name, _asset_figures(asset, name in isolated_assets))
    if multi:
        draft.asset_mode = "multi"
        draft.report_pool("USD", _total_figures(body))
    draft.source(f"GET {endpoint}", _latest([*assets, *rows], "updateTime"))


def _asset_figures(asset: Body, has_isolated: bool) -> dict[str, Decimal | None]:
    figures: dict[str, Decimal | None] = {
        "wallet_balance": asset.decimal("crossWalletBalance"),
        "unrealized_pnl": asset.decimal("crossUnPnl"),
        "available_balance": asset.decimal("availableBalance"),
        "max_withdrawable": asset.decimal("maxWithdrawAmount"),
    }
    if not has_isolated:  # the asset's totals are the cross pool's only without isolated positions
        figures["margin_balance"] = asset.decimal("marginBalance")
        figures["maintenance_margin"] = asset.decimal("maintMargin")
        figures["initial_margin"] = asset.decimal("positionInitialMargin")
    return figures


def _total_figures(body: Body) -> dict[str, Decimal | None]:
    return {
        "wallet_balance": body.decimal("totalCrossWalletBalance"),
        "unrealized_pnl": body.decimal("totalCrossUnPnl"),
        "margin_balance": body.decimal("totalMarginBalance"),
        "maintenance_margin": body.decimal("totalMaintMargin"),
        "initial_margin": body.decimal("totalPositionInitialMargin"),
        "available_balance": body.decimal("availableBalance"),
        "max_withdrawable": body.decimal("maxWithdrawAmount"),
    }


def _multi_prices(draft: AccountDraft, index_prices: dict[str, Decimal]) -> None:
    """USD prices of a Multi-Assets pool's assets: USDⓈ stablecoins at 1, others at the index
    price of their USDT perpetual (the premiumIndex response)."""
    assets = set(draft.balances) | {"USDT"}
    for asset in sorted(assets):
        if asset in ("USDT", "USDC", "FDUSD", "BUSD"):
            draft.prices[asset] = Decimal(1)
        elif f"{asset}USDT" in index_prices:
            draft.prices[asset] = index_prices[f"{asset}USDT"]
        else:
            raise InputError(
                "multiAssetsMargin",
                f"the account is in Multi-Assets mode and holds {asset}: give /fapi/v1/premiumIndex with {asset}USDT",
            )


def build(venue: str, bodies: list[tuple[str, Body]], rulebook: Rulebook) -> AccountDraft:
    """The account the recognised Binance responses describe (see the module docstring)."""
    endpoints = COINM_ENDPOINTS if venue == "binance-coinm" else USDM_ENDPOINTS
    draft = AccountDraft(venue)
    marks: dict[str, Decimal] = {}
    index_prices: dict[str, Decimal] = {}
    for kind, body in bodies:
        if kind == "premiumIndex":
            for row in _rows(body):
                marks[row.text("symbol")] = row.decimal("markPrice")
                index_prices[row.text("symbol")] = row.decimal("indexPrice")
            draft.source(f"GET {endpoints['premiumIndex']}", _latest(_rows(body), "time"))
    for kind, body in bodies:
        endpoint = endpoints[kind].format(version=_version(body, kind)) if kind in endpoints else ""
        if kind == "positionRisk":
            for row in _rows(body):
                position = _position(row, marks.get(row.text("symbol")))
                if position is not None:
                    _merge(draft, position)
            draft.source(f"GET {endpoint}", _latest(_rows(body), "updateTime"))
        elif kind == "account":
            _account(draft, body, marks, endpoint)
    if draft.asset_mode == "multi":
        _multi_prices(draft, index_prices)
    brackets = [body for kind, body in bodies if kind == "leverageBracket"]
    draft.instruments.update(bracket_instruments(venue, brackets, draft.positions, rulebook))
    if brackets:
        draft.source(f"GET {endpoints['leverageBracket']}", None)
    _cross_positions_need_no_wallet(draft)
    return draft


def _cross_positions_need_no_wallet(draft: AccountDraft) -> None:
    """A pool holding cross positions takes its wallet from the account response: without it
    the import would silently evaluate an empty wallet."""
    if not draft.balances and any(p.margin_mode == "cross" for p in draft.positions):
        raise InputError(
            "responses",
            "cross positions need the account's wallet: add the /fapi/v2|v3/account (or /dapi/v1/account) response",
        )
