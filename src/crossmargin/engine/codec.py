"""Commands and results as plain JSON-ready dicts, for the store, scenario files and the API.

Decimals travel as decimal strings, enums as their values. Decoding validates like the
account parser does: an unknown kind or field, a malformed number or a missing value is an
:class:`InputError` naming the field, never a traceback.
"""

from __future__ import annotations

import dataclasses
import enum
import types
import typing
from decimal import Decimal
from typing import Any

from crossmargin.engine import commands as c
from crossmargin.units import InputError, parse_decimal

COMMAND_TYPES: dict[str, type[c.Command]] = {
    cls.__name__: cls
    for cls in (
        c.Deposit,
        c.Withdraw,
        c.TransferMargin,
        c.SetLeverage,
        c.SetMarginMode,
        c.ApproveCollateral,
        c.PlaceOrder,
        c.CancelOrder,
        c.MarketUpdate,
        c.SettleFunding,
        c.DepthUpdate,
        c.Stake,
        c.Unstake,
        c.SetAssetMode,
        c.AssetPrice,
        c.ImportPosition,
        c.MarksUpdate,
        c.ImportBalance,
    )
}
#: snake_case names accepted in scenario files and the API (``place_order`` for PlaceOrder).
KIND_ALIASES = {
    "".join("_" + ch.lower() if ch.isupper() else ch for ch in name).lstrip("_"): name for name in COMMAND_TYPES
}


def _plain(value: object) -> object:
    if isinstance(value, tuple):
        return [_plain(item) for item in value]
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, enum.Enum):
        return value.value
    return value


def encode_command(command: c.Command) -> dict[str, Any]:
    """``{"kind": ..., "command_id": ..., <fields>}`` with decimal strings."""
    body: dict[str, Any] = {"kind": command.kind}
    for field in dataclasses.fields(command):
        body[field.name] = _plain(getattr(command, field.name))
    return body


def _field_types(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _decode_levels(raw: object, field: str) -> tuple[tuple[Decimal, Decimal], ...]:
    if not isinstance(raw, list):
        raise InputError(field, "must be a list of [price, quantity] pairs")
    levels = []
    for index, pair in enumerate(raw):
        if not isinstance(pair, list) or len(pair) != 2:
            raise InputError(f"{field}[{index}]", "must be a [price, quantity] pair")
        price = parse_decimal(pair[0], field=f"{field}[{index}].price", positive=True)
        quantity = parse_decimal(pair[1], field=f"{field}[{index}].quantity", positive=True)
        levels.append((price, quantity))
    return tuple(levels)


def _decode_marks(raw: object, field: str) -> tuple[tuple[str, Decimal], ...]:
    if not isinstance(raw, list) or not raw:
        raise InputError(field, "must be a non-empty list of [symbol, price] pairs")
    pairs = []
    for index, pair in enumerate(raw):
        if not isinstance(pair, list) or len(pair) != 2 or not isinstance(pair[0], str) or not pair[0]:
            raise InputError(f"{field}[{index}]", "must be a [symbol, price] pair")
        pairs.append((pair[0], parse_decimal(pair[1], field=f"{field}[{index}].price", positive=True)))
    return tuple(pairs)


def _decode_value(name: str, raw: object, annotation: Any, where: str) -> object:
    field = f"{where}.{name}"
    optional = typing.get_origin(annotation) in (typing.Union, types.UnionType) and type(None) in typing.get_args(
        annotation
    )
    if optional:
        if raw is None:
            return None
        annotation = next(a for a in typing.get_args(annotation) if a is not type(None))
    if annotation is Decimal:
        return parse_decimal(raw, field=field)
    if typing.get_origin(annotation) is tuple:
        inner = typing.get_args(annotation)[0]
        if typing.get_args(inner)[0] is str:  # marks: [[symbol, price], ...]
            return _decode_marks(raw, field)
        return _decode_levels(raw, field)  # depth levels: [[price, quantity], ...]
    if annotation is int:
        if isinstance(raw, bool) or not isinstance(raw, int):
            raise InputError(field, "must be an integer")
        return raw
    if annotation is bool:
        if not isinstance(raw, bool):
            raise InputError(field, "must be true or false")
        return raw
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        try:
            return annotation(raw)
        except ValueError:
            options = ", ".join(str(m.value) for m in annotation)
            raise InputError(field, f"must be one of {options}, got {raw!r}") from None
    if not isinstance(raw, str) or not raw:
        raise InputError(field, "must be a non-empty string")
    return raw


def decode_command(raw: object, *, where: str = "command") -> c.Command:
    """Build a command from its dict form (``kind`` may be ``PlaceOrder`` or ``place_order``)."""
    if not isinstance(raw, dict):
        raise InputError(where, "must be an object")
    kind = raw.get("kind")
    name = KIND_ALIASES.get(str(kind), str(kind))
    cls = COMMAND_TYPES.get(name)
    if cls is None:
        known = ", ".join(sorted(KIND_ALIASES))
        raise InputError(f"{where}.kind", f"unknown command {kind!r} (known: {known})")
    hints = _field_types(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(raw) - names - {"kind"})
    if unknown:
        raise InputError(f"{where}.{unknown[0]}", "is not a field of " + name)
    values: dict[str, object] = {}
    for field in dataclasses.fields(cls):
        if field.name not in raw:
            if field.default is dataclasses.MISSING:
                raise InputError(f"{where}.{field.name}", "is missing")
            continue
        values[field.name] = _decode_value(field.name, raw[field.name], hints[field.name], where)
    return cls(**values)  # type: ignore[arg-type]


def encode_result(result: c.Result) -> dict[str, Any]:
    return {
        "command_id": result.command_id,
        "code": result.code.value,
        "message": result.message,
        "events": [dict(event) for event in result.events],
    }


def decode_result(raw: dict[str, Any]) -> c.Result:
    return c.Result(
        raw["command_id"],
        c.ResultCode(raw["code"]),
        raw.get("message", ""),
        tuple(dict(event) for event in raw.get("events", [])),
    )
