"""The ``crossmargin`` command: evaluate accounts and inspect venue rulebooks."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from crossmargin.cli.errors import input_errors_exit
from crossmargin.cli.render import render_evaluation
from crossmargin.cli.venues import venues_app
from crossmargin.margin import evaluate_account, evaluation_to_json, load_account

app = typer.Typer(
    name="crossmargin",
    help="Exchange-accurate cross-margin figures for crypto derivatives accounts.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.add_typer(venues_app, name="venues")


@app.command()
@input_errors_exit
def evaluate(
    accounts: Annotated[list[Path], typer.Argument(help="Account JSON file(s), as in DESIGN 'Interfaces'.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the JSON document instead of tables.")] = False,
) -> None:
    """Margin ratio, health, withdrawable amount, liquidation prices and the liquidation move."""
    documents = []
    for path in accounts:
        documents.append((path, evaluation_to_json(evaluate_account(load_account(path)))))
    if as_json:
        payload = documents[0][1] if len(documents) == 1 else [doc for _, doc in documents]
        typer.echo(json.dumps(payload, indent=2))
        return
    console = Console()
    for path, document in documents:
        render_evaluation(document, console, str(path))


def main() -> None:
    app()


if __name__ == "__main__":
    main()
