"""``crossmargin guard``: stops, a reserve, sizes and leverage that keep a cross account alive."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from crossmargin.cli.errors import input_errors_exit
from crossmargin.cli.formats import percent
from crossmargin.cli.montecarlo import decimal_text, parse_hours
from crossmargin.cli.output import check_output_file
from crossmargin.cli.stress import health_text
from crossmargin.margin.account import load_account
from crossmargin.margin.position import notional
from crossmargin.margin.types import MarginMode
from crossmargin.units import InputError, parse_decimal


@input_errors_exit
def guard(
    account: Annotated[Path, typer.Argument(help="Account JSON file.")],
    level: Annotated[str, typer.Option("--level", help="Health the stops must fire above.")] = "1.3",
    beta: Annotated[bool, typer.Option("--beta", help="Joint move scaled by each asset's beta to BTC.")] = False,
    reserve_move: Annotated[
        str, typer.Option("--reserve-move", help="Uniform move the reserve must survive, -0.3 = 30 % down.")
    ] = "-0.3",
    window: Annotated[str, typer.Option("--window", help="Worst-window length for the largest sizes.")] = "24h",
    reserve_probability: Annotated[
        float | None,
        typer.Option(
            "--reserve-probability", help="Also the reserve keeping 30-day liquidation odds at or below this."
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the JSON document instead of tables.")] = False,
    html_file: Annotated[Path | None, typer.Option("--html", help="Also write a self-contained HTML report.")] = None,
) -> None:
    """A stop per position that fires before pool health falls to --level under a joint move, the
    reserve that survives a uniform move of --reserve-move's size either way through the engine,
    the largest size per position that survives every asset's worst window at once (one price per
    asset), and a leverage per asset from its own tail. An account already liquidatable is
    reported as such first; a position without a stop is named, with the reason."""
    from crossmargin.margin.evaluate import evaluate_account
    from crossmargin.risk.guards import TrailingBuffer, adverse_reserve, largest_sizes, leverage_advice, stop_levels
    from crossmargin.risk.scenarios import betas

    check_output_file(html_file, "--html")
    window_hours = parse_hours(window, "window")
    if reserve_probability is not None and not 0 <= reserve_probability < 1:
        raise InputError("--reserve-probability", f"must lie in [0, 1), got {reserve_probability}")
    snapshot = load_account(account)
    assets = sorted({p.instrument.base_asset for p in snapshot.positions})
    if not assets:
        raise InputError("positions", "there is nothing to guard: the account holds no position")
    chosen = parse_decimal(level, field="level")
    move = parse_decimal(reserve_move, field="reserve-move")
    if not Decimal(0) < abs(move) < 1:
        raise InputError("reserve-move", f"the size of a move is a fraction between 0 and 1 (0.3 is 30 %), got {move}")
    start = evaluate_account(snapshot, with_prices=False)
    stops = stop_levels(snapshot, chosen, betas(assets) if beta else None)
    cross = [p for p in snapshot.positions if p.margin_mode is MarginMode.CROSS]
    settlement = (cross or list(snapshot.positions))[0].settlement_asset
    ceiling = sum((notional(p.instrument, p.size, p.mark_price) for p in snapshot.positions), Decimal(0))
    reserve = adverse_reserve(snapshot, move, settlement, ceiling)
    odds = None if reserve_probability is None else _reserve_for_odds(snapshot, reserve_probability, float(ceiling))
    lowest = start.lowest_health()
    document: dict[str, Any] = {
        "liquidatable": start.liquidatable,
        "health": health_text(lowest),
        "level": decimal_text(float(chosen)),
        "joint_move": "beta-scaled" if beta else "uniform",
        "stops": stops_to_json(stops),
        "no_stop": _no_stop(snapshot, stops, chosen, beta),
        "reserve": _reserve_json(reserve, settlement, abs(move)),
        "largest_sizes": _sizes(largest_sizes(snapshot, window_hours), window_hours),
        "leverage": [
            {"asset": a.asset, "annual_volatility": decimal_text(round(a.annual_volatility, 4)),
             "worst_day_fall": decimal_text(round(a.worst_day_quantile, 4)), "recommended": a.recommended,
             "venue_max": format(a.venue_max, "f")}
            for a in leverage_advice(snapshot)
        ],
        "trailing_buffer": [[format(p, "f"), format(c, "f")] for p, c in TrailingBuffer().milestones],
        "reserve_for_probability": odds,
    }  # fmt: skip
    if html_file is not None:
        _write_html(html_file, account, snapshot, document)
    if as_json:
        typer.echo(json.dumps(document, indent=2))
        return
    _render(document, {p.symbol: p.instrument.quote_asset for p in snapshot.positions})


def stops_to_json(stops: list[Any]) -> list[dict[str, str]]:
    """Each stop as the guard document carries it: decimal strings, the move to 1e-6."""
    return [
        {
            "symbol": s.symbol,
            "side": s.side.value,
            "position_side": s.position_side.value,
            "trigger_price": format(s.trigger_price, "f"),
            "move": format(s.move.quantize(Decimal("0.000001")), "f"),
        }
        for s in stops
    ]


def guard_document(snapshot: Any, level: str) -> dict[str, Any]:
    """The stops alone, as the guard document carries them (for the combined report)."""
    from crossmargin.risk.guards import stop_levels

    return {"level": level, "stops": stops_to_json(stop_levels(snapshot, parse_decimal(level, field="level")))}


def guard_section_of(snapshot: Any, document: dict[str, Any]) -> Any:
    """The guard chart: stops and liquidation prices (as ``evaluate`` prints them) on the price axis."""
    from crossmargin.cli.report import guard_section
    from crossmargin.margin.evaluate import evaluate_account
    from crossmargin.margin.report import evaluation_to_json

    evaluation = evaluation_to_json(evaluate_account(snapshot))
    positions = [p for pool in evaluation["pools"] for p in pool["positions"]] + evaluation["isolated"]
    liquidation: dict[str, Decimal | None] = {}
    for position in positions:
        text = position.get("liquidation_price_tick", position["liquidation_price"])
        liquidation[position["symbol"]] = None if text is None else Decimal(text)
    marks = {p.symbol: p.mark_price for p in snapshot.positions}
    quote = {p.symbol: p.instrument.quote_asset for p in snapshot.positions}
    return guard_section(document, marks, liquidation, quote)


def _write_html(path: Path, account: Path, snapshot: Any, document: dict[str, Any]) -> None:
    from crossmargin.cli.report import write_report

    write_report(path, f"Guards: {account.name}", [guard_section_of(snapshot, document)], account=snapshot)


def _reserve_for_odds(snapshot: Any, target: float, ceiling: float) -> dict[str, Any]:
    """The Monte Carlo reserve: bootstrap paths, 30 days in 1 h steps, 10,000 paths, seed 0."""
    from rich.progress import Progress

    from crossmargin.risk.guards import RESERVE_SEARCH_RUNS, reserve_for_probability
    from crossmargin.risk.models import build_model
    from crossmargin.risk.montecarlo import pool_of

    pool = pool_of(snapshot, None)
    model = build_model("bootstrap", list(pool.assets), 1)
    with Progress(console=Console(stderr=True), transient=True) as progress:
        task = progress.add_task("searching the reserve (Monte Carlo runs)", total=RESERVE_SEARCH_RUNS)
        amount = reserve_for_probability(
            pool, model, target, steps=720, paths=10_000, seed=0, ceiling=ceiling,
            on_run=lambda: progress.advance(task),
        )  # fmt: skip
    return {
        "target": decimal_text(target), "model": "bootstrap", "horizon": "30d", "paths": 10_000, "seed": 0,
        "amount": None if amount is None else decimal_text(round(amount, 2)),
    }  # fmt: skip


def _reserve_json(reserve: Any, asset: str, size: Decimal) -> dict[str, Any]:
    """The reserve as the guard document carries it: the binding direction's scenario and amount,
    and the amount each way (``null``: more than the positions' notional)."""

    def text(amount: Decimal | None) -> str | None:
        return None if amount is None else format(amount, "f")

    if reserve is None:  # isolated positions only: their margins are their own
        return {"scenario": f"uniform +/-{size:.1%}", "asset": asset, "amount": None, "by_direction": None,
                "note": "isolated positions only: a deposit to the wallet does not reach their margin"}  # fmt: skip
    document = {
        "scenario": reserve.scenario,
        "asset": asset,
        "amount": text(reserve.amount),
        "by_direction": {direction: text(amount) for direction, amount in reserve.by_direction.items()},
    }
    if reserve.cross_only:
        document["note"] = "for the cross pool: isolated positions keep their own margin"
    return document


def _no_stop(snapshot: Any, stops: list[Any], level: Decimal, beta: bool) -> list[dict[str, str]]:
    """The positions without a stop, each with the reason: no joint move in its adverse direction
    (a long's fall, a short's rise), as far as the search goes, brings the pool's health to the level."""
    from crossmargin.risk.guards import MOVE_LIMITS

    stopped = {(s.symbol, s.side) for s in stops}
    joint = "beta-scaled" if beta else "uniform"
    out = []
    for position in snapshot.positions:
        if (position.symbol, position.side) in stopped:
            continue
        sign = -1 if position.side.value == "long" else 1
        limit = MOVE_LIMITS[sign]
        way = f"fall to {percent(limit, 0)}" if sign < 0 else f"rise to {percent(limit, 0, signed=True)}"
        out.append({
            "symbol": position.symbol, "side": position.side.value, "position_side": position.position_side.value,
            "direction": "down" if sign < 0 else "up", "searched_to": format(limit, "f"),
            "reason": f"no {joint} joint {way} of every mark brings health to {level}",
        })  # fmt: skip
    return out


def _sizes(largest: Any, window_hours: int) -> dict[str, Any]:
    """The largest book as the guard document carries it: ``sizes`` by position key (the symbol, or
    ``SYMBOL#long`` and ``SYMBOL#short`` for hedge legs), one row per position, and the move of each
    asset (one price per asset, whichever leg)."""
    return {
        "factor": format(largest.factor, "f"),
        "sizes": {row.key: format(row.largest, "f") for row in largest.positions},
        "positions": [
            {"symbol": row.symbol, "side": row.side.value, "position_side": row.position_side.value,
             "size": format(row.size, "f"), "largest_size": format(row.largest, "f")}
            for row in largest.positions
        ],
        "moves": {asset: format(move, "f") for asset, move in sorted(largest.moves.items())},
        "window_hours": window_hours,
    }  # fmt: skip


def _render(document: dict[str, Any], quote: dict[str, str]) -> None:
    from crossmargin.cli.risk_tables import guard_tables

    console = Console()
    if document["liquidatable"]:
        console.print(
            f"[bold red]liquidatable now[/]: health {document['health']} at the account's own marks; the venue "
            "liquidates it before any move, and the reserve below is what lifts it and survives the move"
        )
    for part in guard_tables(document, quote, console.width):
        console.print(part)
