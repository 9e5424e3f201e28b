"""The account snapshot: parsing the account JSON of DESIGN "Interfaces" into frozen inputs.

Every refusal is an :class:`~crossmargin.units.InputError` naming the field
(``positions[1].size: must be positive, got -3``), so the command line can print one line
and exit 2. Unknown keys are refused too: a misspelt ``entryPrice`` must not silently fall
back to something else.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any, NamedTuple

from crossmargin.margin.orders import OpenOrder
from crossmargin.margin.reported import ReportedFigures, parse_reported
from crossmargin.margin.types import MarginMode, Position, PositionSide, Side
from crossmargin.rules import Rulebook, load_rulebook
from crossmargin.rules.overrides import Override, with_instruments
from crossmargin.units import InputError, parse_decimal
from crossmargin.units.jsonio import parse_json, read_json_file

ACCOUNT_KEYS = {
    "venue",
    "note",
    "asset_mode",
    "balances",
    "collateral",
    "prices",
    "open_interest",
    "positions",
    "reported",
    "instruments",
    "open_orders",
}
POSITION_KEYS = {
    "symbol",
    "side",
    "size",
    "entry_price",
    "mark_price",
    "margin_mode",
    "leverage",
    "position_side",
    "isolated_margin",
    "mmr",
    "maintenance_amount",
}


class AccountSnapshot(NamedTuple):
    """A validated account: its venue's rulebook, balances, approved collateral, positions and
    resting orders.

    ``collateral`` is ``None`` when every asset held is approved (the file's default).
    ``reported`` holds the venue's own figures where the account was imported from a venue,
    and ``overrides`` what the account's ``instruments`` changed in the rulebook (whose
    instruments already carry them).
    """

    rulebook: Rulebook
    balances: dict[str, Decimal]
    collateral: frozenset[str] | None
    prices: dict[str, Decimal]
    positions: tuple[Position, ...]
    asset_mode: str = "single"
    reported: ReportedFigures | None = None
    overrides: tuple[Override, ...] = ()
    open_orders: tuple[OpenOrder, ...] = ()

    def approved(self, asset: str) -> bool:
        return self.collateral is None or asset in self.collateral

    def __repr__(self) -> str:
        """One line: the rulebook inside holds every instrument's tiers."""
        balances = ", ".join(f"{asset} {value}" for asset, value in self.balances.items())
        return (
            f"AccountSnapshot({self.rulebook.venue}@{self.rulebook.data.as_of}, {self.asset_mode} asset mode, "
            f"balances {{{balances}}}, {len(self.positions)} positions)"
        )


def account_from_json(text: str | bytes, *, source: str) -> AccountSnapshot:
    """Parse account JSON text (numbers kept as exact decimals); ``source`` names it in errors.

    The reading is strict (:mod:`crossmargin.units.jsonio`): UTF-8, every key once, no NaN,
    bounded nesting, so a key given twice cannot silently replace the first.
    """
    return parse_account(parse_json(text, source=source))


def load_account(path: str | Path) -> AccountSnapshot:
    """Read and validate an account file; a truncated or malformed file is an InputError."""
    return parse_account(read_json_file(path))


def _mapping(raw: object, field: str) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise InputError(field, "must be an object")
    return raw


def _unknown_keys(raw: dict[str, Any], allowed: set[str], field: str) -> None:
    unknown = sorted(set(raw) - allowed)
    if unknown:
        raise InputError(f"{field}{unknown[0]}" if field else unknown[0], "is not a known key")


def parse_account(raw: object) -> AccountSnapshot:
    """Validate a parsed account object (docs/interfaces.md)."""
    account = _mapping(raw, "account")
    _unknown_keys(account, ACCOUNT_KEYS, "")
    if not isinstance(account.get("note", ""), str):
        raise InputError("note", "must be text")
    venue = account.get("venue")
    if not isinstance(venue, str) or not venue:
        raise InputError("venue", "is missing" if venue is None else "must be a venue name")
    rulebook, overrides = with_instruments(load_rulebook(venue), account.get("instruments"))
    balances = {
        str(asset): parse_decimal(value, field=f"balances.{asset}")
        for asset, value in _mapping(account.get("balances", {}), "balances").items()
    }
    prices = {
        str(asset): parse_decimal(value, field=f"prices.{asset}", positive=True)
        for asset, value in _mapping(account.get("prices", {}), "prices").items()
    }
    collateral = _collateral(account.get("collateral"))
    raw_positions = account.get("positions", [])
    if not isinstance(raw_positions, list):
        raise InputError("positions", "must be a list")
    positions = tuple(_position(rulebook, item, f"positions[{i}]") for i, item in enumerate(raw_positions))
    _check_position_set(positions)
    positions = _with_open_interest(rulebook, positions, account.get("open_interest", {}))
    asset_mode = _choice(account, "asset_mode", "account", ("single", "multi"), rulebook.conventions.asset_mode)
    reported = _reported(rulebook, account.get("reported"), positions)
    orders = _open_orders(rulebook, account.get("open_orders", []), positions)
    return AccountSnapshot(rulebook, balances, collateral, prices, positions, asset_mode, reported, overrides, orders)


def _reported(rulebook: Rulebook, raw: object, positions: tuple[Position, ...]) -> ReportedFigures | None:
    """The venue's figures, each reported position matched to a position of the account."""
    reported = parse_reported(raw, lambda symbol, field: rulebook.instrument(symbol, field_name=field).symbol)
    if reported is None:
        return None
    held = {(p.symbol, p.position_side.value, p.margin_mode.value) for p in positions}
    for index, key in enumerate(reported.positions):
        if key not in held:
            raise InputError(f"reported.positions[{index}]", f"matches no position ({' '.join(key)})")
    return reported


def _with_open_interest(rulebook: Rulebook, positions: tuple[Position, ...], raw: object) -> tuple[Position, ...]:
    """Attach each market's open interest (notional) to its positions, for OI-scaled IMF."""
    by_symbol: dict[str, Decimal] = {}
    for symbol, value in _mapping(raw, "open_interest").items():
        instrument = rulebook.instrument(str(symbol), field_name=f"open_interest.{symbol}")
        by_symbol[instrument.symbol] = parse_decimal(value, field=f"open_interest.{symbol}", non_negative=True)
    if not by_symbol:
        return positions
    return tuple(p.with_open_interest(by_symbol[p.symbol]) if p.symbol in by_symbol else p for p in positions)


def _collateral(raw: object) -> frozenset[str] | None:
    if raw is None:
        return None
    if not isinstance(raw, list) or not all(isinstance(a, str) and a for a in raw):
        raise InputError("collateral", "must be a list of asset names")
    return frozenset(raw)


def _choice(raw: dict[str, Any], key: str, field: str, options: tuple[str, ...], default: str | None) -> str:
    value = raw.get(key, default)
    name = key if field == "account" else f"{field}.{key}"
    if value is None:
        raise InputError(name, "is missing")
    if value not in options:
        raise InputError(name, f"must be one of {', '.join(options)}, got {value!r}")
    return str(value)


def _position(rulebook: Rulebook, raw_item: object, field: str) -> Position:
    raw = _mapping(raw_item, field)
    _unknown_keys(raw, POSITION_KEYS, f"{field}.")
    symbol = raw.get("symbol")
    if not isinstance(symbol, str):
        raise InputError(f"{field}.symbol", "is missing")
    instrument = rulebook.instrument(symbol, field_name=f"{field}.symbol")
    side = Side(_choice(raw, "side", field, ("long", "short"), None))
    mode = MarginMode(_choice(raw, "margin_mode", field, ("cross", "isolated"), "cross"))
    position_side = PositionSide(_choice(raw, "position_side", field, ("both", "long", "short"), "both"))
    if position_side is not PositionSide.BOTH and position_side.value != side.value:
        raise InputError(f"{field}.position_side", f"{position_side.value} leg cannot be {side.value}")

    def number(key: str, **checks: bool) -> Decimal:
        return parse_decimal(raw.get(key), field=f"{field}.{key}", **checks)

    isolated_margin = None
    if mode is MarginMode.ISOLATED:
        if "isolated_margin" not in raw:
            raise InputError(f"{field}.isolated_margin", "is required for margin_mode isolated")
        isolated_margin = number("isolated_margin", non_negative=True)
    elif "isolated_margin" in raw:
        raise InputError(f"{field}.isolated_margin", "applies only to margin_mode isolated")
    if "maintenance_amount" in raw and "mmr" not in raw:
        raise InputError(f"{field}.maintenance_amount", "needs mmr beside it")
    if not instrument.tiers and "mmr" not in raw:
        raise InputError(f"{field}.mmr", f"is required: the rulebook publishes no tiers for {instrument.symbol}")
    leverage = number("leverage", positive=True) if "leverage" in raw else rulebook.conventions.default_leverage
    highest = instrument.tiers[0].max_leverage if instrument.tiers else None
    if "leverage" in raw and highest is not None and leverage > highest:
        raise InputError(f"{field}.leverage", f"{leverage} is above {instrument.symbol}'s maximum of {highest}")
    mmr = number("mmr", non_negative=True) if "mmr" in raw else None
    if mmr is not None and mmr >= 1:
        raise InputError(f"{field}.mmr", f"is a rate below 1 (0.005 is 0.5 %), got {mmr}")
    return Position(
        instrument=instrument,
        side=side,
        size=number("size", positive=True),
        entry_price=number("entry_price", positive=True),
        mark_price=number("mark_price", positive=True),
        margin_mode=mode,
        leverage=leverage,
        position_side=position_side,
        isolated_margin=isolated_margin,
        mmr_override=mmr,
        maintenance_amount_override=(
            number("maintenance_amount", non_negative=True) if "maintenance_amount" in raw else None
        ),
    )


def _check_position_set(positions: tuple[Position, ...]) -> None:
    """One position per (symbol, leg, mode); one-way and hedge legs never mix on a symbol."""
    seen: dict[tuple[str, PositionSide, MarginMode], int] = {}
    modes: dict[str, set[bool]] = {}
    for index, position in enumerate(positions):
        key = (position.symbol, position.position_side, position.margin_mode)
        if key in seen:
            raise InputError(
                f"positions[{index}]",
                f"duplicates positions[{seen[key]}] ({position.symbol} {position.position_side.value})",
            )
        seen[key] = index
        hedged = position.position_side is not PositionSide.BOTH
        modes.setdefault(position.symbol, set()).add(hedged)
        if len(modes[position.symbol]) > 1:
            raise InputError(f"positions[{index}].position_side", "mixes one-way and hedge legs on a symbol")


ORDER_KEYS = {"symbol", "side", "size", "price", "reduce_only", "position_side", "margin_mode", "leverage"}


def _open_orders(rulebook: Rulebook, raw: object, positions: tuple[Position, ...]) -> tuple[OpenOrder, ...]:
    """The account's resting limit orders (``open_orders``): each one on the leg its ``position_side``
    and ``margin_mode`` name, at the leverage of that leg's position (else its own ``leverage``,
    else the venue's default)."""
    if not isinstance(raw, list):
        raise InputError("open_orders", "must be a list")
    orders = []
    for index, item in enumerate(raw):
        field = f"open_orders[{index}]"
        order = _mapping(item, field)
        _unknown_keys(order, ORDER_KEYS, f"{field}.")
        symbol = order.get("symbol")
        if not isinstance(symbol, str):
            raise InputError(f"{field}.symbol", "is missing")
        instrument = rulebook.instrument(symbol, field_name=f"{field}.symbol")
        side = Side.LONG if _choice(order, "side", field, ("buy", "sell"), None) == "buy" else Side.SHORT
        mode = MarginMode(_choice(order, "margin_mode", field, ("cross", "isolated"), "cross"))
        position_side = PositionSide(_choice(order, "position_side", field, ("both", "long", "short"), "both"))
        reduce_only = order.get("reduce_only", False)
        if not isinstance(reduce_only, bool):
            raise InputError(f"{field}.reduce_only", "must be true or false")
        leg = [
            p
            for p in positions
            if (p.symbol, p.position_side, p.margin_mode) == (instrument.symbol, position_side, mode)
        ]
        if "leverage" in order:
            leverage = parse_decimal(order["leverage"], field=f"{field}.leverage", positive=True)
        else:
            leverage = leg[0].leverage if leg else rulebook.conventions.default_leverage
        size = parse_decimal(order.get("size"), field=f"{field}.size", positive=True)
        price = parse_decimal(order.get("price"), field=f"{field}.price", positive=True)
        orders.append(OpenOrder(instrument, side, size, price, leverage, mode, position_side, reduce_only))
    return tuple(orders)
