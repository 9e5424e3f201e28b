"""``crossmargin venues``: list rulebooks, show one, import one from ccxt output."""

from __future__ import annotations

import datetime
from pathlib import Path
from typing import Annotated

import typer
import yaml
from rich.console import Console
from rich.table import Table

from crossmargin.cli.errors import fail, input_errors_exit
from crossmargin.rules import Instrument, Rulebook, available_rulebooks, load_rulebook
from crossmargin.rules.ccxt_import import read_ccxt_json, rulebook_from_ccxt
from crossmargin.rules.registry import user_rules_dir
from crossmargin.units import InputError

venues_app = typer.Typer(help="Venue rulebooks: list, show, import from ccxt.", no_args_is_help=True)


@venues_app.command("list")
@input_errors_exit
def list_venues() -> None:
    """Every rulebook available: venue, snapshot date, instruments, file."""
    table = Table(title="Rulebooks")
    for column in ("venue", "as_of", "instruments", "file"):
        table.add_column(column)
    for venue, as_of, path in available_rulebooks():
        rulebook = load_rulebook(str(path))
        table.add_row(venue, as_of, str(len(rulebook.data.instruments)), path.name)
    Console().print(table)


def _instrument_table(instrument: Instrument) -> Table:
    unit = instrument.settlement_asset
    table = Table(
        title=f"{instrument.symbol} ({instrument.ccxt_symbol or '-'}) tiers by {instrument.tier_basis}"
        f" in {unit if instrument.tier_basis == 'notional' else instrument.tier_basis}"
    )
    for column in ("tier", "floor", "cap", "max leverage", "MMR", "maintenance amount"):
        table.add_column(column, justify="right")
    for index, tier in enumerate(instrument.tiers, start=1):
        table.add_row(
            str(index),
            str(tier.floor),
            "open" if tier.cap is None else str(tier.cap),
            str(tier.max_leverage),
            "1/(2 x max lev)" if tier.mmr is None else str(tier.mmr),
            str(tier.maintenance_amount),
        )
    return table


def _overview(rulebook: Rulebook) -> Table:
    data = rulebook.data
    table = Table(title=f"{data.title} — as of {data.as_of}")
    for column in ("symbol", "ccxt", "kind", "type", "settle", "contract size", "tick", "lot", "tiers"):
        table.add_column(column)
    for i in data.instruments:
        table.add_row(
            i.symbol,
            i.ccxt_symbol or "-",
            i.kind,
            i.contract_type,
            i.settlement_asset,
            str(i.contract_size),
            str(i.tick_size),
            str(i.lot_size),
            str(len(i.tiers)),
        )
    return table


@venues_app.command("show")
@input_errors_exit
def show(
    name: Annotated[str, typer.Argument(help="Venue name, venue@date, or a rulebook file.")],
    symbol: Annotated[str | None, typer.Argument(help="Native or ccxt symbol to show in full.")] = None,
) -> None:
    """A rulebook's conventions and instruments, or one instrument's tiers."""
    rulebook = load_rulebook(name)
    console = Console()
    if symbol is not None:
        console.print(_instrument_table(rulebook.instrument(symbol, field_name="SYMBOL")))
        return
    console.print(_overview(rulebook))
    conventions = rulebook.data.conventions.model_dump(mode="json")
    console.print(yaml.safe_dump({"conventions": conventions}, sort_keys=False).rstrip())
    console.print("sources:")
    for source in rulebook.data.sources:
        console.print(f"  - {source}", soft_wrap=True)
    for omission in rulebook.data.omissions:
        console.print(f"  not modelled: {omission}", soft_wrap=True)


@venues_app.command("import-ccxt")
@input_errors_exit
def import_ccxt(
    markets: Annotated[Path, typer.Argument(help="JSON dump of ccxt fetch_markets().")],
    tiers: Annotated[Path, typer.Argument(help="JSON dump of ccxt fetch_leverage_tiers().")],
    name: Annotated[str, typer.Option("--name", help="Venue name of the new rulebook.")],
    like: Annotated[str | None, typer.Option("--like", help="Shipped rulebook whose conventions apply.")] = None,
    as_of: Annotated[str | None, typer.Option("--as-of", help="Snapshot date YYYY-MM-DD (default today).")] = None,
    output: Annotated[Path | None, typer.Option("--output", help="File to write (default: user rules dir).")] = None,
) -> None:
    """Turn ccxt markets and leverage tiers into a validated rulebook file."""
    if not name or "@" in name or "/" in name:
        raise fail("--name: must be a plain venue name such as my-binance")
    try:
        date = datetime.date.fromisoformat(as_of) if as_of else datetime.datetime.now(datetime.UTC).date()
    except ValueError:
        raise InputError("--as-of", f"must be a date YYYY-MM-DD, got {as_of!r}") from None
    data, rulebook = rulebook_from_ccxt(
        read_ccxt_json(markets, "MARKETS"),
        read_ccxt_json(tiers, "TIERS"),
        name=name,
        as_of=date,
        origin=f"{markets.name} + {tiers.name}",
        template=like,
    )
    target = output or user_rules_dir() / f"{name}@{date.isoformat()}.yaml"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")
    typer.echo(f"wrote {target}: {len(rulebook.data.instruments)} instruments, as of {date.isoformat()}")
