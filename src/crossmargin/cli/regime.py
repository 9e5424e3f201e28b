"""``crossmargin regime``: when the account's positions stop diversifying each other."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import numpy as np
import typer
from rich.console import Console
from rich.table import Table

from crossmargin.cli.errors import input_errors_exit
from crossmargin.cli.montecarlo import decimal_text, parse_hours
from crossmargin.cli.output import check_output_file
from crossmargin.margin.account import load_account


def _date(hour: int) -> str:
    return str(np.datetime64(hour, "h")) + ":00Z"


@input_errors_exit
def regime(
    account: Annotated[Path, typer.Argument(help="Account JSON file.")],
    window: Annotated[str, typer.Option("--window", help="Rolling window: 30d, 2w.")] = "30d",
    every: Annotated[str, typer.Option("--every", help="Spacing of the windows: 1d, 8h.")] = "1d",
    threshold: Annotated[float, typer.Option("--threshold", help="Average correlation that flags a window.")] = 0.8,
    as_json: Annotated[bool, typer.Option("--json", help="Print the JSON document instead of a table.")] = False,
    html_file: Annotated[Path | None, typer.Option("--html", help="Also write a self-contained HTML report.")] = None,
) -> None:
    """Rolling average correlation and diversification ratio of the account's positions over the
    shipped hourly history, and the episodes where correlation reached the threshold."""
    from crossmargin.risk.regime import regime as run_regime
    from crossmargin.risk.regime import weights_of

    check_output_file(html_file, "--html")
    snapshot = load_account(account)
    series = run_regime(
        weights_of(snapshot.positions),
        window_hours=parse_hours(window, "window"),
        every_hours=parse_hours(every, "every"),
        threshold=threshold,
    )
    episodes = series.episodes()
    if html_file is not None:
        from crossmargin.cli.report import regime_section, write_report

        section = regime_section(series, threshold)
        write_report(html_file, f"Regime: {account.name}", [section], account=snapshot)
    if as_json:
        document = {
            "assets": list(series.assets),
            "threshold": decimal_text(threshold),
            "windows": [
                {"end": _date(int(h)), "average_correlation": decimal_text(float(c)),
                 "diversification_ratio": decimal_text(float(d)), "flagged": bool(f)}
                for h, c, d, f in zip(series.hours, series.average_correlation, series.diversification_ratio,
                                      series.flagged, strict=True)
            ],
            "episodes": [
                {"start": _date(e.start_hour), "end": _date(e.end_hour),
                 "peak_correlation": decimal_text(e.peak_correlation)}
                for e in episodes
            ],
        }  # fmt: skip
        typer.echo(json.dumps(document, indent=2))
        return
    console = Console()
    last = -1
    console.print(
        f"{', '.join(series.assets)}: latest window to {_date(int(series.hours[last]))}, average correlation "
        f"{series.average_correlation[last]:.3f}, diversification ratio {series.diversification_ratio[last]:.3f}"
    )
    table = Table(title=f"episodes with average correlation >= {threshold} ({window} windows)")
    for column in ("from", "to", "peak correlation"):
        table.add_column(column)
    for episode in sorted(episodes, key=lambda e: -e.peak_correlation)[:15]:
        table.add_row(_date(episode.start_hour), _date(episode.end_hour), f"{episode.peak_correlation:.3f}")
    console.print(table)
