"""A durable engine: every command the caller sees acknowledged is in the store first.

:class:`DurableEngine` runs a command on the in-memory :class:`Engine`, then appends one
record (the command and the result, chained by hash) in one committed transaction, and
only then returns. Returning is the acknowledgement. If the process dies before the commit,
the command was never acknowledged and is absent; after it, the command is on disk.

The log is of commands, not of state. The engine is deterministic, so re-executing the
stored commands into a fresh engine (:func:`replay`) rebuilds identical state; replay
checks on the way that each record is unaltered (the hash chain) and that the engine gives
the same result it gave the first time, so a change in engine behaviour is caught too.

Snapshots are checkpoints, not state images: every ``snapshot_every`` commands the store
keeps the engine's ``state_hash()`` next to the record, and replay compares its own hash
there. A full serialisation of the state (to skip re-execution of old commands) is not
stored; replay always starts from the first record.
"""

from __future__ import annotations

import hashlib
import json
import threading
from dataclasses import dataclass, field

from crossmargin.engine.codec import decode_command, encode_command, encode_result
from crossmargin.engine.commands import Command, Result
from crossmargin.engine.core import Engine
from crossmargin.rules import Rulebook, load_rulebook
from crossmargin.store.base import FORMAT_VERSION, GENESIS, Record, ReplayError, Store, StoreError, canonical_json
from crossmargin.units import InputError

#: Default distance between two state-hash checkpoints, in commands.
SNAPSHOT_EVERY = 1000


def rulebook_name(rulebook: Rulebook) -> str:
    """``venue@as_of``: pins the snapshot date, so a newer shipped rulebook cannot change a replay."""
    return f"{rulebook.venue}@{rulebook.data.as_of}"


def rulebook_fingerprint(rulebook: Rulebook) -> str:
    """SHA-256 of the rulebook's validated contents: tells whether two files would run the engine alike."""
    return hashlib.sha256(canonical_json(rulebook.data.model_dump(mode="json")).encode()).hexdigest()


def rulebook_metadata(rulebook: Rulebook) -> dict[str, str]:
    return {
        "format": FORMAT_VERSION,
        "venue": rulebook_name(rulebook),
        "rulebook_sha256": rulebook_fingerprint(rulebook),
        "rulebook_source": rulebook.source_path,
    }


def store_rulebook(store: Store, rulebook: Rulebook | None) -> Rulebook:
    """The rulebook the store was written with: the one given (checked against the store), or loaded by name."""
    meta = store.metadata()
    if meta.get("format", FORMAT_VERSION) != FORMAT_VERSION:
        raise StoreError(f"{store.url}: store format {meta['format']} is not {FORMAT_VERSION}")
    if rulebook is None:
        if "venue" not in meta:
            raise InputError("--db", f"{store.url} is empty: no venue recorded yet")
        rulebook = load_rulebook(meta["venue"])
    expected = meta.get("rulebook_sha256")
    if expected is not None and rulebook_fingerprint(rulebook) != expected:
        raise StoreError(
            f"{store.url} was written with rulebook {meta.get('venue')} ({meta.get('rulebook_source')},"
            f" sha256 {expected[:12]}); {rulebook.source_path} differs: pass the same rulebook file"
        )
    return rulebook


@dataclass
class Rebuilt:
    """What re-executing a log leaves: the engine, the chain's head, the ids already answered."""

    engine: Engine
    sequence: int = 0
    head_hash: str = GENESIS
    snapshots_checked: int = 0
    command_ids: set[str] = field(default_factory=set)


def _replay_one(rebuilt: Rebuilt, record: Record, snapshots: dict[int, str]) -> None:
    """Check one record against the chain, re-execute it, compare the result and any checkpoint."""
    seq = record.seq
    if seq != rebuilt.sequence + 1:
        raise ReplayError(rebuilt.sequence + 1, f"missing (the next stored record is {seq})")
    if record.prev_hash != rebuilt.head_hash:
        raise ReplayError(seq, "hash chain broken: prev_hash is not the hash of the record before it")
    if record.recomputed_hash() != record.hash:
        raise ReplayError(seq, "hash does not match the record's contents (the record was altered)")
    try:
        command = decode_command(_loads(record.command, seq), where=f"record {seq}.command")
    except InputError as error:
        raise ReplayError(seq, f"stored command does not decode: {error}") from None
    if command.command_id != record.command_id:
        raise ReplayError(seq, f"command id {command.command_id!r} differs from the indexed {record.command_id!r}")
    again = canonical_json(encode_result(rebuilt.engine.execute(command)))
    if again != record.result:
        raise ReplayError(
            seq, f"re-executed result differs from the stored one: {_short(again)} != {_short(record.result)}"
        )
    if seq in snapshots:
        state_hash = rebuilt.engine.state_hash()
        if state_hash != snapshots[seq]:
            raise ReplayError(seq, f"state hash {state_hash} differs from the snapshot {snapshots[seq]}")
        rebuilt.snapshots_checked += 1
    rebuilt.sequence, rebuilt.head_hash = seq, record.hash
    rebuilt.command_ids.add(command.command_id)


def rebuild(store: Store, rulebook: Rulebook | None = None) -> Rebuilt:
    """Re-execute every stored command, in order, into a fresh engine, verifying as it goes."""
    rebuilt = Rebuilt(Engine(store_rulebook(store, rulebook)))
    snapshots = store.snapshots()
    for record in store.records():
        _replay_one(rebuilt, record, snapshots)
    beyond = [seq for seq in snapshots if seq > rebuilt.sequence]
    if beyond:
        raise ReplayError(min(beyond), "a snapshot exists for a record that is not stored (was the log cut short?)")
    return rebuilt


def replay(store: Store, rulebook: Rulebook | None = None) -> tuple[Engine, str]:
    """Rebuild the state from the log and return the engine and its ``state_hash()``.

    ``rulebook`` defaults to the one named in the store's metadata; one given must have the
    same contents as the one the store was written with. Raises :class:`ReplayError` naming
    the first record where the chain, a result or a snapshot does not hold.
    """
    rebuilt = rebuild(store, rulebook)
    return rebuilt.engine, rebuilt.engine.state_hash()


def _loads(text: str, seq: int) -> object:
    try:
        return json.loads(text)
    except ValueError as error:
        raise ReplayError(seq, f"stored command is not JSON: {error}") from None


def _short(text: str, limit: int = 300) -> str:
    return text if len(text) <= limit else text[:limit] + "..."


class DurableEngine:
    """An :class:`Engine` whose every answered command is stored before the answer is returned.

    Opening an existing store replays it, so the engine continues where the last process
    stopped. Read state through ``.engine``, but change it only through :meth:`execute`: a
    command run on the bare engine would be missing from the log.
    """

    def __init__(self, store: Store, rulebook: Rulebook | None = None, *, snapshot_every: int = SNAPSHOT_EVERY) -> None:
        if snapshot_every <= 0:
            raise ValueError("snapshot_every must be positive")
        rebuilt = rebuild(store, rulebook)
        store.set_metadata(rulebook_metadata(rebuilt.engine.rulebook))
        self.store = store
        self.engine = rebuilt.engine
        self.snapshot_every = snapshot_every
        self._sequence, self._head_hash = rebuilt.sequence, rebuilt.head_hash
        self._answered = rebuilt.command_ids
        self._lock = threading.Lock()
        self._broken: str | None = None

    @property
    def sequence(self) -> int:
        """Sequence number of the last stored record (0 for an empty log)."""
        return self._sequence

    @property
    def head_hash(self) -> str:
        return self._head_hash

    def execute(self, command: Command) -> Result:
        """Run the command and store it; return only once the record is committed.

        A command id already answered is answered again by the engine's idempotency table
        (the stored result, or ``duplicate_id_mismatch``) and appends nothing: it changes no
        state, and replay re-creates the table from the first record. A failure after the
        engine has run leaves memory ahead of the log, so the engine stops taking commands
        until the store is reopened (which rebuilds memory from the log).
        """
        with self._lock:
            if self._broken is not None:
                raise StoreError(self._broken)
            if command.command_id in self._answered:
                return self.engine.execute(command)
            encoded = encode_command(command)  # before the engine runs: a failure here changes nothing
            try:
                result = self.engine.execute(command)
                record = Record.build(self._sequence + 1, self._head_hash, encoded, encode_result(result))
                checkpoint = self.engine.state_hash() if record.seq % self.snapshot_every == 0 else None
                self.store.append(record, checkpoint)
            except BaseException as error:
                self._broken = (
                    f"{self.store.url}: command {command.command_id!r} failed after the engine ran it ({error});"
                    " the engine may be ahead of the log: reopen the store to continue"
                )
                raise
            self._sequence, self._head_hash = record.seq, record.hash
            self._answered.add(command.command_id)
            return result

    def state_hash(self) -> str:
        return self.engine.state_hash()

    def close(self) -> None:
        self.store.close()
