"""An account's own instrument parameters laid over its venue's rulebook.

A venue's response can carry parameters that differ from the shipped snapshot: the account's
current leverage brackets (Binance ``leverageBracket``), an asset's max leverage today
(Hyperliquid), a market's margin fractions (dYdX). Those are the venue's figures for this
account now, so they win. Each override is a *partial instrument in the rulebook's own
format*: ``symbol`` plus any top-level keys of :class:`~crossmargin.rules.schema.Instrument`,
each replacing the rulebook's value whole. The merged instrument goes through the same
pydantic model and consistency checks as a rulebook file, so a bracket table that breaks the
maintenance-amount recursion is refused exactly as it would be in a rulebook.

A symbol the rulebook does not list is accepted only when the override defines a whole
instrument (kind, assets, contract size, tick, lot and tiers).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from crossmargin.rules.registry import Rulebook, parse_rulebook
from crossmargin.rules.schema import Instrument
from crossmargin.units import InputError


@dataclass(frozen=True, slots=True)
class Override:
    """One rulebook value an account replaced: ``rulebook`` is ``None`` for a symbol the
    rulebook does not list (the whole instrument came from the account)."""

    symbol: str
    key: str
    rulebook: Any
    account: Any


def _validated(raw: dict[str, Any], field: str) -> Instrument:
    try:
        return Instrument.model_validate(raw)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        message = str(first["msg"]).removeprefix("Value error, ")
        raise InputError(f"{field}.{where}" if where else field, message) from None


def _merged(rulebook: Rulebook, raw: dict[str, Any], field: str) -> tuple[Instrument, list[Override]]:
    symbol = raw["symbol"]
    base = rulebook.find_instrument(symbol)
    if base is None:
        missing = sorted(
            name for name, spec in Instrument.model_fields.items() if spec.is_required() and name not in raw
        )
        if missing or not raw.get("tiers"):
            lacking = ", ".join([*missing, *([] if raw.get("tiers") else ["tiers"])])
            raise InputError(
                f"{field}.symbol",
                f"unknown symbol {symbol!r} for venue {rulebook.venue}, and the account does not define it"
                f" (missing {lacking})",
            )
        instrument = _validated(raw, field)
        return instrument, [Override(instrument.symbol, "instrument", None, "defined by the account")]
    current = base.model_dump(mode="json")
    merged = {**current, **{key: value for key, value in raw.items() if key != "symbol"}, "symbol": base.symbol}
    instrument = _validated(merged, field)
    after = instrument.model_dump(mode="json")
    changes = [
        Override(base.symbol, key, current[key], after[key])
        for key in raw
        if key != "symbol" and current.get(key) != after.get(key)
    ]
    return instrument, changes


def with_instruments(rulebook: Rulebook, raw: object) -> tuple[Rulebook, tuple[Override, ...]]:
    """The rulebook with an account's ``instruments`` laid over it, and what they changed.

    ``raw`` is the account's list of partial instruments; the result keeps the venue's name
    and conventions. With nothing changed the rulebook itself is returned.
    """
    if raw is None:
        return rulebook, ()
    if not isinstance(raw, list):
        raise InputError("instruments", "must be a list of partial instruments")
    replaced: dict[str, Instrument] = {}
    added: list[Instrument] = []
    changes: list[Override] = []
    for index, item in enumerate(raw):
        field = f"instruments[{index}]"
        if not isinstance(item, dict):
            raise InputError(field, "must be an object")
        if not isinstance(item.get("symbol"), str) or not item["symbol"]:
            raise InputError(f"{field}.symbol", "is missing")
        instrument, found = _merged(rulebook, item, field)
        if instrument.symbol in replaced or any(a.symbol == instrument.symbol for a in added):
            raise InputError(f"{field}.symbol", f"{instrument.symbol} is given twice")
        if rulebook.find_instrument(instrument.symbol) is None:
            added.append(instrument)
        else:
            replaced[instrument.symbol] = instrument
        changes.extend(found)
    if not changes:
        return rulebook, ()
    instruments = [replaced.get(i.symbol, i) for i in rulebook.data.instruments] + added
    data = rulebook.data.model_dump(mode="json")
    data["instruments"] = [i.model_dump(mode="json") for i in instruments]
    assets = set(data["assets"])
    for instrument in added:
        if instrument.settlement_asset not in assets:
            raise InputError(
                "instruments",
                f"{instrument.symbol} settles in {instrument.settlement_asset}, which venue {rulebook.venue} does not"
                " list",
            )
    return parse_rulebook(data, origin=f"{rulebook.source_path} with the account's instruments"), tuple(changes)
