"""Hyperliquid info responses into an account.

- ``{"type": "clearinghouseState"}``: an object with ``assetPositions`` and
  ``crossMarginSummary``: the USDC cross account, isolated positions and the venue's figures.
- ``{"type": "metaAndAssetCtxs"}``: ``[meta, assetCtxs]``: marks, each asset's max leverage
  and its margin table.

Without ``metaAndAssetCtxs`` a mark is ``positionValue / |szi|`` (the venue values a position
at its mark). Each position carries the asset's ``maxLeverage`` today; the maintenance rate
follows it (MMR = 1 / (2 x maxLeverage)), so where it differs from the rulebook's it becomes an
instrument override, and a coin the rulebook does not list is defined from it. The cross wallet
is the cross account value less the cross positions' unrealised PnL; an isolated position's
margin is its ``rawUsd`` plus its entry value (the USDC it holds before PnL).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from crossmargin.connect.draft import AccountDraft, DraftPosition, plain
from crossmargin.connect.responses import Body, iso_time
from crossmargin.rules import Rulebook
from crossmargin.units import ZERO, Rounding, div

KNOWN = 'info {"type": "clearinghouseState"} and {"type": "metaAndAssetCtxs"}'
ENDPOINT = "POST /info"
#: Hyperliquid prices carry at most 6 decimals less the asset's size decimals.
PRICE_DECIMALS = 6


def classify(body: Body) -> str | None:
    value = body.value
    if isinstance(value, dict) and "assetPositions" in value and "marginSummary" in value:
        return "clearinghouseState"
    if (
        isinstance(value, list)
        and len(value) == 2
        and isinstance(value[0], dict)
        and "universe" in value[0]
        and isinstance(value[1], list)
    ):
        return "metaAndAssetCtxs"
    return None


class _Meta:
    """Per coin: mark, max leverage, size decimals and margin tiers from ``metaAndAssetCtxs``."""

    def __init__(self, body: Body | None) -> None:
        self.marks: dict[str, Decimal] = {}
        self.max_leverage: dict[str, Decimal] = {}
        self.size_decimals: dict[str, int] = {}
        self.tables: dict[int, list[tuple[Decimal, Decimal]]] = {}
        self.table_of: dict[str, int] = {}
        if body is None:
            return
        meta, contexts = body.items()
        for entry in meta.get("marginTables").items() if meta.has("marginTables") else []:
            table_id, table = entry.items()
            tiers = [(t.decimal("lowerBound"), t.decimal("maxLeverage")) for t in table.get("marginTiers").items()]
            self.tables[int(table_id.value)] = sorted(tiers)
        for asset, context in zip(meta.get("universe").items(), contexts.items(), strict=False):
            name = asset.text("name")
            self.max_leverage[name] = asset.decimal("maxLeverage")
            self.size_decimals[name] = int(asset.decimal("szDecimals"))
            if asset.has("marginTableId"):
                self.table_of[name] = int(asset.decimal("marginTableId"))
            if context.has("markPx"):
                self.marks[name] = context.decimal("markPx")

    def tiers(self, coin: str, max_leverage: Decimal) -> list[dict[str, str]]:
        """The coin's margin tiers in the rulebook's format (one tier at its max leverage
        where no table is known; table ids below 50 are single tiers by definition)."""
        table = self.tables.get(self.table_of.get(coin, -1))
        if not table:
            return [{"floor": "0", "max_leverage": plain(max_leverage)}]
        rows = []
        for index, (floor, leverage) in enumerate(table):
            row = {"floor": plain(floor), "max_leverage": plain(leverage)}
            if index + 1 < len(table):
                row["cap"] = plain(table[index + 1][0])
            rows.append(row)
        return rows


def _position(item: Body, meta: _Meta) -> tuple[DraftPosition, Decimal] | None:
    """A position and the asset's max leverage it carries (``None`` for a flat one)."""
    position = item.get("position")
    coin = position.text("coin")
    signed = position.decimal("szi")
    if signed == 0:  # a closed position the response still lists: nothing to margin
        return None
    size = abs(signed)
    value = position.decimal("positionValue")
    mark = meta.marks.get(coin) or div(value, size, rounding=Rounding.HALF_EVEN).normalize()
    leverage = position.get("leverage")
    isolated = leverage.text("type") == "isolated"
    entry = position.decimal("entryPx")
    reported: dict[str, Decimal | None] = {
        "liquidation_price": position.optional_decimal("liquidationPx"),
        "notional": value,
        "unrealized_pnl": position.decimal("unrealizedPnl"),
    }
    reported["margin_balance" if isolated else "initial_margin"] = position.decimal("marginUsed")
    draft = DraftPosition(
        symbol=coin,
        side="long" if signed > 0 else "short",
        size=size,
        entry_price=entry,
        mark_price=mark,
        margin_mode="isolated" if isolated else "cross",
        leverage=leverage.decimal("value"),
        isolated_margin=leverage.decimal("rawUsd") + signed * entry if isolated else None,
        reported=reported,
        where=f"{position.file}: {position.path}",
    )
    return draft, position.decimal("maxLeverage")


def _instrument(coin: str, max_leverage: Decimal, size: Decimal, meta: _Meta, rulebook: Rulebook) -> dict[str, Any]:
    """A partial instrument where the response contradicts the rulebook, or a whole one for a
    coin the rulebook does not list (``{}``: nothing to override)."""
    tiers = meta.tiers(coin, meta.max_leverage.get(coin, max_leverage))
    known = rulebook.find_instrument(coin)
    if known is not None:
        if meta.table_of.get(coin) in meta.tables:
            return {"tiers": tiers}  # the whole table is known: the override lists only what changed
        first = known.tiers[0].max_leverage if known.tiers else None
        return {} if first == Decimal(tiers[0]["max_leverage"]) else {"tiers": tiers}
    decimals = meta.size_decimals.get(coin)
    if decimals is None:
        exponent = size.normalize().as_tuple().exponent
        assert isinstance(exponent, int)
        decimals = max(-exponent, 0)
    return {
        "kind": "linear",
        "base_asset": coin,
        "quote_asset": "USDC",
        "settlement_asset": "USDC",
        "contract_size": "1",
        "tick_size": plain(Decimal(1).scaleb(-max(PRICE_DECIMALS - decimals, 0))),
        "lot_size": plain(Decimal(1).scaleb(-decimals)),
        "maintenance_from_max_leverage": True,
        "tiers": tiers,
    }


def _state(draft: AccountDraft, body: Body, meta: _Meta, rulebook: Rulebook) -> None:
    cross = body.get("crossMarginSummary")
    cross_pnl = ZERO
    for item in body.get("assetPositions").items():
        found = _position(item, meta)
        if found is None:
            continue
        position, max_leverage = found
        draft.positions.append(position)
        if position.margin_mode == "cross":
            cross_pnl += position.reported["unrealized_pnl"] or ZERO
        override = _instrument(position.symbol, max_leverage, position.size, meta, rulebook)
        if override:
            draft.instruments[position.symbol] = override
    draft.balances["USDC"] = cross.decimal("accountValue") - cross_pnl
    draft.report_pool(
        "USDC",
        {
            "margin_balance": cross.decimal("accountValue"),
            "initial_margin": cross.decimal("totalMarginUsed"),
            "maintenance_margin": body.decimal("crossMaintenanceMarginUsed"),
            "max_withdrawable": body.decimal("withdrawable"),
        },
    )
    draft.source(f"{ENDPOINT} clearinghouseState", iso_time(body.value.get("time")))


def build(venue: str, bodies: list[tuple[str, Body]], rulebook: Rulebook) -> AccountDraft:
    draft = AccountDraft(venue)
    metas = [body for kind, body in bodies if kind == "metaAndAssetCtxs"]
    meta = _Meta(metas[-1] if metas else None)
    if metas:
        draft.source(f"{ENDPOINT} metaAndAssetCtxs", None)
    for kind, body in bodies:
        if kind == "clearinghouseState":
            _state(draft, body, meta, rulebook)
    return draft
