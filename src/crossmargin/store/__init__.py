"""Persistence: an append-only, hash-chained command log in SQLite (default) or PostgreSQL, and replay.

``open_store(url)`` picks the backend from the URL; :class:`DurableEngine` runs commands and
stores each one before acknowledging it; :func:`replay` rebuilds the state from the log and
checks it on the way. ``crossmargin replay --db URL`` is :func:`replay_url`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from crossmargin.rules import load_rulebook
from crossmargin.store.base import GENESIS, Record, ReplayError, Store, StoreError, canonical_json, record_hash
from crossmargin.store.durable import SNAPSHOT_EVERY, DurableEngine, rebuild, replay, rulebook_name
from crossmargin.store.sqlite import MEMORY, SQLiteStore
from crossmargin.units import InputError

__all__ = [
    "GENESIS",
    "SNAPSHOT_EVERY",
    "DurableEngine",
    "Record",
    "ReplayError",
    "ReplayReport",
    "SQLiteStore",
    "Store",
    "StoreError",
    "canonical_json",
    "open_store",
    "record_hash",
    "replay",
    "replay_url",
]

URL_FORMS = "sqlite:///path/to/file.db, sqlite://:memory:, a bare file path, or postgresql://user@host/db"


def _sqlite_path(rest: str, url: str) -> str:
    """``sqlite:///rel.db`` is relative and ``sqlite:////abs.db`` absolute, as in SQLAlchemy."""
    if rest in ("", ":memory:", "/:memory:"):
        return MEMORY
    if not rest.startswith("/") or rest == "/":
        raise InputError("--db", f"{url!r} is not a SQLite URL (use {URL_FORMS})")
    return rest[1:]


def open_store(url: str, *, create: bool = True, read_only: bool = False) -> Store:
    """Open (and with ``create``, make) the store a ``--db`` URL names.

    An unknown scheme is an :class:`InputError` naming ``--db``; with ``create=False`` a
    SQLite file that does not exist is one too (replay should not conjure an empty store).
    ``read_only`` opens an existing log for reading only: no file is created or changed
    (SQLite), every transaction is read-only (PostgreSQL), and no table is created.
    """
    url = url.strip()
    if not url:
        raise InputError("--db", f"is empty (use {URL_FORMS})")
    scheme, separator, rest = url.partition("://")
    if not separator:
        return SQLiteStore(url, create=create, read_only=read_only)
    scheme = scheme.lower()
    if scheme == "sqlite":
        return SQLiteStore(_sqlite_path(rest, url), create=create, read_only=read_only)
    if scheme in ("postgresql", "postgres"):
        from crossmargin.store.postgres import PostgresStore

        return PostgresStore(url, read_only=read_only)
    raise InputError("--db", f"unknown scheme {scheme!r} in {url!r} (use {URL_FORMS})")


@dataclass(frozen=True, slots=True)
class ReplayReport:
    """What ``crossmargin replay`` prints: the rebuilt state's hash and what was checked to get it."""

    url: str
    venue: str
    records: int
    head_hash: str
    snapshots_checked: int
    state_hash: str

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def replay_url(url: str, venue: str | None = None) -> ReplayReport:
    """Open the store read-only, replay it and report; ``venue`` overrides the recorded rulebook."""
    with open_store(url, read_only=True) as store:
        rebuilt = rebuild(store, None if venue is None else load_rulebook(venue))
        return ReplayReport(
            url=store.url,
            venue=rulebook_name(rebuilt.engine.rulebook),
            records=rebuilt.sequence,
            head_hash=rebuilt.head_hash,
            snapshots_checked=rebuilt.snapshots_checked,
            state_hash=rebuilt.engine.state_hash(),
        )
