"""``crossmargin import``: a venue's raw responses (or ccxt's dumps) into an account file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from crossmargin.cli.errors import fail, input_errors_exit
from crossmargin.connect import VENUES, import_account

HELP = (
    "Turn raw venue responses into an account file for evaluate. VENUE is one of "
    + ", ".join(VENUES)
    + ", or ccxt (with --exchange). Each FILE is one response body as the venue's REST endpoint"
    " returns it, recognised by its shape."
)


@input_errors_exit
def import_command(
    venue: Annotated[str, typer.Argument(help="Venue name, or ccxt.", metavar="VENUE")],
    files: Annotated[list[Path], typer.Argument(help="Raw response bodies (JSON).", metavar="FILE...")],
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write the account JSON here (default: print it).")
    ] = None,
    exchange: Annotated[
        str | None,
        typer.Option("--exchange", help="With ccxt: binanceusdm, binancecoinm, bybit, okx or hyperliquid."),
    ] = None,
) -> None:
    """Import an account from the venue's own responses, keeping the figures it reported."""
    if output is not None and (output.is_dir() or not output.parent.is_dir()):
        raise fail(f"--output: {output} is a directory" if output.is_dir() else f"--output: no folder {output.parent}")
    document = import_account(venue, files, exchange=exchange)
    text = json.dumps(document, indent=2) + "\n"
    if output is None:
        typer.echo(text, nl=False)
        return
    output.write_text(text, encoding="utf-8")
    reported = document["reported"]
    summary = ", ".join(
        (
            _count(len(document["positions"]), "position"),
            f"the venue's figures for {_count(len(reported['positions']), 'position')}"
            f" and {_count(len(reported['pools']), 'pool')}",
        )
    )
    typer.echo(f"wrote {output} ({document['venue']}): {summary}")


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"
