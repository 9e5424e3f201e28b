"""dYdX v4 indexer responses into an account.

- ``GET /v4/addresses/{address}/subaccountNumber/{n}``: ``{"subaccount": {...}}`` with
  ``equity``, ``freeCollateral``, ``assetPositions`` and ``openPerpetualPositions``;
- ``GET /v4/perpetualMarkets``: ``{"markets": {...}}``: oracle prices, each market's initial
  and maintenance margin fractions and open interest.

dYdX keeps a position's quote balance inside the USDC asset position, so the wallet in the
account's terms (PnL measured from the entry price) is the USDC balance plus each position's
signed size times its entry price. The margin fractions of ``perpetualMarkets`` replace the
rulebook's (the market's max leverage is ``1 / IMF``, rounded down to 1e-8; maintenance is
``MMF``), and define a market the rulebook does not list. Without that response a mark is the
entry price plus the reported unrealised PnL per unit.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from crossmargin.connect.draft import AccountDraft, DraftPosition, plain
from crossmargin.connect.responses import Body
from crossmargin.rules import Rulebook
from crossmargin.units import ZERO, Rounding, div, quantize

KNOWN = "/v4/addresses/{address}/subaccountNumber/{n}, /v4/perpetualMarkets"
LEVERAGE_UNIT = Decimal("0.00000001")


def classify(body: Body) -> str | None:
    value = body.value
    if isinstance(value, dict) and isinstance(value.get("subaccount"), dict):
        return "subaccount"
    if isinstance(value, dict) and isinstance(value.get("markets"), dict):
        return "perpetualMarkets"
    return None


def _market_instrument(market: Body, known: bool) -> dict[str, Any]:
    imf = market.decimal("initialMarginFraction")
    tiers = [
        {
            "floor": "0",
            "max_leverage": plain(
                quantize(div(Decimal(1), imf, rounding=Rounding.FLOOR), LEVERAGE_UNIT, rounding=Rounding.FLOOR)
            ),
            "mmr": plain(market.decimal("maintenanceMarginFraction")),
            "maintenance_amount": "0",
        }
    ]
    scaling = {
        "base_imf": plain(imf),
        "lower_cap": plain(market.optional_decimal("openInterestLowerCap") or ZERO),
        "upper_cap": plain(market.optional_decimal("openInterestUpperCap") or ZERO),
    }
    spec: dict[str, Any] = {"tiers": tiers, "open_interest_imf": scaling}
    if not known:
        ticker = market.text("ticker")
        spec |= {
            "kind": "linear",
            "base_asset": ticker.split("-")[0],
            "quote_asset": "USD",
            "settlement_asset": "USDC",
            "contract_size": "1",
            "tick_size": plain(market.decimal("tickSize")),
            "lot_size": plain(market.decimal("stepSize")),
            "tier_style": "whole_position",
        }
    return spec


def _position(row: Body, oracle: Decimal | None) -> DraftPosition:
    signed = row.decimal("size")
    size = abs(signed)
    entry = row.decimal("entryPrice")
    pnl = row.decimal("unrealizedPnl")
    mark = oracle if oracle is not None else (entry + div(pnl, signed, rounding=Rounding.HALF_EVEN)).normalize()
    return DraftPosition(
        symbol=row.text("market"),
        side="long" if signed > 0 else "short",
        size=size,
        entry_price=entry,
        mark_price=mark,
        reported={"unrealized_pnl": pnl},
        where=f"{row.file}: {row.path}",
    )


def _subaccount(draft: AccountDraft, body: Body, markets: dict[str, Body], rulebook: Rulebook) -> None:
    account = body.get("subaccount")
    usdc = ZERO
    for asset in account.get("assetPositions").value.values() if account.has("assetPositions") else []:
        if asset.get("symbol") == "USDC":
            amount = Decimal(str(asset["size"]))
            usdc += amount if asset.get("side", "LONG") == "LONG" else -amount
    quote_in_positions = ZERO
    for row in account.get("openPerpetualPositions").value:
        position = _position(account.get("openPerpetualPositions").get(row), None)
        market = markets.get(position.symbol)
        if market is not None:
            position.mark_price = market.decimal("oraclePrice")
            draft.instruments[position.symbol] = _market_instrument(
                market, rulebook.find_instrument(position.symbol) is not None
            )
            draft.open_interest[position.symbol] = market.decimal("openInterest") * position.mark_price
        quote_in_positions += (1 if position.side == "long" else -1) * position.size * position.entry_price
        draft.positions.append(position)
    draft.balances["USDC"] = usdc + quote_in_positions
    draft.report_pool(
        "USDC",
        {"margin_balance": account.decimal("equity"), "available_balance": account.decimal("freeCollateral")},
    )
    number = account.value.get("subaccountNumber", 0)
    draft.source(f"GET /v4/addresses/{account.value.get('address', '{address}')}/subaccountNumber/{number}", None)


def build(venue: str, bodies: list[tuple[str, Body]], rulebook: Rulebook) -> AccountDraft:
    draft = AccountDraft(venue)
    markets: dict[str, Body] = {}
    for kind, body in bodies:
        if kind == "perpetualMarkets":
            table = body.get("markets")
            markets.update({name: table.get(name) for name in table.value})
            draft.source("GET /v4/perpetualMarkets", None)
    for kind, body in bodies:
        if kind == "subaccount":
            _subaccount(draft, body, markets, rulebook)
    return draft
