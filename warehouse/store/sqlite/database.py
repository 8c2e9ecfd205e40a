"""The metadata database (SQLite in WAL mode) and the one object that owns its connections.

SQLite, not DuckDB, holds metadata because a DuckDB file admits one writing process at a time,
while the web server, the CLI and pipeline runs all write metadata concurrently. WAL lets readers
run beside one writer; writers queue on ``busy_timeout`` (``BEGIN IMMEDIATE``) instead of failing.

``Database`` is the only opener of ``catalog.sqlite`` in a process, and it opens it only with
Python's sqlite3: DuckDB never attaches this file (its own SQLite library would keep POSIX locks
that sqlite3's do not see, and closing either drops the other's locks: a later checkpoint then
deletes the WAL under a live connection and acknowledged writes are lost). DuckDB gets the
catalogue as rows from the store instead (``warehouse.store.sql.export``).

Each thread gets its own connection, created on first use and kept until ``close``: a new
connection starts with a cold page cache, and sqlite3 connections must not be shared by
threads mid-transaction. ``transaction()`` nests: an inner one joins the outer, so a use case
can make several repositories' writes one atomic unit.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from warehouse.store.schema import Dialect, latest_version, migrations, split_sql
from warehouse.store.threads import PerThread

BUSY_TIMEOUT_MS = 60_000


def _open(path: Path) -> sqlite3.Connection:
    con = sqlite3.connect(
        path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None, check_same_thread=False
    )
    con.row_factory = sqlite3.Row
    con.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    con.execute("PRAGMA journal_mode = WAL")
    con.execute("PRAGMA synchronous = NORMAL")
    con.execute("PRAGMA foreign_keys = ON")
    return con


class SqliteDatabase:
    """Owns this process's connections to one metadata database file."""

    dialect: Dialect = "sqlite"

    def __init__(self, path: Path, *, migrate: bool = True) -> None:
        self.path = path
        self.location = str(path)
        self._connections = PerThread(lambda: _open(path), sqlite3.Connection.close, name=str(path))
        path.parent.mkdir(parents=True, exist_ok=True)
        if migrate:
            _migrate(self.connection())

    def connection(self) -> sqlite3.Connection:
        """This thread's connection (autocommit; write through :meth:`transaction`)."""
        return self._connections.get()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """BEGIN IMMEDIATE … COMMIT on this thread's connection; joins an open transaction.

        Taking the write lock up front makes writers queue (busy_timeout) instead of failing
        with a lock upgrade deadlock."""
        con = self.connection()
        if con.in_transaction:
            yield con
            return
        con.execute("BEGIN IMMEDIATE")
        try:
            yield con
        except BaseException:
            con.execute("ROLLBACK")
            raise
        con.execute("COMMIT")

    @contextmanager
    def snapshot(self) -> Iterator[sqlite3.Connection]:
        """A read transaction: every query inside sees the same committed state."""
        con = self.connection()
        if con.in_transaction:
            yield con
            return
        con.execute("BEGIN")
        try:
            yield con
        finally:
            con.execute("ROLLBACK")

    def schema_version(self) -> tuple[int, int]:
        """(the schema version of the database, the newest this code knows): equal when every
        migration ran; the database answering at all is the readiness check's first half."""
        with self.snapshot() as con:
            found = int(con.execute("PRAGMA user_version").fetchone()[0])
        return found, latest_version()

    def open_connections(self) -> int:
        """How many connections this database holds open (one per live thread that used it)."""
        return self._connections.count()

    def close(self) -> None:
        self._connections.close()


def _migrate(con: sqlite3.Connection) -> None:
    current = con.execute("PRAGMA user_version").fetchone()[0]
    pending = [(v, sql) for v, sql in migrations("sqlite") if v > current]
    if not pending:
        return
    con.execute("BEGIN IMMEDIATE")
    try:
        # Re-read under the write lock: another process may have migrated meanwhile.
        current = con.execute("PRAGMA user_version").fetchone()[0]
        for version, sql in pending:
            if version > current:
                for statement in split_sql(sql):
                    con.execute(statement)
                con.execute(f"PRAGMA user_version = {version}")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    con.execute("COMMIT")
