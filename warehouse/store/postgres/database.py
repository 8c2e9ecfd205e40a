"""The metadata database on PostgreSQL (``MULU_DATABASE_URL=postgresql://…``).

The repositories of ``warehouse.store.sql`` run here unchanged: this module's connections take
SQL with SQLite's ``?`` marks (rewritten to psycopg's ``%s`` once per statement text), pass
booleans as 0/1 like SQLite, and return rows readable by position and by column name.
Statements bind client-side (``psycopg.ClientCursor``): a ``? IS NULL`` test of an untyped
parameter, which server-side binding cannot type, works as it does in SQLite.

``executemany`` of a plain ``INSERT … VALUES (?, …) [ON CONFLICT …]`` sends its rows as
multi-row VALUES, a batch per statement (psycopg's own executemany sends one statement per row:
~8x slower for a bulk import). An upsert's batch never holds a conflict key twice (PostgreSQL
refuses to update a row twice in one statement), so each row still sees the ones before it, as
in SQLite. A few sqlite3 habits work here too: ``cursor.row_factory = None`` gives plain
tuples, ``set_trace_callback`` sees each statement, ``total_changes`` counts rows written.

Writers are serialised, as SQLite's ``BEGIN IMMEDIATE`` serialises them: ``transaction()``
takes one transaction-scoped advisory lock first, so a repository's read-then-write (the next
application number, a code sequence) stays correct under many processes. Readers never wait.
``snapshot()`` is a REPEATABLE READ, READ ONLY transaction. Migrations run under a session
advisory lock: the first process to start migrates, the others wait and find nothing to do.

Each thread has its own connection, kept until ``close`` (a dead thread's is closed).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from functools import lru_cache
from typing import Any, NamedTuple

import psycopg
from psycopg.adapt import Transformer
from psycopg.pq import TransactionStatus
from psycopg.rows import tuple_row

from warehouse.settings import redact
from warehouse.store.schema import POSTGRESQL_BASELINE, Dialect, latest_version, migrations
from warehouse.store.threads import PerThread

# pg_advisory locks: writers (transaction-scoped) and migrations (session-scoped).
WRITE_LOCK = 0x6D756C75  # "mulu"
MIGRATE_LOCK = 0x6D756C76
CONNECT_TIMEOUT_S = 10
# A writer waits this long for the write lock before failing (SQLite's busy_timeout).
LOCK_TIMEOUT = "60s"

_TOKEN = re.compile(r"'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"|\?|%")
# Rows per statement of a batched executemany: at most this many bound values in one.
BATCH_VALUES = 20_000
BATCH_ROWS = 1_000


@lru_cache(maxsize=4096)
def translate(sql: str) -> str:
    """SQLite's ``?`` marks as psycopg's ``%s`` outside quoted text; every ``%`` doubled (psycopg
    reads ``%`` as a mark even inside a quoted ``LIKE '%x'``)."""

    def swap(match: re.Match[str]) -> str:
        token = match.group(0)
        return "%s" if token == "?" else token.replace("%", "%%")

    return _TOKEN.sub(swap, sql)


_INSERT = re.compile(
    r"\s*INSERT\s+INTO\s+(?P<table>[\w\"]+)\s*\((?P<columns>[^()]*)\)\s*VALUES\s*"
    r"(?P<values>\((?:[^()']|'(?:[^']|'')*')*\))(?P<tail>.*)",
    re.IGNORECASE | re.DOTALL,
)
_CONFLICT = re.compile(r"\bON\s+CONFLICT\s*\((?P<target>[^()]*)\)\s*DO\s+UPDATE\b", re.I)
_ITEM = re.compile(r"'(?:[^']|'')*'|[^,]+")


class _Insert(NamedTuple):
    """An INSERT whose rows can go many to a statement, in parts of SQL as sent (no marks,
    ``%`` single: the statements bind nothing)."""

    head: bytes  # INSERT INTO t (cols) VALUES
    items: tuple[bytes | None, ...]  # one row's: None for a mark, else a literal's SQL
    tail: bytes  # ON CONFLICT …, or nothing
    width: int  # marks per row
    key: tuple[int, ...] | None  # the DO UPDATE conflict key's positions among the marks
    copy: bytes | None  # COPY t (cols) FROM STDIN, for a plain INSERT of marks only


@lru_cache(maxsize=512)
def _batchable(sql: str) -> _Insert | None:
    """``sql`` in parts if it is an INSERT … VALUES whose rows can go many to a statement."""
    match = _INSERT.fullmatch(sql)
    if match is None:
        return None
    tail = match["tail"]
    if "?" in tail or re.search(r"\bRETURNING\b", tail, re.IGNORECASE):
        return None
    columns = [c.strip().strip('"').lower() for c in match["columns"].split(",")]
    items = [i.strip() for i in _ITEM.findall(match["values"][1:-1])]
    if len(items) != len(columns):
        return None
    marks = [n for n, item in enumerate(items) if item == "?"]
    if sum(item.count("?") for item in items) != len(marks):
        return None  # a mark inside an expression: keep it simple, one row per statement
    key: tuple[int, ...] | None = None
    conflict = _CONFLICT.search(tail)
    if conflict is not None:
        target = [c.strip().strip('"').lower() for c in conflict["target"].split(",")]
        if any(c not in columns or columns.index(c) not in marks for c in target):
            return None
        key = tuple(marks.index(columns.index(c)) for c in target)
    elif re.search(r"\bDO\s+UPDATE\b", tail, re.IGNORECASE):
        return None
    into = f"{match['table']} ({match['columns']})"
    plain = not tail.strip() and len(marks) == len(items)
    return _Insert(
        head=f"INSERT INTO {into} VALUES ".encode(),
        items=tuple(None if item == "?" else item.encode() for item in items),
        tail=tail.encode(),
        width=len(marks),
        key=key,
        copy=f"COPY {into} FROM STDIN".encode() if plain else None,
    )


def _literal_rows(
    as_literal: Callable[[Any], bytes], items: tuple[bytes | None, ...], rows: list[Sequence[Any]]
) -> bytes:
    """``(…),(…)``: each row's values as SQL literals (psycopg quotes them, as ClientCursor
    would) in the row's items."""
    if all(item is None for item in items):
        return b",".join([b"(" + b",".join(map(as_literal, row)) + b")" for row in rows])
    out = []
    for row in rows:
        values = iter(row)
        out.append(
            b"(" + b",".join([as_literal(next(values)) if i is None else i for i in items]) + b")"
        )
    return b",".join(out)


def _batches(
    rows: list[Sequence[Any]], width: int, key: tuple[int, ...] | None
) -> Iterator[list[Sequence[Any]]]:
    """``rows`` in runs of at most BATCH_ROWS (and BATCH_VALUES values); with a conflict key,
    a run ends before a row whose key it holds already."""
    size = max(1, min(BATCH_ROWS, BATCH_VALUES // max(width, 1)))
    batch: list[Sequence[Any]] = []
    seen: set[tuple[Any, ...]] = set()
    for row in rows:
        if key is not None:
            k = tuple(row[i] for i in key)
            if k in seen:
                yield batch
                batch, seen = [], set()
            seen.add(k)
        batch.append(row)
        if len(batch) >= size:
            yield batch
            batch, seen = [], set()
    if batch:
        yield batch


class _Written:
    """What a batched executemany returns: the rows written, no result rows (as sqlite3's)."""

    description = None

    def __init__(self, rowcount: int) -> None:
        self.rowcount = rowcount

    def fetchone(self) -> None:
        return None

    def fetchall(self) -> list[Any]:
        return []

    def __iter__(self) -> Iterator[Any]:
        return iter(())


class Cursor(psycopg.ClientCursor[Any]):
    """psycopg's client-side cursor, taking ``row_factory = None`` for plain tuples as
    sqlite3's cursors do."""

    @property
    def row_factory(self) -> Any:
        return self._row_factory

    @row_factory.setter
    def row_factory(self, factory: Any) -> None:
        factory = factory or tuple_row
        self._row_factory = factory
        if self.pgresult:
            self._make_row = factory(self)


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
        self._trace: Callable[[str], object] | None = None

    @property
    def in_transaction(self) -> bool:
        return self.raw.info.transaction_status != TransactionStatus.IDLE

    def set_trace_callback(self, callback: Callable[[str], object] | None) -> None:
        """Call ``callback`` with each statement's SQL (``?`` marks), as sqlite3's does."""
        self._trace = callback

    def execute(self, sql: str, parameters: Sequence[Any] | None = None, /) -> Any:
        if self._trace is not None:
            self._trace(sql)
        cursor = self.raw.cursor(row_factory=_row_factory)
        cursor.execute(translate(sql), _adapt(parameters))
        if cursor.rowcount > 0 and cursor.description is None:
            self.total_changes += cursor.rowcount
        return cursor

    def executemany(self, sql: str, seq_of_parameters: Any, /) -> Any:
        """Each parameter row through ``sql``; the result's ``rowcount`` sums the rows written."""
        if self._trace is not None:
            self._trace(sql)
        rows = [_adapt(p) for p in seq_of_parameters]
        plan = _batchable(sql)
        if plan is None or not rows:
            cursor = self.raw.cursor(row_factory=_row_factory)
            cursor.executemany(translate(sql), rows)
            if cursor.rowcount > 0:
                self.total_changes += cursor.rowcount
            return cursor
        written = 0
        with self.raw.cursor() as cursor:
            if plan.copy is not None:
                # A plain INSERT of bound values: COPY, ~2.5x faster than multi-row VALUES.
                with cursor.copy(plan.copy) as rows_in:
                    for row in rows:
                        rows_in.write_row(row)
                written = max(cursor.rowcount, 0)
            else:
                # The rows as literals in one statement that binds nothing: psycopg would
                # otherwise scan a statement of 20,000 marks for them on every batch.
                as_literal = Transformer.from_context(self.raw).as_literal
                for batch in _batches(rows, plan.width, plan.key):
                    sql_rows = _literal_rows(as_literal, plan.items, batch)
                    cursor.execute(plan.head + sql_rows + plan.tail)
                    written += max(cursor.rowcount, 0)
        self.total_changes += written
        return _Written(written)

    def close(self) -> None:
        self.raw.close()


def connect(url: str, *, autocommit: bool = True) -> psycopg.Connection[Any]:
    return psycopg.connect(
        url,
        autocommit=autocommit,
        cursor_factory=Cursor,
        connect_timeout=CONNECT_TIMEOUT_S,
        application_name="mulu",
    )


class PostgresDatabase:
    """Owns this process's connections to one PostgreSQL database."""

    dialect: Dialect = "postgresql"

    def __init__(self, url: str, *, migrate: bool = True) -> None:
        self.url = url
        self.location = redact(url) or url
        self._connections = PerThread(
            lambda: PostgresConnection(connect(url)),
            PostgresConnection.close,
            name=self.location,
            usable=lambda con: not con.raw.closed,
        )
        if migrate:
            self.migrate()

    def connection(self) -> PostgresConnection:
        """This thread's connection (autocommit; write through :meth:`transaction`)."""
        return self._connections.get()

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
        return self._connections.count()

    def close(self) -> None:
        self._connections.close()


def _version(raw: psycopg.Connection[Any]) -> int:
    exists = raw.execute("SELECT to_regclass('mulu_schema') IS NOT NULL").fetchone()
    if not exists or not exists[0]:
        return 0
    row = raw.execute("SELECT coalesce(max(version), 0) FROM mulu_schema").fetchone()
    return int(row[0]) if row else 0
