"""The ``--json`` document of a run, and the fingerprint of its fills.

One document per mode, with exactly the keys the command's interface names (a list of them when both
modes ran). Times are ISO 8601 in UTC (``2021-05-19T13:00:00Z``); money, sizes and prices are decimal
strings in plain notation, every digit the engine computed; ratios are decimal strings to 8 places
(:mod:`crossmargin.sim.stats`), ``null`` where a ratio is undefined (no variance, no drawdown).

Why a fingerprint: two runs that agree on every statistic may still differ in one fill. The SHA-256 of
the canonical fill lines pins the whole sequence in one string a golden test can hold. A line is
``time_ms,symbol,side,size,price,fee,kind`` with each number in its shortest plain form (``1.5``, never
``1.50`` or ``15E-1``, so an equal value always writes the same text); ``kind`` is ``trade`` for the
strategy's own fills and ``full``, ``partial`` or ``adl`` for the liquidations'.
"""

from __future__ import annotations

import datetime
import hashlib
from collections.abc import Iterator, Sequence
from decimal import Decimal
from typing import Any

from crossmargin.sim.stats import Statistics, statistics
from crossmargin.sim.types import BacktestResult, Liquidation, Trade
from crossmargin.units import exact_context, to_decimal_string

#: The kind of a fill of the strategy's own orders in the canonical lines.
TRADE_KIND = "trade"


def iso_time(time_ms: int) -> str:
    """Milliseconds since the epoch as ISO 8601 UTC: ``2021-05-19T13:00:00Z`` (``.250Z`` with milliseconds)."""
    moment = datetime.datetime.fromtimestamp(time_ms / 1000, tz=datetime.UTC)
    seconds = moment.strftime("%Y-%m-%dT%H:%M:%S")
    millis = time_ms % 1000
    return f"{seconds}.{millis:03d}Z" if millis else f"{seconds}Z"


def decimal_text(value: Decimal) -> str:
    """A number in plain notation with every digit it has (``1E+3`` reads ``1000``)."""
    text = to_decimal_string(value)
    assert text is not None
    return text


def canonical_number(value: Decimal) -> str:
    """A number's shortest plain text, so equal values write equal text: ``1.50`` -> ``1.5``, ``-0`` -> ``0``."""
    with exact_context():
        return decimal_text(value.normalize() if value else Decimal(0))


def ordered_fills(trades: Sequence[Trade], liquidations: Sequence[Liquidation]) -> list[Trade | Liquidation]:
    """Every fill of the account in time order. At one instant the strategy's fills come first: they fill at
    the bar's open, while the engine checks liquidation on the path after it."""
    tagged: list[tuple[int, int, int, Trade | Liquidation]] = [(t.time_ms, 0, i, t) for i, t in enumerate(trades)]
    tagged += [(q.time_ms, 1, i, q) for i, q in enumerate(liquidations)]
    tagged.sort(key=lambda item: item[:3])
    return [fill for *_key, fill in tagged]


def fill_lines(trades: Sequence[Trade], liquidations: Sequence[Liquidation]) -> Iterator[str]:
    """The canonical line of each fill, ``time_ms,symbol,side,size,price,fee,kind\\n``, in time order."""
    for fill in ordered_fills(trades, liquidations):
        kind = fill.kind if isinstance(fill, Liquidation) else TRADE_KIND
        numbers = ",".join(canonical_number(x) for x in (fill.size, fill.price, fill.fee))
        yield f"{fill.time_ms},{fill.symbol},{fill.side},{numbers},{kind}\n"


def fills_fingerprint(trades: Sequence[Trade], liquidations: Sequence[Liquidation]) -> str:
    """The SHA-256 (hex) of the canonical lines of every fill of the account, in order."""
    digest = hashlib.sha256()
    for line in fill_lines(trades, liquidations):
        digest.update(line.encode("ascii"))
    return digest.hexdigest()


def _ratio_text(value: Decimal | None) -> str | None:
    return None if value is None else decimal_text(value)


def _trade_item(trade: Trade) -> dict[str, str]:
    return {
        "time": iso_time(trade.time_ms),
        "symbol": trade.symbol,
        "side": trade.side,
        "size": decimal_text(trade.size),
        "price": decimal_text(trade.price),
        "fee": decimal_text(trade.fee),
    }


def _liquidation_item(liquidation: Liquidation) -> dict[str, str]:
    return {
        "time": iso_time(liquidation.time_ms),
        "symbol": liquidation.symbol,
        "side": liquidation.side,
        "size": decimal_text(liquidation.size),
        "price": decimal_text(liquidation.price),
        "kind": liquidation.kind,
    }


def result_document(result: BacktestResult, stats: Statistics | None = None) -> dict[str, Any]:
    """One mode's ``--json`` document, its keys in the interface's order (``stats`` when already computed)."""
    figures = statistics(result) if stats is None else stats
    return {
        "mode": result.mode,
        "venue": result.venue,
        "rulebook_as_of": result.rulebook_as_of,
        "start": iso_time(result.start_ms),
        "end": iso_time(result.end_ms),
        "final_equity": decimal_text(result.final_equity),
        "total_return": decimal_text(figures.total_return),
        "cagr": decimal_text(figures.cagr),
        "max_drawdown": decimal_text(figures.max_drawdown),
        "sharpe": _ratio_text(figures.sharpe),
        "sortino": _ratio_text(figures.sortino),
        "calmar": _ratio_text(figures.calmar),
        "fees_paid": decimal_text(figures.fees_paid),
        "funding_paid": decimal_text(figures.funding_paid),
        "funding_received": decimal_text(figures.funding_received),
        "liquidations": [_liquidation_item(q) for q in result.liquidations],
        "fills": result.fills,
        "fills_sha256": result.fills_sha256,
        "trades": [_trade_item(t) for t in sorted(result.trades, key=lambda t: t.time_ms)],
        "bars": len(result.times_ms),
        "time_below_health": {level: decimal_text(f) for level, f in figures.time_below_health.items()},
    }


def results_document(results: Sequence[BacktestResult]) -> dict[str, Any] | list[dict[str, Any]]:
    """What ``--json`` prints: the one mode's document, or a list of them when several modes ran."""
    documents = [result_document(result) for result in results]
    return documents[0] if len(documents) == 1 else documents
