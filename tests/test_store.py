"""The store: acknowledged commands survive a reopen, replay rebuilds the live hash, tampering is named.

``StoreContract`` holds the tests every backend must pass; ``TestSQLiteStore`` runs them on a
file in ``tmp_path`` and ``tests/test_store_postgres.py`` runs the same class against a real
server. The module-level tests cover what only SQLite or the URL parser does.
"""

from __future__ import annotations

import json
import sqlite3
from decimal import Decimal as D
from pathlib import Path

import pytest

from crossmargin.engine.commands import (
    CancelOrder,
    Command,
    Deposit,
    MarketUpdate,
    OrderType,
    PlaceOrder,
    ResultCode,
    SetLeverage,
    Withdraw,
)
from crossmargin.engine.core import Engine
from crossmargin.rules import load_rulebook
from crossmargin.store import (
    DurableEngine,
    Record,
    ReplayError,
    SQLiteStore,
    Store,
    StoreError,
    open_store,
    replay,
    replay_url,
)
from crossmargin.units import InputError


def workload() -> list[Command]:
    """Deposits, marks, fills, a resting and a cancelled order, rejections and one full liquidation."""
    return [
        Deposit("seed-fund", "insurance", "USD", D(100_000)),
        MarketUpdate("mark-btc", "BTC-PERP", 1, mark=D(50_000), funding_rate=D("0.0001")),
        MarketUpdate("mark-eth", "ETH-PERP", 1, mark=D(3_000)),
        Deposit("dep-alice", "alice", "USD", D(10_000)),
        Deposit("dep-bob", "bob", "USD", D(5_000)),
        Deposit("dep-carol", "carol", "USD", D(1_000)),
        PlaceOrder("alice-btc", "alice", "BTC-PERP", "buy", D("0.1")),
        PlaceOrder("bob-eth", "bob", "ETH-PERP", "sell", D(1)),
        PlaceOrder("alice-rest", "alice", "ETH-PERP", "buy", D(1), OrderType.LIMIT, price=D(2_500)),
        CancelOrder("alice-cancel", "alice", "o1"),
        PlaceOrder("bob-too-big", "bob", "BTC-PERP", "buy", D(10)),  # rejected: insufficient margin
        Withdraw("bob-too-much", "bob", "USD", D(50_000)),  # rejected: would breach withdrawable
        SetLeverage("carol-lev", "carol", "BTC-PERP", D(50)),
        PlaceOrder("carol-btc", "carol", "BTC-PERP", "buy", D("0.5")),
        MarketUpdate("drop-btc", "BTC-PERP", 2, mark=D(48_200)),  # carol is liquidated
        MarketUpdate("eth-up", "ETH-PERP", 2, mark=D(3_050)),
        Withdraw("alice-out", "alice", "USD", D(100)),
    ]


def run(durable: DurableEngine, commands: list[Command]) -> None:
    for command in commands:
        durable.execute(command)


class StoreContract:
    """Durability, replay, tampering and idempotency: the same for every backend."""

    snapshot_every = 4

    def tamper(self, url: str, sql: str) -> None:
        """Run ``sql`` on the store's database past its append-only guard (a backend provides it)."""
        raise NotImplementedError

    def raw(self, url: str, sql: str) -> None:
        """Run ``sql`` as any client could, with the append-only guard in place."""
        raise NotImplementedError

    def open_durable(self, url: str) -> DurableEngine:
        return DurableEngine(open_store(url), load_rulebook("generic"), snapshot_every=self.snapshot_every)

    def test_acknowledged_commands_survive_reopen_and_replay_to_the_live_hash(self, db_url: str) -> None:
        durable = self.open_durable(db_url)
        results = [durable.execute(command) for command in workload()]
        live_hash = durable.state_hash()
        assert sum(r.code.accepted for r in results) == len(results) - 2
        assert any(e["event"] == "liquidation_started" for r in results for e in r.events)
        durable.close()

        with open_store(db_url) as store:
            assert len(store) == len(workload())
            engine, state_hash = replay(store)
            assert state_hash == live_hash == engine.state_hash()
            assert sorted(store.snapshots()) == [4, 8, 12, 16]
            assert store.metadata()["venue"] == "generic@2026-11-24"

        reopened = self.open_durable(db_url)  # continues where the last process stopped
        assert reopened.sequence == len(workload()) and reopened.state_hash() == live_hash
        reopened.execute(Deposit("later", "bob", "USD", D(7)))
        assert reopened.sequence == len(workload()) + 1
        later_hash = reopened.state_hash()
        reopened.close()
        assert replay_url(db_url).state_hash == later_hash

    def test_replay_equals_a_plain_engine_fed_the_same_commands(self, db_url: str) -> None:
        durable = self.open_durable(db_url)
        run(durable, workload())
        durable.close()
        plain = Engine(load_rulebook("generic"))
        for command in workload():
            plain.execute(command)
        report = replay_url(db_url)
        assert report.state_hash == plain.state_hash()
        assert (report.records, report.snapshots_checked, report.venue) == (17, 4, "generic@2026-11-24")

    def test_an_idempotent_retry_is_not_appended_again(self, db_url: str) -> None:
        durable = self.open_durable(db_url)
        run(durable, workload()[:7])
        first = durable.execute(PlaceOrder("retry-me", "alice", "BTC-PERP", "buy", D("0.01")))
        head = (durable.sequence, durable.head_hash)
        again = durable.execute(PlaceOrder("retry-me", "alice", "BTC-PERP", "buy", D("0.01")))
        other = durable.execute(PlaceOrder("retry-me", "alice", "BTC-PERP", "buy", D("0.02")))
        assert again == first and other.code is ResultCode.DUPLICATE_ID_MISMATCH
        assert (durable.sequence, durable.head_hash) == head
        durable.close()

        reopened = self.open_durable(db_url)  # the idempotency table comes back from the log
        assert reopened.execute(PlaceOrder("retry-me", "alice", "BTC-PERP", "buy", D("0.01"))) == first
        assert reopened.sequence == head[0] == len(reopened.store)
        reopened.close()

    def test_a_rejected_command_is_stored_and_stays_rejected_after_reopen(self, db_url: str) -> None:
        durable = self.open_durable(db_url)
        run(durable, workload()[:5])
        refused = durable.execute(Withdraw("w", "bob", "USD", D(6_000)))
        assert refused.code is ResultCode.WOULD_BREACH_WITHDRAWABLE
        durable.close()
        reopened = self.open_durable(db_url)
        reopened.execute(Deposit("top-up", "bob", "USD", D(5_000)))
        assert reopened.execute(Withdraw("w", "bob", "USD", D(6_000))) == refused
        reopened.close()

    def test_the_log_is_append_only_in_the_database(self, db_url: str) -> None:
        durable = self.open_durable(db_url)
        run(durable, workload()[:3])
        durable.close()
        with pytest.raises(Exception, match="append-only"):
            self.raw(db_url, "UPDATE crossmargin_records SET result = '{}' WHERE seq = 2")
        with pytest.raises(Exception, match="append-only"):
            self.raw(db_url, "DELETE FROM crossmargin_records WHERE seq = 3")

    @pytest.mark.parametrize(
        ("sql", "sequence", "problem"),
        [
            ("UPDATE crossmargin_records SET command = replace(command, '5000', '50000') WHERE seq = 5", 5, "altered"),
            (f"UPDATE crossmargin_records SET hash = '{'a' * 64}' WHERE seq = 6", 6, "altered"),
            ("DELETE FROM crossmargin_records WHERE seq = 9", 9, "missing"),
            (f"UPDATE crossmargin_snapshots SET state_hash = '{'b' * 64}' WHERE seq = 8", 8, "snapshot"),
        ],
        ids=["command-edited", "hash-edited", "record-dropped", "snapshot-edited"],
    )
    def test_a_tampered_log_is_refused_naming_the_sequence(
        self, db_url: str, sql: str, sequence: int, problem: str
    ) -> None:
        durable = self.open_durable(db_url)
        run(durable, workload())
        durable.close()
        self.tamper(db_url, sql)
        with open_store(db_url) as store, pytest.raises(ReplayError, match=f"record {sequence}: .*{problem}") as info:
            replay(store)
        assert info.value.sequence == sequence
        with pytest.raises(ReplayError, match=f"record {sequence}:"):
            self.open_durable(db_url)  # a writer will not build on a broken log either

    @pytest.mark.parametrize(
        ("forge_result", "expected"),
        [(False, "record 5: re-executed result differs"), (True, "record 6: hash chain broken")],
        ids=["command-only", "command-and-result"],
    )
    def test_a_rehashed_forgery_is_caught_by_the_results_or_the_next_link(
        self, db_url: str, forge_result: bool, expected: str
    ) -> None:
        durable = self.open_durable(db_url)
        run(durable, workload())
        durable.close()
        with open_store(db_url) as store:
            fifth = next(r for r in store.records() if r.seq == 5)
        result = fifth.result.replace("5000", "50000") if forge_result else fifth.result
        forged = Record.build(5, fifth.prev_hash, _json(fifth.command.replace("5000", "50000")), _json(result))
        self.tamper(
            db_url,
            f"UPDATE crossmargin_records SET command = '{forged.command}', result = '{forged.result}',"
            f" hash = '{forged.hash}' WHERE seq = 5",
        )
        with open_store(db_url) as store, pytest.raises(ReplayError, match=expected):
            replay(store)

    def test_the_venue_is_recorded_once(self, db_url: str) -> None:
        durable = self.open_durable(db_url)
        run(durable, workload()[:2])
        durable.close()
        with pytest.raises(StoreError, match="written with rulebook generic@2026-11-24"):
            DurableEngine(open_store(db_url), load_rulebook("bybit"))
        with open_store(db_url) as store, pytest.raises(StoreError, match="refusing to change"):
            store.set_metadata({"venue": "bybit"})

    def test_a_read_only_store_replays_and_refuses_every_write(self, db_url: str) -> None:
        durable = self.open_durable(db_url)
        run(durable, workload())
        live_hash = durable.state_hash()
        durable.close()
        with open_store(db_url, read_only=True) as store:
            assert replay(store)[1] == live_hash
            record = Record.build(len(workload()) + 1, store.head()[1], {"command_id": "x"}, {})
            with pytest.raises(StoreError):
                store.append(record)  # the database itself refuses: a read-only connection or transaction
            with pytest.raises(StoreError):
                store.set_metadata({"extra": "value"})
        assert replay_url(db_url).state_hash == live_hash

    def test_a_read_only_open_creates_no_table(self, db_url: str) -> None:
        self.raw(db_url, "CREATE TABLE unrelated (x INTEGER)")  # a database that holds no log
        with pytest.raises(InputError, match="holds no crossmargin log"):
            open_store(db_url, read_only=True)
        with pytest.raises(InputError, match="holds no crossmargin log"):
            open_store(db_url, read_only=True)  # still none: the first attempt made nothing


def _json(text: str) -> dict[str, object]:
    value = json.loads(text)
    assert isinstance(value, dict)
    return value


class TestSQLiteStore(StoreContract):
    @pytest.fixture
    def db_url(self, tmp_path: Path) -> str:
        return f"sqlite:///{tmp_path / 'log.db'}"

    def raw(self, url: str, sql: str) -> None:
        with sqlite3.connect(url.removeprefix("sqlite:///")) as connection:
            connection.execute(sql)

    def tamper(self, url: str, sql: str) -> None:
        connection = sqlite3.connect(url.removeprefix("sqlite:///"))
        for (name,) in connection.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'").fetchall():
            connection.execute(f"DROP TRIGGER {name}")
        connection.execute("PRAGMA foreign_keys=OFF")
        connection.execute(sql)
        connection.commit()
        connection.close()


# -- SQLite and URL specifics -------------------------------------------------------------


def test_urls_pick_the_backend_and_unknown_schemes_name_the_option(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    for url, path in [
        (f"sqlite:///{tmp_path}/a.db", f"{tmp_path}/a.db"),
        ("sqlite:///relative.db", "relative.db"),
        (str(tmp_path / "bare.db"), str(tmp_path / "bare.db")),
        ("sqlite://:memory:", ":memory:"),
        ("sqlite://", ":memory:"),
    ]:
        with open_store(url) as store:
            assert isinstance(store, SQLiteStore) and store.path == path
    assert (tmp_path / "relative.db").is_file()
    for url in ("mysql://localhost/x", "redis://h", ""):
        with pytest.raises(InputError, match=r"^--db: "):
            open_store(url)
    with pytest.raises(InputError, match="--db: no store at"):
        replay_url(str(tmp_path / "missing.db"))
    with pytest.raises(InputError, match=r"--db: .* is empty"):
        replay_url("sqlite://:memory:")


def test_sqlite_runs_in_wal_with_a_full_sync_per_commit(tmp_path: Path) -> None:
    with SQLiteStore(tmp_path / "log.db") as store:
        connection = store._connection
        assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert connection.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL


def test_an_in_memory_store_works_for_throwaway_runs() -> None:
    durable = DurableEngine(open_store("sqlite://:memory:"), load_rulebook("generic"))
    run(durable, workload())
    engine, state_hash = replay(durable.store)
    assert state_hash == durable.state_hash() and engine is not durable.engine


def test_a_second_writer_cannot_fork_the_log(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'log.db'}"
    first = DurableEngine(open_store(url), load_rulebook("generic"))
    run(first, workload()[:3])
    second = DurableEngine(open_store(url), load_rulebook("generic"))
    first.execute(Deposit("a", "alice", "USD", D(1)))
    with pytest.raises(StoreError, match="another writer"):
        second.execute(Deposit("b", "bob", "USD", D(1)))
    with pytest.raises(StoreError, match="reopen the store"):
        second.execute(Deposit("c", "bob", "USD", D(1)))  # its memory is ahead of the log: it stops
    first.close()
    second.close()


class _FailingStore(SQLiteStore):
    def append(self, record: Record, state_hash: str | None = None) -> None:
        raise StoreError("disk full")


def test_a_failed_append_stops_the_engine_until_reopened(tmp_path: Path) -> None:
    path = tmp_path / "log.db"
    durable = DurableEngine(open_store(str(path)), load_rulebook("generic"))
    run(durable, workload()[:3])
    durable.close()
    failing = DurableEngine(_FailingStore(path))
    with pytest.raises(StoreError, match="disk full"):
        failing.execute(Deposit("lost", "alice", "USD", D(1)))
    with pytest.raises(StoreError, match="reopen the store"):
        failing.execute(Deposit("next", "alice", "USD", D(1)))
    failing.close()
    reopened = DurableEngine(open_store(str(path)))  # the venue comes from the store
    assert reopened.sequence == 3 and "alice" not in reopened.engine.accounts
    reopened.close()


def test_store_is_the_interface_both_backends_implement() -> None:
    from crossmargin.store.postgres import PostgresStore

    assert issubclass(SQLiteStore, Store) and issubclass(PostgresStore, Store)
