"""Human output of the venue's own figures beside ours, for an imported account.

One table row per figure the venue reported: where (pool or position), which figure, the
venue's value, ours and the difference. A figure that differs by more than the two roundings
is in red: either our bug or a stale or misreported venue figure, and the user must see it.
Then one line per rulebook value the account's ``instruments`` replaced.
"""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

LEG_NAMES = {"both": "", "long": " long leg", "short": " short leg"}


def _trim(value: str | None) -> str:
    if value is None:
        return "--"
    return value.rstrip("0").rstrip(".") if "." in value else value


def _rows(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    rows = []
    for pool in document["pools"]:
        for name, row in pool.get("reported", {}).items():
            rows.append((f"{pool['settlement_asset']} pool", name, row))
        for position in pool["positions"]:
            label = f"{position['symbol']}{LEG_NAMES[position['position_side']]}"
            rows += [(label, name, row) for name, row in position.get("reported", {}).items()]
    for position in document["isolated"]:
        label = f"{position['symbol']}{LEG_NAMES[position['position_side']]} (isolated)"
        rows += [(label, name, row) for name, row in position.get("reported", {}).items()]
    return rows


#: Short names of the figures, as the other tables write them, so the column stays narrow.
FIGURE_LABELS = {
    "liquidation_price": "liq. price",
    "bankruptcy_price": "bankr. price",
    "maintenance_margin": "MM",
    "initial_margin": "IM",
    "unrealized_pnl": "uPnL",
    "max_withdrawable": "may withdraw",
    "available_balance": "available",
    "margin_balance": "margin balance",
    "wallet_balance": "wallet",
    "isolated_margin": "iso. margin",
}


def render_reported(document: dict[str, Any], console: Console) -> None:
    """The comparison table and the overrides, when the account carries the venue's figures."""
    reported = document.get("reported")
    if reported is not None:
        sources = ", ".join(s["endpoint"] + (f" at {s['time']}" if s["time"] else "") for s in reported["sources"])
        table = Table(title="The venue's figures beside ours", caption=f"from {sources}" if sources else None)
        for column in ("where", "figure", "venue", "ours", "ours - venue"):
            words = column in ("where", "figure")  # labels wrap at 80 columns; a figure is never cut
            table.add_column(
                column,
                justify="left" if words else "right",
                no_wrap=not words,
                overflow="fold",
            )
        for where, name, row in _rows(document):
            style = "" if row["agrees"] else "bold red"
            table.add_row(
                where,
                FIGURE_LABELS.get(name, name.replace("_", " ")),
                _trim(row["venue"]),
                _trim(row["own"]),
                _trim(row["difference"]) if row["difference"] is not None else ("--" if row["agrees"] else "differs"),
                style=style,
            )
        console.print(table)
        count = len(reported["disagreements"])
        if count:
            console.print(
                Text(
                    f"{count} of {reported['compared']} figures differ from the venue's by more than its rounding.",
                    style="bold red",
                )
            )
        else:
            console.print(Text(f"All {reported['compared']} figures the venue reported agree within its rounding."))
    for override in document.get("overrides", []):
        if override["rulebook"] is None:
            console.print(Text(f"{override['symbol']} is not in the rulebook: defined by the account's responses."))
        else:
            console.print(Text(f"{override['symbol']}: the account's {override['key']} replaced the rulebook's."))
