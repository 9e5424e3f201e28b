"""``crossmargin montecarlo``: the probability that the cross pool is liquidated within a horizon."""

from __future__ import annotations

import json
import math
import re
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from crossmargin.cli.errors import input_errors_exit
from crossmargin.cli.formats import amount, pool_asset
from crossmargin.cli.output import check_output_file
from crossmargin.margin.account import load_account
from crossmargin.units import InputError

UNIT_HOURS = {"h": 1, "d": 24, "w": 24 * 7}


def parse_hours(text: str, field: str) -> int:
    """``30d``, ``1h``, ``2w`` as whole hours (the model's step is at least an hour)."""
    match = re.fullmatch(r"(\d+)([hdw])", text.strip())
    if match is None or int(match.group(1)) == 0:
        raise InputError(field, f"must be a whole number of hours, days or weeks such as 1h, 30d, 2w; got {text!r}")
    return int(match.group(1)) * UNIT_HOURS[match.group(2)]


def parse_vols(text: str | None) -> dict[str, float]:
    """``BTC=0.8,ETH=0.9``: annualised volatilities."""
    vols: dict[str, float] = {}
    for item in filter(None, (text or "").split(",")):
        asset, _, value = item.partition("=")
        vols[asset.strip()] = _number(value, f"vol.{asset.strip()}")
    return vols


def parse_correlations(text: str | None) -> dict[tuple[str, str], float]:
    """``BTC:ETH=0.8,BTC:SOL=0.7``."""
    pairs: dict[tuple[str, str], float] = {}
    for item in filter(None, (text or "").split(",")):
        names, _, value = item.partition("=")
        first, _, second = names.partition(":")
        if not first or not second:
            raise InputError("corr", f"pairs are written A:B=value, got {item!r}")
        pairs[(first.strip(), second.strip())] = _number(value, f"corr.{names.strip()}")
    return pairs


def check_seed(seed: int) -> None:
    """numpy seeds with a whole number 0 or above; refused here, before any work, not inside numpy."""
    if seed < 0:
        raise InputError("seed", f"must be a whole number 0 or above, got {seed}")


def _check_assets(
    assets: tuple[str, ...] | list[str], vols: dict[str, float], correlations: dict[tuple[str, str], float]
) -> None:
    """A vol or correlation of an asset the account does not hold would be ignored unsaid."""
    held = set(assets)
    named = [(f"vol.{a}", a) for a in vols] + [(f"corr.{a}:{b}", x) for a, b in correlations for x in (a, b)]
    for field, asset in named:
        if asset not in held:
            raise InputError(field, f"{asset} is not an asset of the account ({', '.join(sorted(held))})")


def _check_model_options(model: str, vol: str | None, corr: str | None, drift: str) -> None:
    """Refuse an option the chosen model would ignore, rather than run without it unsaid:
    bootstrap draws real returns (no vol, correlation or drift); student-t has no drift."""
    ignored = [
        name
        for name, given, used_by in (
            ("vol", vol is not None, ("gaussian", "student-t")),
            ("corr", corr is not None, ("gaussian", "student-t")),
            ("drift", _number(drift, "drift") != 0, ("gaussian",)),
        )
        if given and model not in used_by
    ]
    if ignored:
        raise InputError(ignored[0], f"does not apply to the {model} model (--{ignored[0]} is for another --model)")


def _number(text: str, field: str) -> float:
    try:
        value = float(Decimal(text.strip()))
    except ArithmeticError:
        raise InputError(field, f"is not a number: {text!r}") from None
    if not math.isfinite(value):
        raise InputError(field, f"must be finite, got {text!r}")
    return value


def decimal_text(value: float) -> str:
    """A float as a plain decimal string (its shortest round-trip form, no exponent)."""
    return format(Decimal(repr(value)), "f")


def result_to_json(result: Any, *, model: str, assets: tuple[str, ...], step_hours: int, seed: int) -> dict[str, Any]:
    """The interface's document: every figure a decimal string, with the run's settings beside them."""
    from crossmargin.risk.montecarlo import ES_LEVEL

    steps = int(result.steps)
    return {
        "liquidation_probability": decimal_text(result.liquidation_probability),
        "standard_error": decimal_text(result.standard_error),
        "min_health_quantiles": {q: decimal_text(v) for q, v in result.min_health_quantiles().items()},
        "expected_shortfall": decimal_text(result.expected_shortfall()),
        "expected_shortfall_level": decimal_text(ES_LEVEL),
        "start_equity": decimal_text(result.start_equity),
        "liquidatable_at_start": bool(result.liquidatable_at_start),
        "model": model,
        "assets": list(assets),
        "paths": len(result.liquidated_at),
        "steps": steps,
        "step_hours": step_hours,
        "horizon_hours": steps * step_hours,
        "seed": seed,
    }


def check_size(paths: int, horizon_hours: int) -> None:
    """The limits of one run (docs/risk-lab.md): past them a run takes hours or the memory of the machine."""
    from crossmargin.risk.montecarlo import MAX_HORIZON_HOURS, MAX_PATHS

    if not 1 <= paths <= MAX_PATHS:
        raise InputError("paths", f"must lie between 1 and {MAX_PATHS:,}, got {paths:,}")
    if horizon_hours > MAX_HORIZON_HOURS:
        raise InputError("horizon", f"must be at most {MAX_HORIZON_HOURS // 24}d, got {horizon_hours // 24:,}d")


@input_errors_exit
def montecarlo(
    account: Annotated[Path, typer.Argument(help="Account JSON file.")],
    model: Annotated[str, typer.Option("--model", help="bootstrap (default), student-t or gaussian.")] = "bootstrap",
    horizon: Annotated[str, typer.Option("--horizon", help="How far ahead: 30d, 12h, 2w.")] = "30d",
    step: Annotated[str, typer.Option("--step", help="Step between checks: 1h, 8h, 1d.")] = "1h",
    paths: Annotated[int, typer.Option("--paths", help="Number of simulated paths (at most 1,000,000).")] = 100_000,
    seed: Annotated[int, typer.Option("--seed", help="Seed, 0 or above: the same seed gives the same paths.")] = 0,
    vol: Annotated[str | None, typer.Option("--vol", help="Annualised vols, BTC=0.8,ETH=0.9 (gaussian).")] = None,
    corr: Annotated[str | None, typer.Option("--corr", help="Correlations, BTC:ETH=0.8 (gaussian).")] = None,
    drift: Annotated[str, typer.Option("--drift", help="Annual mean of the gaussian log returns.")] = "0",
    funding_rate: Annotated[
        str | None, typer.Option("--funding-rate", help="Rate per funding interval (default: the rulebook's; 0: off).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the JSON document instead of a table.")] = False,
    html_file: Annotated[Path | None, typer.Option("--html", help="Also write a self-contained HTML report.")] = None,
) -> None:
    """Probability that the account's cross pool is liquidated within the horizon, with its standard
    error, the distribution of its lowest health and the expected shortfall of its equity."""
    from crossmargin.risk.models import build_model
    from crossmargin.risk.montecarlo import ES_LEVEL, pool_of, simulate

    horizon_hours, step_hours = parse_hours(horizon, "horizon"), parse_hours(step, "step")
    if horizon_hours % step_hours:
        raise InputError("step", f"must divide the horizon ({horizon} is not a whole number of {step})")
    check_size(paths, horizon_hours)
    check_seed(seed)
    check_output_file(html_file, "--html")
    rate = None if funding_rate is None else _number(funding_rate, "funding-rate")
    snapshot = load_account(account)
    pool = pool_of(snapshot, rate)
    vols, correlations = parse_vols(vol), parse_correlations(corr)
    _check_model_options(model, vol, corr, drift)
    _check_assets(pool.assets, vols, correlations)
    chosen = build_model(
        model,
        list(pool.assets),
        step_hours,
        vols=vols,
        correlations=correlations or None,
        drift=_number(drift, "drift"),
    )
    steps = horizon_hours // step_hours
    with Progress(
        TextColumn("simulating"), BarColumn(), TextColumn("{task.completed:,}/{task.total:,} paths"),
        TimeRemainingColumn(), console=Console(stderr=True), transient=True, disable=as_json,
    ) as progress:  # fmt: skip
        task = progress.add_task("paths", total=paths)
        result = simulate(
            pool, chosen, steps=steps, paths=paths, seed=seed, on_chunk=lambda n: progress.advance(task, n)
        )
    document = result_to_json(result, model=model, assets=pool.assets, step_hours=step_hours, seed=seed)
    if html_file is not None:
        from crossmargin.cli.report import montecarlo_section, write_report

        section = montecarlo_section(
            result.liquidated_at, step_hours, document, pool_asset(snapshot.positions, snapshot.asset_mode)
        )
        write_report(html_file, f"Monte Carlo: {account.name}", [section], account=snapshot)
    if as_json:
        typer.echo(json.dumps(document, indent=2))
        return
    table = Table(title=f"{account} · {model}, {horizon} in {step} steps, {paths:,} paths, seed {seed}")
    table.add_column("figure")
    table.add_column("value", justify="right")
    if result.liquidatable_at_start:
        table.add_row("liquidatable now", "yes, on every path")
    table.add_row("liquidation probability", f"{result.liquidation_probability:.4%}")
    table.add_row("standard error", f"{result.standard_error:.4%}")
    for q, v in result.min_health_quantiles().items():
        table.add_row(f"lowest health, {float(q):.0%} quantile", f"{v:.4f}")
    asset = pool_asset(snapshot.positions, snapshot.asset_mode)
    table.add_row(
        f"expected shortfall of equity ({ES_LEVEL:.0%})", f"{amount(result.expected_shortfall(), asset)} {asset}"
    )
    Console().print(table)
