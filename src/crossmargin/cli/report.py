"""The HTML report: one self-contained file with plotly charts, for stress, Monte Carlo, guards and regime.

``--html FILE`` on each risk command writes it. The plotly library is inlined once, so the file
opens anywhere without a network. Each section carries one chart and its figures:

- stress: the health path per scenario, with the liquidation line at 1;
- Monte Carlo: the probability of liquidation against the horizon;
- guards: each position's stop and liquidation price as a move from its mark;
- regime: the average correlation and the diversification ratio over time.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>body{{font-family:system-ui,sans-serif;margin:2em;max-width:1100px}}h1{{font-size:1.5em}}
h2{{font-size:1.2em;margin-top:2em}}table{{border-collapse:collapse;margin:.5em 0}}
td,th{{border:1px solid #ccc;padding:.25em .6em;text-align:right}}th{{background:#f4f4f4}}
td:first-child,th:first-child{{text-align:left}}p.note{{color:#555}}</style></head>
<body><h1>{title}</h1>{sections}</body></html>
"""


@dataclass(frozen=True)
class Section:
    title: str
    figure: Any  # a plotly Figure
    rows: list[list[str]]
    note: str = ""


def write_report(path: Path, title: str, sections: list[Section]) -> None:
    """Write the sections as one HTML file; plotly.js is inlined with the first chart only."""
    import plotly.io as pio

    parts = []
    for index, section in enumerate(sections):
        chart = pio.to_html(section.figure, include_plotlyjs=index == 0, full_html=False, div_id=f"chart-{index}")
        table = _table(section.rows)
        note = f'<p class="note">{html.escape(section.note)}</p>' if section.note else ""
        parts.append(f"<section><h2>{html.escape(section.title)}</h2>{note}{chart}{table}</section>")
    path.write_text(PAGE.format(title=html.escape(title), sections="\n".join(parts)), encoding="utf-8")


def _table(rows: list[list[str]]) -> str:
    if not rows:
        return ""
    head = "".join(f"<th>{html.escape(cell)}</th>" for cell in rows[0])
    body = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in rows[1:])
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def stress_section(documents: list[dict[str, Any]]) -> Section:
    import plotly.graph_objects as go

    figure = go.Figure()
    rows = [["scenario", "equity before", "equity after", "lowest health", "liquidated at step", "bad debt"]]
    for document in documents:
        path = [None if h is None else float(h) for h in document["health_path"]]
        figure.add_trace(go.Scatter(x=list(range(len(path))), y=path, mode="lines", name=document["name"]))
        step = document["liquidated_at_step"]
        when = "--" if step is None else str(step)
        lowest = document["min_health"] or "--"
        rows.append([document["name"], document["equity_before"], document["equity_after"], lowest, when,
                     document["bad_debt"]])  # fmt: skip
    figure.add_hline(y=1, line_dash="dash", line_color="red", annotation_text="liquidation")
    figure.update_layout(xaxis_title="step", yaxis_title="health (margin balance / requirement)", height=450)
    return Section("Stress through the engine: health path per scenario", figure, rows)


def montecarlo_section(liquidated_at: np.ndarray, step_hours: int, document: dict[str, Any]) -> Section:
    import plotly.graph_objects as go

    steps = int(document["steps"])
    counts = np.bincount(liquidated_at[liquidated_at >= 0], minlength=steps)[:steps]
    probability = np.cumsum(counts) / len(liquidated_at)
    hours = (np.arange(steps) + 1) * step_hours
    figure = go.Figure(go.Scatter(x=hours / 24, y=probability, mode="lines", name="P(liquidated by then)"))
    figure.update_layout(xaxis_title="horizon (days)", yaxis_title="probability of liquidation", height=420)
    rows = [
        ["figure", "value"],
        ["liquidation probability", document["liquidation_probability"]],
        ["standard error", document["standard_error"]],
        ["expected shortfall (95 %)", document["expected_shortfall"]],
    ]
    rows += [[f"lowest health, {q} quantile", v] for q, v in document["min_health_quantiles"].items()]
    note = f"{document['model']} model, {document['paths']:,} paths, seed {document['seed']}"
    return Section("Monte Carlo: probability of liquidation against the horizon", figure, rows, note)


def guard_section(document: dict[str, Any], marks: dict[str, float], liquidation: dict[str, float | None]) -> Section:
    import plotly.graph_objects as go

    figure = go.Figure()
    symbols = sorted(marks)
    stops: dict[str, float | None] = {s["symbol"]: float(s["trigger_price"]) for s in document["stops"]}

    def moves(prices: dict[str, float | None]) -> list[float | None]:
        return [None if prices.get(s) is None else prices[s] / marks[s] - 1 for s in symbols]  # type: ignore[operator]

    figure.add_trace(go.Scatter(x=[0.0] * len(symbols), y=symbols, mode="markers", name="mark"))
    stop_name = f"stop (health {document['level']})"
    figure.add_trace(
        go.Scatter(x=moves(stops), y=symbols, mode="markers", name=stop_name, marker={"symbol": "diamond", "size": 12})
    )
    figure.add_trace(
        go.Scatter(
            x=moves(liquidation), y=symbols, mode="markers", name="liquidation price (others frozen)",
            marker={"symbol": "x", "size": 12},
        )
    )  # fmt: skip
    figure.update_layout(xaxis_title="move from the mark", xaxis_tickformat=".0%", height=120 + 60 * len(symbols))
    rows = [["symbol", "side", "stop at", "joint move"]]
    rows += [[s["symbol"], s["side"], s["trigger_price"], s["move"]] for s in document["stops"]]
    return Section("Guards: stops and liquidation prices on the price axis", figure, rows)


def regime_section(hours: np.ndarray, average: np.ndarray, ratio: np.ndarray, threshold: float) -> Section:
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    dates = [str(np.datetime64(int(h), "h")) for h in hours]
    figure = make_subplots(specs=[[{"secondary_y": True}]])
    figure.add_trace(go.Scatter(x=dates, y=average, name="average correlation"), secondary_y=False)
    figure.add_trace(go.Scatter(x=dates, y=ratio, name="diversification ratio"), secondary_y=True)
    figure.add_hline(y=threshold, line_dash="dash", line_color="red", annotation_text="systemic")
    figure.update_layout(height=450)
    return Section("Regime: correlation and diversification over time", figure, [])
