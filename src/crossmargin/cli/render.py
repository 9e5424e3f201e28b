"""Human output of ``crossmargin evaluate``: the liquidation move first, then Rich tables."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text


def _percent(move: str) -> str:
    return f"{abs(Decimal(move)) * 100:.2f}%"


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
    return Text(health, style=style)


def _pool_table(pool: dict[str, Any]) -> Table:
    summary = Table(title=f"Cross pool {pool['settlement_asset']}", show_header=False)
    summary.add_column("figure")
    summary.add_column("value", justify="right")
    for key in (
        "wallet_balance",
        "unrealized_pnl",
        "margin_balance",
        "initial_margin",
        "maintenance_margin",
        "margin_ratio",
    ):
        summary.add_row(key.replace("_", " "), _trim(pool[key]))
    summary.add_row("health", _health_text(pool["health"]))
    if Decimal(pool.get("open_order_initial_margin") or 0):  # shown where resting orders hold margin
        summary.add_row("open-order initial margin", _trim(pool["open_order_initial_margin"]))
    summary.add_row("available balance", _trim(pool["available_balance"]))
    summary.add_row("max withdrawable", _trim(pool["max_withdrawable"]))
    return summary


def _trim(value: str | None) -> str:
    """Display form: trailing zeros dropped (the JSON keeps every digit)."""
    if value is None:
        return "--"
    return value.rstrip("0").rstrip(".") if "." in value else value


def _positions_table(title: str, positions: list[dict[str, Any]]) -> Table:
    table = Table(title=title)
    for column in ("symbol", "side", "size", "entry", "mark", "notional", "uPnL"):
        table.add_column(column, justify="left" if column in ("symbol", "side") else "right")
    for p in positions:
        side = p["side"] if p["position_side"] == "both" else f"{p['side']} (hedge)"
        table.add_row(
            p["symbol"],
            side,
            *(_trim(p[k]) for k in ("size", "entry_price", "mark_price", "notional", "unrealized_pnl")),
        )
    return table


def _risk_table(title: str, positions: list[dict[str, Any]], isolated: bool) -> Table:
    table = Table(title=title)
    columns = ["symbol", "IM", "MM", "MMR", "liq. price", "bankr. price"]
    if isolated:
        columns += ["iso. margin", "health"]
    for column in columns:
        table.add_column(column, justify="left" if column == "symbol" else "right")
    for p in positions:
        row: list[str | Text] = [
            p["symbol"],
            *(
                _trim(p[k])
                for k in ("initial_margin", "maintenance_margin", "mmr", "liquidation_price", "bankruptcy_price")
            ),
        ]
        if isolated:
            row += [_trim(p["isolated_margin"]), _health_text(p["health"])]
        table.add_row(*row)
    return table


def _assets_table(pool: dict[str, Any]) -> Table:
    table = Table(title="Collateral in the USD pool")
    for column in ("asset", "wallet", "equity (with PnL)", "price", "value USD (haircut)", "available"):
        table.add_column(column, justify="left" if column == "asset" else "right")
    for row in pool["assets"]:
        table.add_row(
            row["asset"], *(_trim(row[k]) for k in ("wallet_balance", "equity", "price", "value_usd", "available"))
        )
    return table


def render_evaluation(document: dict[str, Any], console: Console, source: str) -> None:
    """Print one account's evaluation: move sentences, pool tables, isolated positions."""
    console.rule(f"{source} · {document['venue']} (rules as of {document['rulebook_as_of']})")
    for pool in document["pools"]:
        style = "bold red" if pool["liquidatable"] else "bold"
        console.print(Text(move_sentence(pool), style=style))
    for pool in document["pools"]:
        console.print(_pool_table(pool))
        if "assets" in pool:
            console.print(_assets_table(pool))
        if pool["positions"]:
            console.print(_positions_table(f"{pool['settlement_asset']} cross positions", pool["positions"]))
            console.print(_risk_table(f"{pool['settlement_asset']} cross margin and prices", pool["positions"], False))
    if document["isolated"]:
        console.print(_positions_table("Isolated positions", document["isolated"]))
        console.print(_risk_table("Isolated margin and prices", document["isolated"], True))
    console.print(
        Text(
            "Each liquidation price holds every other mark fixed; the move above scales all marks at once.", style="dim"
        )
    )
