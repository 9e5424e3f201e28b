"""What the venue itself reported for an account, and how it compares with our own figures.

An imported account keeps the venue's figures (liquidation prices, margins, ratios) under its
``reported`` key. They are never inputs to the computation: they are the reference our own
figures are checked against. A figure *agrees* when the two differ by no more than the sum of
their rounding units: the unit of the venue's last printed digit (Binance truncates to 1e-8,
Hyperliquid prints the unrounded root) plus the unit of our own rounded figure (a tick, the
asset's smallest unit, 1e-8 for ratios). Anything further apart is a disagreement the user
must see: either our bug or a stale or misreported venue figure.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any, NamedTuple

from crossmargin.units import InputError, parse_decimal, to_decimal_string

#: Figures a venue reports per position, named as in ``evaluate --json``.
POSITION_FIGURES = (
    "liquidation_price",
    "bankruptcy_price",
    "notional",
    "unrealized_pnl",
    "initial_margin",
    "maintenance_margin",
    "margin_ratio",
    "isolated_margin",
    "margin_balance",
)
#: Figures a venue reports per cross pool (per settlement asset, or ``USD`` for one pool).
POOL_FIGURES = (
    "wallet_balance",
    "unrealized_pnl",
    "margin_balance",
    "initial_margin",
    "maintenance_margin",
    "margin_ratio",
    "available_balance",
    "max_withdrawable",
)
PositionKey = tuple[str, str, str]  # (native symbol, position side, margin mode)


class ReportSource(NamedTuple):
    """One response the figures came from: its endpoint and, where it says, its time."""

    endpoint: str
    time: str | None


class ReportedFigures(NamedTuple):
    """The venue's figures, each as the exact decimal it printed (``None``: it reported none)."""

    sources: tuple[ReportSource, ...]
    pools: dict[str, dict[str, Decimal | None]]
    positions: dict[PositionKey, dict[str, Decimal | None]]


def _figures(raw: dict[str, Any], allowed: tuple[str, ...], keys: set[str], field: str) -> dict[str, Decimal | None]:
    unknown = sorted(set(raw) - set(allowed) - keys)
    if unknown:
        raise InputError(f"{field}.{unknown[0]}", "is not a figure the comparison knows")
    return {
        name: None if raw[name] is None else parse_decimal(raw[name], field=f"{field}.{name}")
        for name in allowed
        if name in raw
    }


def _sources(raw: object) -> tuple[ReportSource, ...]:
    if not isinstance(raw, list):
        raise InputError("reported.sources", "must be a list of {endpoint, time}")
    sources = []
    for index, item in enumerate(raw):
        field = f"reported.sources[{index}]"
        if not isinstance(item, dict) or not isinstance(item.get("endpoint"), str):
            raise InputError(f"{field}.endpoint", "is missing")
        if set(item) - {"endpoint", "time"}:
            raise InputError(f"{field}.{sorted(set(item) - {'endpoint', 'time'})[0]}", "is not a known key")
        time = item.get("time")
        if time is not None and not isinstance(time, str):
            raise InputError(f"{field}.time", "must be text (ISO 8601)")
        sources.append(ReportSource(item["endpoint"], time))
    return tuple(sources)


def parse_reported(raw: object, native_symbol: Callable[[str, str], str]) -> ReportedFigures | None:
    """Validate an account's ``reported`` key; ``native_symbol(symbol, field)`` resolves names."""
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise InputError("reported", "must be an object")
    unknown = sorted(set(raw) - {"sources", "pools", "positions"})
    if unknown:
        raise InputError(f"reported.{unknown[0]}", "is not a known key")
    pools: dict[str, dict[str, Decimal | None]] = {}
    for index, item in enumerate(_list(raw.get("pools", []), "reported.pools")):
        field = f"reported.pools[{index}]"
        asset = item.get("settlement_asset")
        if not isinstance(asset, str) or not asset:
            raise InputError(f"{field}.settlement_asset", "is missing")
        if asset in pools:
            raise InputError(f"{field}.settlement_asset", f"{asset} is given twice")
        pools[asset] = _figures(item, POOL_FIGURES, {"settlement_asset"}, field)
    positions: dict[PositionKey, dict[str, Decimal | None]] = {}
    for index, item in enumerate(_list(raw.get("positions", []), "reported.positions")):
        field = f"reported.positions[{index}]"
        symbol = item.get("symbol")
        if not isinstance(symbol, str):
            raise InputError(f"{field}.symbol", "is missing")
        key = (
            native_symbol(symbol, f"{field}.symbol"),
            str(item.get("position_side", "both")),
            str(item.get("margin_mode", "cross")),
        )
        if key in positions:
            raise InputError(field, f"reports {symbol} {key[1]} {key[2]} twice")
        positions[key] = _figures(item, POSITION_FIGURES, {"symbol", "position_side", "margin_mode"}, field)
    return ReportedFigures(_sources(raw.get("sources", [])), pools, positions)


def _list(raw: object, field: str) -> list[dict[str, Any]]:
    if not isinstance(raw, list) or not all(isinstance(item, dict) for item in raw):
        raise InputError(field, "must be a list of objects")
    return raw


def _unit(value: Decimal) -> Decimal:
    """The unit of a printed figure's last digit (``0.19059204`` -> ``0.00000001``)."""
    exponent = value.as_tuple().exponent
    assert isinstance(exponent, int)
    return Decimal(1).scaleb(exponent)


def compare_figure(
    venue: Decimal | None, own_text: str | None, own_step: Decimal = Decimal(0), inputs: Decimal = Decimal(0)
) -> dict[str, Any]:
    """One figure side by side: both values, own minus venue, the tolerance and the verdict.

    ``own_step`` is the coarsest unit our figure may have been rounded to (a price's tick,
    whose printed form can carry a trailing zero finer than the tick); ``inputs`` what the
    rounding of the venue's printed inputs can move it by (a price moves by the margin's last
    unit over the position's size).
    """
    own = None if own_text is None else Decimal(own_text)
    if venue is None or own is None:
        agrees = venue is None and own is None
        return {
            "venue": to_decimal_string(venue),
            "own": own_text,
            "difference": None,
            "tolerance": None,
            "agrees": agrees,
        }
    tolerance = _unit(venue) + max(_unit(own) if own != 0 else _unit(venue), own_step) + inputs
    difference = own - venue
    return {
        "venue": format(venue, "f"),
        "own": own_text,
        "difference": to_decimal_string(difference),
        "tolerance": to_decimal_string(tolerance),
        "agrees": abs(difference) <= tolerance,
    }


def compare_block(
    reported: dict[str, Decimal | None],
    own: dict[str, Any],
    steps: dict[str, Decimal] | None = None,
    inputs: dict[str, Decimal] | None = None,
) -> dict[str, dict[str, Any]]:
    """Every reported figure that our document also has, compared (venue order kept)."""
    steps = steps or {}
    inputs = inputs or {}
    return {
        name: compare_figure(value, own[name], steps.get(name, Decimal(0)), inputs.get(name, Decimal(0)))
        for name, value in reported.items()
        if name in own
    }
