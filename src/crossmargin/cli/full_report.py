"""``crossmargin report``: every risk view of one account in one self-contained HTML file."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from crossmargin.cli.errors import input_errors_exit
from crossmargin.cli.formats import pool_asset
from crossmargin.cli.montecarlo import check_seed, check_size
from crossmargin.cli.output import check_output_file
from crossmargin.cli.progress import progress
from crossmargin.margin.account import load_account
from crossmargin.units import InputError, parse_decimal

#: The report's Monte Carlo: 30 days in hourly steps.
MONTE_CARLO_STEPS = 720


@input_errors_exit
def report(
    account: Annotated[Path, typer.Argument(help="Account JSON file.")],
    html_file: Annotated[Path, typer.Option("--html", help="The HTML file to write.")],
    paths: Annotated[int, typer.Option("--paths", help="Monte Carlo paths (bootstrap, 30 days, 1 h).")] = 20_000,
    seed: Annotated[int, typer.Option("--seed", help="Monte Carlo seed.")] = 0,
    level: Annotated[str, typer.Option("--level", help="Health the guard stops must fire above.")] = "1.3",
) -> None:
    """One report: the incident library and uniform moves through the engine (health paths), the
    Monte Carlo probability of liquidation against the horizon, the guards' stops on the price
    axis and the correlation regime over time, each with its figures."""
    check_output_file(html_file, "--html")
    check_size(paths, MONTE_CARLO_STEPS)
    check_seed(seed)
    parse_decimal(level, field="level", positive=True)  # refused now, not after the Monte Carlo
    from crossmargin.cli.guard import guard_document, guard_section_of
    from crossmargin.cli.montecarlo import result_to_json
    from crossmargin.cli.report import montecarlo_section, regime_section, stress_section, write_report
    from crossmargin.cli.stress import report_to_json
    from crossmargin.risk.models import build_model
    from crossmargin.risk.montecarlo import pool_of, simulate
    from crossmargin.risk.regime import regime, weights_of
    from crossmargin.risk.scenarios import default_scenarios, incidents
    from crossmargin.risk.stress import held_assets, run_stress

    snapshot = load_account(account)
    assets = sorted({p.instrument.base_asset for p in snapshot.positions})
    if not assets:
        raise InputError("positions", "there is nothing to report on: the account holds no position")
    scenarios = default_scenarios(snapshot, 10, beta=False) + incidents(["all"], held=held_assets(snapshot))
    stressed = []
    with progress(len(scenarios), "report: stress", "scenarios") as advance:
        for scenario in scenarios:
            stressed.append(report_to_json(run_stress(snapshot, scenario)))
            advance(1)
    asset = pool_asset(snapshot.positions, snapshot.asset_mode)
    sections = [stress_section(stressed, scenarios, asset)]
    pool = pool_of(snapshot, None)
    model = build_model("bootstrap", list(pool.assets), 1)
    with progress(paths, "report: Monte Carlo", "paths") as advance:
        result = simulate(pool, model, steps=MONTE_CARLO_STEPS, paths=paths, seed=seed, on_chunk=advance)
    summary = result_to_json(result, model="bootstrap", assets=pool.assets, step_hours=1, seed=seed)
    sections.append(montecarlo_section(result.liquidated_at, 1, summary, asset))
    sections.append(guard_section_of(snapshot, guard_document(snapshot, level)))
    if len(assets) > 1:
        series = regime(weights_of(snapshot.positions))
        sections.append(regime_section(series, 0.8))
    write_report(html_file, f"Risk report: {account.name}", sections, account=snapshot)
    typer.echo(f"wrote {html_file}")
