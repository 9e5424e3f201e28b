"""The backtest in the terminal: one mode's summary, and cross against isolated side by side.

Both are tables of figures down the rows and modes across, so they stay narrow: at 80 columns the
widest amount still fits whole (:func:`crossmargin.cli.tables.fit_tables` never cuts a cell). The name
of each figure carries its unit; percentages read as such, amounts with the digits their asset needs.
A ratio that is undefined for the run (Sharpe of a constant equity, Calmar without a drawdown) reads
``--`` and the line below the table says so. ``--json`` has every digit.
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from decimal import Decimal

from rich.console import Console, Group
from rich.table import Table
from rich.text import Text

from crossmargin.cli.formats import amount, percent, price
from crossmargin.cli.tables import Cell, Column, fit_tables, unit_header
from crossmargin.sim.result_json import iso_time
from crossmargin.sim.stats import Statistics, bars_per_year, statistics
from crossmargin.sim.types import BacktestResult

UNDEFINED_NOTE = "--: undefined for this run (Sharpe needs returns that vary, Sortino a fall, Calmar a drawdown)"


def run_heading(result: BacktestResult) -> str:
    """Venue, rulebook date, strategy and span: what the figures are of."""
    strategy = f", strategy {result.strategy}" if result.strategy else ""
    return (
        f"{result.venue} (rulebook as of {result.rulebook_as_of}){strategy}\n"
        f"{span_text(result.start_ms, result.end_ms)}, {len(result.times_ms)} bars of {timeframe_text(result)}"
    )


def span_text(start_ms: int, end_ms: int) -> str:
    """``2021-05-01 to 2021-06-01`` (times shown only when a bound is not midnight UTC)."""

    def day(time_ms: int) -> str:
        text = iso_time(time_ms)
        return text[:10] if text.endswith("T00:00:00Z") else text.replace("T", " ").rstrip("Z") + " UTC"

    return f"{day(start_ms)} to {day(end_ms)}"


def _ratio(value: Decimal | None) -> str:
    return "--" if value is None else f"{value:,.2f}"


def figure_rows(result: BacktestResult, figures: Statistics) -> list[tuple[str, str]]:
    """(figure with its unit, value) for one run, in the order the summary and the comparison show them."""
    asset = result.settlement_asset
    net_funding = figures.funding_received - figures.funding_paid
    rows = [
        (f"final equity ({asset})", amount(result.final_equity, asset)),
        ("total return", percent(figures.total_return, signed=True)),
        ("CAGR (365-day year)", percent(figures.cagr, signed=True)),
        ("max drawdown", percent(-figures.max_drawdown) if figures.max_drawdown else percent(0)),
        ("Sharpe (annualised)", _ratio(figures.sharpe)),
        ("Sortino (annualised)", _ratio(figures.sortino)),
        ("Calmar", _ratio(figures.calmar)),
        ("liquidations", str(len(result.liquidations))),
        (f"liquidation loss ({asset})", amount(figures.liquidation_loss, asset)),
        (f"funding paid ({asset})", amount(figures.funding_paid, asset)),
        (f"funding received ({asset})", amount(figures.funding_received, asset)),
        (f"funding net ({asset})", amount(net_funding, asset)),
        (f"fees paid ({asset})", amount(figures.fees_paid, asset)),
        ("fills (strategy + liquidations)", f"{result.fills} ({len(result.trades)} + {len(result.liquidations)})"),
    ]
    for level, fraction in figures.time_below_health.items():
        rows.append((f"time below health {level} (of bars)", percent(fraction)))
    return rows


def _figures_table(
    title: str, modes: Sequence[tuple[str, BacktestResult]], width: int, notes: list[Text]
) -> list[Table]:
    figures = {mode: figure_rows(result, statistics(result)) for mode, result in modes}
    first = next(iter(figures.values()))
    columns = [Column("figure", "left", key=True), *(Column(mode, together="modes") for mode, _ in modes)]
    rows: list[list[Cell]] = [[name, *(figures[m][i][1] for m, _ in modes)] for i, (name, _) in enumerate(first)]
    if any("--" in row[1:] for row in rows):
        notes.append(Text(UNDEFINED_NOTE))
    return fit_tables(title, columns, rows, width)


def render_summary(result: BacktestResult, console: Console | None = None) -> Group:
    """One mode's figures and, when it was liquidated, each liquidation (time, symbol, size, price)."""
    width = (console or Console()).width
    notes: list[Text] = []
    title = f"Backtest, {result.mode} margin: " + run_heading(result)
    tables = _figures_table(title, [(result.mode, result)], width, notes)
    if result.liquidations:
        tables += liquidation_tables(result, width)
    notes += [Text(f"note: {note}") for note in result.notes]
    return Group(*tables, *notes)


def render_comparison(cross: BacktestResult, isolated: BacktestResult, console: Console | None = None) -> Group:
    """Cross against isolated on the same signals: return, drawdown, liquidations and their losses,
    funding, fees and time at low health, one column per mode."""
    width = (console or Console()).width
    notes: list[Text] = []
    title = "Cross against isolated margin: " + run_heading(cross)
    tables = _figures_table(title, [("cross", cross), ("isolated", isolated)], width, notes)
    better = _better_mode(cross, isolated)
    if better:
        notes.insert(0, Text(better))
    return Group(*tables, *notes)


def _better_mode(cross: BacktestResult, isolated: BacktestResult) -> str:
    """One line naming the mode that ended with more equity, and by how much."""
    difference = cross.final_equity - isolated.final_equity
    if difference == 0:
        return "both modes ended with the same equity"
    winner, loser = ("cross", "isolated") if difference > 0 else ("isolated", "cross")
    asset = cross.settlement_asset
    return f"{winner} ended {amount(abs(difference), asset)} {asset} above {loser}"


def liquidation_tables(result: BacktestResult, width: int) -> list[Table]:
    """Each liquidation of the run: when, what, how much, at what price, its kind."""
    columns = [
        Column("time (UTC)", "left", key=True),
        Column("symbol", "left"),
        Column("side", "left"),
        Column("size"),
        Column("price"),
        Column("kind", "left"),
        Column(unit_header("loss", result.settlement_asset)),
    ]
    rows: list[list[Cell]] = [
        [_short_time(q.time_ms), q.symbol, q.side, price(q.size), price(q.price), q.kind,
         amount(q.fee - q.realized_pnl, result.settlement_asset)]
        for q in result.liquidations
    ]  # fmt: skip
    return fit_tables(f"Liquidations ({result.mode})", columns, rows, width)


def _short_time(time_ms: int) -> str:
    moment = datetime.datetime.fromtimestamp(time_ms / 1000, tz=datetime.UTC)
    return moment.strftime("%Y-%m-%d %H:%M")


def timeframe_text(result: BacktestResult) -> str:
    """The bar's length as people say it: ``1 h``, ``15 min``, ``1 d`` (``?`` for a single bar)."""
    per_year = bars_per_year(result)
    if per_year is None:
        return "?"
    minutes = round(365 * 24 * 60 / per_year)
    if minutes % 1440 == 0:
        return f"{minutes // 1440} d"
    return f"{minutes // 60} h" if minutes % 60 == 0 else f"{minutes} min"
