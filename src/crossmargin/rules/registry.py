"""Finding, loading and querying rulebooks.

A rulebook is named by venue (``binance-usdm``: the newest snapshot), by venue and date
(``binance-usdm@2024-10-24``) or by a path to a YAML or JSON file of the same format.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass, field
from decimal import Decimal
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from crossmargin.rules.schema import Collateral, Conventions, Instrument, RulebookFile
from crossmargin.units import InputError
from crossmargin.units.jsonio import parse_json, read_text_file

DATA_PACKAGE = "crossmargin.rules.data"
DEFAULT_ASSET_UNIT = Decimal("0.00000001")


@dataclass(frozen=True)
class Rulebook:
    """A validated rulebook with its symbol index (native names and ccxt aliases)."""

    data: RulebookFile
    source_path: str
    _by_symbol: dict[str, Instrument] = field(repr=False, compare=False)

    def __repr__(self) -> str:
        return f"Rulebook({self.venue} as of {self.data.as_of}, {len(self.data.instruments)} instruments)"

    @property
    def venue(self) -> str:
        return self.data.venue

    @property
    def conventions(self) -> Conventions:
        return self.data.conventions

    def instrument(self, symbol: str, *, field_name: str = "symbol") -> Instrument:
        """Look a symbol up by native name or ccxt unified alias, or fail naming the field."""
        found = self._by_symbol.get(symbol)
        if found is None:
            raise InputError(field_name, f"unknown symbol {symbol!r} for venue {self.venue}")
        return found

    def find_instrument(self, symbol: str) -> Instrument | None:
        """The instrument, or ``None`` where an unknown symbol is an answer rather than an error."""
        return self._by_symbol.get(symbol)

    def asset_unit(self, asset: str) -> Decimal:
        """Smallest unit of an asset; assets the rulebook does not list default to 1e-8."""
        unit = self._asset_units.get(asset)
        return unit if unit is not None else DEFAULT_ASSET_UNIT

    @functools.cached_property
    def _asset_units(self) -> dict[str, Decimal]:
        # every money figure is quantised to its asset's unit: looked up once, not per figure
        return {asset: spec.unit for asset, spec in self.data.assets.items()}

    @functools.cached_property
    def settlement_assets(self) -> frozenset[str]:
        """Assets that settle an instrument or back margin as collateral: the pools an account
        can have in a single-asset mode."""
        return frozenset(i.settlement_asset for i in self.data.instruments) | frozenset(
            c.asset for c in self.data.collateral
        )

    def collateral(self, asset: str) -> Collateral | None:
        for entry in self.data.collateral:
            if entry.asset == asset:
                return entry
        return None


def _index(data: RulebookFile) -> dict[str, Instrument]:
    by_symbol: dict[str, Instrument] = {}
    for instrument in data.instruments:
        by_symbol[instrument.symbol] = instrument
        if instrument.ccxt_symbol:
            by_symbol[instrument.ccxt_symbol] = instrument
    return by_symbol


def _data_dir() -> Path:
    return Path(str(resources.files(DATA_PACKAGE)))


def user_rules_dir() -> Path:
    """Where imported rulebooks go: ``$CROSSMARGIN_RULES_DIR`` or ``~/.crossmargin/rules``."""
    configured = os.environ.get("CROSSMARGIN_RULES_DIR")
    return Path(configured) if configured else Path.home() / ".crossmargin" / "rules"


def available_rulebooks() -> list[tuple[str, str, Path]]:
    """Every rulebook as (venue, as_of, path): shipped ones, then the user's (which win ties)."""
    found: dict[tuple[str, str], Path] = {}
    for directory in (_data_dir(), user_rules_dir()):
        if not directory.is_dir():
            continue
        for path in sorted(directory.glob("*.yaml")):
            venue, _, as_of = path.stem.partition("@")
            found[(venue, as_of)] = path
    return sorted((venue, as_of, path) for (venue, as_of), path in found.items())


def _resolve(name: str) -> Path:
    candidate = Path(name)
    if candidate.suffix in {".yaml", ".yml", ".json"}:
        if not candidate.is_file():
            raise InputError("venue", f"rulebook file {name} does not exist")
        return candidate
    venue, _, as_of = name.partition("@")
    matches = [row for row in available_rulebooks() if row[0] == venue]
    if as_of:
        matches = [row for row in matches if row[1] == as_of]
    if not matches:
        known = ", ".join(sorted({row[0] for row in available_rulebooks()}))
        raise InputError("venue", f"unknown venue {name!r} (known: {known})")
    return matches[-1][2]


def parse_rulebook(raw: Any, *, origin: str) -> Rulebook:
    """Validate raw rulebook data (already parsed from YAML or JSON)."""
    try:
        data = RulebookFile.model_validate(raw)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "rulebook"
        message = str(first["msg"]).removeprefix("Value error, ")
        raise InputError(f"{origin}: {where}", message) from None
    return Rulebook(data=data, source_path=origin, _by_symbol=_index(data))


@functools.lru_cache(maxsize=32)
def load_rulebook(name: str) -> Rulebook:
    """Load and validate a rulebook by venue name, ``venue@date`` or file path (cached)."""
    path = _resolve(name)
    origin = f"rulebook {path.name}"
    text = read_text_file(path, source=origin)
    if path.suffix == ".json":
        raw = parse_json(text, source=origin)
    else:
        try:
            raw = yaml.safe_load(text)
        except yaml.YAMLError as error:
            raise InputError(origin, f"is not valid YAML ({' '.join(str(error).split())})") from None
        except RecursionError:
            raise InputError(origin, "nests lists or mappings too deeply") from None
    if not isinstance(raw, dict):
        raise InputError(f"rulebook {path.name}", "must be a mapping")
    return parse_rulebook(raw, origin=path.name)
