"""The store interface: an append-only, hash-chained log of commands and their results.

The engine is command-sourced: state is a fold over the commands it accepted, so the log
keeps each command exactly as the codec encodes it, next to the result the engine gave.
One command is one record, written in one transaction; a record is therefore either wholly
present or absent, and never split from its events (they live inside its result).

Every record carries the hash of the record before it, and its own hash covers that link,
its sequence number and its contents. Altering, dropping, inserting or reordering a record
breaks the chain at the first record touched, which replay names. Cutting records off the
end cannot be seen from the chain alone; compare the head hash with one kept elsewhere.

Backends (SQLite, PostgreSQL) implement a handful of primitive reads and one append; the
paging, hashing and validation live here so both behave the same.
"""

from __future__ import annotations

import abc
import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from types import TracebackType
from typing import Any, Self

#: The ``prev_hash`` of record 1: no record came before it.
GENESIS = "0" * 64
#: Version of the table layout and hash rule; stored in the metadata so a later change can tell.
FORMAT_VERSION = "1"
#: Records fetched per round trip while reading the log.
PAGE_SIZE = 1000

TABLES_SQL = (
    "CREATE TABLE IF NOT EXISTS crossmargin_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS crossmargin_records ("
    " seq BIGINT PRIMARY KEY CHECK (seq > 0),"
    " command_id TEXT NOT NULL UNIQUE,"
    " command TEXT NOT NULL,"
    " result TEXT NOT NULL,"
    " prev_hash TEXT NOT NULL,"
    " hash TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS crossmargin_snapshots ("
    " seq BIGINT PRIMARY KEY REFERENCES crossmargin_records (seq),"
    " state_hash TEXT NOT NULL)",
)
"""Shared by both backends. JSON is kept as TEXT, not a JSON column type, because the hash
covers the exact bytes; PostgreSQL's ``jsonb`` would reorder keys and break it."""


class StoreError(Exception):
    """The store cannot do what was asked: it is unreachable, inconsistent or written by another writer."""


class ReplayError(StoreError):
    """The log does not replay to what it claims; ``sequence`` is the first record that is wrong."""

    def __init__(self, sequence: int, problem: str) -> None:
        self.sequence = sequence
        self.problem = problem
        super().__init__(f"record {sequence}: {problem}")


def _json_default(value: object) -> object:
    # Decimals travel as decimal strings, the project's JSON convention; anything else is a bug upstream.
    if isinstance(value, Decimal):
        return format(value, "f")
    raise TypeError(f"{type(value).__name__} is not JSON-serialisable in a store record")


def canonical_json(value: Any) -> str:
    """One text per value (sorted keys, no spaces), so the hash of a record is reproducible."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=_json_default)


def record_hash(prev_hash: str, seq: int, command: str, result: str) -> str:
    """``sha256(prev_hash + canonical JSON of {"command", "result", "seq"})`` as hex.

    ``command`` and ``result`` are the canonical JSON texts exactly as stored, spliced in
    (keys in sorted order), so the hash covers the stored bytes and costs no re-encoding.
    """
    body = f'{{"command":{command},"result":{result},"seq":{seq}}}'
    return hashlib.sha256((prev_hash + body).encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class Record:
    """One acknowledged command: its sequence number, the command and result as canonical JSON, the chain."""

    seq: int
    command_id: str
    command: str
    result: str
    prev_hash: str
    hash: str

    @classmethod
    def build(cls, seq: int, prev_hash: str, command: dict[str, Any], result: dict[str, Any]) -> Record:
        """Encode and hash a new record that follows the record whose hash is ``prev_hash``."""
        assert seq > 0 and len(prev_hash) == 64
        command_text, result_text = canonical_json(command), canonical_json(result)
        digest = record_hash(prev_hash, seq, command_text, result_text)
        return cls(seq, str(command["command_id"]), command_text, result_text, prev_hash, digest)

    def recomputed_hash(self) -> str:
        return record_hash(self.prev_hash, self.seq, self.command, self.result)


class Store(abc.ABC):
    """Where the log lives. One writer at a time: a second writer's append fails on the sequence number."""

    #: The URL the store was opened with, without secrets (for messages).
    url: str

    # -- what a backend provides -------------------------------------------------------

    @abc.abstractmethod
    def metadata(self) -> dict[str, str]:
        """Every metadata key and value (venue, rulebook fingerprint, format)."""

    @abc.abstractmethod
    def _insert_metadata(self, values: dict[str, str]) -> None:
        """Insert keys that are not present yet, in one committed transaction."""

    @abc.abstractmethod
    def head(self) -> tuple[int, str]:
        """``(sequence, hash)`` of the last record, ``(0, GENESIS)`` for an empty log."""

    @abc.abstractmethod
    def append(self, record: Record, state_hash: str | None = None) -> None:
        """Store the record (and a snapshot of the state hash after it) in one transaction, committed on return.

        Returning is the durability promise: the caller acknowledges the command only after.
        A sequence number or command id already stored is a :class:`StoreError`.
        """

    @abc.abstractmethod
    def _page(self, after: int, limit: int) -> list[Record]:
        """Up to ``limit`` records with ``seq > after``, in sequence order."""

    @abc.abstractmethod
    def snapshots(self) -> dict[int, str]:
        """Sequence number -> state hash recorded after that record."""

    @abc.abstractmethod
    def close(self) -> None:
        """Release the connection; the log is already durable."""

    # -- shared behaviour --------------------------------------------------------------

    def set_metadata(self, values: dict[str, str]) -> None:
        """Record metadata once: a key may be written again only with the value it already has."""
        stored = self.metadata()
        for key, value in values.items():
            if key in stored and stored[key] != value:
                raise StoreError(f"{self.url}: metadata {key!r} is {stored[key]!r}, refusing to change it to {value!r}")
        fresh = {k: v for k, v in values.items() if k not in stored}
        if fresh:
            self._insert_metadata(fresh)

    def records(self, after: int = 0) -> Iterator[Record]:
        """Every record after ``after``, in order, fetched a page at a time (the log may be large)."""
        while True:
            page = self._page(after, PAGE_SIZE)
            yield from page
            if len(page) < PAGE_SIZE:
                return
            after = page[-1].seq

    def __len__(self) -> int:
        return self.head()[0]

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.close()


def row_to_record(row: tuple[Any, ...]) -> Record:
    """A ``(seq, command_id, command, result, prev_hash, hash)`` row from either backend."""
    seq, command_id, command, result, prev_hash, digest = row
    return Record(int(seq), str(command_id), str(command), str(result), str(prev_hash), str(digest))
