"""Turning ccxt's ``fetch_markets()`` and ``fetch_leverage_tiers()`` output into a rulebook.

ccxt writes its numbers as JSON floats; they are read back as the decimal text ccxt printed
(``0.004`` stays ``0.004``), and the venue's raw strings in each entry's ``info`` are
preferred where the venue gives them (Binance's ``cum``, ``notionalFloor``). A maintenance
amount the venue does not publish is derived from the continuity recursion, and the
rulebook's sources say so.
"""

from __future__ import annotations

import datetime
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

from crossmargin.rules.checks import next_maintenance_amount
from crossmargin.rules.registry import Rulebook, load_rulebook, parse_rulebook
from crossmargin.units import InputError, exact_context, parse_decimal
from crossmargin.units.jsonio import read_json_file


def read_ccxt_json(path: Path, field: str) -> Any:
    """Read a ccxt dump strictly, keeping every number as the decimal text it was written as."""
    return read_json_file(path, source=f"{field} {path}", parse_int=Decimal)


def _number(value: Any, field: str) -> Decimal:
    return parse_decimal(str(value) if isinstance(value, Decimal) else value, field=field)


def _plain(value: Decimal) -> str:
    text = format(value.normalize(), "f")
    return text


def guess_template(markets: list[dict[str, Any]]) -> str:
    """Which venue's ccxt output this is, by the keys of its raw ``info`` (else generic)."""
    infos = [m.get("info") or {} for m in markets]
    if not infos:
        return "generic"
    if all("marginAsset" in info for info in infos):
        return "binance-coinm" if all(m.get("inverse") for m in markets) else "binance-usdm"
    for key, venue in (("instId", "okx"), ("szDecimals", "hyperliquid"), ("leverageFilter", "bybit")):
        if all(key in info for info in infos):
            return venue
    return "generic"


def _first(*values: Any) -> Any:
    return next((value for value in values if value is not None), None)


def _marginal_tiers(symbol: str, raw_tiers: list[dict[str, Any]]) -> list[dict[str, str]]:
    """Binance and Bybit tier rows; the venue's raw ``info`` strings win over ccxt's floats."""
    parsed: list[tuple[Decimal, Decimal, Decimal, Decimal, Decimal | None]] = []
    for index, tier in enumerate(raw_tiers):
        info = tier.get("info") or {}
        where = f"tiers.{symbol}[{index}]"
        cum = _first(info.get("cum"), info.get("mmDeduction"))
        parsed.append(
            (
                _number(
                    _first(info.get("notionalFloor"), info.get("qtyFloor"), tier.get("minNotional")),
                    f"{where}.minNotional",
                ),
                _number(
                    _first(info.get("notionalCap"), info.get("qtyCap"), tier.get("maxNotional")), f"{where}.maxNotional"
                ),
                _number(_first(info.get("initialLeverage"), tier.get("maxLeverage")), f"{where}.maxLeverage"),
                _number(
                    _first(info.get("maintMarginRatio"), tier.get("maintenanceMarginRate")),
                    f"{where}.maintenanceMarginRate",
                ),
                None if cum in (None, "") else _number(cum, f"{where}.info.cum"),
            )
        )
    parsed.sort(key=lambda row: row[0])
    rows = []
    previous: tuple[Decimal, Decimal] | None = None  # (mmr, amount) of the tier below
    with exact_context():
        for floor, cap, leverage, mmr, given in parsed:
            amount = given
            if amount is None:  # not published: derive it by the continuity recursion
                amount = (
                    Decimal(0) if previous is None else next_maintenance_amount(previous[1], floor, mmr, previous[0])
                )
            previous = (mmr, amount)
            rows.append(
                {
                    "floor": _plain(floor),
                    "cap": _plain(cap),
                    "max_leverage": _plain(leverage),
                    "mmr": _plain(mmr),
                    "maintenance_amount": _plain(amount),
                }
            )
    return rows


def _okx_tiers(symbol: str, raw_tiers: list[dict[str, Any]]) -> list[dict[str, str]]:
    """OKX tiers: sizes in contracts, minSz..maxSz inclusive, the rate on the whole position."""
    rows: list[dict[str, str]] = []
    ordered = sorted(
        raw_tiers, key=lambda t: _number(_first((t.get("info") or {}).get("minSz"), t.get("minNotional")), "minSz")
    )
    previous_cap = Decimal(0)
    for index, tier in enumerate(ordered):
        info = tier.get("info") or {}
        where = f"tiers.{symbol}[{index}]"
        cap = _number(_first(info.get("maxSz"), tier.get("maxNotional")), f"{where}.maxSz")
        rows.append(
            {
                "floor": _plain(previous_cap),
                "cap": _plain(cap),
                "max_leverage": _plain(
                    _number(_first(info.get("maxLever"), tier.get("maxLeverage")), f"{where}.maxLever")
                ),
                "mmr": _plain(_number(_first(info.get("mmr"), tier.get("maintenanceMarginRate")), f"{where}.mmr")),
            }
        )
        previous_cap = cap
    return rows


def _tier_fields(venue: str, market: dict[str, Any], symbol: str, raw_tiers: list[dict[str, Any]]) -> dict[str, Any]:
    """The tier block of an instrument in the venue's own terms."""
    if venue == "okx":
        return {
            "tier_basis": "contracts",
            "tier_style": "whole_position",
            "tier_boundary": "cap_inclusive",
            "tiers": _okx_tiers(symbol, raw_tiers),
        }
    if venue == "hyperliquid" and not raw_tiers:
        # ccxt has no tier call for Hyperliquid: one tier at the market's max leverage, MMR 1/(2L)
        leverage = _number((market.get("info") or {}).get("maxLeverage"), f"markets.{symbol}.info.maxLeverage")
        return {
            "tier_basis": "notional",
            "tier_style": "marginal",
            "maintenance_from_max_leverage": True,
            "tiers": [{"floor": "0", "max_leverage": _plain(leverage)}],
        }
    return {"tier_basis": "notional", "tier_style": "marginal", "tiers": _marginal_tiers(symbol, raw_tiers)}


def _native_symbol(venue: str, market: dict[str, Any]) -> str:
    info = market.get("info") or {}
    if venue == "hyperliquid" and info.get("name"):
        return str(info["name"])  # ccxt numbers Hyperliquid markets; the venue names them
    return str(market.get("id"))


def _instrument(market: dict[str, Any], raw_tiers: list[dict[str, Any]], venue: str) -> dict[str, Any]:
    symbol = str(market.get("symbol"))
    field = f"markets.{symbol}"
    precision = market.get("precision") or {}
    info = market.get("info") or {}
    kind = "inverse" if market.get("inverse") else "linear"
    contract_size = _number(market.get("contractSize") or 1, f"{field}.contractSize")
    lot = _number(precision.get("amount"), f"{field}.precision.amount")
    if kind == "linear" and venue == "okx":
        lot = lot * contract_size  # OKX lots are contracts; linear sizes here are base units
    entry: dict[str, Any] = {
        "symbol": _native_symbol(venue, market),
        "ccxt_symbol": symbol,
        "kind": kind,
        "contract_type": "future" if market.get("type") == "future" else "perpetual",
        "base_asset": str(market.get("base")),
        "quote_asset": str(market.get("quote")),
        "settlement_asset": str(market.get("settle")),
        "contract_size": _plain(contract_size),
        "tick_size": _plain(_number(precision.get("price"), f"{field}.precision.price")),
        "lot_size": _plain(lot),
        "maker_fee": _plain(_number(market.get("maker"), f"{field}.maker")),
        "taker_fee": _plain(_number(market.get("taker"), f"{field}.taker")),
        **_tier_fields(venue, market, symbol, raw_tiers),
    }
    if "liquidationFee" in info:
        entry["liquidation_fee"] = _plain(_number(info["liquidationFee"], f"{field}.info.liquidationFee"))
    if entry["contract_type"] == "future":
        expiry = market.get("expiryDatetime")
        if expiry is None:
            raise InputError(f"{field}.expiryDatetime", "is missing for a future")
        entry["expiry"] = str(expiry)
    return entry


def rulebook_from_ccxt(
    markets: Any, tiers: Any, *, name: str, as_of: datetime.date, origin: str, template: str | None = None
) -> tuple[dict[str, Any], Rulebook]:
    """Build rulebook data (and its validated form) from ccxt markets and leverage tiers."""
    if not isinstance(markets, list) or not markets:
        raise InputError("MARKETS", "must be the non-empty list that fetch_markets() returns")
    if not isinstance(tiers, dict):
        raise InputError("TIERS", "must be the mapping that fetch_leverage_tiers() returns")
    contracts = [m for m in markets if isinstance(m, dict) and m.get("contract")]
    template_name = template or guess_template(contracts)
    # Hyperliquid has no tier call in ccxt: an empty TIERS imports every market at its max leverage.
    chosen = [m for m in contracts if m.get("symbol") in tiers or (not tiers and template_name == "hyperliquid")]
    if not chosen:
        raise InputError("TIERS", "names no contract market of MARKETS")
    base = load_rulebook(template_name)
    venue = template_name.split("-")[0] if template_name.startswith("binance") else template_name
    instruments = [_instrument(m, tiers.get(m["symbol"], []), venue) for m in chosen]
    settle_assets = sorted({i["settlement_asset"] for i in instruments})
    data = {
        "venue": name,
        "title": f"{name} (imported from ccxt)",
        "as_of": as_of.isoformat(),
        "sources": [
            f"ccxt fetch_markets() and fetch_leverage_tiers() output in {origin}",
            f"account conventions taken from the shipped {base.venue} rulebook (as of {base.data.as_of})",
        ],
        "omissions": [
            "funding schedule: ccxt market data does not carry it; add a funding block per instrument",
            "maintenance amounts not given by the venue are derived from the continuity recursion",
        ],
        "conventions": base.data.conventions.model_dump(mode="json"),
        "assets": {asset: {"decimals": 8} for asset in settle_assets},
        "collateral": [{"asset": asset} for asset in settle_assets],
        "instruments": instruments,
    }
    return data, parse_rulebook(json.loads(json.dumps(data)), origin=origin)
