"""Reading one venue response body strictly, and reading its fields with their names.

A response file is refused, in one line naming the file, when it is not UTF-8, not complete
JSON, nests too deeply, repeats a key inside one object (the second value would silently win)
or holds NaN or Infinity: the strict reader every command uses. Numbers are kept as the exact
decimal text the venue printed: a JSON float becomes ``Decimal`` of its own text, so a ccxt
dump's ``0.1`` is 0.1 (its shortest repr), never the binary value behind it.

Every field read afterwards goes through :class:`Body`, which names the file and the path of
the field in any error (``positionRisk.json: [2].positionAmt: is missing``).
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from crossmargin.units import InputError, jsonio, parse_decimal

EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC)


def article(word: str) -> str:
    """ "an" before a vowel sound as venue names start ("an okx response"), else "a"."""
    return "an" if word[:1].lower() in "aeiou" else "a"


def read_json_file(path: Path) -> Any:
    """Read and parse one response file strictly (:mod:`crossmargin.units.jsonio`: UTF-8, every
    key once, no NaN, bounded nesting, numbers as the decimal text printed)."""
    return jsonio.read_json_file(path)


@dataclass(frozen=True)
class Body:
    """A parsed value inside a response file, with its path for error messages."""

    value: Any
    file: str
    path: str = ""

    def _field(self, key: str | int) -> str:
        step = f"[{key}]" if isinstance(key, int) else (f".{key}" if self.path else key)
        return f"{self.path}{step}"

    def error(self, problem: str, key: str | int | None = None) -> InputError:
        where = self.path if key is None else self._field(key)
        return InputError(f"{self.file}: {where}" if where else self.file, problem)

    def has(self, key: str) -> bool:
        return isinstance(self.value, dict) and key in self.value and self.value[key] is not None

    def get(self, key: str) -> Body:
        """A required member of an object."""
        if not isinstance(self.value, dict):
            raise self.error("must be an object")
        if key not in self.value or self.value[key] is None:
            raise self.error("is missing", key)
        return Body(self.value[key], self.file, self._field(key))

    def items(self) -> list[Body]:
        """The elements of a list."""
        if not isinstance(self.value, list):
            raise self.error("must be a list")
        return [Body(item, self.file, self._field(index)) for index, item in enumerate(self.value)]

    def text(self, key: str) -> str:
        value = self.get(key).value
        if not isinstance(value, str):
            raise self.error(f"must be text, got {type(value).__name__}", key)
        return value

    def decimal(self, key: str) -> Decimal:
        """A number the venue prints as a decimal string (or an exact JSON number)."""
        node = self.get(key)
        try:
            return parse_decimal(node.value, field="value")
        except InputError as error:
            raise node.error(error.problem) from None

    def optional_decimal(self, key: str, *, none_if: tuple[str, ...] = ("",)) -> Decimal | None:
        """A number that may be absent, ``null`` or one of the venue's "no value" texts."""
        if not self.has(key) or self.value[key] in none_if:
            return None
        return self.decimal(key)


def iso_time(milliseconds: Any) -> str | None:
    """A venue's millisecond timestamp as ISO 8601 UTC (``None`` where it gives none)."""
    if isinstance(milliseconds, str) and milliseconds.isdigit():
        milliseconds = int(milliseconds)
    if isinstance(milliseconds, Decimal) and milliseconds == milliseconds.to_integral_value():
        milliseconds = int(milliseconds)
    if not isinstance(milliseconds, int) or isinstance(milliseconds, bool) or milliseconds <= 0:
        return None
    moment = EPOCH + datetime.timedelta(milliseconds=milliseconds)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")
