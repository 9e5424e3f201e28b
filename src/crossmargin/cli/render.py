"""Human output of ``crossmargin evaluate``: the liquidation move first, then the tables.

Every figure is printed whole, as the JSON has it less its trailing zeros: at 80 columns a
table too wide continues below itself (:mod:`crossmargin.cli.tables`) rather than cutting a
number. Units sit in the headers where a column shares one (``notional (USDT)``), and beside
the figure where rows differ (each position's size is in its own base asset).
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from typing import Any, NamedTuple

from rich.console import Console
from rich.table import Table
from rich.text import Text

from crossmargin.cli.render_reported import render_reported
from crossmargin.cli.tables import Cell, Column, print_fitted, unit_header
from crossmargin.margin.types import Position


class Units(NamedTuple):
    """What a position's figures are counted in: size, prices, and amounts (its settlement asset)."""

    size: str
    price: str
    amount: str


def units_of(positions: Iterable[Position]) -> dict[str, Units]:
    """Each symbol's units: a linear size in its base asset, an inverse one in contracts."""
    return {
        p.symbol: Units(
            p.instrument.base_asset if p.instrument.kind == "linear" else "cont.",
            p.instrument.quote_asset,
            p.settlement_asset,
        )
        for p in positions
    }


def _percent(move: str) -> str:
    return f"{abs(Decimal(move)) * 100:,.2f}%"


def move_sentence(pool: dict[str, Any]) -> str:
    """Say in words what uniform move of every mark liquidates the pool."""
    move = pool["liquidation_move"]
    asset = pool["settlement_asset"]
    if not pool["positions"]:
        return f"The {asset} pool holds no cross positions."
    if pool["liquidatable"]:
        return f"The {asset} pool is liquidatable now (health at or below 1)."
    parts = []
    if move["down"] is not None:
        parts.append(f"a {_percent(move['down'])} fall of every mark liquidates this {asset} pool")
    if move["up"] is not None:
        target = "it" if parts else f"this {asset} pool"
        parts.append(f"a {_percent(move['up'])} rise of every mark liquidates {target}")
    if not parts:
        return f"No uniform move of every mark liquidates the {asset} pool."
    sentence = "; ".join(parts)
    return sentence[0].upper() + sentence[1:] + "."


def _health_text(health: str | None) -> Text:
    if health is None:
        return Text("n/a (nothing required)", style="dim")
    value = Decimal(health)
    style = "bold red" if value <= Decimal("1.2") else ("yellow" if value < 2 else "green")
    return Text(trim(health), style=style)


def trim(value: str | None) -> str:
    """Display form: trailing zeros dropped (the JSON keeps every digit)."""
    if value is None:
        return "--"
    return value.rstrip("0").rstrip(".") if "." in value else value


POOL_FIGURES = (
    ("wallet balance", "wallet_balance", True),
    ("unrealized pnl", "unrealized_pnl", True),
    ("margin balance", "margin_balance", True),
    ("initial margin", "initial_margin", True),
    ("maintenance margin", "maintenance_margin", True),
    ("margin ratio (venue's)", "margin_ratio", False),
    ("health", "health", False),
    ("available balance", "available_balance", True),
    ("max withdrawable", "max_withdrawable", True),
)


def _pool_table(pool: dict[str, Any]) -> Table:
    asset = pool["settlement_asset"]
    summary = Table(title=f"Cross pool {asset}", show_header=False)
    summary.add_column("figure")
    summary.add_column("value", justify="right", no_wrap=True)
    for label, key, is_amount in POOL_FIGURES:
        if key == "available_balance" and Decimal(pool.get("open_order_initial_margin") or 0):
            # shown where resting orders hold margin back
            summary.add_row(f"open-order initial margin ({asset})", trim(pool["open_order_initial_margin"]))
        value = _health_text(pool[key]) if key == "health" else trim(pool[key])
        summary.add_row(f"{label} ({asset})" if is_amount else label, value)
    return summary


Spec = list[tuple[str, str, str | None, str]]


def _figure_columns(
    positions: list[dict[str, Any]], units: dict[str, Units], spec: Spec
) -> tuple[list[Column], list[list[Cell]]]:
    """Columns of ``spec`` (header, key, unit kind, group): a unit every row shares goes in the
    header, otherwise each figure carries its own; a table too wide splits between groups."""
    columns = [Column("symbol", "left", key=True)]
    rows: list[list[Cell]] = [[_label(p)] for p in positions]
    for header, key, kind, group in spec:
        per_row = [getattr(units[p["symbol"]], kind) if kind and p["symbol"] in units else "" for p in positions]
        shared = per_row[0] if per_row and len(set(per_row)) == 1 else None
        columns.append(Column(unit_header(header, shared), "left" if key == "side" else "right", together=group))
        for row, p, unit in zip(rows, positions, per_row, strict=True):
            row.append(_cell(p, key) + ("" if shared is not None or not unit else f" {unit}"))
    return columns, rows


def _label(position: dict[str, Any]) -> str:
    """The symbol, and a hedge-mode leg's side, so each row names its position in every table."""
    leg = position["position_side"]
    return position["symbol"] if leg == "both" else f"{position['symbol']} {leg}"


def _cell(position: dict[str, Any], key: str) -> str:
    if key == "side":
        return position["side"] if position["position_side"] == "both" else f"{position['side']} (hedge)"
    if key in ("liquidation_price", "bankruptcy_price"):  # the tick-rounded figure where the JSON has one
        return trim(position.get(f"{key}_tick", position[key]))
    return trim(position[key])


POSITION_SPEC: Spec = [
    ("side", "side", None, "position"),
    ("size", "size", "size", "position"),
    ("entry", "entry_price", "price", "position"),
    ("mark", "mark_price", "price", "position"),
    ("notional", "notional", "amount", "value"),
    ("uPnL", "unrealized_pnl", "amount", "value"),
]
RISK_SPEC: Spec = [
    ("IM", "initial_margin", "amount", "margin"),
    ("MM", "maintenance_margin", "amount", "margin"),
    ("MMR", "mmr", None, "margin"),
    ("liq. price", "liquidation_price", "price", "prices"),
    ("bankr. price", "bankruptcy_price", "price", "prices"),
]


def _positions(console: Console, title: str, positions: list[dict[str, Any]], units: dict[str, Units]) -> None:
    print_fitted(console, f"{title} positions", *_figure_columns(positions, units, POSITION_SPEC))
    isolated = "isolated_margin" in positions[0]
    spec = RISK_SPEC + ([("iso. margin", "isolated_margin", "amount", "isolated")] if isolated else [])
    columns, rows = _figure_columns(positions, units, spec)
    if isolated:
        columns.append(Column("health", together="isolated"))
        for row, p in zip(rows, positions, strict=True):
            row.append(_health_text(p["health"]))
    print_fitted(console, f"{title} margin and prices", columns, rows)


def _assets(console: Console, pool: dict[str, Any]) -> None:
    columns = [
        Column("asset", "left", key=True),
        Column("wallet"),
        Column("equity\n(with PnL)"),
        Column("price\n(USD)"),
        Column("value\n(USD, haircut)"),
        Column("available"),
    ]
    keys = ("wallet_balance", "equity", "price", "value_usd", "available")
    rows: list[list[Cell]] = [[row["asset"], *(trim(row[k]) for k in keys)] for row in pool["assets"]]
    print_fitted(console, "Collateral in the USD pool (amounts in each asset)", columns, rows)


def render_evaluation(
    document: dict[str, Any], console: Console, source: str, units: dict[str, Units] | None = None
) -> None:
    """Print one account's evaluation: move sentences, pool tables, isolated positions.

    ``units`` (from :func:`units_of`) puts units on sizes, prices and amounts; without it the
    amounts of a pool still carry the pool's asset.
    """
    units = units or {}
    heading = f"{source} · {document['venue']} (rules as of {document['rulebook_as_of']})"
    if len(heading) + 6 <= console.width:
        console.rule(heading)
    else:  # a rule would cut the heading short: the rule, then the heading whole
        console.rule()
        console.print(Text(heading), overflow="fold")
    for pool in document["pools"]:
        style = "bold red" if pool["liquidatable"] else "bold"
        console.print(Text(move_sentence(pool), style=style))
    for pool in document["pools"]:
        console.print(_pool_table(pool))
        if "assets" in pool:
            _assets(console, pool)
        if pool["positions"]:
            _positions(console, f"{pool['settlement_asset']} cross", pool["positions"], units)
    if document["isolated"]:
        _positions(console, "Isolated", document["isolated"], units)
    render_reported(document, console)
    console.print(
        Text(
            "Each liquidation price holds every other mark fixed; the move above scales all marks at once.", style="dim"
        )
    )
