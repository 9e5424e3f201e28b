"""The store contract against a real PostgreSQL server that this module starts and stops.

The server is a throwaway cluster: ``initdb`` into a temporary directory, ``pg_ctl start`` on
a free port, listening on 127.0.0.1 only with its socket in that directory, trust auth for
one superuser. PostgreSQL refuses to run as root, so under root (as in CI containers) the
cluster belongs to the ``postgres`` system user and the binaries run through ``runuser``.

Without the binaries or ``psycopg`` these tests skip, except under ``CI`` where they fail:
``.ci/run`` installs PostgreSQL so that CI always exercises this backend.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.test_store import StoreContract

SUPERUSER = "crossmargin"


def _binaries() -> Path | None:
    """The directory holding ``initdb`` and ``pg_ctl``: ``$CROSSMARGIN_PG_BIN``, Debian's layout, or PATH."""
    candidates = [os.environ.get("CROSSMARGIN_PG_BIN", "")]
    candidates += sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(Path(p).parent.name), reverse=True)
    candidates += ["/usr/local/pgsql/bin", "/opt/homebrew/bin", "/usr/local/bin"]
    found = shutil.which("initdb")
    if found:
        candidates.append(str(Path(found).parent))
    for directory in filter(None, candidates):
        if (Path(directory) / "initdb").is_file() and (Path(directory) / "pg_ctl").is_file():
            return Path(directory)
    return None


def _unavailable(reason: str) -> None:
    message = f"PostgreSQL store tests cannot run: {reason}"
    if os.environ.get("CI"):
        pytest.fail(message + " (CI must exercise PostgreSQL: .ci/run installs it)", pytrace=False)
    pytest.skip(message)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _runner() -> tuple[list[str], int | None]:
    """How to run the server binaries: directly, or as an unprivileged user when we are root."""
    if os.geteuid() != 0:
        return [], None
    for name in ("postgres", "nobody"):
        try:
            return ["runuser", "-u", name, "--"], pwd.getpwnam(name).pw_uid
        except KeyError:
            continue
    _unavailable("running as root and there is neither a postgres nor a nobody user to run the server as")
    raise AssertionError("unreachable")


def _run(prefix: list[str], *command: str) -> None:
    done = subprocess.run([*prefix, *command], capture_output=True, text=True, timeout=120, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed ({done.returncode}): {done.stdout}{done.stderr}")


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """Start a private cluster and yield the URL of its maintenance database; stop and delete it after."""
    binaries = _binaries()
    if binaries is None:
        _unavailable("initdb and pg_ctl were not found (apt-get install postgresql, or set CROSSMARGIN_PG_BIN)")
    try:
        import psycopg  # noqa: F401
    except ImportError:
        _unavailable("psycopg is not installed (pip install 'psycopg[binary]')")
    assert binaries is not None
    prefix, owner = _runner()
    # Not under pytest's tmp_path: its parent is private to root, and the server user must reach it.
    root = Path(tempfile.mkdtemp(prefix="crossmargin-pg-"))
    data, port = root / "data", _free_port()
    if owner is not None:
        os.chown(root, owner, -1)
    options = f"-p {port} -k {root} -c listen_addresses=127.0.0.1"
    try:
        _run(prefix, str(binaries / "initdb"), "-D", str(data), "-U", SUPERUSER, "-A", "trust", "-E", "UTF8")
        _run(prefix, str(binaries / "pg_ctl"), "-D", str(data), "-l", str(root / "log"), "-o", options, "-w", "start")
        yield f"postgresql://{SUPERUSER}@127.0.0.1:{port}/postgres"
    finally:
        if (data / "postmaster.pid").exists():
            _run(prefix, str(binaries / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop")
        shutil.rmtree(root, ignore_errors=True)


class TestPostgresStore(StoreContract):
    """Every durability, replay and tampering test of the SQLite store, on PostgreSQL."""

    @pytest.fixture
    def db_url(self, postgres_server: str, request: pytest.FixtureRequest) -> Iterator[str]:
        """A fresh database per test, dropped after it."""
        import psycopg

        name = "t_" + "".join(ch if ch.isalnum() else "_" for ch in request.node.name.lower())[:50]
        with psycopg.connect(postgres_server, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
            admin.execute(f'CREATE DATABASE "{name}"')
        yield postgres_server.rsplit("/", 1)[0] + "/" + name
        with psycopg.connect(postgres_server, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def raw(self, url: str, sql: str) -> None:
        import psycopg

        with psycopg.connect(url, autocommit=True) as connection:
            connection.execute(sql)

    def tamper(self, url: str, sql: str) -> None:
        import psycopg

        with psycopg.connect(url, autocommit=True) as connection:
            for table in ("crossmargin_records", "crossmargin_snapshots"):
                connection.execute(f"ALTER TABLE {table} DISABLE TRIGGER ALL")  # user triggers and the foreign key
            connection.execute(sql)


def test_the_server_commits_synchronously(postgres_server: str) -> None:
    """An acknowledgement waits for the WAL flush: the session forces synchronous_commit on."""
    from crossmargin.store import open_store
    from crossmargin.store.postgres import PostgresStore

    with open_store(postgres_server) as store:
        assert isinstance(store, PostgresStore)
        assert store._connection.execute("SHOW synchronous_commit").fetchone()[0] == "on"
        assert store._connection.execute("SHOW fsync").fetchone()[0] == "on"


def test_a_password_never_reaches_a_message() -> None:
    from crossmargin.store.postgres import redacted

    assert redacted("postgresql://me:secret@db.example:5433/x") == "postgresql://me:***@db.example:5433/x"
    assert redacted("postgresql://me@db.example/x") == "postgresql://me@db.example/x"
