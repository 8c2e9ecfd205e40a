"""The metadata database: SQLite in WAL mode.

SQLite, not DuckDB, holds metadata because a DuckDB file admits one writing process at a time,
while the web server, the CLI and pipeline runs all write metadata concurrently. WAL lets readers
run beside one writer; writers queue on ``busy_timeout`` instead of failing. DuckDB reads this
file through its sqlite extension when analysts query the catalogue.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

BUSY_TIMEOUT_MS = 60_000


from warehouse.store.sqlite.database import _migrations  # noqa: E402  (transition: see store)


def connect(path: Path, *, migrate: bool = True) -> sqlite3.Connection:
    """Open the metadata database, creating and migrating it when needed.

    The connection is in autocommit mode; use :func:`write_transaction` for writes.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    con = sqlite3.connect(path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None,
                          check_same_thread=False)
    con.row_factory = sqlite3.Row
    con.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    con.execute("PRAGMA journal_mode = WAL")
    con.execute("PRAGMA synchronous = NORMAL")
    con.execute("PRAGMA foreign_keys = ON")
    if migrate:
        _migrate(con)
    return con


def _migrate(con: sqlite3.Connection) -> None:
    current = con.execute("PRAGMA user_version").fetchone()[0]
    pending = [(v, sql) for v, sql in _migrations() if v > current]
    if not pending:
        return
    with write_transaction(con):
        # Re-read under the write lock: another process may have migrated meanwhile.
        current = con.execute("PRAGMA user_version").fetchone()[0]
        for version, sql in pending:
            if version > current:
                for statement in _split_sql(sql):
                    con.execute(statement)
                con.execute(f"PRAGMA user_version = {version}")


def _split_sql(sql: str) -> list[str]:
    statements, buffer = [], []
    for line in sql.splitlines():
        buffer.append(line)
        if line.rstrip().endswith(";") and sqlite3.complete_statement("\n".join(buffer)):
            statements.append("\n".join(buffer))
            buffer = []
    if "".join(buffer).strip():
        statements.append("\n".join(buffer))
    return statements


@contextmanager
def write_transaction(con: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """BEGIN IMMEDIATE … COMMIT: take the write lock up front so writers queue, not deadlock."""
    con.execute("BEGIN IMMEDIATE")
    try:
        yield con
    except BaseException:
        con.execute("ROLLBACK")
        raise
    con.execute("COMMIT")
