"""``--html FILE``: the backtest as one self-contained page, plotly.js inlined once.

The page opens with the run (venue, rulebook date, strategy, span, modes) and its figures, then one
chart per question a trader asks of a leveraged run: how the equity went and how far it fell (both modes
overlaid when both ran), how close the account came to liquidation (health against the line at 1 and the
configured levels), where each position's liquidation price stood against its mark with the fills and
liquidations on it, and what funding added up to. Every axis names its unit; time axes are dates (UTC).
The page frame and tables are the risk report's (:mod:`crossmargin.cli.report_page`).
"""

from __future__ import annotations

import datetime
import html
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from crossmargin import __version__
from crossmargin.cli import backtest_series as series
from crossmargin.cli.backtest_tables import figure_rows
from crossmargin.cli.formats import amount, price
from crossmargin.cli.output import write_output_file
from crossmargin.cli.report_page import PAGE, table_html
from crossmargin.sim.result_json import iso_time
from crossmargin.sim.stats import health_level_key, statistics
from crossmargin.sim.types import BacktestResult

LAYOUT = {
    "template": "plotly_white",
    "font": {"size": 13},
    "hovermode": "x unified",
    "legend": {"orientation": "h", "x": 0, "y": 1.02, "yanchor": "bottom"},  # above the plot, clear of the axis
    "margin": {"t": 60},
}
#: Liquidation prices further than this beyond the mark's range would flatten the mark: they run off.
PRICE_MARGIN = 0.5


def write_html(results: Sequence[BacktestResult], path: Path) -> None:
    """Write the page for one mode or both (cross and isolated overlaid) to ``path``."""
    import plotly.io as pio

    sections = [equity_section(results), health_section(results), price_section(results), funding_section(results)]
    parts = []
    for index, (title, figure, note, table) in enumerate(sections):
        chart = pio.to_html(
            figure,
            include_plotlyjs=index == 0,
            full_html=False,
            div_id=f"chart-{index}",
            config={"displaylogo": False, "responsive": True},
        )
        note_html = f'<p class="note">{html.escape(note)}</p>' if note else ""
        parts.append(f"<section><h2>{html.escape(title)}</h2>{note_html}{chart}{table}</section>")
    liquidations = liquidations_html(results)
    title, line = series.page_heading(results)
    page = PAGE.format(
        title=html.escape(title), account=header_html(results, line), warnings="", sections="\n".join(parts)
    )
    write_output_file(path, page.replace("</body>", f"{liquidations}</body>"), "--html")


def header_html(results: Sequence[BacktestResult], line: str) -> str:
    """The run, when the page was made, the figures of each mode side by side, and the run's notes."""
    made = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    rows = {result.mode: figure_rows(result, statistics(result)) for result in results}
    first = next(iter(rows.values()))
    table = [["figure", *rows]] + [[name, *(rows[m][i][1] for m in rows)] for i, (name, _) in enumerate(first)]
    notes = [note for result in results for note in result.notes]
    listed = "".join(f"<li>{html.escape(note)}</li>" for note in dict.fromkeys(notes))
    return (
        f'<section><p class="made">{html.escape(line)}. Made {made} by crossmargin {__version__}.</p>'
        f"{table_html(table)}" + (f"<h3>Notes</h3><ul>{listed}</ul>" if listed else "") + "</section>"
    )


def equity_section(results: Sequence[BacktestResult]) -> tuple[str, Any, str, str]:
    """Equity over time above its drawdown from the running peak, one line per mode."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    asset = results[0].settlement_asset
    figure = make_subplots(rows=2, cols=1, shared_xaxes=True, row_heights=[0.68, 0.32], vertical_spacing=0.05)
    for result in results:
        lines, colour = series.curves(result), series.mode_colour(result.mode)
        figure.add_trace(go.Scatter(x=lines.times, y=lines.equity, name=f"equity, {result.mode}", mode="lines",
                                    line={"color": colour, "width": 2}), row=1, col=1)  # fmt: skip
        fill = "tozeroy" if len(results) == 1 else "none"  # two fills would blend into a third colour
        figure.add_trace(go.Scatter(x=lines.times, y=lines.drawdown_percent, name=f"drawdown, {result.mode}",
                                    mode="lines", fill=fill, line={"color": colour, "width": 1.5}),
                         row=2, col=1)  # fmt: skip
        if result.liquidations:
            times = [q.time_ms for q in result.liquidations]
            figure.add_trace(go.Scatter(x=series.dates(times), y=series.equity_at(result, times), mode="markers",
                                        name=f"liquidation, {result.mode}",
                                        marker={"symbol": "x", "size": 11, "color": series.LIQUIDATION_COLOUR}),
                             row=1, col=1)  # fmt: skip
    figure.update_layout(**LAYOUT, height=620)
    figure.update_yaxes(title_text=f"equity ({asset})", row=1, col=1)
    figure.update_yaxes(title_text="drawdown from peak (%)", row=2, col=1)
    figure.update_xaxes(title_text="date (UTC)", row=2, col=1)
    title = "Equity and drawdown" + (": cross against isolated" if len(results) > 1 else "")
    note = "Equity (margin balance) at each bar's close; crosses mark liquidations."
    return title, figure, note, ""


def health_section(results: Sequence[BacktestResult]) -> tuple[str, Any, str, str]:
    """Health at each close on a log axis, the liquidation line at 1 and the configured levels."""
    import plotly.graph_objects as go

    figure = go.Figure()
    drawn = [1.0]
    for result in results:
        lines = series.curves(result)
        finite = lines.health[np.isfinite(lines.health)]
        drawn += [float(finite.min()), float(finite.max())] if finite.size else []
        figure.add_trace(go.Scatter(x=lines.times, y=lines.health, mode="lines", name=f"health, {result.mode}",
                                    line={"color": series.mode_colour(result.mode), "width": 2}))  # fmt: skip
    span = series.dates([results[0].start_ms, results[0].end_ms])
    # The levels are traces, not shapes with annotations: plotly places a shape's text wrongly on a log axis.
    levels = [(1.0, "liquidation (health 1)", series.LIQUIDATION_COLOUR, "dot")]
    levels += [(float(level), f"health {health_level_key(level)}", "#888888", "dash") for level in
               results[0].health_levels]  # fmt: skip
    for value, name, colour, dash in levels:
        figure.add_trace(go.Scatter(x=span, y=[value, value], mode="lines", name=name, hoverinfo="skip",
                                    line={"color": colour, "dash": dash, "width": 1.5}))  # fmt: skip
        drawn.append(value)
    figure.update_layout(**LAYOUT, height=420, xaxis_title="date (UTC)")
    bounds = [np.log10(min(drawn) * 0.9), np.log10(max(drawn) * 1.1)]
    figure.update_yaxes(type="log", range=bounds, title_text="health (margin balance / maintenance, log)")
    note = (
        f"Health below 1 is liquidated; below {series.HEALTH_FLOOR} it is drawn at {series.HEALTH_FLOOR}. "
        "A bar without a position has no health and leaves a gap."
    )
    return "Health", figure, note, ""


def _price_range(mark: np.ndarray, others: list[np.ndarray]) -> list[float]:
    """The mark's range widened to the liquidation prices within half that range's bounds again."""
    finite = mark[np.isfinite(mark)]
    if not finite.size:
        return [0.0, 1.0]
    low, high = float(finite.min()), float(finite.max())
    values = [low, high]
    for other in others:
        near = other[np.isfinite(other) & (other > low * (1 - PRICE_MARGIN)) & (other < high * (1 + PRICE_MARGIN))]
        values += [float(near.min()), float(near.max())] if near.size else []
    pad = (max(values) - min(values)) * 0.04 or abs(high) * 0.01 or 1.0
    return [min(values) - pad, max(values) + pad]


def price_section(results: Sequence[BacktestResult]) -> tuple[str, Any, str, str]:
    """Per symbol: its mark, each mode's liquidation price, the fills and the liquidations."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    symbols = series.symbols_of(results) or ["(no positions)"]
    figure = make_subplots(rows=len(symbols), cols=1, shared_xaxes=True, vertical_spacing=0.08 / len(symbols),
                           subplot_titles=symbols)  # fmt: skip
    for row, symbol in enumerate(symbols, start=1):
        first = next((r for r in results if symbol in r.marks), None)
        if first is None:
            continue
        keep = series.keep_indices(first.marks[symbol])
        times, mark = series.dates(first.times_ms)[keep], first.marks[symbol][keep]
        figure.add_trace(go.Scatter(x=times, y=mark, mode="lines", name=f"{symbol} mark", legendgroup=symbol,
                                    line={"color": series.MARK_COLOUR, "width": 1.5}), row=row, col=1)  # fmt: skip
        liquidation_lines = []
        for result in results:
            line = np.asarray(result.liquidation_prices.get(symbol, np.full(len(result.times_ms), np.nan)))
            liquidation_lines.append(line)
            figure.add_trace(go.Scatter(x=series.dates(result.times_ms)[keep], y=line[keep], mode="lines",
                                        name=f"{symbol} liquidation price, {result.mode}", legendgroup=symbol,
                                        line={"color": series.mode_colour(result.mode), "dash": "dash"}),
                             row=row, col=1)  # fmt: skip
            same = series.same_fills(results, symbol)
            for trace in _fill_markers(result, symbol, "" if same else f", {result.mode}", draw=not same or
                                       result is results[0]):  # fmt: skip
                figure.add_trace(trace, row=row, col=1)
        figure.update_yaxes(title_text=f"price ({series.quote_asset(first.venue, symbol)})", row=row, col=1,
                            range=_price_range(mark, liquidation_lines))  # fmt: skip
    legend_rows = (sum(1 for trace in figure.data if trace.showlegend is not False) + 1) // 2
    figure.update_layout(**LAYOUT, height=140 + 300 * len(symbols) + 20 * legend_rows)
    figure.update_layout(hovermode="closest", margin={"t": 50 + 20 * legend_rows})  # the legend clear of titles
    figure.update_xaxes(title_text="date (UTC)", row=len(symbols), col=1)
    note = (
        "Mark price at each close (solid) and the liquidation price each mode's engine computed (dashed); "
        "triangles are the strategy's fills (up: buy, down: sell), crosses liquidations. A liquidation price "
        f"more than {PRICE_MARGIN:.0%} beyond the mark's range runs off the chart."
    )
    return "Liquidation price against the mark", figure, note, ""


def _fill_markers(result: BacktestResult, symbol: str, suffix: str, *, draw: bool) -> list[Any]:
    """The strategy's fills (``draw``: when another mode has not drawn the same ones) and the liquidations."""
    import plotly.graph_objects as go

    traces = []
    for side, shape, colour in (("buy", "triangle-up", series.BUY_COLOUR), ("sell", "triangle-down",
                                                                           series.SELL_COLOUR)):  # fmt: skip
        fills = series.trades_of(result, symbol, side) if draw else []
        if fills:
            traces.append(go.Scatter(x=series.dates([t.time_ms for t in fills]), y=[float(t.price) for t in fills],
                                     mode="markers", name=f"{symbol} {side}s{suffix}", legendgroup=symbol,
                                     marker={"symbol": shape, "size": 10, "color": colour}))  # fmt: skip
    liquidated = [q for q in result.liquidations if q.symbol == symbol]
    if liquidated:
        traces.append(go.Scatter(x=series.dates([q.time_ms for q in liquidated]),
                                 y=[float(q.price) for q in liquidated], mode="markers",
                                 name=f"{symbol} liquidation, {result.mode}", legendgroup=symbol,
                                 marker={"symbol": "x", "size": 12, "color": series.LIQUIDATION_COLOUR}))  # fmt: skip
    return traces


def funding_section(results: Sequence[BacktestResult]) -> tuple[str, Any, str, str]:
    """Funding received less paid, added up payment by payment."""
    import plotly.graph_objects as go

    asset = results[0].settlement_asset
    figure = go.Figure()
    rows = [["mode", f"paid ({asset})", f"received ({asset})", f"net ({asset})", "payments"]]
    for result in results:
        times, total = series.funding_curve(result)
        figure.add_trace(go.Scatter(x=times, y=total, mode="lines", line_shape="hv", name=f"funding, {result.mode}",
                                    line={"color": series.mode_colour(result.mode), "width": 2}))  # fmt: skip
        figures = statistics(result)
        net = figures.funding_received - figures.funding_paid
        rows.append([result.mode, amount(figures.funding_paid, asset), amount(figures.funding_received, asset),
                     amount(net, asset), str(len(result.funding))])  # fmt: skip
    figure.update_layout(**LAYOUT, height=380, xaxis_title="date (UTC)",
                         yaxis_title=f"cumulative funding ({asset}, received +)")  # fmt: skip
    return "Funding PnL", figure, "Funding at the venue's funding timestamps, exact sums below.", table_html(rows)


def liquidations_html(results: Sequence[BacktestResult]) -> str:
    """Every liquidation of every mode, or nothing when none happened."""
    asset = results[0].settlement_asset
    rows = [["mode", "time (UTC)", "symbol", "side", "size", "price", "kind", f"loss ({asset})"]]
    for result in results:
        rows += [[result.mode, iso_time(q.time_ms), q.symbol, q.side, price(q.size), price(q.price), q.kind,
                  amount(q.fee - q.realized_pnl, asset)] for q in result.liquidations]  # fmt: skip
    if len(rows) == 1:
        return '<section><h2>Liquidations</h2><p class="note">None in any mode.</p></section>'
    return f"<section><h2>Liquidations</h2>{table_html(rows)}</section>"
