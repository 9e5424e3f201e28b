"""Where a symbol's files are: the flat folder layout (also the shipped dataset's) and freqtrade's tree.

Why two layouts and nothing cleverer: users either write their own files, for which one obvious naming
is easiest to follow, or already hold freqtrade downloads, which should load unchanged.

Flat folder (``data: path/to/folder``), one file per symbol and kind, Parquet, CSV or Feather::

    BTCUSDT.parquet          trade bars: time, open, high, low, close, volume
    BTCUSDT_mark.parquet     mark bars:  time, open, high, low, close (volume ignored)
    BTCUSDT_funding.parquet  funding events: time, funding_rate (a fraction; positive: longs pay)

freqtrade (a folder holding ``*-futures.feather``/``.parquet`` files, directly or in ``futures/``)::

    BTC_USDT_USDT-1h-futures.feather       trade bars (date, open, high, low, close, volume)
    BTC_USDT_USDT-1h-mark.feather          mark bars, same columns
    BTC_USDT_USDT-8h-funding_rate.feather  funding events, the rate in ``open``

A freqtrade pair ``BASE/QUOTE:SETTLE`` is the venue symbol ``BASEQUOTE`` when it settles in the quote
(linear) and ``BASEQUOTE_PERP`` otherwise (Binance COIN-M's inverse naming); the pair itself
(``BTC/USDT:USDT`` or ``BTC_USDT_USDT``) is accepted too.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from crossmargin.sim.frames import SUFFIXES
from crossmargin.sim.grid import parse_timeframe
from crossmargin.units import InputError


@dataclass(frozen=True)
class SymbolFiles:
    """One symbol's files; ``mark`` and ``funding`` are None when the source has none for it.

    ``funding_column`` names the rate's column (``funding_rate``, or ``open`` in freqtrade's files).
    """

    symbol: str
    trades: Path
    mark: Path | None
    funding: Path | None
    funding_column: str = "funding_rate"


def _first_existing(folder: Path, stem: str) -> Path | None:
    for suffix in SUFFIXES:
        candidate = folder / f"{stem}{suffix}"
        if candidate.is_file():
            return candidate
    return None


@dataclass(frozen=True)
class FolderLayout:
    """The flat layout: ``<SYMBOL>.ext``, ``<SYMBOL>_mark.ext``, ``<SYMBOL>_funding.ext``."""

    folder: Path

    def symbols(self) -> list[str]:
        stems = {p.stem for p in self.folder.iterdir() if p.suffix in SUFFIXES}
        return sorted(s for s in stems if not s.endswith(("_mark", "_funding")))

    def files(self, symbol: str, timeframe_ms: int) -> SymbolFiles:
        del timeframe_ms  # a flat file holds one step; the grid module reads it from the rows
        trades = _first_existing(self.folder, symbol)
        if trades is None:
            have = ", ".join(self.symbols()) or "no symbols"
            raise InputError(
                "symbols",
                f"{symbol} is not in {self.folder} (no {symbol}.parquet, .csv or .feather; it has {have})",
            )
        mark = _first_existing(self.folder, f"{symbol}_mark")
        funding = _first_existing(self.folder, f"{symbol}_funding")
        return SymbolFiles(symbol, trades, mark, funding)


_FREQTRADE = re.compile(
    r"^(?P<base>[A-Za-z0-9]+)_(?P<quote>[A-Za-z0-9]+)_(?P<settle>[A-Za-z0-9]+)"
    r"-(?P<tf>[0-9]+[mhdwM])-(?P<kind>futures|mark|funding_rate)\.(?:feather|parquet)$"
)


def _timeframe_or_none(text: str) -> int | None:
    try:
        return parse_timeframe(text)
    except InputError:
        return None  # weekly and monthly files never serve an intraday run


@dataclass(frozen=True)
class FreqtradeLayout:
    """freqtrade's futures files: ``<BASE>_<QUOTE>_<SETTLE>-<tf>-{futures,mark,funding_rate}.ext``."""

    folder: Path

    @staticmethod
    def holds(folder: Path) -> Path | None:
        """The folder (or its ``futures/``) when it holds freqtrade futures files, else None."""
        for candidate in (folder, folder / "futures"):
            if candidate.is_dir() and any(
                _FREQTRADE.match(p.name) and "-futures." in p.name for p in candidate.iterdir()
            ):
                return candidate
        return None

    def _index(self) -> dict[str, list[tuple[str, int | None, str, Path]]]:
        """Pair stem -> [(kind, step ms or None, symbol, path)] over the folder's files."""
        index: dict[str, list[tuple[str, int | None, str, Path]]] = {}
        for path in sorted(self.folder.iterdir()):
            match = _FREQTRADE.match(path.name)
            if match is None:
                continue
            base, quote, settle = match["base"], match["quote"], match["settle"]
            stem = f"{base}_{quote}_{settle}"
            step = _timeframe_or_none(match["tf"])
            index.setdefault(stem, []).append((match["kind"], step, stem, path))
        return index

    @staticmethod
    def venue_symbol(stem: str) -> str:
        base, quote, settle = stem.split("_")
        return f"{base}{quote}" if quote == settle else f"{base}{quote}_PERP"

    def symbols(self) -> list[str]:
        return sorted(self.venue_symbol(stem) for stem in self._index())

    def _stem_for(self, symbol: str, index: dict[str, list[tuple[str, int | None, str, Path]]]) -> str:
        wanted = symbol.replace("/", "_").replace(":", "_")
        for stem in index:
            if wanted in (stem, self.venue_symbol(stem)):
                return stem
        have = ", ".join(self.symbols()) or "no futures pairs"
        raise InputError("symbols", f"{symbol} is not in freqtrade folder {self.folder} (it has {have})")

    def files(self, symbol: str, timeframe_ms: int) -> SymbolFiles:
        index = self._index()
        entries = index[self._stem_for(symbol, index)]
        trades = _best(entries, "futures", timeframe_ms)
        if trades is None:
            raise InputError(
                "symbols",
                f"{symbol}: no freqtrade futures file at the run's timeframe or a finer one that "
                f"divides it in {self.folder}",
            )
        mark = _best(entries, "mark", timeframe_ms) or _any(entries, "mark")
        funding = _any(entries, "funding_rate")
        return SymbolFiles(symbol, trades, mark, funding, funding_column="open")


def _best(entries: list[tuple[str, int | None, str, Path]], kind: str, timeframe_ms: int) -> Path | None:
    """The file of ``kind`` at the run's timeframe, else the coarsest finer one that divides it."""
    usable = [
        (step, path)
        for k, step, _, path in entries
        if k == kind and step is not None and step <= timeframe_ms and timeframe_ms % step == 0
    ]
    return max(usable)[1] if usable else None


def _any(entries: list[tuple[str, int | None, str, Path]], kind: str) -> Path | None:
    """Any file of ``kind`` (a mark file too coarse is still returned, so the refusal names it)."""
    found = sorted((step or 0, path) for k, step, _, path in entries if k == kind)
    return found[0][1] if found else None
