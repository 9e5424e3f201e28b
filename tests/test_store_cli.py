"""``crossmargin replay`` and ``crossmargin inspect`` on a store written by the durable engine."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import sys
from decimal import Decimal as D
from pathlib import Path

import pytest

from crossmargin.engine.commands import Deposit, MarketUpdate, PlaceOrder, Stake
from crossmargin.rules import load_rulebook
from crossmargin.store import DurableEngine, open_store

ROOT = Path(__file__).resolve().parents[1]


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "crossmargin", *args], capture_output=True, text=True, check=False, timeout=120
    )


def _written(tmp_path: Path) -> tuple[str, str]:
    url = f"sqlite:///{tmp_path / 'events.db'}"
    durable = DurableEngine(open_store(url), load_rulebook("generic"))
    for command in (
        Deposit("d1", "insurance", "USD", D(100000)),
        Deposit("d2", "alice", "USD", D(10000)),
        MarketUpdate("m1", "BTC-PERP", 1, mark=D(50000)),
        PlaceOrder("o1", "alice", "BTC-PERP", "buy", D("0.5")),
        Stake("s1", "alice", "USD", D(100), 2, 10_000),  # a second kind of account for the same owner
    ):
        assert durable.execute(command).code.accepted
    live_hash = durable.engine.state_hash()
    durable.close()
    return url, live_hash


def test_replay_prints_the_hash_of_the_live_state(tmp_path):
    url, live_hash = _written(tmp_path)
    result = _run("replay", "--db", url)
    assert result.returncode == 0, result.stderr
    assert f"state hash {live_hash}" in result.stdout
    report = json.loads(_run("replay", "--db", url, "--json").stdout)
    assert report["state_hash"] == live_hash and report["records"] == 5


def test_inspect_shows_figures_and_ledger(tmp_path):
    url, _ = _written(tmp_path)
    listed = _run("inspect", "--db", url)
    assert listed.returncode == 0 and "alice" in listed.stdout
    document = json.loads(_run("inspect", "--db", url, "alice", "--json").stdout)
    pool = document["evaluation"]["pools"][0]
    assert pool["positions"][0]["symbol"] == "BTC-PERP" and pool["positions"][0]["size"] == "0.5"
    assert D(document["ledger"]["wallet:USD"]) < D(10000 - 100)  # less the stake and the taker fee
    assert document["ledger"]["staked:USD"] == "100"
    assert list(document["ledger"]) == sorted(document["ledger"])  # in a stable order
    human = _run("inspect", "--db", url, "alice")
    assert human.returncode == 0 and "Ledger balances" in human.stdout


def test_bad_store_urls_and_missing_stores_exit_2(tmp_path):
    bad = _run("replay", "--db", "mysql://nowhere")
    assert bad.returncode == 2 and bad.stderr.startswith("error: --db:")
    missing = _run("replay", "--db", f"sqlite:///{tmp_path / 'absent.db'}")
    assert missing.returncode == 2 and "Traceback" not in missing.stderr


def _unprivileged() -> list[str]:
    """A prefix that runs a command without the power to ignore file permissions: root may write
    anywhere, so under root the capabilities that allow it are dropped (``setpriv``)."""
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("running as root without setpriv: a read-only directory cannot be simulated")
    return [setpriv, "--bounding-set=-dac_override,-dac_read_search,-fowner"]


def _state(directory: Path) -> dict[str, tuple[int, int, str]]:
    """Every file in ``directory``: size, modification time and SHA-256."""
    return {
        path.name: (path.stat().st_size, path.stat().st_mtime_ns, hashlib.sha256(path.read_bytes()).hexdigest())
        for path in sorted(directory.iterdir())
    }


def test_replay_and_inspect_never_create_or_change_a_file(tmp_path):
    url, live_hash = _written(tmp_path)
    before = _state(tmp_path)
    assert list(before) == ["events.db"]  # the writer closed cleanly: one file
    assert f"state hash {live_hash}" in _run("replay", "--db", url).stdout
    assert _run("inspect", "--db", url, "alice", "--json").returncode == 0
    assert _run("inspect", "--db", url).returncode == 0
    assert _state(tmp_path) == before  # no -wal, no -shm, not a byte or a timestamp changed


def test_an_archived_log_on_a_read_only_directory_is_replayed(tmp_path):
    archive = tmp_path / "archive"
    archive.mkdir()
    url, live_hash = _written(archive)
    before = _state(archive)
    (archive / "events.db").chmod(0o444)
    archive.chmod(0o555)
    try:
        prefix = _unprivileged()
        replayed = subprocess.run(
            [*prefix, sys.executable, "-m", "crossmargin", "replay", "--db", url],
            capture_output=True, text=True, check=False, timeout=120,
        )  # fmt: skip
        assert replayed.returncode == 0, replayed.stderr
        assert f"state hash {live_hash}" in replayed.stdout
        inspected = subprocess.run(
            [*prefix, sys.executable, "-m", "crossmargin", "inspect", "--db", url, "alice", "--json"],
            capture_output=True, text=True, check=False, timeout=120,
        )  # fmt: skip
        assert inspected.returncode == 0, inspected.stderr
        assert json.loads(inspected.stdout)["account"] == "alice"
    finally:
        archive.chmod(0o755)
    assert _state(archive) == before


def test_a_missing_store_is_not_created(tmp_path):
    absent = tmp_path / "absent.db"
    for command in ("replay", "inspect"):
        done = _run(command, "--db", f"sqlite:///{absent}")
        assert done.returncode == 2 and done.stderr == f"error: --db: no store at {absent}\n"
    assert list(tmp_path.iterdir()) == []


def test_a_sqlite_file_without_a_log_is_refused_and_left_alone(tmp_path):
    other = tmp_path / "other.db"
    with sqlite3.connect(other) as connection:
        connection.execute("CREATE TABLE t (x)")
    connection.close()
    before = _state(tmp_path)
    done = _run("replay", "--db", str(other))
    assert done.returncode == 2 and "holds no crossmargin log" in done.stderr
    assert _state(tmp_path) == before  # no tables were added to someone else's database


def test_the_same_error_gives_the_same_exit_code_in_every_command(tmp_path):
    url, _ = _written(tmp_path)
    # bad input (exit 2): an unknown account is input, like an unknown symbol
    unknown = _run("inspect", "--db", url, "bob")
    assert unknown.returncode == 2 and unknown.stderr == "error: ACCOUNT: unknown account 'bob' (accounts: alice)\n"
    # the store failed (exit 1), whichever command met it: a record altered after the fact
    with sqlite3.connect(tmp_path / "events.db") as connection:
        connection.execute("DROP TRIGGER crossmargin_records_append_only_update")
        connection.execute("UPDATE crossmargin_records SET result = replace(result, '10000', '10001') WHERE seq = 2")
    connection.close()
    scenario = ROOT / "scenarios" / "idempotent-retry.yaml"
    for args in (("replay", "--db", url), ("inspect", "--db", url), ("run", str(scenario), "--db", url)):
        done = _run(*args)
        assert done.returncode == 1, (args, done.stdout, done.stderr)
        assert done.stderr.startswith("error: ") and "record 2" in done.stderr and "Traceback" not in done.stderr
    # an unreachable server is the store failing too, on one line
    down = _run("replay", "--db", "postgresql://nobody@127.0.0.1:1/none")
    if "psycopg 3" not in down.stderr:
        assert down.returncode == 1 and len(down.stderr.splitlines()) == 1 and "cannot connect" in down.stderr
