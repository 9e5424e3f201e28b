"""Crash test: a writer SIGKILLed at random points loses nothing it acknowledged and leaves no torn record.

A child process (``tests/crash_writer.py``) appends deterministic commands to a SQLite store
and prints each sequence number once the command is committed. The parent kills it with
SIGKILL at random moments, most of them while it is writing and some while it is still
starting up or replaying, and restarts it, each time from the last stored sequence. Then it
checks the promises: every acknowledged number is stored, the log is a gap-free chain of
whole records, and replaying it gives the hash of a fresh engine fed the same commands.

A SIGKILL loses the process, not the operating system's page cache; the full sync per
commit, which covers a power cut, is configured by the store and checked in test_store.
"""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

from crossmargin.engine.codec import encode_command, encode_result
from crossmargin.engine.core import Engine
from crossmargin.rules import load_rulebook
from crossmargin.store import canonical_json, open_store, replay
from tests.crash_writer import SNAPSHOT_EVERY, command_for

KILLS = 24
ROOT = Path(__file__).resolve().parent.parent
SEED = int(os.environ.get("CROSSMARGIN_CRASH_SEED", "20261124"))


class Child:
    """One writer process and a thread that collects the sequence numbers it acknowledges."""

    def __init__(self, path: Path) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.crash_writer", str(path)],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        self.acknowledged: list[int] = []
        self.first = threading.Event()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            if line.endswith(b"\n"):  # a number cut off by the kill was never fully acknowledged
                self.acknowledged.append(int(line))
                self.first.set()

    def kill_after(self, delay: float, *, from_first_ack: bool) -> None:
        if from_first_ack:
            self.first.wait(timeout=10)
        time.sleep(delay)
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)
        self.reader.join(timeout=10)
        assert self.process.stderr is not None
        errors = self.process.stderr.read().decode()
        assert self.process.returncode == -signal.SIGKILL, f"the writer ended by itself: {errors}"
        assert "Traceback" not in errors, errors


def _kill_repeatedly(path: Path, rng: random.Random) -> tuple[set[int], int]:
    acknowledged: set[int] = set()
    during_writes = 0
    for _ in range(KILLS):
        child = Child(path)
        from_first_ack = rng.random() < 0.8  # the rest land during start-up and replay
        child.kill_after(rng.uniform(0, 0.12), from_first_ack=from_first_ack)
        during_writes += bool(child.acknowledged)
        acknowledged.update(child.acknowledged)
    return acknowledged, during_writes


def test_sigkilled_writer_keeps_every_acknowledged_command(tmp_path: Path) -> None:
    path = tmp_path / "crash.db"
    acknowledged, during_writes = _kill_repeatedly(path, random.Random(SEED))
    assert during_writes >= KILLS // 2, "too few kills landed while the writer was appending"
    assert len(acknowledged) > 100

    with sqlite3.connect(path) as connection:
        assert connection.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    with open_store(str(path), create=False) as store:
        records = list(store.records())
        stored = [r.seq for r in records]
        assert stored == list(range(1, len(records) + 1)), "the log has a gap"
        assert acknowledged <= set(stored), f"acknowledged but lost: {sorted(acknowledged - set(stored))[:10]}"
        assert set(store.snapshots()) == {s for s in stored if s % SNAPSHOT_EVERY == 0}

        # Every record is whole: the command generated for its number, and the result (with every
        # event of its group) that a fresh engine gives for it.
        fresh = Engine(load_rulebook("generic"))
        for record in records:
            command = command_for(record.seq)
            assert record.command == canonical_json(encode_command(command)), record.seq
            assert record.result == canonical_json(encode_result(fresh.execute(command))), record.seq

        _, state_hash = replay(store)  # also walks the hash chain and the snapshots
    assert state_hash == fresh.state_hash()
