"""``crossmargin replay`` and ``crossmargin inspect``: rebuild the engine from its event log.

Both only read: the store is opened read-only (no file created or changed, no table made), so
an archived log on a read-only file system can be replayed, and a missing path stays missing.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from crossmargin.cli.errors import input_errors_exit
from crossmargin.cli.render import render_evaluation, units_of
from crossmargin.margin.evaluate import evaluate_account
from crossmargin.margin.report import evaluation_to_json
from crossmargin.units import InputError


@input_errors_exit
def replay(
    db: Annotated[str, typer.Option("--db", help="Store URL: sqlite:///file.db or postgresql://...")],
    venue: Annotated[str | None, typer.Option("--venue", help="Rulebook to replay with (default: recorded).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Rebuild state from the event log, verifying its hash chain, and print the state's hash."""
    from crossmargin.store import replay_url

    report = replay_url(db, venue)
    if as_json:
        typer.echo(json.dumps(report.as_dict(), indent=2))
        return
    typer.echo(
        f"{report.records} records of {report.venue} replayed, chain intact, "
        f"{report.snapshots_checked} snapshots checked"
    )
    typer.echo(f"state hash {report.state_hash}")


@input_errors_exit
def inspect(
    db: Annotated[str, typer.Option("--db", help="Store URL: sqlite:///file.db or postgresql://...")],
    account: Annotated[str | None, typer.Argument(help="Account id (default: list the accounts).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the figures as JSON.")] = False,
) -> None:
    """An account's figures (as ``evaluate`` shows them) and its ledger balances."""
    from crossmargin.engine.state import snapshot
    from crossmargin.store import open_store
    from crossmargin.store.durable import rebuild

    with open_store(db, read_only=True) as store:
        engine = rebuild(store, None).engine
    if account is None:
        typer.echo("\n".join(sorted(engine.accounts)) or "no accounts")
        return
    state = engine.accounts.get(account)
    if state is None:
        raise InputError("ACCOUNT", f"unknown account {account!r} (accounts: {', '.join(sorted(engine.accounts))})")
    account_snapshot = snapshot(engine.rulebook, engine.ledger, state, engine.markets)
    document = evaluation_to_json(evaluate_account(account_snapshot))
    named = {
        f"{entry.kind.value}:{entry.asset}" + (f":{entry.symbol}" if entry.symbol else ""): value
        for entry, value in engine.ledger.owner_balances(account).items()
        if value != Decimal(0)
    }
    balances = {name: format(value, "f") for name, value in sorted(named.items())}  # by name: kinds do not order
    if as_json:
        typer.echo(json.dumps({"account": account, "ledger": balances, "evaluation": document}, indent=2))
        return
    console = Console()
    render_evaluation(document, console, f"account {account}", units_of(account_snapshot.positions))
    table = Table(title="Ledger balances")
    table.add_column("account")
    table.add_column("balance", justify="right")
    for name, value in balances.items():
        table.add_row(name, value)
    console.print(table)
