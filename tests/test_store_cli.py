"""``crossmargin replay`` and ``crossmargin inspect`` on a store written by the durable engine."""

from __future__ import annotations

import json
import subprocess
import sys
from decimal import Decimal as D
from pathlib import Path

from crossmargin.engine.commands import Deposit, MarketUpdate, PlaceOrder, Stake
from crossmargin.rules import load_rulebook
from crossmargin.store import DurableEngine, open_store


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


def test_bad_store_urls_exit_2_and_missing_stores_exit_1(tmp_path):
    bad = _run("replay", "--db", "mysql://nowhere")
    assert bad.returncode == 2 and bad.stderr.startswith("error: --db:")
    missing = _run("replay", "--db", f"sqlite:///{tmp_path / 'absent.db'}")
    assert missing.returncode in (1, 2) and "Traceback" not in missing.stderr
