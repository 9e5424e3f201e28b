"""JSON dumps of ccxt's unified calls into an account.

Takes ``fetch_positions()`` (a list of unified positions), ``fetch_balance()`` (a unified
balance whose ``info`` is the venue's own response body) and, optionally, ``fetch_markets()``
and ``fetch_leverage_tiers()``; each file is recognised by its shape.

ccxt writes numbers as binary floats. The files are parsed with every JSON float read as the
decimal of its own text, which is the float's shortest repr, so ``0.0065`` stays ``0.0065``
and nothing passes through binary arithmetic. Only the figures ccxt copies from the venue
are kept as the venue's (not the margins it estimates itself). Positions come from the unified fields (an
isolated position's wallet is its ``collateral`` less its ``unrealizedPnl``, as ccxt builds
the one from the other); the wallet and the pool's figures come from the venue body ccxt
keeps under the balance's ``info``, read by the venue's own importer. Markets and tiers, where
given, become instrument overrides for the symbols held (a whole instrument for one the
rulebook does not list).
"""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any

from crossmargin.connect import binance, bybit, hyperliquid, okx
from crossmargin.connect.draft import AccountDraft, DraftPosition
from crossmargin.connect.responses import Body, article
from crossmargin.rules import Rulebook, load_rulebook
from crossmargin.rules.ccxt_import import rulebook_from_ccxt
from crossmargin.units import InputError, Rounding, div

EXCHANGES = {
    "binanceusdm": "binance-usdm",
    "binancecoinm": "binance-coinm",
    "bybit": "bybit",
    "okx": "okx",
    "hyperliquid": "hyperliquid",
}
NATIVE = {"binance-usdm": binance, "binance-coinm": binance, "bybit": bybit, "okx": okx, "hyperliquid": hyperliquid}
#: Venues whose position margins ccxt copies from the response (Bybit positionIM/MM, OKX imr/mmr).
VENUE_MARGINS = ("bybit", "okx")
TIER_KEYS = ("tiers", "tier_basis", "tier_style", "tier_boundary", "maintenance_from_max_leverage")


def classify(body: Body) -> str | None:
    value = body.value
    if isinstance(value, list) and all(isinstance(row, dict) for row in value):
        if all("contracts" in row and "side" in row and "symbol" in row for row in value):
            return "positions"
        if value and all("precision" in row and "contract" in row for row in value):
            return "markets"
        return None
    if isinstance(value, dict):
        if {"info", "free", "used", "total"} <= set(value):
            return "balance"
        if value and all(isinstance(rows, list) and all("maxLeverage" in r for r in rows) for rows in value.values()):
            return "tiers"
    return None


def _number(row: Body, key: str) -> Decimal | None:
    return row.optional_decimal(key) if row.has(key) else None


def _position(row: Body, rulebook: Rulebook, native: dict[str, str]) -> DraftPosition | None:
    contracts = row.decimal("contracts")
    if contracts == 0:
        return None
    unified = row.text("symbol")
    instrument = rulebook.find_instrument(unified)
    symbol = instrument.symbol if instrument is not None else native.get(unified, unified)
    size_per_contract = _number(row, "contractSize") or Decimal(1)
    inverse = instrument is not None and instrument.kind == "inverse"
    size = contracts if inverse else (contracts * size_per_contract).normalize()
    pnl = _number(row, "unrealizedPnl")
    mark = _number(row, "markPrice")
    notional = _number(row, "notional")
    if mark is None and notional is not None and not inverse:
        mark = div(abs(notional), size, rounding=Rounding.HALF_EVEN).normalize()
    isolated = row.value.get("marginMode") == "isolated"
    collateral = _number(row, "collateral")
    hedged = bool(row.value.get("hedged"))
    side = row.text("side")
    reported = {
        "liquidation_price": _number(row, "liquidationPrice"),
        "unrealized_pnl": pnl,
        "notional": None if notional is None else abs(notional),
    }
    if isolated and collateral is not None:
        reported["margin_balance"] = collateral
    if rulebook.venue in VENUE_MARGINS:  # elsewhere ccxt estimates these itself
        reported["maintenance_margin"] = _number(row, "maintenanceMargin")
        reported["initial_margin"] = _number(row, "initialMargin")
    if rulebook.venue == "okx":  # ccxt's okx notional is the venue's notionalUsd, in USD
        del reported["notional"]
    return DraftPosition(
        symbol=symbol,
        side=side,
        size=size,
        entry_price=row.decimal("entryPrice"),
        mark_price=mark,
        margin_mode="isolated" if isolated else "cross",
        leverage=_number(row, "leverage"),
        position_side=side if hedged else "both",
        isolated_margin=None if not isolated or collateral is None else collateral - (pnl or Decimal(0)),
        reported={k: v for k, v in reported.items() if v is not None or k == "liquidation_price"},
        where=f"{row.file}: {row.path}",
    )


def _instruments(
    markets: Body | None, tiers: Body | None, draft: AccountDraft, rulebook: Rulebook, exchange: str
) -> None:
    if markets is None:
        return
    data, _ = rulebook_from_ccxt(
        markets.value,
        tiers.value if tiers is not None else {},
        name=rulebook.venue,
        as_of=datetime.date(2000, 1, 1),
        origin=markets.file,
        template=rulebook.venue,
    )
    by_symbol = {entry["symbol"]: entry for entry in data["instruments"]}
    held = {p.symbol for p in draft.positions}
    for symbol in sorted(held & set(by_symbol)):
        entry = by_symbol[symbol]
        known = rulebook.find_instrument(symbol) is not None
        draft.instruments[symbol] = {k: v for k, v in entry.items() if k in TIER_KEYS} if known else dict(entry)
    del exchange


def _native_names(markets: Body | None) -> dict[str, str]:
    """ccxt symbol -> the venue's own name (Hyperliquid names its markets in ``info.name``)."""
    if markets is None:
        return {}
    names = {}
    for market in markets.value:
        info = market.get("info") or {}
        names[str(market.get("symbol"))] = str(info.get("name") or market.get("id"))
    return names


def build(exchange: str, bodies: list[Body]) -> tuple[AccountDraft, Rulebook]:
    """The account ccxt's dumps describe, and the rulebook it is evaluated with."""
    venue = EXCHANGES.get(exchange)
    if venue is None:
        raise InputError("--exchange", f"must be one of {', '.join(EXCHANGES)}, got {exchange!r}")
    rulebook = load_rulebook(venue)
    kinds: dict[str, Body] = {}
    for body in bodies:
        kind = classify(body)
        if kind is None:
            raise InputError(
                body.file,
                "is not a ccxt dump this importer knows (fetch_positions, fetch_balance, fetch_markets,"
                " fetch_leverage_tiers)",
            )
        if kind in kinds:
            raise InputError(body.file, f"is a second {kind} dump (first: {kinds[kind].file})")
        kinds[kind] = body
    draft = _balance(venue, kinds.get("balance"), rulebook)
    native = _native_names(kinds.get("markets"))
    for row in kinds["positions"].items() if "positions" in kinds else []:
        position = _position(row, rulebook, native)
        if position is not None:
            draft.positions.append(position)
    if "positions" in kinds:
        draft.source(f"ccxt {exchange}.fetch_positions()", None)
    _instruments(kinds.get("markets"), kinds.get("tiers"), draft, rulebook, exchange)
    return draft, rulebook


def _balance(venue: str, balance: Body | None, rulebook: Rulebook) -> AccountDraft:
    """Wallet and pool figures from the venue body under ``info``, by the venue's importer."""
    if balance is None:
        return AccountDraft(venue)
    info = balance.get("info")
    importer: Any = NATIVE[venue]
    kind = importer.classify(info)
    if kind is None:
        raise info.error(f"is not {article(venue)} {venue} balance response this importer knows ({importer.KNOWN})")
    draft: AccountDraft = importer.build(venue, [(kind, info)], rulebook)
    draft.positions = []  # positions come from fetch_positions(), in ccxt's unified fields
    draft.sources = [
        {"endpoint": f"ccxt fetch_balance() info: {s['endpoint']}", "time": s["time"]} for s in draft.sources
    ]
    return draft
