"""Copy an embedded workspace's metadata store (``catalog.sqlite``) into PostgreSQL, verified.

``copy_store(source, target)`` is what ``mulu workspace migrate --to postgresql://…`` runs:

- **What is copied** comes from the schema, not from a list kept here: every table of the
  SQLite file (``sqlite_master``) except SQLite's own (``sqlite_*``), FTS5 virtual tables and
  their shadow tables, and the search index (tables named ``search_*``: it is rebuilt, not
  copied; PostgreSQL's trigger on ``entries`` queues every copied entry for the next search
  refresh). Each table's columns are SQLite's declared columns (``PRAGMA table_info``); the
  target must have every one of them. A PostgreSQL-only ``rowid`` column (the baseline's
  explicit stand-in for SQLite's implicit rowid, which orders some tables) receives SQLite's
  rowid; any other PostgreSQL-only column must be nullable or have a default.
- **Order**: tables in foreign-key order (parents first, from SQLite's ``foreign_key_list``).
- **Both sides at the newest schema**: the source is migrated by opening it, the target by
  ``PostgresDatabase`` (an empty database gets the baseline and every migration); a target whose
  copied tables hold any row is refused (no ``--replace``: the audit log is append-only, so a
  fresh database is the one safe target).
- **One transaction** on PostgreSQL for everything (``PostgresDatabase.transaction``, which also
  takes Mulu's write lock), and SQLite's write lock (``BEGIN IMMEDIATE``) held from the first
  read until the caller has switched the workspace over (``after_commit``), so no write to the
  embedded store can land after it was read and be left behind.
- **Streaming**: rows leave SQLite ``BATCH`` at a time (``fetchmany``) into PostgreSQL's
  ``COPY … FROM STDIN``; read back through a server-side cursor. Memory stays flat.
- **Verification**, before the commit: per table, the row count and an order-independent digest
  (the sum modulo 2**256 of the sha256 of each row's canonical JSON: values in column order,
  ``ensure_ascii=False``, compact) computed by the same function over the rows read from SQLite
  and over the rows read back from PostgreSQL. Any difference raises ``CopyMismatch`` and the
  PostgreSQL transaction rolls back: nothing is left behind. ``before_commit`` lets the caller
  add a check of its own inside the transaction (the CLI verifies the audit log's hash chain).
- **Identity sequences** continue after the copied ids: ``setval`` to the highest id copied, or
  SQLite's ``sqlite_sequence`` high-water mark when that is higher (AUTOINCREMENT tables).
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
import yaml

from schemas.errors import Conflict, InvalidInput, MuluError, Unavailable
from warehouse.settings import SETTINGS, is_postgresql, read_settings_file, redact
from warehouse.store.postgres.database import PostgresConnection, PostgresDatabase
from warehouse.store.sqlite.database import SqliteDatabase
from warehouse.workspace import Workspace

BATCH = 5_000
MODULUS = 2**256
# Tables of the search index: rebuilt on PostgreSQL from the copied entries, not copied.
REBUILT_PREFIX = "search_"


class CopyMismatch(MuluError):
    """The copy read back from PostgreSQL differs from the source (the copy was rolled back)."""

    def __init__(self, message: str, tables: list[TableCopy]) -> None:
        super().__init__(message)
        self.tables = tables


@dataclass
class Digest:
    """Count and order-independent checksum of a stream of rows."""

    rows: int = 0
    total: int = 0

    def add(self, row: Sequence[Any]) -> None:
        text = json.dumps(list(row), ensure_ascii=False, separators=(",", ":"), default=_jsonable)
        self.rows += 1
        self.total = (self.total + int.from_bytes(hashlib.sha256(text.encode()).digest())) % (
            MODULUS
        )

    @property
    def hex(self) -> str:
        return f"{self.total:064x}"


def _jsonable(value: Any) -> Any:
    if isinstance(value, bytes | bytearray | memoryview):
        return {"bytes": bytes(value).hex()}
    raise TypeError(f"a value of type {type(value).__name__} in a metadata row")


@dataclass(frozen=True)
class TablePlan:
    name: str
    columns: tuple[str, ...]  # target columns written, in order
    source_columns: tuple[str, ...]  # what SQLite selects for them (``rowid`` for a stand-in)
    parents: tuple[str, ...] = ()


@dataclass
class TableCopy:
    """One table's outcome: rows and checksums on each side."""

    name: str
    source: Digest = field(default_factory=Digest)
    target: Digest = field(default_factory=Digest)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return (self.source.rows, self.source.total) == (self.target.rows, self.target.total)

    def as_dict(self) -> dict[str, Any]:
        return {
            "table": self.name,
            "rows": self.source.rows,
            "target_rows": self.target.rows,
            "checksum": self.source.hex,
            "target_checksum": self.target.hex,
            "ok": self.ok,
            "seconds": round(self.seconds, 3),
        }


@dataclass
class CopyReport:
    source: str
    target: str
    schema_version: int
    tables: list[TableCopy] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # rebuilt, not copied
    sequences: dict[str, int] = field(default_factory=dict)  # "table.column" → next value - 1
    seconds: float = 0.0

    @property
    def rows(self) -> int:
        return sum(t.source.rows for t in self.tables)

    def as_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "target": self.target,
            "schema_version": self.schema_version,
            "rows": self.rows,
            "tables": [t.as_dict() for t in self.tables],
            "rebuilt": self.skipped,
            "sequences": self.sequences,
            "seconds": round(self.seconds, 2),
        }


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


# --- the schema, read from both sides ---------------------------------------------------------
def sqlite_tables(con: Any) -> list[str]:
    """The SQLite store's own tables: no ``sqlite_*``, no virtual (FTS5) tables or their shadow
    tables."""
    rows = con.execute(
        "SELECT name, sql FROM sqlite_master WHERE type = 'table' ORDER BY name"
    ).fetchall()
    virtual = [r["name"] for r in rows if str(r["sql"] or "").upper().startswith("CREATE VIRTUAL")]
    return [
        r["name"]
        for r in rows
        if not r["name"].startswith("sqlite_")
        and r["name"] not in virtual
        and not any(r["name"].startswith(v + "_") for v in virtual)
    ]


def sqlite_columns(con: Any, table: str) -> list[str]:
    return [r["name"] for r in con.execute(f"PRAGMA table_info({_quote(table)})")]


def postgres_columns(con: PostgresConnection) -> dict[str, dict[str, dict[str, Any]]]:
    """table → column → {nullable, default, identity, generated} in the current schema."""
    found: dict[str, dict[str, dict[str, Any]]] = {}
    rows = con.execute(
        "SELECT table_name, column_name, is_nullable, column_default, is_identity, "
        "is_generated FROM information_schema.columns WHERE table_schema = current_schema() "
        "ORDER BY table_name, ordinal_position"
    ).fetchall()
    for r in rows:
        found.setdefault(r[0], {})[r[1]] = {
            "nullable": r[2] == "YES",
            "default": r[3] is not None or r[4] == "YES" or r[5] == "ALWAYS",
            "identity": r[4] == "YES",
        }
    return found


def plan(source: Any, target: PostgresConnection) -> tuple[list[TablePlan], list[str]]:
    """The tables to copy in foreign-key order, and those rebuilt instead. Raises
    ``Conflict`` when the target's schema lacks a table or column the source has."""
    target_tables = postgres_columns(target)
    plans: dict[str, TablePlan] = {}
    skipped = []
    problems = []
    for table in sqlite_tables(source):
        if table.startswith(REBUILT_PREFIX):
            skipped.append(table)
            continue
        columns = sqlite_columns(source, table)
        wanted = target_tables.get(table)
        if wanted is None:
            problems.append(f"table {table} is missing")
            continue
        missing = [c for c in columns if c not in wanted]
        if missing:
            problems.append(f"{table}: column(s) {', '.join(missing)} missing")
        out, selected = list(columns), list(columns)
        for column, info in wanted.items():
            if column in columns:
                continue
            if column == "rowid":  # the baseline's stand-in for SQLite's implicit rowid
                out.append(column)
                selected.append("rowid")
            elif not (info["nullable"] or info["default"]):
                problems.append(f"{table}.{column}: PostgreSQL-only, NOT NULL, no default")
        parents = tuple(
            sorted(
                {
                    str(r["table"])
                    for r in source.execute(f"PRAGMA foreign_key_list({_quote(table)})")
                    if r["table"] != table
                }
            )
        )
        plans[table] = TablePlan(table, tuple(out), tuple(selected), parents)
    if problems:
        raise Conflict(
            "the PostgreSQL schema differs from the workspace's (run `mulu migrate` with the same "
            "Mulu version on both): " + "; ".join(problems)
        )
    return _fk_order(plans), skipped


def _fk_order(plans: dict[str, TablePlan]) -> list[TablePlan]:
    ordered: list[TablePlan] = []
    done: set[str] = set()
    visiting: set[str] = set()

    def visit(name: str) -> None:
        if name in done or name not in plans:
            return
        if name in visiting:
            raise ValueError(f"foreign keys form a cycle through {name}")
        visiting.add(name)
        for parent in plans[name].parents:
            visit(parent)
        visiting.discard(name)
        done.add(name)
        ordered.append(plans[name])

    for name in sorted(plans):
        visit(name)
    return ordered


# --- the copy ---------------------------------------------------------------------------------
def open_target(url: str) -> PostgresDatabase:
    """The PostgreSQL store at ``url``, migrated to the newest schema (an empty database gets
    every migration). Connection problems become ``Unavailable``, naming the URL sans password."""
    if not is_postgresql(url):
        raise InvalidInput(f"--to: expected postgresql://user@host:port/database, got {url!r}")
    try:
        return PostgresDatabase(url)
    except psycopg.OperationalError as exc:
        reason = str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__
        raise Unavailable(f"PostgreSQL {redact(url)}: cannot connect or migrate: {reason}") from exc


def copy_store(
    source: SqliteDatabase,
    target: PostgresDatabase,
    *,
    batch: int = BATCH,
    before_commit: Callable[[], None] | None = None,
    after_commit: Callable[[CopyReport], None] | None = None,
    progress: Callable[[str, int], None] | None = None,
) -> CopyReport:
    """Copy every row of ``source`` into ``target`` and verify it (see the module doc).

    ``before_commit`` runs inside the PostgreSQL transaction after the checksums matched, on
    this thread (a ``Store`` over ``target`` sees the copied rows); raising rolls back.
    ``after_commit`` runs after PostgreSQL committed, still holding SQLite's write lock (switch
    the workspace over there). ``progress(table, rows)`` is told of each batch written."""
    started = time.perf_counter()
    found, expected = source.schema_version()
    target_found, _ = target.schema_version()
    if found != expected or target_found != expected:
        raise Conflict(
            f"schema versions differ: {source.location} is at {found}, {target.location} at "
            f"{target_found}, this Mulu expects {expected} (run `mulu migrate` first)"
        )
    report = CopyReport(source.location, target.location, expected)
    with source.transaction() as src:  # BEGIN IMMEDIATE: no writer commits until we are done
        with target.transaction() as dst:
            plans, report.skipped = plan(src, dst)
            occupied = [
                p.name
                for p in plans
                if dst.execute(f"SELECT EXISTS (SELECT 1 FROM {_quote(p.name)})").fetchone()[0]
            ]
            if occupied:
                raise Conflict(
                    f"{target.location} already holds data (tables {', '.join(occupied)}): the "
                    "workspace is copied only into an empty or freshly migrated database "
                    "(create a new one: createdb …)"
                )
            for table in plans:
                copied = TableCopy(table.name)
                began = time.perf_counter()
                _copy_table(src, dst, table, copied.source, batch, progress)
                _read_back(dst, table, copied.target, batch)
                copied.seconds = time.perf_counter() - began
                report.tables.append(copied)
            bad = [t for t in report.tables if not t.ok]
            if bad:
                raise CopyMismatch(
                    "copy rolled back, the copy differs from the source: "
                    + "; ".join(
                        f"{t.name}: {t.source.rows} rows {t.source.hex[:12]}… → "
                        f"{t.target.rows} rows {t.target.hex[:12]}…"
                        for t in bad
                    ),
                    report.tables,
                )
            report.sequences = _continue_sequences(src, dst, plans)
            if before_commit is not None:
                before_commit()
        report.seconds = time.perf_counter() - started
        if after_commit is not None:
            after_commit(report)
    return report


def _copy_table(
    src: Any,
    dst: PostgresConnection,
    table: TablePlan,
    digest: Digest,
    batch: int,
    progress: Callable[[str, int], None] | None,
) -> None:
    select = ", ".join(_quote(c) if c != "rowid" else "rowid" for c in table.source_columns)
    cursor = src.execute(f"SELECT {select} FROM {_quote(table.name)}")
    columns = ", ".join(_quote(c) for c in table.columns)
    with dst.raw.cursor().copy(f"COPY {_quote(table.name)} ({columns}) FROM STDIN") as copy:
        while rows := cursor.fetchmany(batch):
            for row in rows:
                values = tuple(row)
                copy.write_row(values)
                digest.add(values)
            if progress is not None:
                progress(table.name, digest.rows)


def _read_back(dst: PostgresConnection, table: TablePlan, digest: Digest, batch: int) -> None:
    columns = ", ".join(_quote(c) for c in table.columns)
    with dst.raw.cursor(name=f"mulu_copy_{table.name}") as cursor:
        cursor.itersize = batch
        cursor.execute(f"SELECT {columns} FROM {_quote(table.name)}")
        for row in cursor:
            digest.add(row)


def _continue_sequences(
    src: Any, dst: PostgresConnection, plans: Iterable[TablePlan]
) -> dict[str, int]:
    """Every identity column of a copied table continues after its highest id (or SQLite's
    high-water mark for an AUTOINCREMENT table, which counts ids handed out and since gone)."""
    copied = {p.name for p in plans}
    marks: dict[str, int] = {}
    if src.execute("SELECT 1 FROM sqlite_master WHERE name = 'sqlite_sequence'").fetchone():
        marks = {str(r[0]): int(r[1]) for r in src.execute("SELECT name, seq FROM sqlite_sequence")}
    rows = dst.execute(
        "SELECT table_name, column_name FROM information_schema.columns "
        "WHERE table_schema = current_schema() AND is_identity = 'YES' "
        "ORDER BY table_name, column_name"
    ).fetchall()
    done = {}
    for table, column in ((str(r[0]), str(r[1])) for r in rows):
        if table not in copied:
            continue
        top = dst.execute(f"SELECT max({_quote(column)}) FROM {_quote(table)}").fetchone()[0]
        value = max(int(top or 0), marks.get(table, 0) if column != "rowid" else 0)
        sequence = dst.execute(
            "SELECT pg_get_serial_sequence(?, ?)", (_quote(table), column)
        ).fetchone()[0]
        if value > 0:
            dst.execute("SELECT setval(?, ?, true)", (sequence, value))
        else:
            dst.execute("SELECT setval(?, 1, false)", (sequence,))
        done[f"{table}.{column}"] = value
    return done


# --- the workspace's switch -------------------------------------------------------------------
def write_database_url(workspace: Workspace, url: str) -> Path:
    """Set ``database_url`` in the workspace's ``config/settings.yaml`` (other settings kept)."""
    assert "database_url" in SETTINGS
    settings = read_settings_file(workspace)
    settings["database_url"] = url
    path = workspace.settings_file
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name(f".{path.name}.tmp")
    temp.write_text(yaml.safe_dump(settings, allow_unicode=True, sort_keys=False), encoding="utf-8")
    temp.replace(path)
    return path
