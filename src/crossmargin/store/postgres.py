"""PostgreSQL backend: the server option behind the same interface as SQLite.

A record is committed in one transaction before :meth:`append` returns. The session sets
``synchronous_commit = on`` so the commit waits for the server's WAL flush whatever the
server's default, which is what makes an acknowledgement durable; a server running with
``fsync = off`` breaks that promise and nothing a client does can restore it.

``psycopg`` (version 3) is imported when a PostgreSQL store is opened, not when the package
is: SQLite users do not need it installed. Connections run in autocommit mode with explicit
transaction blocks, so a read never leaves a transaction open on the server.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit, urlunsplit

from crossmargin.store.base import GENESIS, TABLES_SQL, Record, Store, StoreError, row_to_record
from crossmargin.units import InputError

_FUNCTION_SQL = (
    "CREATE OR REPLACE FUNCTION crossmargin_append_only() RETURNS trigger LANGUAGE plpgsql AS"
    " $$ BEGIN RAISE EXCEPTION '% is append-only', TG_TABLE_NAME; END $$"
)
_TRIGGERS = {
    f"{table}_append_only{suffix}": (table, timing)
    for table in ("crossmargin_records", "crossmargin_snapshots")
    for suffix, timing in (("", "BEFORE UPDATE OR DELETE ON {} FOR EACH ROW"), ("_truncate", "BEFORE TRUNCATE ON {}"))
}
# Serialises schema creation when several processes open a fresh database at once.
_SCHEMA_LOCK = 7_206_173_418


def redacted(url: str) -> str:
    """The URL without its password, for messages and ``Store.url``."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{parts.username}:***@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


def _one_line(error: Exception) -> str:
    """The driver's message on one line (libpq adds hints on lines of their own)."""
    return " ".join(str(error).split())


def _psycopg() -> Any:
    try:
        import psycopg
    except ImportError:
        raise StoreError("a PostgreSQL store needs psycopg 3: pip install 'psycopg[binary]'") from None
    return psycopg


class PostgresStore(Store):
    """A log in three tables of a PostgreSQL database (``crossmargin_meta``, ``_records``, ``_snapshots``)."""

    def __init__(self, url: str, *, read_only: bool = False) -> None:
        self.url = redacted(url)
        self._psycopg = _psycopg()
        try:
            self._connection = self._psycopg.connect(url, autocommit=True)
        except self._psycopg.Error as error:
            raise StoreError(f"cannot connect to {self.url}: {_one_line(error)}") from None
        try:
            if read_only:
                # Every statement of the session then runs in a read-only transaction: the
                # server itself refuses a write, and no table is created.
                self._connection.execute("SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY")
                self._check_tables()
            else:
                self._connection.execute("SET synchronous_commit TO on")
                self._create_schema()
        except self._psycopg.Error as error:
            self._connection.close()
            raise StoreError(f"{self.url}: cannot prepare the store tables: {_one_line(error)}") from None

    def _check_tables(self) -> None:
        row = self._connection.execute(
            "SELECT to_regclass('crossmargin_meta') IS NOT NULL AND to_regclass('crossmargin_records') IS NOT NULL"
            " AND to_regclass('crossmargin_snapshots') IS NOT NULL"
        ).fetchone()
        if not (row and row[0]):
            self._connection.close()
            raise InputError("--db", f"{self.url} holds no crossmargin log")

    def _create_schema(self) -> None:
        connection = self._connection
        with connection.transaction():
            connection.execute("SELECT pg_advisory_xact_lock(%s)", (_SCHEMA_LOCK,))
            for statement in TABLES_SQL:
                connection.execute(statement)
            connection.execute(_FUNCTION_SQL)
            for name, (table, timing) in _TRIGGERS.items():
                exists = connection.execute(
                    "SELECT 1 FROM pg_trigger WHERE tgname = %s AND tgrelid = to_regclass(%s)", (name, table)
                ).fetchone()
                if exists is None:
                    connection.execute(
                        f"CREATE TRIGGER {name} {timing.format(table)} EXECUTE FUNCTION crossmargin_append_only()"
                    )

    def metadata(self) -> dict[str, str]:
        rows = self._query("SELECT key, value FROM crossmargin_meta")
        return {str(key): str(value) for key, value in rows}

    def _insert_metadata(self, values: dict[str, str]) -> None:
        try:
            with self._connection.transaction(), self._connection.cursor() as cursor:
                cursor.executemany(
                    "INSERT INTO crossmargin_meta (key, value) VALUES (%s, %s) ON CONFLICT (key) DO NOTHING",
                    sorted(values.items()),
                )
        except self._psycopg.Error as error:
            raise StoreError(f"{self.url}: metadata not stored: {_one_line(error)}") from None

    def head(self) -> tuple[int, str]:
        rows = self._query("SELECT seq, hash FROM crossmargin_records ORDER BY seq DESC LIMIT 1")
        return (0, GENESIS) if not rows else (int(rows[0][0]), str(rows[0][1]))

    def append(self, record: Record, state_hash: str | None = None) -> None:
        errors = self._psycopg.errors
        try:
            with self._connection.transaction():
                self._connection.execute(
                    "INSERT INTO crossmargin_records (seq, command_id, command, result, prev_hash, hash)"
                    " VALUES (%s, %s, %s, %s, %s, %s)",
                    (record.seq, record.command_id, record.command, record.result, record.prev_hash, record.hash),
                )
                if state_hash is not None:
                    self._connection.execute(
                        "INSERT INTO crossmargin_snapshots (seq, state_hash) VALUES (%s, %s)", (record.seq, state_hash)
                    )
        except errors.UniqueViolation as error:
            raise StoreError(
                f"{self.url}: record {record.seq} not stored: its sequence number or command id is already taken"
                f" (is another writer appending?): {_one_line(error)}"
            ) from None
        except self._psycopg.Error as error:
            raise StoreError(f"{self.url}: record {record.seq} not stored: {_one_line(error)}") from None

    def _page(self, after: int, limit: int) -> list[Record]:
        rows = self._query(
            "SELECT seq, command_id, command, result, prev_hash, hash FROM crossmargin_records"
            " WHERE seq > %s ORDER BY seq LIMIT %s",
            (after, limit),
        )
        return [row_to_record(row) for row in rows]

    def snapshots(self) -> dict[int, str]:
        rows = self._query("SELECT seq, state_hash FROM crossmargin_snapshots ORDER BY seq")
        return {int(seq): str(state_hash) for seq, state_hash in rows}

    def close(self) -> None:
        self._connection.close()

    def _query(self, sql: str, parameters: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        try:
            return list(self._connection.execute(sql, parameters).fetchall())
        except self._psycopg.Error as error:
            raise StoreError(f"{self.url}: read failed: {_one_line(error)}") from None
