"""Reading JSON from outside: UTF-8 text, every key once, no NaN, bounded nesting.

Why not plain :func:`json.loads`: it keeps the last of two equal keys without a word (an
account giving ``"size"`` twice would silently lose one), accepts ``NaN`` and ``Infinity``,
and recurses once per level, so a file nested a few thousand levels deep ends in a
``RecursionError`` rather than a message. Reading a file as text with a wrong encoding ends in
a ``UnicodeDecodeError``. Here each of these is an :class:`InputError` naming the source, one
line, so the command line can print it and exit 2.

Numbers with a fraction or an exponent become :class:`~decimal.Decimal` from their text, so
``"0.1"`` and ``0.1`` both read as exactly one tenth (a float from a ccxt dump is converted by
its shortest text, never through binary arithmetic).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

from crossmargin.units.errors import InputError

#: Deepest nesting of arrays and objects accepted. Account files nest four levels and venue
#: responses (ccxt's ``info`` included) fewer than ten; anything deeper is not such a document.
MAX_JSON_DEPTH = 100

_UTF16_MARKS = (b"\xff\xfe", b"\xfe\xff")


def utf8_text(data: bytes, *, source: str) -> str:
    """``data`` decoded as UTF-8 (a leading byte-order mark dropped), or an error naming the byte."""
    if data.startswith(_UTF16_MARKS):
        raise InputError(source, "is UTF-16 text; save it as UTF-8")
    try:
        return data.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError as error:
        raise InputError(
            source, f"is not UTF-8 text (byte 0x{data[error.start]:02x} at offset {error.start}); save it as UTF-8"
        ) from None


def read_text_file(path: str | Path, *, source: str | None = None) -> str:
    """A file's UTF-8 text; a missing, unreadable or non-UTF-8 file is an error naming it."""
    name = str(path) if source is None else source
    try:
        data = Path(path).read_bytes()
    except OSError as error:
        raise InputError(name, f"cannot be read ({error.strerror or error})") from None
    return utf8_text(data, source=name)


def parse_json(
    text: str | bytes, *, source: str, parse_int: Callable[[str], Any] | None = None, max_depth: int = MAX_JSON_DEPTH
) -> Any:
    """Parse one JSON document strictly (see the module docstring); ``source`` names it in errors."""
    if isinstance(text, bytes):
        text = utf8_text(text, source=source)

    def reject_constant(name: str) -> Any:
        raise InputError(source, f"contains {name}, which is not a number")

    def unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        document = dict(pairs)
        if len(document) != len(pairs):
            seen: set[str] = set()
            for key, _ in pairs:
                if key in seen:
                    raise InputError(source, f"gives the key {key!r} twice in one object (remove one)")
                seen.add(key)
        return document

    too_deep = InputError(source, f"nests arrays or objects deeper than {max_depth} levels")
    try:
        value = json.loads(
            text,
            parse_float=Decimal,
            parse_int=parse_int,
            parse_constant=reject_constant,
            object_pairs_hook=unique_keys,
        )
    except json.JSONDecodeError as error:
        raise InputError(
            source, f"is not valid JSON ({error.msg}: line {error.lineno}, column {error.colno})"
        ) from None
    except RecursionError:
        raise too_deep from None
    if _depth(value) > max_depth:
        raise too_deep
    return value


def read_json_file(
    path: str | Path, *, source: str | None = None, parse_int: Callable[[str], Any] | None = None
) -> Any:
    """Read and parse a JSON file strictly; ``source`` (default: the path) names it in errors."""
    name = str(path) if source is None else source
    return parse_json(read_text_file(path, source=name), source=name, parse_int=parse_int)


def _depth(value: Any) -> int:
    """Nesting depth of a parsed document (a scalar is 0), walked without recursion."""
    deepest = 0
    pending: list[tuple[Any, int]] = [(value, 0)]
    while pending:
        item, depth = pending.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        deepest = max(deepest, depth + 1)
        pending.extend((child, depth + 1) for child in children)
    return deepest
