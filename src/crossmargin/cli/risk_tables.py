"""Tables of the risk commands, readable at 80 columns with the unit of every amount.

They are built with :func:`crossmargin.cli.tables.fit_tables`: columns that do not fit the
terminal continue in a second table rather than cut a figure short. A figure that is the same
in every row (the equity before a stress) goes above the table, and a column with nothing to
say (no bad debt anywhere) gives way to a line below it, so the usual table fits in one part.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from rich.console import Console, Group
from rich.table import Table
from rich.text import Text

from crossmargin.cli.formats import amount, price
from crossmargin.cli.tables import Cell, Column, fit_tables, unit_header

#: Marks a liquidation that came while the user was locked out (a blackout step).
LOCKED_OUT = "*"


def hours_text(hours: Decimal) -> str:
    """``26 h``, ``21 h 35 min`` or ``5 min``: a step's time, to the minute."""
    minutes = int((hours * 60).to_integral_value())
    whole, rest = divmod(minutes, 60)
    if not rest:
        return f"{whole} h"
    return f"{whole} h {rest} min" if whole else f"{rest} min"


def _when(report: Any) -> str:
    """When a scenario liquidated the account: hours since its start (``--json`` has the step)."""
    if not report.liquidated:
        return "no"
    when = "at start" if report.liquidated_at_step == 0 else f"after {hours_text(report.liquidated_at_hours)}"
    return when + (LOCKED_OUT if report.liquidated_in_blackout else "")


def stress_table(title: str, reports: Sequence[Any], asset: str, console: Console | None = None) -> Group:
    """Equity after, loss, lowest health, liquidation and bad debt per scenario, amounts in
    ``asset``; the equity before above the table when every scenario shares it (one account),
    and below it the lines a reader needs to trust the rows: which held assets a scenario left
    at their price or moved by a beta, and what the marks mean.

    Where the columns do not fit the width in one part, long scenario names wrap at their
    hyphens first, then the equity after gives way (it is the equity before less the loss, and
    ``--json`` has it); only then does the table continue in a second part."""
    befores = {report.equity_before for report in reports}
    shared = len(befores) == 1
    heading = title + (f"\nequity before: {amount(next(iter(befores)), asset)} {asset}" if shared else "")
    with_debt = any(report.bad_debt for report in reports)
    width = (console or Console()).width
    notes = [Text(line) for line in stress_notes(reports, with_debt)]
    tables: list[Table] = []
    for compact in (0, 1, 2):
        columns, rows = _stress_rows(reports, asset, shared=shared, with_debt=with_debt, compact=compact)
        tables = fit_tables(heading, columns, rows, width)
        if len(tables) == 1:
            break
    if compact > 1 and shared:
        notes.insert(0, Text("equity after: the equity before less the loss (--json has every figure)"))
    for table in tables[1:]:
        table.title = Text(f"{title} (continued)")
    return Group(*tables, *notes)


def _stress_rows(
    reports: Sequence[Any], asset: str, *, shared: bool, with_debt: bool, compact: int
) -> tuple[list[Column], list[list[Cell]]]:
    """The stress table's columns and rows; ``compact`` 1 wraps long scenario names, 2 also leaves
    out the equity after where the equity before stands above the table."""
    with_after = not (compact > 1 and shared)
    columns = [Column("scenario", "left", key=True)]
    if not shared:
        columns.append(Column(unit_header("equity\nbefore", asset)))
    if with_after:
        columns.append(Column(unit_header("equity\nafter", asset)))
    columns += [Column(unit_header("loss", asset)), Column("lowest\nhealth"), Column("liquidated", "left")]
    if with_debt:
        columns.append(Column(unit_header("bad\ndebt", asset)))
    rows: list[list[Cell]] = []
    for report in reports:
        lowest = report.min_health
        row: list[Cell] = [_wrapped(report.scenario) if compact else report.scenario]
        if not shared:
            row.append(amount(report.equity_before, asset))
        if with_after:
            row.append(amount(report.equity_after, asset))
        row += [amount(report.loss, asset), "--" if lowest is None else f"{lowest:.4f}", _when(report)]
        if with_debt:
            row.append(amount(report.bad_debt, asset))
        rows.append(row)
    return columns, rows


def _wrapped(name: str, limit: int = 16) -> str:
    """A scenario name on lines of at most ``limit`` characters, broken after a hyphen inside a
    word (never a minus sign) or at a space (``hyperliquid-eth-`` / ``whale-2025``); a single
    word longer than that stays whole."""
    words = [part for part in re.split(r"(?<=[A-Za-z0-9]-)|(?= )", name) if part]
    lines = [""]
    for word in words:
        if lines[-1] and len(lines[-1]) + len(word.rstrip()) > limit:
            lines.append(word.lstrip())
        else:
            lines[-1] += word
    return "\n".join(line.rstrip() for line in lines)


def stress_notes(reports: Sequence[Any], with_debt: bool) -> list[str]:
    """The lines under the stress table: held assets moved by a beta rather than by the
    scenario's data, held assets no step moved, a liquidation during a blackout, no bad debt."""
    lines = coverage_lines([(r.scenario, r.unmoved, r.proxies) for r in reports])
    if any(report.liquidated_in_blackout for report in reports):
        lines.append(f"{LOCKED_OUT} liquidated during a blackout: the user's orders would have been refused")
    if not with_debt and any(report.liquidated for report in reports):
        lines.append("bad debt: none in any scenario")
    return lines


def coverage_lines(scenarios: Sequence[tuple[str, Sequence[str], dict[str, Any]]]) -> list[str]:
    """What each scenario did to the held assets its data leaves out, from ``(name, unmoved,
    betas)``: those moved by their beta times BTC's move, and those left at their price (grouped,
    so that a library of incidents gives a line or two)."""
    lines = []
    proxied: dict[str, list[str]] = {}
    unmoved: dict[tuple[str, ...], list[str]] = {}
    for name, flat, proxies in scenarios:
        if proxies:
            shown = ", ".join(f"{a} (beta {Decimal(beta):.2f})" for a, beta in sorted(proxies.items()))
            proxied.setdefault(shown, []).append(name)
        if flat:
            unmoved.setdefault(tuple(flat), []).append(name)
    for shown, names in proxied.items():
        lines.append(f"moved by beta x BTC's move, not by data of the day: {shown} in {', '.join(names)}")
    for assets, names in unmoved.items():
        lines.append(f"not moved, left at their price: {', '.join(assets)} in {', '.join(names)}")
    return lines


def _side(row: dict[str, Any]) -> str:
    """``long``, ``short``, or ``long leg`` for a hedge-mode leg."""
    leg = row.get("position_side", "both")
    return row["side"] if leg in (None, "both") else f"{row['side']} leg"


def guard_tables(document: dict[str, Any], quote: dict[str, str], width: int) -> list[Any]:
    """The guard document for people: each part a line saying what it answers, then its table
    (titles stay short, so a narrow table never wraps its title over several lines)."""
    parts: list[Any] = [Text(f"stops: fire before health {document['level']} ({document['joint_move']} joint move)")]
    parts += _stops(document, quote, width)
    reserve = document["reserve"]
    amount_text = reserve["amount"] or "more than the positions' notional"
    if reserve["by_direction"] is None:
        parts.append(Text(f"reserve: none applies ({reserve['note']})"))
    else:
        parts.append(Text(f"reserve to survive {reserve['scenario']} (engine): {amount_text} {reserve['asset']}"))
        ways = ", ".join(f"{d} {a or 'more than the notional'}" for d, a in reserve["by_direction"].items())
        parts.append(Text(f"  each way: {ways}"))
    odds = document["reserve_for_probability"]
    if odds is not None:
        extra = odds["amount"] or "more than the positions' notional"
        parts.append(Text(f"reserve for 30-day liquidation odds <= {odds['target']} (Monte Carlo): {extra}"))
    parts += _largest(document["largest_sizes"], width)
    parts.append(Text("leverage per asset from its 1-in-200 day"))
    columns = [
        Column("asset", "left", key=True),
        Column("annual\nvol (%)"),
        Column("worst day\n(%, 99.5th)"),
        Column("advised\nleverage"),
        Column("venue\nmax"),
    ]
    rows: list[list[Cell]] = [
        [row["asset"], _percent_digits(row["annual_volatility"]), _percent_digits(row["worst_day_fall"]),
         f"{row['recommended']}x", f"{price(row['venue_max'])}x"]
        for row in document["leverage"]
    ]  # fmt: skip
    parts += fit_tables("", columns, rows, width)
    return parts


def _percent_digits(fraction: str, digits: int = 2) -> str:
    """A fraction as a percentage's digits (the ``%`` is in the header): ``0.6226`` -> ``62.26``."""
    return f"{Decimal(fraction) * 100:.{digits}f}"


def _stops(document: dict[str, Any], quote: dict[str, str], width: int) -> list[Any]:
    """The stops table, or the reason there is none: no joint move reaches the level."""
    missing = document.get("no_stop", [])
    if not document["stops"]:
        ways = {row["direction"]: row["searched_to"] for row in missing}
        shown = " or ".join(
            f"a fall to {_percent_digits(ways['down'], 0)} %" if way == "down" else
            f"a rise to +{_percent_digits(ways['up'], 0)} %"
            for way in ("down", "up") if way in ways
        )  # fmt: skip
        return [
            Text(
                f"none: no {document['joint_move']} joint move of every mark ({shown}) brings health to "
                f"{document['level']}; a liquidation price moves its own mark alone"
            )
        ]
    units = {quote.get(stop["symbol"], "") for stop in document["stops"]}
    shared = units.pop() if len(units) == 1 else None
    columns = [
        Column("symbol", "left", key=True),
        Column("side", "left"),
        Column(unit_header("stop at", shared)),
        Column("joint\nmove (%)"),
    ]
    rows: list[list[Cell]] = []
    for stop in document["stops"]:
        trigger = stop["trigger_price"] if shared else f"{stop['trigger_price']} {quote.get(stop['symbol'], '')}"
        rows.append([stop["symbol"], _side(stop), trigger.rstrip(), f"{Decimal(stop['move']) * 100:+.2f}"])
    parts: list[Any] = list(fit_tables("", columns, rows, width))
    for row in missing:
        parts.append(Text(f"no stop for {row['symbol']} {_side(row)}: {row['reason']}"))
    return parts


def _largest(largest: dict[str, Any], width: int) -> list[Any]:
    """The largest book: its multiple, each asset's move (one price per asset), a row per position."""
    window = hours_text(Decimal(largest.get("window_hours", 24)))
    moves = ", ".join(f"{asset} {Decimal(move) * 100:+.2f} %" for asset, move in largest.get("moves", {}).items())
    parts: list[Any] = [
        Text(f"largest sizes: {largest['factor']} x the book survives every asset's worst {window} at once"),
        Text(f"(the shipped history's worst {window}, the way that hurts the book: {moves})"),
    ]
    columns = [Column("symbol", "left", key=True), Column("side", "left"), Column("size\nnow"), Column("largest\nsize")]
    rows: list[list[Cell]] = [
        [row["symbol"], _side(row), row["size"], row["largest_size"]] for row in largest.get("positions", [])
    ]
    return parts + list(fit_tables("", columns, rows, width))
