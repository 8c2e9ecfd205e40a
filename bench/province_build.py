"""The simulated province of ``bench.province``: the demo district ×k, in SQLite and PostgreSQL.

The district itself comes from ``bench.district.build`` (``build_demo`` through the directory:
35,700 entries, 343 organisations, ~236k update events, one history row an entry), built once
as a template. A province of k districts copies it k-1 times inside the database, by SQL, with
new codes for entries (the 顺序码 moved up by copy × 100,000), their update events and history
rows, *and* organisations (``<code>.<copy>``: ×100 has 34,300 of them, each copy's entries
provided by its own copy's organisations). The update events are data, not assets: bulk ``INSERT … SELECT``.

PostgreSQL: a fresh database per run (``CREATE DATABASE`` on the admin URL, dropped after),
migrated by ``PostgresDatabase``; the template district is copied in with ``COPY`` and then
multiplied server-side by the same SQL as in SQLite.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sqlite3
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")

ADMIN_URL = os.environ.get("MULU_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")

# An entry code of copy c: the 分类码 kept, the 顺序码 moved up by c × 100,000 and written with
# seven digits (``bench.catalog`` does the same): a valid 信息资源代码 that the directory finds,
# which a suffix (``<code>.<c>``) is not. The district's own codes have six digits.
_ENTRY_CODE = {
    "sqlite": "substr({col}, 1, instr({col}, '/')) || "
    "printf('%07d', CAST(substr({col}, instr({col}, '/') + 1) AS INTEGER) + {c} * 100000)",
    "postgresql": "split_part({col}, '/', 1) || '/' || "
    "lpad((split_part({col}, '/', 2)::int + {c} * 100000)::text, 7, '0')",
}
_DISTRICT_ROWS = {  # the rows of copy 0, the district itself
    "sqlite": "length({col}) - instr({col}, '/') = 6",
    "postgresql": "length(split_part({col}, '/', 2)) = 6",
}
# table → {column: its value in copy {c}}; organisations take a suffix (codes of our own).
_RENAMED = {
    "organisations": {"code": "code || '.{c}'", "parent_code": "parent_code || '.{c}'"},
    "entries": {
        "code": "{entry_code}",
        "source_key": "source_key || '.{c}'",
        "provider_code": "provider_code || '.{c}'",
    },
    "entry_updates": {"code": "{entry_code}"},
    "entry_history": {"code": "{entry_code}"},
}
# Copied in this order (organisations before the entries that reference them).
TABLES = ("organisations", "entries", "entry_updates", "entry_history", "code_sequences")
_NO_ID = ("entry_updates", "entry_history")  # identity columns: each database numbers its own


@contextlib.contextmanager
def database_url(url: str | None) -> Iterator[None]:
    """``MULU_DATABASE_URL`` set to ``url`` (None: unset, the embedded SQLite) meanwhile; child
    processes started meanwhile inherit it."""
    before = os.environ.pop("MULU_DATABASE_URL", None)
    if url:
        os.environ["MULU_DATABASE_URL"] = url
    try:
        yield
    finally:
        os.environ.pop("MULU_DATABASE_URL", None)
        if before is not None:
            os.environ["MULU_DATABASE_URL"] = before


def template(home: Path) -> Path:
    """The demo district (×1) in ``home`` (built once, reused by every scale)."""
    if not (home / "catalog.sqlite").exists():
        from bench.district import build

        with database_url(None):
            build(home, 1)
    return home


def _columns(con: sqlite3.Connection, table: str) -> list[str]:
    names = [r[1] for r in con.execute(f'PRAGMA table_info("{table}")')]
    return [n for n in names if not (table in _NO_ID and n == "id")]


def copy_code(code: str, copy: int) -> str:
    """The code of entry ``code`` (of the district) in copy ``copy``, as the SQL makes it."""
    if not copy:
        return code
    classification, sequence = code.split("/", 1)
    return f"{classification}/{int(sequence) + copy * 100_000:07d}"


def _copy_statements(columns: dict[str, list[str]], copy: int, dialect: str) -> list[str]:
    """The INSERT … SELECT of copy ``copy`` for every table, from the district's rows."""
    statements = []
    entry_code = _ENTRY_CODE[dialect].format(col="code", c=copy)
    for table in ("organisations", "entries", "entry_updates", "entry_history"):
        cols = columns[table]
        renamed = _RENAMED[table]
        select = ", ".join(
            renamed[c].format(c=copy, entry_code=entry_code) if c in renamed else c for c in cols
        )
        district = (
            "code NOT LIKE '%.%'"
            if table == "organisations"
            else _DISTRICT_ROWS[dialect].format(col="code")
        )
        statements.append(
            f"INSERT INTO {table} ({', '.join(cols)}) SELECT {select} FROM {table} WHERE {district}"
        )
    return statements


def sqlite_province(district: Path, home: Path, copies: int) -> dict[str, int]:
    """The district ×``copies`` as the workspace ``home`` (embedded SQLite)."""
    shutil.rmtree(home, ignore_errors=True)
    shutil.copytree(district, home)
    con = sqlite3.connect(home / "catalog.sqlite", isolation_level=None)
    try:
        con.execute("PRAGMA journal_mode = WAL")
        con.execute("PRAGMA synchronous = NORMAL")
        columns = {t: _columns(con, t) for t in TABLES}
        for copy in range(1, copies):
            con.execute("BEGIN")
            for statement in _copy_statements(columns, copy, "sqlite"):
                con.execute(statement)
            con.execute("COMMIT")
        con.execute("ANALYZE")
        return counts(con)
    finally:
        con.close()


def counts(con: Any) -> dict[str, int]:
    return {
        table: con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
        for table in ("organisations", "entries", "entry_updates", "entry_history")
    }


# --- PostgreSQL ----------------------------------------------------------------------------
def postgres_url(name: str, server: str = ADMIN_URL) -> str:
    base, _db = server.rsplit("/", 1)
    return f"{base}/{name}"


def _admin(sql: str, server: str = ADMIN_URL) -> None:
    import psycopg

    with psycopg.connect(server, autocommit=True) as con:
        con.execute(sql)


@contextlib.contextmanager
def fresh_postgres(label: str, server: str = ADMIN_URL) -> Iterator[str]:
    """A new, empty PostgreSQL database (its URL) on ``server``'s server, dropped afterwards."""
    name = f"mulu_bench_{label}_{uuid.uuid4().hex[:8]}"
    _admin(f'CREATE DATABASE "{name}"', server)
    try:
        yield postgres_url(name, server)
    finally:
        _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', server)


def postgres_province(district: Path, url: str, copies: int) -> dict[str, int]:
    """The district ×``copies`` in the (empty) PostgreSQL database ``url``: migrated by Mulu,
    the district COPYed in from its SQLite file, then multiplied server-side."""
    import psycopg

    from warehouse.store.postgres.database import PostgresDatabase

    PostgresDatabase(url).close()  # migrations: the schema Mulu would make
    source = sqlite3.connect(district / "catalog.sqlite")
    try:
        columns = {t: _columns(source, t) for t in TABLES}
        with psycopg.connect(url) as con:
            for table in TABLES:
                cols = columns[table]
                with con.cursor().copy(f"COPY {table} ({', '.join(cols)}) FROM STDIN") as copy:
                    for row in source.execute(f"SELECT {', '.join(cols)} FROM {table}"):
                        copy.write_row(row)
            con.commit()
            for n in range(1, copies):
                for statement in _copy_statements(columns, n, "postgresql"):
                    con.execute(statement)
                con.commit()
        with psycopg.connect(url, autocommit=True) as con:
            con.execute("VACUUM ANALYZE")
            return counts(con)
    finally:
        source.close()


def timed(step: Callable[..., T], *args: Any) -> tuple[T, float]:
    """``step(*args)`` and the seconds it took."""
    started = time.perf_counter()
    result = step(*args)
    return result, time.perf_counter() - started
