"""The sections of the HTML report: a chart and its figures per risk view.

``--html FILE`` on each risk command writes a page of its own section, and ``crossmargin
report`` one page of all four; the page itself (the account first, then warnings and the
sections) is :mod:`crossmargin.cli.report_page`.

Each chart runs against time (hours since the start of a stress path, days of a Monte Carlo
horizon, calendar dates of the correlation history) or against the price (guards). Traces
take colours from one palette of clearly different hues, safe for the common forms of colour
blindness, and uniform moves are dashed so they never pass for an incident. Every figure in
a table carries its unit; amounts and percentages are formatted for reading.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

import numpy as np

from crossmargin.cli.formats import amount, percent, price
from crossmargin.cli.report_page import Section, write_report

__all__ = ["Section", "guard_section", "montecarlo_section", "regime_section", "stress_section", "write_report"]

#: Okabe and Ito's colour-blind-safe hues, then Tol's muted ones, black, brown and grey: 14 colours
#: no two alike (a 15th trace reuses the first colour; uniform moves are dashed besides).
PALETTE = (
    "#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#332288",
    "#999933", "#882255", "#44AA99", "#222222", "#8C564B", "#888888", "#DDCC77",
)  # fmt: skip
LIQUIDATION_COLOUR = "#B00020"
#: Health below this is drawn at the chart's edge (the table gives the lowest figure).
HEALTH_FLOOR = -2.0
LAYOUT = {"template": "plotly_white", "font": {"size": 13}, "legend": {"title": {"text": ""}}}


def stress_section(documents: Sequence[dict[str, Any]], scenarios: Sequence[Any], asset: str) -> Section:
    """Health against the hours of each path, and each scenario's equity, loss and bad debt."""
    import plotly.graph_objects as go

    figure = go.Figure()
    highest, last_hour = 2.0, 1.0
    for index, (document, scenario) in enumerate(zip(documents, scenarios, strict=True)):
        hours = [0.0, *(float(step.hours) for step in scenario.steps)]
        health = [None if h is None else max(float(h), HEALTH_FLOOR) for h in document["health_path"]]
        highest = max([highest, *(h for h in health if h is not None)])
        last_hour = max([last_hour, *(x for x, h in zip(hours, health, strict=False) if h is not None)])
        dash = "dash" if document["name"].startswith(("uniform", "beta")) else "solid"
        figure.add_trace(
            go.Scatter(
                x=hours[: len(health)], y=health, mode="lines", name=document["name"],
                line={"color": PALETTE[index % len(PALETTE)], "dash": dash, "width": 2},
                hovertemplate="%{x} h: health %{y:.2f}<extra>%{fullData.name}</extra>",
            )
        )  # fmt: skip
    figure.add_hline(y=1, line_dash="dot", line_color=LIQUIDATION_COLOUR, annotation_text="liquidation (health 1)")
    figure.update_layout(
        **LAYOUT, height=480, xaxis_title="hours since the start of the path", xaxis_range=[0, last_hour * 1.02],
        yaxis_title="health (margin balance / maintenance)", yaxis_range=[HEALTH_FLOOR - 0.2, highest * 1.05],
    )  # fmt: skip
    rows = [
        [
            "scenario", f"equity before ({asset})", f"equity after ({asset})", f"loss ({asset})",
            "lowest health", "liquidated after", f"bad debt ({asset})",
        ]
    ]  # fmt: skip
    flagged = set()
    for index, document in enumerate(documents):
        hours = document["liquidated_at_hours"]
        rows.append(
            [
                document["name"],
                amount(document["equity_before"], asset),
                amount(document["equity_after"], asset),
                amount(document["loss"], asset),
                "--" if document["min_health"] is None else f"{float(document['min_health']):,.2f}",
                "not liquidated" if hours is None else f"{price(hours)} h",
                amount(document["bad_debt"], asset),
            ]
        )
        if hours is not None:
            flagged.add(index)
    note = f"Amounts in {asset}. Health below {HEALTH_FLOOR:g} is drawn at the bottom edge; the table has the lowest."
    from crossmargin.cli.risk_tables import coverage_lines

    covered = [(d["name"], d.get("unmoved", []), d.get("moved_by_beta", {})) for d in documents]
    note = " ".join([note, *(f"{line[0].upper()}{line[1:]}." for line in coverage_lines(covered))])
    return Section("Stress through the engine: health along each path", figure, rows, note, frozenset(flagged))


def montecarlo_section(liquidated_at: np.ndarray, step_hours: int, document: dict[str, Any], asset: str) -> Section:
    """The probability of liquidation by each horizon, with the run's figures."""
    import plotly.graph_objects as go

    steps = int(document["steps"])
    counts = np.bincount(liquidated_at[liquidated_at >= 0], minlength=steps)[:steps]
    probability = np.cumsum(counts) / len(liquidated_at)
    hours = (np.arange(steps) + 1) * step_hours
    in_days = hours[-1] > 72
    x = hours / 24 if in_days else hours
    figure = go.Figure(
        go.Scatter(
            x=x, y=probability, mode="lines", name="liquidated by then", line={"color": PALETTE[0], "width": 2},
            hovertemplate=("day %{x:.1f}" if in_days else "%{x} h") + ": %{y:.2%}<extra></extra>",
        )
    )  # fmt: skip
    figure.update_layout(
        **LAYOUT, height=420, xaxis_title="horizon (days)" if in_days else "horizon (hours)",
        yaxis_title="probability of liquidation", yaxis_tickformat=".1%", yaxis_rangemode="tozero",
    )  # fmt: skip
    rows = [
        ["figure", "value"],
        ["liquidation probability", percent(document["liquidation_probability"])],
        ["standard error", f"{percent(document['standard_error'])} (percentage points)"],
        [f"expected shortfall of equity ({percent(document['expected_shortfall_level'], 0)})",
         f"{amount(document['expected_shortfall'], asset)} {asset}"],
        ["equity now", f"{amount(document['start_equity'], asset)} {asset}"],
    ]  # fmt: skip
    for quantile, value in document["min_health_quantiles"].items():
        rows.append([f"lowest health on the worst {percent(quantile, 0)} of paths", f"{float(value):,.2f}"])
    horizon = f"{document['horizon_hours'] // 24} days" if in_days else f"{document['horizon_hours']} hours"
    note = (
        f"{document['model']} model, {document['paths']:,} paths of {horizon} in {step_hours} h steps, "
        f"seed {document['seed']}."
    )
    return Section("Monte Carlo: probability of liquidation by each horizon", figure, rows, note)


def _beyond(side: str, stop: Decimal, liquidation: Decimal | None) -> bool:
    """A long's stop at or below its liquidation price (a short's at or above) fires too late."""
    if liquidation is None:
        return False
    return stop <= liquidation if side == "long" else stop >= liquidation


def guard_section(
    document: dict[str, Any], marks: dict[str, Decimal], liquidation: dict[str, Decimal | None], quote: dict[str, str]
) -> Section:
    """Each stop and liquidation price as a move from the mark; a stop beyond its liquidation is flagged."""
    import plotly.graph_objects as go

    symbols = sorted(marks)

    def moves(prices: dict[str, Decimal | None]) -> list[float | None]:
        return [None if prices.get(s) is None else float(prices[s] / marks[s] - 1) for s in symbols]  # type: ignore[operator]

    stops: dict[str, Decimal | None] = {s["symbol"]: Decimal(s["trigger_price"]) for s in document["stops"]}
    figure = go.Figure()
    markers = [
        ("mark", [0.0] * len(symbols), "circle", "#555555"),
        (f"stop (fires before health {document['level']})", moves(stops), "diamond", PALETTE[0]),
        ("liquidation price (other marks fixed)", moves(liquidation), "x", LIQUIDATION_COLOUR),
    ]
    for name, x, symbol, colour in markers:
        marker = {"symbol": symbol, "size": 13, "color": colour}
        hover = "%{y}: %{x:+.2%} from the mark<extra>" + name + "</extra>"
        figure.add_trace(go.Scatter(x=x, y=symbols, mode="markers", name=name, marker=marker, hovertemplate=hover))
    figure.update_layout(
        **LAYOUT, xaxis_title="move from the mark", xaxis_tickformat="+.0%", height=160 + 60 * len(symbols)
    )
    rows = [["symbol", "side", "mark", "stop at", "stop's move", "liquidation price (others fixed)", "order"]]
    flagged, warnings = set(), []
    for index, stop in enumerate(document["stops"]):
        symbol, side, trigger = stop["symbol"], stop["side"], Decimal(stop["trigger_price"])
        unit = quote.get(symbol, "")
        liquidation_price = liquidation.get(symbol)
        late = _beyond(side, trigger, liquidation_price)
        liquidation_text = "none" if liquidation_price is None else f"{price(liquidation_price)} {unit}"
        order = "stop lies beyond liquidation" if late else "stop fires first"
        rows.append([symbol, side, f"{price(marks[symbol])} {unit}", f"{price(trigger)} {unit}",
                     percent(stop["move"], signed=True), liquidation_text, order])  # fmt: skip
        if late:
            flagged.add(index)
            warnings.append(
                f"{symbol} ({side}): the stop at {price(trigger)} {unit} lies beyond the liquidation price "
                f"{liquidation_text}: the venue liquidates the position before the stop fires."
            )
    note = "Stops for a joint move of every mark; each liquidation price holds the other marks fixed."
    return Section("Guards: stops and liquidation prices", figure, rows, note, frozenset(flagged), tuple(warnings))


def _date(hour: int) -> str:
    return str(np.datetime64(hour, "h")).replace("T", " ") + ":00"


def regime_section(series: Any, threshold: float) -> Section:
    """Average correlation and diversification ratio by date, with the episodes above the threshold."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    dates = [str(np.datetime64(int(h), "h")) for h in series.hours]
    figure = make_subplots(specs=[[{"secondary_y": True}]])
    figure.add_trace(
        go.Scatter(x=dates, y=series.average_correlation, name="average pairwise correlation",
                   line={"color": PALETTE[0], "width": 2}),
        secondary_y=False,
    )  # fmt: skip
    figure.add_trace(
        go.Scatter(x=dates, y=series.diversification_ratio, name="diversification ratio (right axis)",
                   line={"color": PALETTE[1], "width": 2}),
        secondary_y=True,
    )  # fmt: skip
    figure.add_hline(
        y=threshold, line_dash="dot", line_color=LIQUIDATION_COLOUR, annotation_text=f"systemic ({threshold:g})"
    )
    figure.update_layout(**LAYOUT, height=450, xaxis_title="window end (date, UTC)")
    figure.update_yaxes(title_text="average pairwise correlation", secondary_y=False)
    figure.update_yaxes(title_text="diversification ratio", secondary_y=True)
    rows = [["from (UTC)", "to (UTC)", "peak average correlation"]]
    for episode in sorted(series.episodes(), key=lambda e: -e.peak_correlation)[:10]:
        start, end = (
            str(np.datetime64(hour, "h")).replace("T", " ") + ":00" for hour in (episode.start_hour, episode.end_hour)
        )
        rows.append([start, end, f"{episode.peak_correlation:.3f}"])
    note = f"{', '.join(series.assets)}, rolling windows; the episodes table lists the ten highest above {threshold:g}."
    return Section("Regime: correlation and diversification by date", figure, rows if len(rows) > 1 else [], note)
