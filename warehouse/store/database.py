"""What the repositories need of a metadata database, whichever engine holds it.

Two implementations: ``warehouse.store.sqlite.database.SqliteDatabase`` (the embedded default,
one file in the workspace) and ``warehouse.store.postgres.database.PostgresDatabase``
(``MULU_DATABASE_URL=postgresql://…``). Both hand each thread its own connection, whose
``execute`` takes SQL with ``?`` marks and returns rows readable by position and by column
name; the repositories in ``warehouse.store.sql`` are written once in the SQL both accept.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager
from typing import Any, Protocol

from warehouse.store.schema import Dialect


class Cursor(Protocol):
    """What a statement returns: rows (by position and by column name) and a row count."""

    @property
    def rowcount(self) -> int: ...

    def fetchone(self) -> Any: ...

    def fetchall(self) -> list[Any]: ...

    def __iter__(self) -> Iterator[Any]: ...


class Connection(Protocol):
    """One thread's connection: autocommit, SQL with ``?`` marks."""

    @property
    def in_transaction(self) -> bool: ...

    @property
    def total_changes(self) -> int: ...

    def execute(self, sql: str, parameters: Sequence[Any] = ..., /) -> Cursor: ...

    def executemany(self, sql: str, seq_of_parameters: Any, /) -> Cursor: ...


class Database(Protocol):
    dialect: Dialect
    # Names the database for in-process caches and messages (a path, or a URL without password).
    location: str

    def connection(self) -> Connection:
        """This thread's connection (autocommit; write through :meth:`transaction`)."""
        ...

    def transaction(self) -> AbstractContextManager[Connection]:
        """One atomic write on this thread's connection; joins an open transaction."""
        ...

    def snapshot(self) -> AbstractContextManager[Connection]:
        """A read transaction: every query inside sees the same committed state."""
        ...

    def schema_version(self) -> tuple[int, int]:
        """(the database's schema version, the newest this code knows)."""
        ...

    def open_connections(self) -> int: ...

    def close(self) -> None: ...
