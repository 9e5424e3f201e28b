"""The ``crossmargin`` command: evaluate accounts and inspect venue rulebooks."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from crossmargin import __version__
from crossmargin.cli import store_commands
from crossmargin.cli.errors import input_errors_exit
from crossmargin.cli.full_report import report
from crossmargin.cli.guard import guard
from crossmargin.cli.import_command import HELP as IMPORT_HELP
from crossmargin.cli.import_command import import_command
from crossmargin.cli.montecarlo import montecarlo
from crossmargin.cli.regime import regime
from crossmargin.cli.render import render_evaluation, units_of
from crossmargin.cli.run import HELP as RUN_HELP
from crossmargin.cli.run import run
from crossmargin.cli.stress import stress
from crossmargin.cli.venues import venues_app
from crossmargin.margin import account_from_json, evaluate_account, evaluation_to_json, load_account
from crossmargin.units import InputError

app = typer.Typer(
    name="crossmargin",
    help="Exchange-accurate cross-margin figures for crypto derivatives accounts.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.add_typer(venues_app, name="venues")
app.command(name="run", help=RUN_HELP)(run)
app.command(name="replay")(store_commands.replay)
app.command(name="inspect")(store_commands.inspect)
app.command(name="montecarlo")(montecarlo)
app.command(name="stress")(stress)
app.command(name="regime")(regime)
app.command(name="guard")(guard)
app.command(name="report")(report)
app.command(name="import", help=IMPORT_HELP)(import_command)


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"crossmargin {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool, typer.Option("--version", callback=_print_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    """Exchange-accurate cross-margin figures for crypto derivatives accounts."""


@app.command()
@input_errors_exit
def evaluate(
    accounts: Annotated[list[Path], typer.Argument(help="Account JSON file(s); '-' reads one from stdin.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the JSON document instead of tables.")] = False,
) -> None:
    """Margin ratio, health, withdrawable amount, liquidation prices and the liquidation move."""
    documents = []
    for path in accounts:
        try:
            snapshot = account_from_json(_stdin_bytes(), source="stdin") if str(path) == "-" else load_account(path)
        except InputError as error:  # with several files, the line names the one at fault
            if len(accounts) > 1 and not error.field.startswith(str(path)):
                raise InputError(f"{path}: {error.field}", error.problem) from None
            raise
        documents.append((path, evaluation_to_json(evaluate_account(snapshot)), units_of(snapshot.positions)))
    if as_json:
        payload = documents[0][1] if len(documents) == 1 else [doc for _, doc, _ in documents]
        typer.echo(json.dumps(payload, indent=2))
        return
    console = Console()
    for path, document, units in documents:
        render_evaluation(document, console, str(path), units)


def _stdin_bytes() -> bytes:
    """Standard input as bytes, so that its encoding is checked like a file's."""
    stream = getattr(sys.stdin, "buffer", None)
    return stream.read() if stream is not None else sys.stdin.read().encode("utf-8")


def main() -> None:
    app()


if __name__ == "__main__":
    main()
