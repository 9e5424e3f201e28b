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


def read_ccxt_json(path: Path, field: str) -> Any:
    """Read a ccxt dump, keeping every number as the decimal text it was written as."""
    try:
        return json.loads(path.read_text(encoding="utf-8"), parse_float=Decimal, parse_int=Decimal)
    except OSError as error:
        raise InputError(field, f"cannot read {path} ({error.strerror})") from None
    except json.JSONDecodeError as error:
        raise InputError(field, f"{path} is not valid JSON ({error.msg} at line {error.lineno})") from None


def _number(value: Any, field: str) -> Decimal:
    return parse_decimal(str(value) if isinstance(value, Decimal) else value, field=field)


def _plain(value: Decimal) -> str:
    text = format(value.normalize(), "f")
    return text


def guess_template(markets: list[dict[str, Any]]) -> str:
    """Which shipped rulebook's conventions fit: Binance USD-M or COIN-M, else generic."""
    infos = [m.get("info") or {} for m in markets]
    if infos and all("marginAsset" in info for info in infos):
        return "binance-coinm" if all(m.get("inverse") for m in markets) else "binance-usdm"
    return "generic"


def _first(*values: Any) -> Any:
    return next((value for value in values if value is not None), None)


def _tiers(symbol: str, raw_tiers: list[dict[str, Any]]) -> list[dict[str, str]]:
    """Tier rows from ccxt entries; the venue's raw ``info`` strings win over ccxt's floats."""
    parsed: list[tuple[Decimal, Decimal, Decimal, Decimal, Decimal | None]] = []
    for index, tier in enumerate(raw_tiers):
        info = tier.get("info") or {}
        where = f"tiers.{symbol}[{index}]"
        cum = info.get("cum")
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
                None if cum is None else _number(cum, f"{where}.info.cum"),
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


def _instrument(market: dict[str, Any], raw_tiers: list[dict[str, Any]], template: Rulebook) -> dict[str, Any]:
    symbol = str(market.get("symbol"))
    field = f"markets.{symbol}"
    precision = market.get("precision") or {}
    info = market.get("info") or {}
    kind = "inverse" if market.get("inverse") else "linear"
    entry: dict[str, Any] = {
        "symbol": str(market.get("id")),
        "ccxt_symbol": symbol,
        "kind": kind,
        "contract_type": "future" if market.get("type") == "future" else "perpetual",
        "base_asset": str(market.get("base")),
        "quote_asset": str(market.get("quote")),
        "settlement_asset": str(market.get("settle")),
        "contract_size": _plain(_number(market.get("contractSize") or 1, f"{field}.contractSize")),
        "tick_size": _plain(_number(precision.get("price"), f"{field}.precision.price")),
        "lot_size": _plain(_number(precision.get("amount"), f"{field}.precision.amount")),
        "maker_fee": _plain(_number(market.get("maker"), f"{field}.maker")),
        "taker_fee": _plain(_number(market.get("taker"), f"{field}.taker")),
        "tier_basis": "notional",
        "tier_style": "marginal",
        "tiers": _tiers(symbol, raw_tiers),
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
    chosen = [m for m in markets if isinstance(m, dict) and m.get("symbol") in tiers and m.get("contract")]
    if not chosen:
        raise InputError("TIERS", "names no contract market of MARKETS")
    template_name = template or guess_template(chosen)
    base = load_rulebook(template_name)
    instruments = [_instrument(m, tiers[m["symbol"]], base) for m in chosen]
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
