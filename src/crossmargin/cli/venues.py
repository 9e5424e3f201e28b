"""``crossmargin venues``: list rulebooks, show one, import one from ccxt output."""

from __future__ import annotations

import datetime
from decimal import Decimal
from pathlib import Path
from typing import Annotated

import typer
import yaml
from rich.console import Console
from rich.table import Table

from crossmargin.cli.errors import fail, input_errors_exit
from crossmargin.cli.output import check_output_file, write_output_file
from crossmargin.cli.tables import Cell, Column, print_fitted, unit_header
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


def _plain(value: Decimal | None) -> str:
    """A rulebook figure as plain digits (``0.0000001``, never ``1E-7``); ``--`` where there is none."""
    return "--" if value is None else format(value, "f")


def _print_instrument(console: Console, instrument: Instrument) -> None:
    basis = instrument.tier_basis
    unit = instrument.settlement_asset if basis == "notional" else basis
    title = f"{instrument.symbol} ({instrument.ccxt_symbol or '-'}) tiers by {basis}"
    columns = [
        Column("tier", key=True),
        Column(unit_header("floor", unit)),
        Column(unit_header("cap", unit)),
        Column("max\nleverage"),
        Column("MMR"),
        Column(unit_header("maintenance\namount", instrument.settlement_asset)),
    ]
    rows: list[list[Cell]] = [
        [
            str(index),
            _plain(tier.floor),
            "open" if tier.cap is None else _plain(tier.cap),
            _plain(tier.max_leverage),
            "1/(2 x max lev)" if tier.mmr is None else _plain(tier.mmr),
            _plain(tier.maintenance_amount),
        ]
        for index, tier in enumerate(instrument.tiers, start=1)
    ]
    print_fitted(console, title, columns, rows)


def _print_overview(console: Console, rulebook: Rulebook) -> None:
    data = rulebook.data
    columns = [Column("symbol", "left", key=True)]
    columns += [Column(name, "left") for name in ("ccxt", "kind", "type", "settle")]
    columns += [Column(name) for name in ("contract\nsize", "tick", "lot", "tiers")]
    rows: list[list[Cell]] = [
        [
            i.symbol,
            i.ccxt_symbol or "-",
            i.kind,
            i.contract_type,
            i.settlement_asset,
            _plain(i.contract_size),
            _plain(i.tick_size),
            _plain(i.lot_size),
            str(len(i.tiers)),
        ]
        for i in data.instruments
    ]
    print_fitted(console, f"{data.title} — as of {data.as_of}", columns, rows)


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
        _print_instrument(console, rulebook.instrument(symbol, field_name="SYMBOL"))
        return
    _print_overview(console, rulebook)
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
    check_output_file(output, "--output")
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
    if output is None:
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise InputError("CROSSMARGIN_RULES_DIR", f"cannot create {target.parent} ({error.strerror})") from None
    write_output_file(target, yaml.safe_dump(data, sort_keys=False, allow_unicode=True), "--output")
    typer.echo(f"wrote {target}: {len(rulebook.data.instruments)} instruments, as of {date.isoformat()}")
