"""Binance's ``leverageBracket`` rows as partial instruments in the rulebook's format.

The brackets an account sees today can differ from the rulebook's snapshot (Binance re-tunes
them, and ``notionalCoef`` scales them per account), so for every symbol held they replace the
rulebook's tiers. A USDⓈ-M symbol the rulebook does not list is defined from its brackets as
a linear contract settled in its quote asset, with the price step Binance prints its figures
at (1e-8) as its tick and the size step of the position as its lot; a COIN-M symbol cannot be
defined so, since its contract size is not in the response.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from crossmargin.connect.draft import DraftPosition, plain
from crossmargin.connect.responses import Body
from crossmargin.rules import Rulebook

QUOTE_ASSETS = ("USDT", "USDC", "FDUSD", "BUSD")
PRINTED_PRICE_STEP = "0.00000001"


def _tiers(row: Body, coin_margined: bool) -> list[dict[str, str]]:
    floor_key, cap_key = ("qtyFloor", "qtyCap") if coin_margined else ("notionalFloor", "notionalCap")
    tiers = []
    for bracket in row.get("brackets").items():
        tiers.append(
            {
                "floor": plain(bracket.decimal(floor_key)),
                "cap": plain(bracket.decimal(cap_key)),
                "max_leverage": plain(bracket.decimal("initialLeverage")),
                "mmr": plain(bracket.decimal("maintMarginRatio")),
                "maintenance_amount": plain(bracket.decimal("cum")),
            }
        )
    return sorted(tiers, key=lambda tier: Decimal(tier["floor"]))


def _rows_by_name(bodies: list[Body], coin_margined: bool) -> dict[str, Body]:
    key = "pair" if coin_margined else "symbol"
    found: dict[str, Body] = {}
    for body in bodies:
        for row in body.items() if isinstance(body.value, list) else [body]:
            found[row.text(key) if row.has(key) else row.text("symbol")] = row
    return found


def _new_linear(symbol: str, size: Decimal, tiers: list[dict[str, str]]) -> dict[str, Any] | None:
    quote = next((q for q in QUOTE_ASSETS if symbol.endswith(q) and len(symbol) > len(q)), None)
    if quote is None:
        return None
    exponent = size.normalize().as_tuple().exponent
    assert isinstance(exponent, int)
    return {
        "kind": "linear",
        "base_asset": symbol.removesuffix(quote),
        "quote_asset": quote,
        "settlement_asset": quote,
        "contract_size": "1",
        "tick_size": PRINTED_PRICE_STEP,
        "lot_size": plain(Decimal(1).scaleb(min(exponent, 0))),
        "tiers": tiers,
    }


def bracket_instruments(
    venue: str, bodies: list[Body], positions: list[DraftPosition], rulebook: Rulebook
) -> dict[str, dict[str, Any]]:
    """Partial instruments (tiers) for every symbol held that the brackets cover."""
    if not bodies:
        return {}
    coin_margined = venue == "binance-coinm"
    rows = _rows_by_name(bodies, coin_margined)
    instruments: dict[str, dict[str, Any]] = {}
    for position in positions:
        name = position.symbol.split("_")[0] if coin_margined else position.symbol
        row = rows.get(name)
        if row is None or position.symbol in instruments:
            continue
        tiers = _tiers(row, coin_margined)
        if rulebook.find_instrument(position.symbol) is not None:
            instruments[position.symbol] = {"tiers": tiers}
        elif not coin_margined:
            defined = _new_linear(position.symbol, position.size, tiers)
            if defined is not None:
                instruments[position.symbol] = defined
    return instruments
