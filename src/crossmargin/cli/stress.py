"""``crossmargin stress``: replay market paths through the engine on a copy of the account."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from crossmargin.cli.errors import input_errors_exit
from crossmargin.cli.formats import pool_asset
from crossmargin.cli.output import check_output_file
from crossmargin.cli.progress import progress
from crossmargin.cli.risk_tables import stress_table
from crossmargin.margin.account import load_account
from crossmargin.units import RATIO_UNIT, InputError, Rounding, parse_decimal, quantize

#: From this many steps in all, a run counts as long: it reports its progress even to a log.
LONG_RUN_STEPS = 5_000
#: On a terminal, a bar appears from this many steps (the default run, 60 steps, shows none).
BAR_STEPS = 200


def _text(value: Decimal | None) -> str | None:
    return None if value is None else format(value, "f")


def health_text(value: Decimal | None) -> str | None:
    """A health as `crossmargin evaluate` prints it: rounded down to 1e-8."""
    return None if value is None else format(quantize(value, RATIO_UNIT, rounding=Rounding.FLOOR), "f")


def report_to_json(report: Any) -> dict[str, Any]:
    """One scenario's figures, every number a decimal string (``null`` where none exists)."""
    return {
        "name": report.scenario,
        "equity_before": _text(report.equity_before),
        "equity_after": _text(report.equity_after),
        "loss": _text(report.loss),
        "min_health": health_text(report.min_health),
        "health_path": [health_text(h) for h in report.health_path],
        "liquidated": report.liquidated,
        "liquidated_at_step": report.liquidated_at_step,
        "liquidated_at_hours": _text(report.liquidated_at_hours),
        "bad_debt": _text(report.bad_debt),
        "liquidated_in_blackout": report.liquidated_in_blackout,
        "unmoved": list(report.unmoved),
        "moved_by_beta": {asset: format(beta, "f") for asset, beta in sorted(report.proxies.items())},
    }


@input_errors_exit
def stress(
    account: Annotated[Path, typer.Argument(help="Account JSON file.")],
    uniform: Annotated[
        list[str] | None, typer.Option("--uniform", help="A move of every asset, -0.2 = 20 % down (repeatable).")
    ] = None,
    beta: Annotated[
        list[str] | None, typer.Option("--beta", help="A BTC move, each asset scaled by its beta (repeatable).")
    ] = None,
    scenario: Annotated[list[Path] | None, typer.Option("--scenario", help="A scenario file (repeatable).")] = None,
    incident: Annotated[
        list[str] | None, typer.Option("--incident", help="An incident of the library, or all (repeatable).")
    ] = None,
    steps: Annotated[int, typer.Option("--steps", help="Hourly steps a uniform or beta move takes.")] = 10,
    as_json: Annotated[bool, typer.Option("--json", help="Print the JSON document instead of a table.")] = False,
    html_file: Annotated[Path | None, typer.Option("--html", help="Also write a self-contained HTML report.")] = None,
) -> None:
    """Equity before and after, the path of health, whether and when the account is liquidated (as the
    venue runs it, through the engine), the loss and the bad debt, per scenario. With no scenario
    given: uniform and beta-scaled moves of 10, 20 and 30 % in each direction that can liquidate
    the account (falls for a net long, rises for a net short, both for a hedged book). A held asset
    an incident does not move follows BTC by its beta; one no scenario moves is named."""
    check_output_file(html_file, "--html")
    from crossmargin.risk.scenarios import beta_scaled, default_scenarios, incidents, load_scenario_file
    from crossmargin.risk.scenarios import uniform as uniform_move
    from crossmargin.risk.stress import MAX_STEPS, held_assets, run_stress

    if not 1 <= steps <= MAX_STEPS:
        raise InputError("steps", f"must lie between 1 and {MAX_STEPS:,}, got {steps:,}")
    snapshot = load_account(account)
    if not snapshot.positions:
        raise InputError("positions", "there is nothing to stress: the account holds no position")
    assets = list(held_assets(snapshot))
    chosen = []
    if not (uniform or beta or scenario or incident):
        chosen += default_scenarios(snapshot, steps)
    for text in uniform or []:
        chosen.append(uniform_move(assets, parse_decimal(text, field="uniform"), steps))
    for text in beta or []:
        chosen.append(beta_scaled(assets, parse_decimal(text, field="beta"), steps))
    chosen += [load_scenario_file(path) for path in scenario or []]
    chosen += incidents(incident or [], held=assets)
    total_steps = sum(len(item.steps) for item in chosen)
    with progress(total_steps, "stress", "steps", long_from=LONG_RUN_STEPS, bar_from=BAR_STEPS) as advance:
        reports = [run_stress(snapshot, item, on_step=lambda: advance(1)) for item in chosen]
    if html_file is not None:
        from crossmargin.cli.report import stress_section, write_report

        asset = pool_asset(snapshot.positions, snapshot.asset_mode)
        section = stress_section([report_to_json(r) for r in reports], chosen, asset)
        write_report(html_file, f"Stress: {account.name}", [section], account=snapshot)
    if as_json:
        typer.echo(json.dumps({"account": str(account), "scenarios": [report_to_json(r) for r in reports]}, indent=2))
        return
    asset = pool_asset(snapshot.positions, snapshot.asset_mode)
    Console().print(stress_table(f"{account.name} · stress through the engine", reports, asset))
