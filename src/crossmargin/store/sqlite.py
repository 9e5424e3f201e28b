"""SQLite backend: the embedded default, one file (or memory), WAL with a full sync per commit.

``journal_mode=WAL`` lets readers (``crossmargin replay``) run beside the writer, and
``synchronous=FULL`` makes SQLite fsync the WAL at every commit, so a record is on disk when
:meth:`append` returns, which is when the caller acknowledges the command. ``NORMAL``
would be faster and survive a process crash but not a power cut; an acknowledgement must
survive both. ``fullfsync`` asks macOS for a real flush (a no-op elsewhere).

Only the standard library's ``sqlite3`` is used. The connection is in autocommit mode and
every write is an explicit ``BEGIN IMMEDIATE`` ... ``COMMIT``, so nothing is left pending in
a driver-managed transaction.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from crossmargin.store.base import GENESIS, TABLES_SQL, Record, Store, StoreError, row_to_record
from crossmargin.units import InputError

MEMORY = ":memory:"

# Append-only is enforced by the database too; the hash chain still catches anyone who drops these.
_TRIGGERS_SQL = tuple(
    f"CREATE TRIGGER IF NOT EXISTS {table}_append_only_{action.lower()} BEFORE {action} ON {table} "
    f"BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END"
    for table in ("crossmargin_records", "crossmargin_snapshots")
    for action in ("UPDATE", "DELETE")
)


class SQLiteStore(Store):
    """A log in one SQLite file, or in memory for tests and throwaway runs (``path=":memory:"``).

    ``read_only`` opens an existing file without writing anything, not even SQLite's
    ``-wal`` and ``-shm`` companions, so an archived log on a read-only file system can be
    replayed and a replay never touches a log in use (see :func:`_read_only_uri`).
    """

    def __init__(self, path: str | Path, *, create: bool = True, read_only: bool = False) -> None:
        self.path = str(path)
        self.url = "sqlite://:memory:" if self.path == MEMORY else f"sqlite:///{self.path}"
        if self.path != MEMORY and (read_only or not create) and not Path(self.path).is_file():
            raise InputError("--db", f"no store at {self.path}")
        try:
            # check_same_thread=False: callers serialise access (DurableEngine holds a lock), and a
            # server may hand the store from one worker thread to the next.
            if read_only and self.path != MEMORY:
                self._connection = sqlite3.connect(
                    _read_only_uri(Path(self.path)), uri=True, isolation_level=None, check_same_thread=False
                )
                self._check_tables()
            else:
                self._connection = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=30)
                self._configure()
        except sqlite3.Error as error:
            raise InputError("--db", f"cannot open SQLite store {self.path}: {error}") from None

    def _check_tables(self) -> None:
        """A file opened read-only must already hold the log: nothing may be created in it."""
        names = {row[0] for row in self._connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if not {"crossmargin_meta", "crossmargin_records", "crossmargin_snapshots"} <= names:
            self._connection.close()
            raise InputError("--db", f"{self.path} is a SQLite file but holds no crossmargin log")

    def _configure(self) -> None:
        connection = self._connection
        mode = str(connection.execute("PRAGMA journal_mode=WAL").fetchone()[0]).lower()
        if self.path != MEMORY and mode != "wal":
            raise StoreError(f"{self.url}: SQLite refused WAL mode (got {mode!r}); is this a network file system?")
        connection.execute("PRAGMA synchronous=FULL")
        connection.execute("PRAGMA fullfsync=ON")
        connection.execute("PRAGMA foreign_keys=ON")
        connection.execute("BEGIN IMMEDIATE")
        try:
            for statement in TABLES_SQL:
                # INTEGER PRIMARY KEY makes seq the rowid: the log is stored in sequence order.
                connection.execute(statement.replace("BIGINT PRIMARY KEY", "INTEGER PRIMARY KEY"))
            for statement in _TRIGGERS_SQL:
                connection.execute(statement)
            connection.execute("COMMIT")
        except BaseException:
            connection.execute("ROLLBACK")
            raise

    def metadata(self) -> dict[str, str]:
        rows = self._connection.execute("SELECT key, value FROM crossmargin_meta").fetchall()
        return {str(key): str(value) for key, value in rows}

    def _insert_metadata(self, values: dict[str, str]) -> None:
        with self._transaction("metadata"):
            self._connection.executemany(
                "INSERT OR IGNORE INTO crossmargin_meta (key, value) VALUES (?, ?)", sorted(values.items())
            )

    def head(self) -> tuple[int, str]:
        row = self._connection.execute("SELECT seq, hash FROM crossmargin_records ORDER BY seq DESC LIMIT 1").fetchone()
        return (0, GENESIS) if row is None else (int(row[0]), str(row[1]))

    def append(self, record: Record, state_hash: str | None = None) -> None:
        with self._transaction(f"record {record.seq}"):
            self._connection.execute(
                "INSERT INTO crossmargin_records (seq, command_id, command, result, prev_hash, hash)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (record.seq, record.command_id, record.command, record.result, record.prev_hash, record.hash),
            )
            if state_hash is not None:
                self._connection.execute(
                    "INSERT INTO crossmargin_snapshots (seq, state_hash) VALUES (?, ?)", (record.seq, state_hash)
                )

    def _page(self, after: int, limit: int) -> list[Record]:
        rows = self._connection.execute(
            "SELECT seq, command_id, command, result, prev_hash, hash FROM crossmargin_records"
            " WHERE seq > ? ORDER BY seq LIMIT ?",
            (after, limit),
        ).fetchall()
        return [row_to_record(row) for row in rows]

    def snapshots(self) -> dict[int, str]:
        rows = self._connection.execute("SELECT seq, state_hash FROM crossmargin_snapshots ORDER BY seq").fetchall()
        return {int(seq): str(state_hash) for seq, state_hash in rows}

    def close(self) -> None:
        self._connection.close()

    def _transaction(self, what: str) -> _Transaction:
        return _Transaction(self, what)


def _read_only_uri(path: Path) -> str:
    """The URI that reads ``path`` without creating or changing any file.

    A log closed cleanly is one file (the writer's last close folds the write-ahead log back
    in and deletes it), and is read as ``immutable``: no lock, no ``-shm`` file. A ``-wal``
    beside it means a writer has it open (or stopped without closing): it is read through
    SQLite's read-only mode, which then uses the ``-wal`` and ``-shm`` files already there.
    """
    uri = path.resolve().as_uri() + "?mode=ro"
    wal = path.with_name(path.name + "-wal")
    return uri if wal.exists() else uri + "&immutable=1"


class _Transaction:
    """``BEGIN IMMEDIATE`` ... ``COMMIT``; on any error, roll back and raise a :class:`StoreError` naming ``what``."""

    def __init__(self, store: SQLiteStore, what: str) -> None:
        self.store = store
        self.what = what

    def __enter__(self) -> None:
        # IMMEDIATE takes the write lock now, so a second writer waits here rather than failing at COMMIT.
        self.store._connection.execute("BEGIN IMMEDIATE")

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, _trace: object) -> None:
        connection = self.store._connection
        if error is None:
            try:
                connection.execute("COMMIT")
                return
            except sqlite3.Error as commit_error:
                error = commit_error
        if connection.in_transaction:
            connection.execute("ROLLBACK")
        if isinstance(error, sqlite3.IntegrityError):
            raise StoreError(
                f"{self.store.url}: {self.what} not stored: its sequence number or command id is already"
                f" taken (is another writer appending?): {error}"
            ) from error
        if isinstance(error, sqlite3.Error):
            raise StoreError(f"{self.store.url}: {self.what} not stored: {error}") from error
