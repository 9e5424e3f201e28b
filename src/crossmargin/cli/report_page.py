"""The HTML report: one self-contained page that opens with the account, then one section per view.

``--html FILE`` on each risk command writes it, and ``crossmargin report`` writes every view in
one page. The page opens with what a trader checks first: the venue and the rulebook's date,
when the page was made, each pool's equity, health and liquidation move, and the positions
with their liquidation prices. Warnings (a stop beyond its liquidation price) come next, then
the sections (:mod:`crossmargin.cli.report`), each a chart and its figures with units.
plotly.js is inlined once, so the file opens anywhere without a network.
"""

from __future__ import annotations

import datetime
import html
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from crossmargin import __version__
from crossmargin.cli.formats import amount, percent, price
from crossmargin.cli.output import write_output_file
from crossmargin.margin.account import AccountSnapshot

PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>
body{{font-family:system-ui,sans-serif;margin:2em auto;max-width:1100px;padding:0 1em;color:#1a1a1a}}
h1{{font-size:1.5em;margin-bottom:.2em}}h2{{font-size:1.2em;margin-top:2em}}h3{{font-size:1em;margin:1.2em 0 .3em}}
table{{border-collapse:collapse;margin:.5em 0;font-variant-numeric:tabular-nums}}
td,th{{border:1px solid #ccc;padding:.25em .6em;text-align:right}}td{{white-space:nowrap}}
th{{background:#f4f4f4;font-weight:600;vertical-align:bottom}}div.wide{{overflow-x:auto}}
td:first-child,th:first-child{{text-align:left}}p.note,p.made{{color:#555;margin-top:0}}
tr.flag td{{background:#fde8e8;color:#8a1010;font-weight:600}}
.warnings{{border:2px solid #c0392b;background:#fdf2f2;padding:.6em 1em;margin:1em 0}}
.warnings h2{{margin:0 0 .3em;color:#a02020}}.ok{{color:#1e7b34}}.bad{{color:#b02020;font-weight:600}}
</style></head>
<body><h1>{title}</h1>{account}{warnings}{sections}</body></html>
"""


@dataclass(frozen=True)
class Section:
    """One view: its chart (a plotly Figure), a table (first row: headers) and what to heed.

    ``flagged`` holds the indices of table rows to show in red; ``warnings`` are sentences that
    the page repeats at its top."""

    title: str
    figure: Any
    rows: list[list[str]]
    note: str = ""
    flagged: frozenset[int] = frozenset()
    warnings: tuple[str, ...] = field(default_factory=tuple)


def write_report(path: Path, title: str, sections: Sequence[Section], *, account: AccountSnapshot) -> None:
    """Write the page: the account, the warnings, then every section; plotly.js inlined once."""
    import plotly.io as pio

    parts = []
    for index, section in enumerate(sections):
        chart = pio.to_html(
            section.figure,
            include_plotlyjs=index == 0,
            full_html=False,
            div_id=f"chart-{index}",
            config={"displaylogo": False, "responsive": True},
        )
        table = table_html(section.rows, section.flagged)
        note = f'<p class="note">{html.escape(section.note)}</p>' if section.note else ""
        parts.append(f"<section><h2>{html.escape(section.title)}</h2>{note}{chart}{table}</section>")
    warnings = [warning for section in sections for warning in section.warnings]
    page = PAGE.format(
        title=html.escape(title),
        account=account_html(account),
        warnings=_warnings_html(warnings),
        sections="\n".join(parts),
    )
    write_output_file(path, page, "--html")


def table_html(rows: Sequence[Sequence[str]], flagged: frozenset[int] = frozenset()) -> str:
    """An HTML table; ``rows[0]`` is the header, ``flagged`` the data rows (from 0) shown in red."""
    if not rows:
        return ""
    head = "".join(f"<th>{html.escape(cell)}</th>" for cell in rows[0])
    body = "".join(
        ('<tr class="flag">' if index in flagged else "<tr>")
        + "".join(f"<td>{html.escape(cell)}</td>" for cell in row)
        + "</tr>"
        for index, row in enumerate(rows[1:])
    )
    return f'<div class="wide"><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>'


def _warnings_html(warnings: list[str]) -> str:
    if not warnings:
        return ""
    items = "".join(f"<li>{html.escape(warning)}</li>" for warning in warnings)
    return f'<div class="warnings"><h2>Warnings</h2><ul>{items}</ul></div>'


def account_html(snapshot: AccountSnapshot) -> str:
    """The account as ``crossmargin evaluate`` sees it: venue, rulebook date, pools, positions."""
    from crossmargin.margin.evaluate import evaluate_account
    from crossmargin.margin.report import evaluation_to_json

    document = evaluation_to_json(evaluate_account(snapshot))
    made = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    head = (
        f'<p class="made">Venue <b>{html.escape(document["venue"])}</b>, rulebook as of '
        f"<b>{html.escape(document['rulebook_as_of'])}</b>. Made {made} by crossmargin {__version__}.</p>"
    )
    units = {p.symbol: (p.instrument, p.settlement_asset) for p in snapshot.positions}
    pools = [_pool_rows(pool) for pool in document["pools"]]
    positions = [row for pool in document["pools"] for row in _position_rows(pool["positions"], units)]
    positions += _position_rows(document["isolated"], units)
    parts = [head, "<h3>Pools</h3>", table_html([POOL_HEADER, *pools])]
    if positions:
        parts += ["<h3>Positions</h3>", table_html([POSITION_HEADER, *positions])]
    return "<section>" + "".join(parts) + "</section>"


POOL_HEADER = [
    "pool",
    "wallet balance",
    "equity (margin balance)",
    "maintenance margin",
    "health",
    "liquidating fall of every mark",
    "liquidating rise of every mark",
    "max withdrawable",
]
POSITION_HEADER = [
    "symbol",
    "side",
    "margin",
    "size",
    "entry price",
    "mark price",
    "notional",
    "unrealised PnL",
    "liquidation price (others fixed)",
]


def _pool_rows(pool: dict[str, Any]) -> list[str]:
    asset = pool["settlement_asset"]
    move = pool["liquidation_move"]
    health = pool["health"]
    return [
        f"cross {asset}" + (" (liquidatable now)" if pool["liquidatable"] else ""),
        f"{amount(pool['wallet_balance'], asset)} {asset}",
        f"{amount(pool['margin_balance'], asset)} {asset}",
        f"{amount(pool['maintenance_margin'], asset)} {asset}",
        "--" if health is None else f"{float(health):,.2f}",
        "none" if move["down"] is None else percent(move["down"]),
        "none" if move["up"] is None else f"+{percent(move['up'])}",
        f"{amount(pool['max_withdrawable'], asset)} {asset}",
    ]


def _position_rows(positions: list[dict[str, Any]], units: dict[str, tuple[Any, str]]) -> list[list[str]]:
    rows = []
    for p in positions:
        instrument, settlement = units[p["symbol"]]
        size_unit = instrument.base_asset if instrument.kind == "linear" else "contracts"
        quote = instrument.quote_asset
        side = p["side"] + ("" if p["position_side"] == "both" else " (hedge leg)")
        liquidation = p.get("liquidation_price_tick", p["liquidation_price"])
        rows.append(
            [
                p["symbol"],
                side,
                p["margin_mode"],
                f"{price(p['size'])} {size_unit}",
                f"{price(p['entry_price'])} {quote}",
                f"{price(p['mark_price'])} {quote}",
                f"{amount(p['notional'], settlement)} {settlement}",
                f"{amount(p['unrealized_pnl'], settlement)} {settlement}",
                "none" if liquidation is None else f"{price(liquidation)} {quote}",
            ]
        )
    return rows
