"""The metadata database on PostgreSQL (``MULU_DATABASE_URL=postgresql://…``).

The repositories of ``warehouse.store.sql`` run here unchanged: this module's connections take
SQL with SQLite's ``?`` marks (rewritten to psycopg's ``%s`` once per statement text), pass
booleans as 0/1 like SQLite, and return rows readable by position and by column name.
Statements bind client-side (``psycopg.ClientCursor``): a ``? IS NULL`` test of an untyped
parameter, which server-side binding cannot type, works as it does in SQLite.

Writers are serialised, as SQLite's ``BEGIN IMMEDIATE`` serialises them: ``transaction()``
takes one transaction-scoped advisory lock first, so a repository's read-then-write (the next
application number, a code sequence) stays correct under many processes. Readers never wait.
``snapshot()`` is a REPEATABLE READ, READ ONLY transaction. Migrations run under a session
advisory lock: the first process to start migrates, the others wait and find nothing to do.

Each thread has its own connection, kept until ``close`` (a dead thread's is closed).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from functools import lru_cache
from typing import Any

import psycopg
from psycopg.pq import TransactionStatus

from warehouse.settings import redact
from warehouse.store.schema import POSTGRESQL_BASELINE, Dialect, latest_version, migrations

# pg_advisory locks: writers (transaction-scoped) and migrations (session-scoped).
WRITE_LOCK = 0x6D756C75  # "mulu"
MIGRATE_LOCK = 0x6D756C76
CONNECT_TIMEOUT_S = 10
# A writer waits this long for the write lock before failing (SQLite's busy_timeout).
LOCK_TIMEOUT = "60s"

_TOKEN = re.compile(r"'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"|\?|%")


@lru_cache(maxsize=4096)
def translate(sql: str) -> str:
    """SQLite's ``?`` marks as psycopg's ``%s`` (``%`` doubled), outside quoted text."""

    def swap(match: re.Match[str]) -> str:
        token = match.group(0)
        return "%s" if token == "?" else "%%" if token == "%" else token

    return _TOKEN.sub(swap, sql)


class Row(tuple[Any, ...]):
    """A result row read like ``sqlite3.Row``: ``row[0]``, ``row["code"]``, ``dict(row)``."""

    _names: tuple[str, ...] = ()

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, str):
            try:
                return tuple.__getitem__(self, self._names.index(key))
            except ValueError:
                raise IndexError(f"no such column: {key}") from None
        return tuple.__getitem__(self, key)

    def keys(self) -> list[str]:
        return list(self._names)


def _row_factory(cursor: Any) -> Any:
    names = tuple(c.name for c in cursor.description or ())
    row_type = type("Row", (Row,), {"_names": names, "__slots__": ()})
    return row_type


def _adapt(parameters: Sequence[Any] | None) -> Sequence[Any]:
    if not parameters:
        return ()
    return [int(p) if isinstance(p, bool) else p for p in parameters]


class PostgresConnection:
    """One thread's connection, speaking the repositories' dialect (see the module doc)."""

    def __init__(self, raw: psycopg.Connection[Any]) -> None:
        self.raw = raw
        self.total_changes = 0  # rows written through this connection (sqlite3's counter)

    @property
    def in_transaction(self) -> bool:
        return self.raw.info.transaction_status != TransactionStatus.IDLE

    def execute(self, sql: str, parameters: Sequence[Any] | None = None, /) -> Any:
        cursor = self.raw.cursor(row_factory=_row_factory)
        cursor.execute(translate(sql), _adapt(parameters))
        if cursor.rowcount > 0 and cursor.description is None:
            self.total_changes += cursor.rowcount
        return cursor

    def executemany(self, sql: str, seq_of_parameters: Any, /) -> Any:
        cursor = self.raw.cursor(row_factory=_row_factory)
        cursor.executemany(translate(sql), [_adapt(p) for p in seq_of_parameters])
        if cursor.rowcount > 0:
            self.total_changes += cursor.rowcount
        return cursor

    def close(self) -> None:
        self.raw.close()


def connect(url: str, *, autocommit: bool = True) -> psycopg.Connection[Any]:
    return psycopg.connect(
        url,
        autocommit=autocommit,
        cursor_factory=psycopg.ClientCursor,
        connect_timeout=CONNECT_TIMEOUT_S,
        application_name="mulu",
    )


class PostgresDatabase:
    """Owns this process's connections to one PostgreSQL database."""

    dialect: Dialect = "postgresql"

    def __init__(self, url: str, *, migrate: bool = True) -> None:
        self.url = url
        self.location = redact(url) or url
        self._local = threading.local()
        self._lock = threading.Lock()
        self._connections: list[tuple[threading.Thread, PostgresConnection]] = []
        self._closed = False
        if migrate:
            self.migrate()

    def connection(self) -> PostgresConnection:
        con: PostgresConnection | None = getattr(self._local, "con", None)
        if con is None or con.raw.closed:
            with self._lock:
                if self._closed:
                    raise RuntimeError(f"the metadata database {self.location} is closed")
                self._close_orphans()
                con = PostgresConnection(connect(self.url))
                self._connections.append((threading.current_thread(), con))
            self._local.con = con
        return con

    @contextmanager
    def transaction(self) -> Iterator[PostgresConnection]:
        con = self.connection()
        if con.in_transaction:
            yield con
            return
        con.raw.execute("BEGIN")
        try:
            con.raw.execute(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'")
            con.raw.execute("SELECT pg_advisory_xact_lock(%s)", (WRITE_LOCK,))
            yield con
        except BaseException:
            con.raw.execute("ROLLBACK")
            raise
        con.raw.execute("COMMIT")

    @contextmanager
    def snapshot(self) -> Iterator[PostgresConnection]:
        con = self.connection()
        if con.in_transaction:
            yield con
            return
        con.raw.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        try:
            yield con
        finally:
            con.raw.execute("ROLLBACK")

    def schema_version(self) -> tuple[int, int]:
        with self.snapshot() as con:
            found = _version(con.raw)
        return found, latest_version()

    def migrate(self) -> list[int]:
        """Run the migrations this database lacks; the versions run (none: up to date)."""
        with connect(self.url) as raw:
            raw.execute("SELECT pg_advisory_lock(%s)", (MIGRATE_LOCK,))
            try:
                raw.execute(
                    "CREATE TABLE IF NOT EXISTS mulu_schema (version BIGINT NOT NULL, "
                    "applied_at TIMESTAMPTZ NOT NULL DEFAULT now())"
                )
                current = _version(raw)
                ran = []
                for version, sql in migrations("postgresql"):
                    if version <= current or version < POSTGRESQL_BASELINE:
                        continue
                    with raw.transaction():
                        raw.execute(sql)  # a whole file at once
                        raw.execute("INSERT INTO mulu_schema (version) VALUES (%s)", (version,))
                    ran.append(version)
                return ran
            finally:
                raw.execute("SELECT pg_advisory_unlock(%s)", (MIGRATE_LOCK,))

    def open_connections(self) -> int:
        with self._lock:
            return len(self._connections)

    def _close_orphans(self) -> None:
        alive = []
        for thread, con in self._connections:
            if thread.is_alive():
                alive.append((thread, con))
            else:
                con.close()
        self._connections = alive

    def close(self) -> None:
        with self._lock:
            self._closed = True
            connections, self._connections = self._connections, []
        for _thread, con in connections:
            con.close()
        self._local = threading.local()


def _version(raw: psycopg.Connection[Any]) -> int:
    exists = raw.execute("SELECT to_regclass('mulu_schema') IS NOT NULL").fetchone()
    if not exists or not exists[0]:
        return 0
    row = raw.execute("SELECT coalesce(max(version), 0) FROM mulu_schema").fetchone()
    return int(row[0]) if row else 0
