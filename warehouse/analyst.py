"""Analyst access: one DuckDB session in which every warehouse table and the catalogue are tables.

``open_session(workspace)`` returns an in-memory DuckDB connection with

* ``lake``: the DuckLake of warehouse tables (``lake.sqlite`` + ``lake/``), attached READ_ONLY;
  skipped while the workspace has no lake yet;
* ``catalog``: the catalogue's tables as the store reads them when the session opens (one
  consistent read, ``warehouse.catalogue_tables``), exactly as stored (times as ISO text, lists
  as JSON text); read-only views over an in-memory copy. DuckDB never opens ``catalog.sqlite``
  itself: its own SQLite library beside Python's sqlite3 in one process loses writes;
* views in the session's own database (``memory.main``, the default), so that plain names work:
  one per lake table by its name (``SELECT * FROM di_bao``), and one per catalogue table
  (``entries``, ``organisations``, ``entry_history``, ``entry_updates``, ``imports`` …) with
  ``*_at`` columns as TIMESTAMP (``published_at`` as DATE) and list/record columns as JSON.
  A catalogue name wins over a dataset of the same name, which stays ``lake.<name>``.

Nothing in a session writes to the workspace: what an analyst creates (``CREATE TABLE x AS …``)
lives in memory until the session closes. The session is a ``Session`` (not a bare DuckDB
connection), locked down once it is set up:

* DuckDB itself: ``enable_external_access = false`` with ``allowed_directories`` = the
  workspace's ``lake/`` and ``quarantine/`` (files elsewhere cannot be read, written or
  attached; no INSTALL/LOAD; no secrets on disk), autoloading off, then
  ``lock_configuration = true`` (no ``SET`` of a setting can undo any of it);
* every statement is checked before it runs (``check_read_only``): ATTACH/DETACH, COPY,
  EXPORT/IMPORT DATABASE, INSTALL/LOAD/UPDATE EXTENSIONS are refused, and so are DuckLake's and
  the sqlite extension's functions that write or delete files or open a database file
  (``ducklake_*`` upkeep, ``sqlite_scan``/``sqlite_query``/``sqlite_attach``) — DuckDB would
  let those touch files under the allowed folders or past its check — and ``query()`` and
  the like, which run SQL built at run time. A refusal raises ``ReadOnlyError`` (a
  ``duckdb.PermissionException``).

Readers and loads do not block each other: each query reads the latest committed DuckLake
snapshot, whose Parquet files are never rewritten, and the catalogue is read once, in a read
transaction beside any writer (WAL mode).

Another process may add or drop lake tables while a session is open; ``refresh_views`` brings
the plain-name views up to date (the ``mulu sql`` shell calls it before every statement).
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

import duckdb

from schemas.errors import Unavailable
from warehouse import lake
from warehouse.catalogue_tables import CATALOG, attach_catalogue
from warehouse.store import Store
from warehouse.workspace import Workspace

LAKE = "lake"
# Loaded into every session; all come as offline packages pinned beside duckdb (INSTALL would
# need the network). fts is for analysts (full-text search over the session's tables);
# sqlite_scanner is the DuckLake catalogue's (lake.sqlite), never catalog.sqlite's. A session
# reads no files but the workspace's (see the module's docstring), so excel and httpfs, which
# read other files, are not loaded.
EXTENSIONS = ("sqlite_scanner", "ducklake", "fts")
# Statement types a session runs; anything else (ATTACH, DETACH, COPY, COPY FROM DATABASE,
# EXPORT, INSTALL/LOAD, UPDATE EXTENSIONS, …) is refused. SET is here for ``SET VARIABLE`` and
# ``USE``: settings are locked (``lock_configuration``). EXPLAIN and PREPARE are checked again
# for the statement they wrap.
_ALLOWED = {
    "SELECT",
    "INSERT",
    "UPDATE",
    "DELETE",
    "MERGE_INTO",
    "CREATE",
    "CREATE_FUNC",
    "DROP",
    "ALTER",
    "TRANSACTION",
    "EXPLAIN",
    "PREPARE",
    "EXECUTE",
    "PRAGMA",
    "CALL",
    "SET",
    "VARIABLE_SET",
    "ANALYZE",
    "VACUUM",
}
_REFUSED = {
    "ATTACH": "ATTACH: a session's databases are fixed when it opens (the lake, read-only, and "
    "a copy of the catalogue)",
    "DETACH": "DETACH: a session's databases are fixed when it opens",
    "COPY": "COPY reads and writes files (print results with --json instead, or use the plain "
    "duckdb recipe)",
    "COPY_DATABASE": "COPY FROM DATABASE: a session's databases are fixed when it opens",
    "EXPORT": "EXPORT DATABASE writes files (use the plain duckdb recipe)",
    "LOAD": "INSTALL and LOAD: a session's extensions are fixed when it opens",
}
# Functions that write or delete files under the lake, or open a SQLite file with the sqlite
# extension's own file access (which bypasses DuckDB's allowed_directories: sqlite_scan could
# read catalog.sqlite, sqlite_query could write lake.sqlite): refused by name.
_REFUSED_FUNCTIONS = (
    "ducklake_add_data_files",
    "ducklake_cleanup_old_files",
    "ducklake_commit",
    "ducklake_delete_orphaned_files",
    "ducklake_expire_snapshots",
    "ducklake_flush_inlined_data",
    "ducklake_merge_adjacent_files",
    "ducklake_rewrite_data_files",
    "ducklake_set_commit_message",
    "ducklake_set_option",
    "sqlite_attach",
    "sqlite_query",
    "sqlite_scan",
)
_REFUSED_FUNCTION = re.compile(r"\b(" + "|".join(_REFUSED_FUNCTIONS) + r")\b", re.IGNORECASE)
# Functions that run SQL text built while the query runs (which no check before it can see):
# query('SELECT * FROM ducklake_' || 'cleanup_old_files(…)') would reach a refused function.
_DYNAMIC_SQL = re.compile(r"\b(query|query_table|json_execute_serialized_sql)\s*\(", re.IGNORECASE)
# DuckDB's parser itself reads the folder's schema.sql and load.sql for IMPORT DATABASE.
_IMPORT_DATABASE = re.compile(r"\bimport(\s+database\b|_database\b)", re.IGNORECASE)
_READ_ONLY_HINT = (
    "a Mulu SQL session only reads the workspace's lake, its catalogue copy and quarantine: "
    "docs/analysts.md"
)
_DATE_COLUMNS = {"published_at"}
_JSON_COLUMNS = {
    "formats",
    "data_items",
    "related_codes",
    "tags",
    "changes",
    "record",
    "sources",
    "schema",
}
_VIEW_MARK = "mulu view of "


class SessionError(Unavailable):
    """The workspace cannot be opened for analysis; the message says why."""


class ReadOnlyError(duckdb.PermissionException):
    """A statement a session refuses: it would attach, write files or change settings."""


class Session:
    """An analyst's DuckDB session: runs SQL like a DuckDB connection (``execute`` returns the
    session, then ``fetchone``/``fetchall``/``fetchmany``/``description``), but checks every
    statement first (``check_read_only``) and offers nothing that writes files. The DuckDB
    connection itself is locked down too (``lock_down``)."""

    def __init__(self, con: duckdb.DuckDBPyConnection, workspace: Workspace) -> None:
        self._con = con
        self.workspace = workspace

    def execute(self, sql: str, parameters: object = None) -> Session:
        check_read_only(self._con, sql)
        try:
            if parameters is None:
                self._con.execute(sql)
            else:
                self._con.execute(sql, parameters)
        except duckdb.PermissionException as exc:
            raise type(exc)(f"{exc}; {_READ_ONLY_HINT}") from exc
        return self

    @property
    def description(self) -> list[Any] | None:
        return self._con.description

    def fetchone(self) -> tuple[Any, ...] | None:
        return self._con.fetchone()

    def fetchall(self) -> list[tuple[Any, ...]]:
        return self._con.fetchall()

    def fetchmany(self, size: int = 1) -> list[tuple[Any, ...]]:
        return self._con.fetchmany(size)

    def fetchdf(self) -> Any:
        """The result as a pandas DataFrame."""
        return self._con.fetchdf()

    def interrupt(self) -> None:
        self._con.interrupt()

    def close(self) -> None:
        self._con.close()

    def __enter__(self) -> Session:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


def check_read_only(con: duckdb.DuckDBPyConnection, sql: str) -> None:
    """Raise ReadOnlyError when ``sql`` holds a statement a session does not run."""
    if match := _REFUSED_FUNCTION.search(sql):
        raise ReadOnlyError(
            f"refused: {match.group(1).lower()}() writes or deletes files, or opens a "
            f"database file itself; {_READ_ONLY_HINT}"
        )
    if match := _DYNAMIC_SQL.search(sql):
        raise ReadOnlyError(
            f"refused: {match.group(1).lower()}() runs SQL built while the query runs, which "
            f"cannot be checked first; write the statement itself; {_READ_ONLY_HINT}"
        )
    if _IMPORT_DATABASE.search(sql):
        raise ReadOnlyError(
            f"refused: IMPORT DATABASE reads files and the statements in them; {_READ_ONLY_HINT}"
        )
    for statement in con.extract_statements(sql):
        kind = statement.type.name
        if kind not in _ALLOWED:
            reason = _REFUSED.get(kind) or f"{_first_word(statement.query)} is not allowed"
            raise ReadOnlyError(f"refused: {reason}; {_READ_ONLY_HINT}")
        if kind in ("EXPLAIN", "PREPARE"):
            inner = _wrapped_statement(statement.query, kind)
            if inner is None:
                raise ReadOnlyError(f"refused: {kind} of a statement Mulu cannot check")
            check_read_only(con, inner)


def _first_word(query: str) -> str:
    tokens = duckdb.tokenize(query)
    if not tokens:
        return "this statement"
    start = tokens[0][0]
    end = tokens[1][0] if len(tokens) > 1 else len(query)
    return query[start:end].strip().upper() or "this statement"


def _wrapped_statement(query: str, kind: str) -> str | None:
    """The statement an EXPLAIN [ANALYZE] [(options)] or PREPARE name AS wraps."""
    tokens = [start for start, _ in duckdb.tokenize(query)]
    words = [query[a:b].strip() for a, b in zip(tokens, [*tokens[1:], len(query)], strict=True)]
    i = 1  # after EXPLAIN / PREPARE
    if kind == "EXPLAIN":
        if i < len(words) and words[i].upper() in ("ANALYZE", "ANALYSE"):
            i += 1
        if i < len(words) and words[i] == "(":
            depth = 0
            while i < len(words):
                depth += words[i].count("(") - words[i].count(")")
                i += 1
                if depth <= 0:
                    break
    else:  # PREPARE name [(types)] AS
        while i < len(words) and words[i].upper() != "AS":
            i += 1
        i += 1
    return query[tokens[i] :] if i < len(tokens) else None


def lock_down(con: duckdb.DuckDBPyConnection, workspace: Workspace) -> None:
    """From now on DuckDB reads only the workspace's lake and quarantine files and no setting
    can change (``enable_external_access``, ``allowed_directories``, ``lock_configuration``)."""
    folders = ", ".join(
        _literal(str(path) + "/") for path in (workspace.lake_dir, workspace.quarantine_dir)
    )
    con.execute(f"SET allowed_directories = [{folders}]")
    con.execute("SET autoinstall_known_extensions = false")
    con.execute("SET autoload_known_extensions = false")
    con.execute("SET enable_external_access = false")
    con.execute("SET lock_configuration = true")


@dataclass(frozen=True)
class SessionObject:
    """One thing a session can query: its name in SQL, what it shows and how many rows."""

    name: str
    source: str  # "lake.main.di_bao", "catalog.main.entries", or "session" for the analyst's own
    rows: int | None  # None: could not be counted (the error is in ``problem``)
    problem: str | None = None


# --- opening -------------------------------------------------------------------------------
def open_session(
    workspace: Workspace | Path | str,
    *,
    store: Store | None = None,
    catalogue: bool | Collection[str] = True,
) -> Session:
    """An in-memory DuckDB session with the lake attached read-only and the catalogue's
    tables beside it, locked down (the module's docstring). ``store``: read the catalogue through this store (the caller's one
    store; default: one opened and closed here). ``catalogue``: every catalogue table (True),
    none (False: the lake alone, for callers that only read datasets), or only the tables
    named (reading the whole catalogue takes ~1.7 s at 35,700 entries; see
    ``catalogue_tables_in``)."""
    ws = workspace if isinstance(workspace, Workspace) else Workspace(Path(workspace).resolve())
    try:
        con = lake.connect_lake(ws, read_only=True)
    except lake.LakeMissingError:  # nothing loaded yet: the catalogue alone
        con = duckdb.connect(":memory:")
    try:
        load_extensions(con)
        if catalogue:
            _attach_catalogue(con, ws, store, None if catalogue is True else set(catalogue))
        con.execute("USE memory.main")
        quarantine_views(con, ws)
        lock_down(con, ws)
        session = Session(con, ws)
        refresh_views(session)  # as the shell does before each statement: locked down
    except BaseException:
        con.close()
        raise
    return session


def catalogue_tables_in(sql: str) -> set[str] | None:
    """The names the statements read tables by (catalogue tables among them), from DuckDB's
    parser, so that a one-off query reads only those from the catalogue; None when that cannot
    be told (not only SELECTs, a syntax error): then read them all."""
    with contextlib.closing(duckdb.connect()) as parser:
        row = parser.execute("SELECT json_serialize_sql(?)", [sql]).fetchone()
    tree = json.loads(row[0]) if row else {"error": True}
    if tree.get("error"):
        return None
    names: set[str] = set()
    pending: list[Any] = [tree]
    while pending:
        node = pending.pop()
        if isinstance(node, dict):
            if node.get("type") == "BASE_TABLE" and node.get("table_name"):
                names.add(str(node["table_name"]))
            pending.extend(node.values())
        elif isinstance(node, list):
            pending.extend(node)
    return names


def _attach_catalogue(
    con: duckdb.DuckDBPyConnection,
    workspace: Workspace,
    store: Store | None,
    wanted: set[str] | None,
) -> None:
    def attach(source: Store) -> None:
        if wanted is None:
            attach_catalogue(con, source)
            return
        tables = [name for name in source.export.table_names() if name in wanted]
        if tables:
            attach_catalogue(con, source, dict.fromkeys(tables))

    if store is not None:
        attach(store)
    elif workspace.metadata_db.exists():  # reading never creates a workspace
        with Store.open(workspace) as own:
            attach(own)


def quarantine_views(con: duckdb.DuckDBPyConnection, workspace: Workspace) -> None:
    """``quarantine.<dataset>``: the failing rows of the dataset's blocked loads, one Parquet
    file per quality run (``_run_id``), with ``_source_file``, ``_source_row`` and
    ``_failed_rules`` next to the data columns."""
    folders = sorted(
        p for p in workspace.quarantine_dir.glob("*") if p.is_dir() and any(p.glob("*.parquet"))
    )
    if not folders:
        return
    con.execute("CREATE SCHEMA IF NOT EXISTS memory.quarantine")
    for folder in folders:
        files = _literal(folder / "*.parquet")
        con.execute(
            f"CREATE OR REPLACE VIEW memory.quarantine.{_ident(folder.name)} AS SELECT "
            f"regexp_extract(filename, '([^/]+)\\.parquet$', 1) AS _run_id, * EXCLUDE (filename) "
            f"FROM read_parquet({files}, union_by_name = true, filename = true)"
        )


def load_extensions(con: duckdb.DuckDBPyConnection, names: Sequence[str] = EXTENSIONS) -> None:
    """Load the extensions analysts use (reading Excel, HTTP/S3 files, full-text search)."""
    for name in names:
        try:
            lake.load_extension(con, name)
        except (ImportError, StopIteration) as exc:
            raise SessionError(
                f"DuckDB extension {name!r} is not installed: "
                f"pip install duckdb-extension-{name.replace('_', '-')}"
            ) from exc


# --- plain-name views ----------------------------------------------------------------------
@dataclass(frozen=True)
class _View:
    name: str
    source: str  # database.schema.table
    select: str

    @property
    def mark(self) -> str:
        return _VIEW_MARK + self.source


def refresh_views(con: Session) -> None:
    """Create, replace or drop the plain-name views so they match what is attached now."""
    wanted = {view.name: view for view in _catalogue_views(con)}
    for view in _lake_views(con, taken=set(wanted)):
        wanted[view.name] = view
    current = dict(
        con.execute(
            "SELECT view_name, comment FROM duckdb_views() WHERE database_name = 'memory' "
            "AND schema_name = 'main' AND starts_with(comment, ?)",
            [_VIEW_MARK],
        ).fetchall()
    )
    stale = current.keys() - wanted.keys()
    changed = [view for name, view in wanted.items() if current.get(name) != view.mark]
    if not stale and not changed:
        return
    with _transaction(con):  # one lake snapshot lookup instead of one per view
        for name in stale:
            con.execute(f"DROP VIEW IF EXISTS memory.main.{_ident(name)}")
        for view in changed:
            name = _ident(view.name)
            con.execute(f"CREATE OR REPLACE VIEW memory.main.{name} AS {view.select}")
            con.execute(f"COMMENT ON VIEW memory.main.{name} IS {_literal(view.mark)}")


@contextlib.contextmanager
def _transaction(con: Session) -> Iterator[None]:
    """BEGIN … COMMIT, unless the caller (an analyst's own BEGIN) has a transaction open."""
    try:
        con.execute("BEGIN")
    except duckdb.TransactionException:
        owned = False
    else:
        owned = True
    try:
        yield
    except BaseException:
        if owned:
            con.execute("ROLLBACK")
        raise
    if owned:
        con.execute("COMMIT")


def _attached(con: Session, database: str) -> bool:
    return (
        _counted_rows(
            con, "SELECT count(*) FROM duckdb_databases() WHERE database_name = ?", [database]
        )
        > 0
    )


def _counted_rows(con: Session, sql: str, params: list[Any] | None = None) -> int:
    """The count a ``SELECT count(*) …`` returns."""
    row = con.execute(sql, params).fetchone()
    return int(row[0]) if row else 0


def _catalogue_views(con: Session) -> list[_View]:
    if not _attached(con, CATALOG):
        return []
    columns: dict[str, list[str]] = {}
    for table, column in con.execute(
        "SELECT table_name, column_name FROM information_schema.columns "
        "WHERE table_catalog = ? AND table_schema = 'main' "
        "ORDER BY table_name, ordinal_position",
        [CATALOG],
    ).fetchall():
        columns.setdefault(table, []).append(column)
    views = []
    for table, names in columns.items():
        source = f"{CATALOG}.main.{table}"
        typed = [
            f"{_typed(column)} AS {_ident(column)}"
            for column in names
            if _typed(column) != _ident(column)
        ]
        replace = f" REPLACE ({', '.join(typed)})" if typed else ""
        views.append(_View(table, source, f"SELECT *{replace} FROM {_qualified(source)}"))
    return views


def _typed(column: str) -> str:
    """The column as analysts want it: times, dates and JSON text get their DuckDB types."""
    quoted = _ident(column)
    if column in _DATE_COLUMNS:
        return f"TRY_CAST({quoted} AS DATE)"
    if column.endswith("_at"):
        return f"TRY_CAST({quoted} AS TIMESTAMP)"
    if column in _JSON_COLUMNS:
        return f"TRY_CAST({quoted} AS JSON)"
    return quoted


def _lake_views(con: Session, taken: set[str]) -> list[_View]:
    """One view per lake table whose name is unique (across schemas) and not ``taken``."""
    if not _attached(con, LAKE):
        return []
    found = _lake_tables(con, with_views=True)
    by_name: dict[str, list[str]] = {}
    for schema, table in found:
        by_name.setdefault(table, []).append(f"{LAKE}.{schema}.{table}")
    return [
        _View(name, sources[0], f"SELECT * FROM {_qualified(sources[0])}")
        for name, sources in by_name.items()
        if len(sources) == 1 and name not in taken
    ]


def _lake_tables(con: Session, *, with_views: bool) -> list[tuple[str, str]]:
    """(schema, name) of the lake's tables (and views), sorted."""
    kinds = "('BASE TABLE', 'VIEW')" if with_views else "('BASE TABLE')"
    return con.execute(
        "SELECT table_schema, table_name FROM information_schema.tables "
        f"WHERE table_catalog = ? AND table_type IN {kinds} ORDER BY 1, 2",
        [LAKE],
    ).fetchall()


# --- querying ------------------------------------------------------------------------------
def run_query(
    con: Session, sql: str, *, limit: int | None = None
) -> tuple[list[str], list[tuple[Any, ...]]]:
    """Run ``sql`` (the last statement's result is returned): column names and at most
    ``limit`` rows. JSON values come back parsed (lists, dicts), like LIST and STRUCT columns.
    A statement without a result (SET, CREATE …) returns ``([], [])``. Raises duckdb.Error."""
    con.execute(sql)
    if con.description is None:
        return [], []
    columns = [d[0] for d in con.description]
    json_at = [i for i, d in enumerate(con.description) if str(d[1]) == "JSON"]
    rows = con.fetchall() if limit is None else con.fetchmany(limit)
    if json_at:
        rows = [_parse_json(row, json_at) for row in rows]
    return columns, rows


def _parse_json(row: tuple[Any, ...], positions: list[int]) -> tuple[Any, ...]:
    values = list(row)
    for i in positions:
        if isinstance(values[i], str):
            values[i] = json.loads(values[i])
    return tuple(values)


def describe_session(con: Session) -> list[SessionObject]:
    """Every table and view a session can query by name, with its row count: the plain-name
    views, the analyst's own tables, and lake tables reachable only as ``lake.<schema>.<name>``
    (a name used twice, or taken by the catalogue)."""
    refresh_views(con)
    objects: list[tuple[str, str]] = []
    for name, comment in con.execute(
        "SELECT view_name, comment FROM duckdb_views() WHERE database_name = 'memory' "
        "AND schema_name = 'main' AND NOT internal UNION ALL "
        "SELECT table_name, NULL FROM information_schema.tables "
        "WHERE table_catalog = 'memory' AND table_schema = 'main' "
        "AND table_type = 'BASE TABLE' ORDER BY 1"
    ).fetchall():
        mine = isinstance(comment, str) and comment.startswith(_VIEW_MARK)
        objects.append((name, comment[len(_VIEW_MARK) :] if mine else "session"))
    shown = {source for _, source in objects}
    if _attached(con, LAKE):
        for schema, table in _lake_tables(con, with_views=False):
            source = f"{LAKE}.{schema}.{table}"
            if source not in shown:
                objects.append((source, source))
    return _counted(con, objects)


def _counted(con: Session, objects: list[tuple[str, str]]) -> list[SessionObject]:
    """Row counts from one snapshot (one lake lookup); counted one by one if any fails."""
    try:
        with _transaction(con):
            return [
                SessionObject(name, source, _count(con, name, source)) for name, source in objects
            ]
    except duckdb.Error:
        return [_count_alone(con, name, source) for name, source in objects]


def _count(con: Session, name: str, source: str) -> int:
    target = _qualified(source) if name == source else _ident(name)
    return _counted_rows(con, f"SELECT count(*) FROM {target}")


def _count_alone(con: Session, name: str, source: str) -> SessionObject:
    try:
        return SessionObject(name, source, _count(con, name, source))
    except duckdb.Error as exc:
        return SessionObject(name, source, None, str(exc).splitlines()[0])


# --- quoting -------------------------------------------------------------------------------
def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _qualified(dotted: str) -> str:
    return ".".join(_ident(part) for part in dotted.split(".", 2))


def _literal(value: object) -> str:
    return "'" + str(value).replace("'", "''") + "'"
