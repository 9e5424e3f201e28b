"""Tables of the risk commands, readable at 80 columns with the unit of every amount.

They are built with :func:`crossmargin.cli.tables.fit_tables`: columns that do not fit the
terminal continue in a second table rather than cut a figure short.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rich.console import Console, Group

from crossmargin.cli.formats import amount
from crossmargin.cli.tables import Cell, Column, fit_tables, unit_header


def _when(report: Any) -> str:
    """When a scenario liquidated the account: hours since its start (``--json`` has the step)."""
    if not report.liquidated:
        return "no"
    when = "at the start (step 0)" if report.liquidated_at_step == 0 else f"after {report.liquidated_at_hours} h"
    return when + (" (locked out)" if report.liquidated_in_blackout else "")


def stress_table(title: str, reports: Sequence[Any], asset: str, console: Console | None = None) -> Group:
    """Equity, lowest health, liquidation, loss and bad debt per scenario, amounts in ``asset``."""
    columns = [
        Column("scenario", "left", key=True),
        Column(unit_header("equity\nbefore", asset)),
        Column(unit_header("equity\nafter", asset)),
        Column("lowest\nhealth"),
        Column("liquidated", "left"),
        Column(unit_header("loss", asset)),
        Column(unit_header("bad\ndebt", asset)),
    ]
    rows: list[list[Cell]] = []
    for report in reports:
        lowest = report.min_health
        rows.append(
            [
                report.scenario,
                amount(report.equity_before, asset),
                amount(report.equity_after, asset),
                "--" if lowest is None else f"{lowest:.4f}",
                _when(report),
                amount(report.loss, asset),
                amount(report.bad_debt, asset),
            ]
        )
    width = (console or Console()).width
    return Group(*fit_tables(title, columns, rows, width))
