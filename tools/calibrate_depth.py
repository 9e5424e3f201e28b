"""Calibrate the default parametric depth curves (``crossmargin.engine.depth.DEFAULT_DEPTH``) on real books.

Run ``python tools/calibrate_depth.py [--data DIR]`` (``DIR`` defaults to ``../shared/data``; needs
``pyarrow``, a calibration-time tool and not a runtime dependency of the package). It prints, per order-book
capture under ``DIR/orderbook/``, the median half-spread (fraction of mid), how often the spread is one tick,
how far the captured book reaches, and the median notional within 10 and 50 bps of mid per side; then the
``ParametricDepth`` figures per liquidity class as decimal strings rounded to two significant figures.

Why this method (the numbers are hard-coded in the engine, so the method must be reproducible):

* Major (BTC, ETH) is fitted on the Binance USD-M BTCUSDT/ETHUSDT captures from 2023-04-04 on. The 2020
  tardis capture quotes BTCUSDT at a 0.01 tick (its spread), the later captures and the 2024 rulebook at 0.10,
  so it is printed but not used; the COIN-M captures (inverse, USD contracts) are printed for comparison only.
  ``half_spread`` is the median of the per-file median half-spreads. ``notional_per_step`` is set so that the
  curve holds, within 10 bps of the reference, the median per-file median notional measured within 10 bps of
  mid (only files whose book reaches 10 bps on both sides count: the 1000-level REST snapshots do, the top-20
  samples do not). ``step`` is 1 bp: the 10 bps band then holds ten levels.
* Large (SOL, BNB, XRP) and small (DOGE, ADA, LTC) have no captures, so they are derived from major:
  the notional per unit of price distance scales with the ratio of median daily quote volume (sum over a UTC
  day of hourly ``volume x close`` from ``binance_usdm_perp_1h``, complete days only, over the 90 days ending
  on the last capture date, 2024-05-11 .. 2024-08-08) of the class's members (median of the members'
  medians) to that of BTC and ETH; a level can be no closer than one tick, so ``step`` is at least the
  members' median ``tick / price`` and ``half_spread`` at least half of it (the captures show the majors at a
  one-tick spread almost always). Ticks come from the binance-usdm rulebook, prices are the median close.
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Context
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA = ROOT.parent / "shared" / "data"

BP = 0.0001
BANDS_BP = (10, 50)
FIT_BAND_BP = 10
MAJOR_STEP = 0.0001
CALIBRATION_PREFIX = "usdm_"
CALIBRATION_FROM = "2023-01-01"  # file dates on or after this one (drops the 2020 tardis capture)
VOLUME_WINDOW = (dt.date(2024, 5, 11), dt.date(2024, 8, 8))  # 90 days ending on the last capture date
CLASSES: dict[str, tuple[str, ...]] = {
    "major": ("BTC", "ETH"),
    "large": ("SOL", "BNB", "XRP"),
    "small": ("DOGE", "ADA", "LTC"),
}
#: USD value of one contract of the inverse (COIN-M) books; linear books count price x quantity.
CONTRACT_USD = {"BTCUSD_PERP": 100.0, "ETHUSD_PERP": 10.0}

Level = tuple[float, float]  # (price, quantity), best first


@dataclass(frozen=True)
class Book:
    """One captured book: bids and asks best first."""

    bids: tuple[Level, ...]
    asks: tuple[Level, ...]

    @property
    def mid(self) -> float:
        return (self.bids[0][0] + self.asks[0][0]) / 2


@dataclass(frozen=True)
class FileStats:
    """Medians over the snapshots of one capture file; band figures are ``None`` where the book is too short."""

    snapshots: int
    half_spread: float
    one_tick_share: float
    reach_bp: float
    band_notional: dict[int, float | None]
    linearity: float | None


# --- pure helpers (tested in tests/test_depth.py on hand-made tables) -------------------------------------


def group_books(rows: Iterable[Mapping[str, Any]]) -> list[Book]:
    """Long-format rows (timestamp, side, level, price, qty) -> one book per timestamp, in time order."""
    sides: dict[Any, dict[str, list[tuple[int, float, float]]]] = defaultdict(lambda: {"bid": [], "ask": []})
    for row in rows:
        sides[row["timestamp"]][row["side"]].append((int(row["level"]), float(row["price"]), float(row["qty"])))
    books = []
    for stamp in sorted(sides):
        bids = tuple((price, qty) for _, price, qty in sorted(sides[stamp]["bid"]))
        asks = tuple((price, qty) for _, price, qty in sorted(sides[stamp]["ask"]))
        if bids and asks:
            books.append(Book(bids, asks))
    return books


def half_spread(book: Book) -> float:
    """Half the quoted spread as a fraction of mid: the cost of crossing once, before any depth is walked."""
    return (book.asks[0][0] - book.bids[0][0]) / 2 / book.mid


def inferred_tick(books: Sequence[Book]) -> float:
    """The smallest price gap between adjacent levels anywhere in the file: the tick, as the data shows it."""
    gaps = [
        abs(levels[i][0] - levels[i + 1][0])
        for book in books
        for levels in (book.bids, book.asks)
        for i in range(len(levels) - 1)
    ]
    return min(gap for gap in gaps if gap > 0)


def band_notional(levels: Sequence[Level], mid: float, band: float, contract_usd: float | None = None) -> float | None:
    """Quote notional resting within ``band`` (fraction of mid) of ``mid`` on one side.

    ``None`` when the captured side ends inside the band: levels beyond the capture are unknown, so the sum
    would only be a lower bound. Linear books count ``price x qty``; inverse books ``qty x contract_usd``.
    """
    if not levels or abs(levels[-1][0] - mid) / mid < band:
        return None
    total = 0.0
    for price, qty in levels:
        if abs(price - mid) / mid <= band:
            total += qty * contract_usd if contract_usd is not None else qty * price
    return total


def file_stats(books: Sequence[Book], contract_usd: float | None = None) -> FileStats:
    """Per-file medians; a band figure needs every snapshot side to reach the band."""
    tick = inferred_tick(books)
    spreads = [book.asks[0][0] - book.bids[0][0] for book in books]
    one_tick = sum(1 for spread in spreads if spread <= tick * 1.5) / len(books)
    reach = [abs(side[-1][0] - book.mid) / book.mid / BP for book in books for side in (book.bids, book.asks)]
    bands: dict[int, float | None] = {}
    for band_bp in BANDS_BP:
        values = [
            band_notional(side, book.mid, band_bp * BP, contract_usd)
            for book in books
            for side in (book.bids, book.asks)
        ]
        known = [value for value in values if value is not None]
        bands[band_bp] = statistics.median(known) if len(known) == len(values) else None
    return FileStats(
        snapshots=len(books),
        half_spread=statistics.median(half_spread(book) for book in books),
        one_tick_share=one_tick,
        reach_bp=min(reach),
        band_notional=bands,
        linearity=_linearity(books, min(reach) * BP, contract_usd),
    )


def _linearity(books: Sequence[Book], reach: float, contract_usd: float | None) -> float | None:
    """Median ratio of the notional within the book's reach to the 10 bps notional extrapolated linearly.

    1 means a constant notional per unit of distance (the parametric curve's shape); above 1, the book is
    denser further out than the curve, so the curve fitted at 10 bps fills worse than the real book.
    """
    fit = FIT_BAND_BP * BP
    if reach <= fit:
        return None
    ratios = []
    for book in books:
        for side in (book.bids, book.asks):
            near, far = (
                band_notional(side, book.mid, fit, contract_usd),
                band_notional(side, book.mid, reach, contract_usd),
            )
            if near and far is not None:
                ratios.append(far / (near * reach / fit))
    return statistics.median(ratios) if ratios else None


def levels_within(band: float, half_spread_fraction: float, step: float) -> int:
    """How many levels of the curve ``1 + half_spread + k x step`` lie within ``band`` of the reference."""
    if band < half_spread_fraction:
        return 0
    return int((band - half_spread_fraction) / step + 1e-9) + 1


def daily_quote_volume(candles: Iterable[Mapping[str, Any]], start: dt.date, end: dt.date) -> list[float]:
    """Quote volume (sum of ``volume x close``) of each complete UTC day (24 hourly bars) in ``[start, end]``."""
    days: dict[dt.date, list[float]] = defaultdict(list)
    for bar in candles:
        day = bar["timestamp"].date()
        if start <= day <= end:
            days[day].append(float(bar["volume"]) * float(bar["close"]))
    return [sum(values) for _day, values in sorted(days.items()) if len(values) == 24]


def two_significant(value: float) -> str:
    """A figure rounded to two significant digits, as the plain decimal string the engine hard-codes."""
    rounded = Context(prec=2, rounding=ROUND_HALF_EVEN).create_decimal(repr(value))
    return format(rounded.normalize(), "f") if rounded != rounded.to_integral() else str(int(rounded))


# --- loading and the derivation ---------------------------------------------------------------------------


def _read(path: Path) -> list[dict[str, Any]]:
    import pyarrow.parquet as pq

    rows: list[dict[str, Any]] = pq.read_table(path).to_pylist()
    return rows


def _contract_usd(name: str) -> float | None:
    return next((usd for symbol, usd in CONTRACT_USD.items() if symbol in name), None)


def book_statistics(data: Path) -> dict[str, FileStats]:
    """Print and return the per-file statistics of every capture under ``data/orderbook``."""
    stats: dict[str, FileStats] = {}
    columns = ("n", "half-spread", "1-tick", "reach bp", "<=10bp", "<=50bp", "per bp", "linear")
    widths = (3, 11, 6, 8, 10, 10, 10, 6)
    print(f"{'file':58} " + " ".join(f"{name:>{width}}" for name, width in zip(columns, widths, strict=True)))
    for path in sorted((data / "orderbook").glob("*.parquet")):
        result = file_stats(group_books(_read(path)), _contract_usd(path.name))
        stats[path.name] = result
        near = result.band_notional[FIT_BAND_BP]
        cells = [*result.band_notional.values(), near / FIT_BAND_BP if near is not None else None]
        figures = " ".join(f"{value:10.3g}" if value is not None else f"{'n/a':>10}" for value in cells)
        linear = f"{result.linearity:6.2f}" if result.linearity is not None else f"{'n/a':>6}"
        print(
            f"{path.name:58} {result.snapshots:3d} {result.half_spread:11.3g} {result.one_tick_share:6.2f} "
            f"{result.reach_bp:8.1f} {figures} {linear}"
        )
    return stats


def fit_major(stats: Mapping[str, FileStats]) -> dict[str, float]:
    """Major-class parameters from the USD-M captures dated on or after ``CALIBRATION_FROM``."""
    used = {
        name: value
        for name, value in stats.items()
        if name.startswith(CALIBRATION_PREFIX) and name.split("_")[2] >= CALIBRATION_FROM
    }
    spread = statistics.median(value.half_spread for value in used.values())
    band = [value.band_notional[FIT_BAND_BP] for value in used.values()]
    fit_notional = statistics.median(value for value in band if value is not None)
    per_step = fit_notional / levels_within(FIT_BAND_BP * BP, spread, MAJOR_STEP)
    print(f"\nmajor fitted on {len(used)} files ({sum(v is not None for v in band)} reach {FIT_BAND_BP} bps):")
    for name in sorted(used):
        print(f"  {name}")
    print(f"  median half-spread {spread:.4g}, median notional within {FIT_BAND_BP} bps {fit_notional:.4g}")
    return {"half_spread": spread, "notional_per_step": per_step, "step": MAJOR_STEP}


def class_market(data: Path, members: Sequence[str]) -> tuple[float, float]:
    """(median daily quote volume, median tick / price) over a class's members, each a median over the window."""
    from crossmargin.rules import load_rulebook

    rulebook = load_rulebook("binance-usdm")
    volumes, tick_fractions = [], []
    for asset in members:
        candles = _read(data / "binance_usdm_perp_1h" / f"{asset}USDT.parquet")
        volumes.append(statistics.median(daily_quote_volume(candles, *VOLUME_WINDOW)))
        closes = [
            float(bar["close"]) for bar in candles if VOLUME_WINDOW[0] <= bar["timestamp"].date() <= VOLUME_WINDOW[1]
        ]
        tick = float(rulebook.instrument(f"{asset}USDT").tick_size)
        tick_fractions.append(tick / statistics.median(closes))
        print(f"  {asset:5} median daily quote volume {volumes[-1]:10.4g}  tick/price {tick_fractions[-1]:.3g}")
    return statistics.median(volumes), statistics.median(tick_fractions)


def derive_classes(data: Path, major: Mapping[str, float]) -> dict[str, dict[str, float]]:
    """Scale the major curve to the other classes by quote volume, with the one-tick floors."""
    print(f"\nvolume window {VOLUME_WINDOW[0]} .. {VOLUME_WINDOW[1]} (binance_usdm_perp_1h):")
    markets = {name: class_market(data, members) for name, members in CLASSES.items()}
    major_volume = markets["major"][0]
    density = major["notional_per_step"] / major["step"]  # quote notional per unit of relative distance
    result = {"major": dict(major)}
    for name, (volume, tick_fraction) in markets.items():
        if name == "major":
            continue
        ratio = volume / major_volume
        step = max(major["step"], tick_fraction)
        result[name] = {
            "half_spread": max(major["half_spread"], tick_fraction / 2),
            "notional_per_step": density * ratio * step,
            "step": step,
        }
        print(f"  {name}: volume ratio to major {ratio:.4g}")
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    args = parser.parse_args(argv)
    stats = book_statistics(args.data)
    classes = derive_classes(args.data, fit_major(stats))
    print("\nDEFAULT_DEPTH (2 significant figures):")
    for name, params in classes.items():
        figures = ", ".join(f'{key}=Decimal("{two_significant(value)}")' for key, value in params.items())
        print(f'    "{name}": ParametricDepth({figures}),')
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
