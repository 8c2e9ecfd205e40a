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
from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from types import TracebackType
from typing import Any

import duckdb

from schemas.access import DataAccess
from schemas.errors import Unavailable
from warehouse import lake
from warehouse.catalogue_tables import CATALOG, attach_catalogue
from warehouse.store import Store
from warehouse.store.opening import store_exists
from warehouse.workspace import Workspace

LAKE = "lake"
# Loaded into every session; all come as offline packages pinned beside duckdb (INSTALL would
# need the network). fts is for analysts (full-text search over the session's tables);
# sqlite_scanner is the DuckLake catalogue's (lake.sqlite), never catalog.sqlite's. A session
# reads no files but the workspace's (see the module's docstring), so excel and httpfs, which
# read other files, are not loaded (a lake on S3 or in PostgreSQL: ``connect_lake`` loads httpfs
# and postgres_scanner for it, and ``allowed_directories`` keeps reads to the lake's prefix).
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
    # A lake whose catalog is in PostgreSQL: the postgres extension's own queries would reach
    # that database (and others on its server) past the read-only lake.
    "postgres_attach",
    "postgres_execute",
    "postgres_query",
    "postgres_scan",
    "postgres_scan_pushdown",
    "postgres_configure_pool",
    "pg_clear_cache",
    "read_postgres_binary",
    # DuckDB's logging writes log files wherever its options say (the lake folder in a full
    # session; in a per-user session it would break every later statement).
    "enable_logging",
    "disable_logging",
    "truncate_duckdb_logs",
)
_REFUSED_FUNCTION = re.compile(r"\b(" + "|".join(_REFUSED_FUNCTIONS) + r")\b", re.IGNORECASE)
# Functions that run SQL text built while the query runs (which no check before it can see):
# query('SELECT * FROM ducklake_' || 'cleanup_old_files(…)') would reach a refused function.
_DYNAMIC_FUNCTIONS = ("query", "query_table", "json_execute_serialized_sql")
_DYNAMIC_SQL = re.compile(r"\b(" + "|".join(_DYNAMIC_FUNCTIONS) + r")\s*\(", re.IGNORECASE)
# DuckDB's parser itself reads the folder's schema.sql and load.sql for IMPORT DATABASE.
_IMPORT_DATABASE = re.compile(r"\bimport(\s+database\b|_database\b)", re.IGNORECASE)
_GRANTED_HINT = (
    "a per-user Mulu SQL session holds only the datasets granted to you, copied into memory: "
    "docs/analysts.md"
)
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


def check_read_only(
    con: duckdb.DuckDBPyConnection, sql: str, *, hint: str = _READ_ONLY_HINT
) -> None:
    """Raise ReadOnlyError when ``sql`` holds a statement a session does not run (``hint``
    ends the message)."""
    if match := _REFUSED_FUNCTION.search(sql):
        raise ReadOnlyError(
            f"refused: {match.group(1).lower()}() writes or deletes files, or opens a "
            f"database file itself; {hint}"
        )
    if match := _DYNAMIC_SQL.search(sql):
        raise ReadOnlyError(
            f"refused: {match.group(1).lower()}() runs SQL built while the query runs, which "
            f"cannot be checked first; write the statement itself; {hint}"
        )
    if _IMPORT_DATABASE.search(sql):
        raise ReadOnlyError(
            f"refused: IMPORT DATABASE reads files and the statements in them; {hint}"
        )
    # The same by the parser's tokens: names quoted ("query"), qualified (main.query) or
    # followed by a comment (query/**/(…)) are the same functions to DuckDB.
    words = _words(sql)
    for i, (word, after) in enumerate(words):
        if word in _REFUSED_FUNCTIONS:
            raise ReadOnlyError(
                f"refused: {word}() writes or deletes files, or opens a database file itself; "
                f"{hint}"
            )
        if word in _DYNAMIC_FUNCTIONS and after.startswith("("):
            raise ReadOnlyError(
                f"refused: {word}() runs SQL built while the query runs, which cannot be "
                f"checked first; write the statement itself; {hint}"
            )
        following = words[i + 1][0] if i + 1 < len(words) else ""
        if word == "import_database" or (word == "import" and following == "database"):
            raise ReadOnlyError(
                f"refused: IMPORT DATABASE reads files and the statements in them; {hint}"
            )
    for statement in con.extract_statements(sql):
        kind = statement.type.name
        if kind not in _ALLOWED:
            reason = _REFUSED.get(kind) or f"{_first_word(statement.query)} is not allowed"
            raise ReadOnlyError(f"refused: {reason}; {hint}")
        if kind in ("EXPLAIN", "PREPARE"):
            inner = _wrapped_statement(statement.query, kind)
            if inner is None:
                raise ReadOnlyError(f"refused: {kind} of a statement Mulu cannot check")
            check_read_only(con, inner, hint=hint)


_NAME = re.compile(r"[\w$]+")


def _words(query: str) -> list[tuple[str, str]]:
    """Each identifier or keyword of ``query`` by DuckDB's tokenizer, lowercased and unquoted,
    with the text of the token after it (comments, which the tokenizer folds into the token
    before them, are dropped)."""
    tokens = duckdb.tokenize(query)
    bounds = [start for start, _ in tokens] + [len(query)]
    found = []
    for i, (start, kind) in enumerate(tokens):
        if kind.name not in ("identifier", "keyword"):
            continue
        text = query[start : bounds[i + 1]]
        if text.startswith('"'):
            end = 1
            while end < len(text):
                if text[end] == '"':
                    if text[end + 1 : end + 2] == '"':
                        end += 2
                        continue
                    break
                end += 1
            name = text[1:end].replace('""', '"')
        else:
            match = _NAME.match(text)
            name = match.group(0) if match else text.strip()
        after = query[bounds[i + 1] : bounds[i + 2]].lstrip() if i + 1 < len(tokens) else ""
        found.append((name.lower(), after))
    return found


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
    # The lake's Parquet files: the workspace's lake/, or its s3:// prefix (lake_data_url).
    places = (lake.data_location(workspace), str(workspace.quarantine_dir) + "/")
    folders = ", ".join(_literal(place) for place in places)
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
    elif store_exists(workspace):
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
    if isinstance(con, GrantedSession):  # nothing attached: its tables are fixed copies
        return
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
    if isinstance(con, GrantedSession):
        return con.describe()
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


# --- per-user sessions (issue 13) ----------------------------------------------------------
# Statement types that report how many rows they wrote from what they read (CREATE TABLE … AS,
# INSERT … SELECT): their ``Count`` is what they took from a granted table.
_COUNTING = {"CREATE", "INSERT", "UPDATE", "DELETE", "MERGE_INTO"}
# Statement types that change a table: never a granted one (the grant's copy stays as granted,
# and a renamed or replaced copy would be read unaudited). The analyst's own tables stay free.
_CHANGING = {"ALTER", "DROP", "INSERT", "UPDATE", "DELETE", "MERGE_INTO", "CREATE"}
# Column statistics (min/max of each column) of a table named by a string built at run time.
_STATISTICS_FUNCTIONS = ("storage_info", "pragma_storage_info")
# PRAGMAs a per-user session runs: they only describe (any other changes a setting).
_READING_PRAGMAS = {
    "table_info",
    "show",
    "show_tables",
    "show_tables_expanded",
    "show_databases",
    "database_list",
    "database_size",
    "version",
    "platform",
    "functions",
    "collations",
}
# Words between CREATE and the kind of object it makes.
_CREATE_MODIFIERS = {"or", "replace", "temp", "temporary", "persistent", "unique", "local"}


@dataclass(frozen=True)
class StatementRead:
    """One statement of a granted session that read granted tables: which ones, and the rows
    it returned (fetched by the caller; for CREATE … AS / INSERT … SELECT, the rows it wrote)."""

    sql: str
    tables: tuple[str, ...]
    rows: int
    kind: str = "SELECT"  # DuckDB's statement type


class GrantedSession(Session):
    """A per-user session (``open_granted_session``): the granted datasets as tables in
    memory and nothing else. Each statement runs on its own; ``before_statement`` (called
    before each ``execute``) may drop tables whose grant ended (``drop_datasets``), and
    ``after_statement`` gets a ``StatementRead`` for each statement that read granted tables,
    once its rows are known (the next ``execute``, ``finish`` or ``close``)."""

    def __init__(
        self,
        con: duckdb.DuckDBPyConnection,
        workspace: Workspace,
        accesses: Sequence[DataAccess],
    ) -> None:
        super().__init__(con, workspace)
        self.accesses: dict[str, DataAccess] = {a.dataset: a for a in accesses}
        self.before_statement: Callable[[GrantedSession], None] | None = None
        self.after_statement: Callable[[GrantedSession, StatementRead], None] | None = None
        self.notices: list[str] = []
        self._pending: StatementRead | None = None
        self._delivered = 0
        self._buffer: list[tuple[Any, ...]] | None = None
        self._prepared: dict[str, tuple[str, ...]] = {}
        self._counted = False  # the pending read's rows came from its Count
        # Granted tables by oid: a table keeps its oid when renamed, so reads through any new
        # name still count (renaming is refused: ``_refuse_changes``; this is the second line).
        self._granted_oids: dict[int, str] = {
            int(oid): name
            for name, oid in con.execute(
                "SELECT table_name, table_oid FROM duckdb_tables() WHERE NOT internal "
                "AND database_name = 'memory' AND schema_name = 'main'"
            ).fetchall()
            if name in self.accesses
        }

    # --- running -------------------------------------------------------------------------
    def execute(self, sql: str, parameters: object = None) -> GrantedSession:
        self.finish()
        if self.before_statement is not None:
            self.before_statement(self)
        check_read_only(self._con, sql, hint=_GRANTED_HINT)
        statements = self._con.extract_statements(sql)
        if parameters is not None and len(statements) > 1:
            raise duckdb.InvalidInputException("parameters need a single statement")
        self._refuse_state(sql)
        for statement in statements:  # all checked before any runs
            self._refuse_changes(statement.query, statement.type.name)
        for i, statement in enumerate(statements):
            if i:
                self.finish()
            # DuckDB expands PIVOT into statements without their text (a CREATE TYPE of the
            # pivoted values, then the SELECT): the whole text names what they read, and the
            # SELECT, which shows those values, is the one read recorded.
            query = statement.query if statement.query.strip() else sql
            tables = self._reads(query, statement.type.name)
            if _defines(query, statement.type.name) or (
                not statement.query.strip() and statement.type.name == "CREATE"
            ):
                tables = ()  # a view or macro defined over a granted table reads nothing yet
            try:
                if parameters is None:
                    self._con.execute(statement)
                else:
                    self._con.execute(statement.query, parameters)
            except (duckdb.PermissionException, duckdb.CatalogException) as exc:
                raise type(exc)(f"{exc}; {_GRANTED_HINT}") from exc
            self._buffer = None
            if tables:
                self._pending = StatementRead(query, tables, 0, statement.type.name)
                if statement.type.name in _COUNTING and self._reports_count():
                    self._buffer = self._con.fetchall()
                    self._delivered = int(self._buffer[0][0]) if self._buffer else 0
                    self._counted = True
        return self

    def _reports_count(self) -> bool:
        description = self._con.description
        return bool(description) and len(description) == 1 and description[0][0] == "Count"

    def finish(self) -> None:
        """Hand the last statement's read (with the rows fetched so far) to
        ``after_statement``."""
        pending, self._pending = self._pending, None
        rows, self._delivered = self._delivered, 0
        if pending is None or self.after_statement is None:
            return
        self.after_statement(self, replace(pending, rows=rows))

    def _counting(self, rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
        if self._pending is not None and not self._counted:
            self._delivered += len(rows)
        return rows

    def fetchone(self) -> tuple[Any, ...] | None:
        if self._buffer is not None:
            return self._buffer.pop(0) if self._buffer else None
        row = self._con.fetchone()
        self._counting([] if row is None else [row])
        return row

    def fetchall(self) -> list[tuple[Any, ...]]:
        if self._buffer is not None:
            rows, self._buffer = self._buffer, []
            return rows
        return self._counting(self._con.fetchall())

    def fetchmany(self, size: int = 1) -> list[tuple[Any, ...]]:
        if self._buffer is not None:
            rows, self._buffer = self._buffer[:size], self._buffer[size:]
            return rows
        return self._counting(self._con.fetchmany(size))

    def fetchdf(self) -> Any:
        frame = self._con.fetchdf()
        if self._pending is not None:
            self._delivered += len(frame)
        return frame

    def close(self) -> None:
        try:
            self.finish()
        finally:
            super().close()

    # --- what a statement reads ----------------------------------------------------------
    def _reads(self, query: str, kind: str) -> tuple[str, ...]:
        """The granted tables ``query`` reads: names in it, through the session's views,
        macros and prepared statements (conservative: a name anywhere counts)."""
        self._counted = False
        names = _identifiers(query)
        found: set[str] = set()
        definitions = self._definitions()
        renamed = self._granted_names()
        seen: set[str] = set()
        pending = list(names)
        while pending:
            name = pending.pop()
            if name in seen:
                continue
            seen.add(name)
            if name in self.accesses:
                found.add(name)
            if name in renamed:
                found.add(renamed[name])
            if name in definitions:
                pending.extend(_identifiers(definitions[name]))
            if name in self._prepared:
                found.update(self._prepared[name])
        tables = tuple(sorted(found))
        if kind == "PREPARE":
            words = [n for n in names if n != "prepare"]
            if words:
                self._prepared[words[0]] = tables
            return ()  # read when executed
        return tables

    def _granted_names(self) -> dict[str, str]:
        """Each table holding a granted copy, by its name now (lowercase): its dataset."""
        return {
            str(name).lower(): self._granted_oids[int(oid)]
            for name, oid in self._con.execute(
                "SELECT table_name, table_oid FROM duckdb_tables() WHERE NOT internal"
            ).fetchall()
            if int(oid) in self._granted_oids
        }

    # --- what a statement may not do -----------------------------------------------------
    def _refuse_state(self, sql: str) -> None:
        """Refuse reading column statistics by a table name built at run time
        (``pragma_storage_info('di' || 'bao')`` shows each column's minimum and maximum)."""
        for word, _ in _words(sql):
            if word in _STATISTICS_FUNCTIONS:
                raise ReadOnlyError(
                    f"refused: {word}() 会显示表中各列的最小值和最大值 (shows column statistics, "
                    f"minimum and maximum, of a table without reading it); {_GRANTED_HINT}"
                )

    def _refuse_changes(self, query: str, kind: str) -> None:
        """Raise ReadOnlyError when ``query`` keeps values past the statement outside a table
        (SET VARIABLE, CREATE TYPE … AS ENUM (query)) or changes, renames, drops or shadows a
        granted table (ALTER, COMMENT ON, DROP, INSERT/UPDATE/DELETE/MERGE/TRUNCATE, CREATE
        INDEX on it, CREATE [OR REPLACE] [TEMP] … of its name)."""
        tokens = _tokens(query)
        words = [t for t in tokens if t.kind in ("identifier", "keyword")]
        first = words[0].text if words else ""
        if kind in ("EXPLAIN", "PREPARE"):
            inner = _wrapped_statement(query, kind)
            for statement in self._con.extract_statements(inner) if inner else ():
                self._refuse_changes(statement.query, statement.type.name)
            return
        if kind == "VARIABLE_SET" or (
            first == "set" and any(w.text == "variable" for w in words[1:3])
        ):
            raise ReadOnlyError(
                "refused: SET VARIABLE 不可用，变量会在授权结束后留存数据 (SET VARIABLE keeps "
                "values past the statement and past the grant); 请存入自建表 (keep results in a "
                f"table of your own: CREATE TABLE x AS …); {_GRANTED_HINT}"
            )
        if kind == "PRAGMA" and len(words) > 1 and words[1].text not in _READING_PRAGMAS:
            # The configuration lock does not cover every PRAGMA (enable_profiling,
            # enable_progress_bar, enable_object_cache …): a per-user session only reads.
            raise ReadOnlyError(
                f"refused: PRAGMA {words[1].text} 会改变会话设置 (changes a setting of the "
                f"session); {_GRANTED_HINT}"
            )
        if kind not in _CHANGING or not words:
            return
        granted = set(self.accesses)
        if first == "create":
            made = _created(tokens)
            if made is None:
                return
            what, name, on = made
            if what == "type" and _enum_of_query(tokens):
                raise ReadOnlyError(
                    "refused: 不能用查询结果定义 ENUM 类型 (CREATE TYPE … AS ENUM (query) keeps "
                    "values read from tables in a type); 请直接列出取值 (list the values: "
                    "ENUM ('a', 'b')); " + _GRANTED_HINT
                )
            hit = name if name in granted else on if on in granted else None
        elif kind in ("ALTER", "DROP"):
            hit = next((w.text for w in words if w.text in granted), None)
        else:
            target = _dml_target(tokens, kind)
            hit = target if target is None or target in granted else None
            if target is None:
                raise ReadOnlyError(
                    f"refused: 无法判断此 {first.upper()} 修改哪张表 (Mulu cannot tell which "
                    f"table this {first.upper()} changes: name it plainly); {_GRANTED_HINT}"
                )
        if hit is not None:
            raise ReadOnlyError(
                f"refused: 授权表 {hit} 只读，不能修改、改名、删除或替换 (the granted table "
                f"{hit} is read-only: copy it first, CREATE TABLE mine AS SELECT * FROM {hit}); "
                f"{_GRANTED_HINT}"
            )

    def _definitions(self) -> dict[str, str]:
        """The analyst's views and macros, by lowercase name: their SQL."""
        rows = self._con.execute(
            "SELECT lower(view_name), sql FROM duckdb_views() WHERE NOT internal "
            "UNION ALL SELECT lower(function_name), coalesce(macro_definition, '') "
            "FROM duckdb_functions() WHERE NOT internal AND function_type LIKE '%macro'"
        ).fetchall()
        found: dict[str, str] = {}
        for name, text in rows:
            found[name] = found.get(name, "") + " " + (text or "")
        return found

    # --- when a grant ends ---------------------------------------------------------------
    def drop_datasets(self, datasets: Collection[str], why: str) -> None:
        """Drop these granted tables and everything the analyst made in this session (any of
        it may hold their rows): the session then holds only the grants still live."""
        gone = [d for d in datasets if d in self.accesses]
        if not gone:
            return
        keep = {("memory", "main", name) for name in self.accesses if name not in gone}
        objects = self._con.execute(
            "SELECT 'VIEW', database_name, schema_name, view_name FROM duckdb_views() "
            "WHERE NOT internal UNION ALL "
            "SELECT DISTINCT CASE function_type WHEN 'table_macro' THEN 'MACRO TABLE' "
            "ELSE 'MACRO' END, database_name, schema_name, function_name "
            "FROM duckdb_functions() WHERE NOT internal AND function_type LIKE '%macro' "
            "UNION ALL SELECT 'TABLE', database_name, schema_name, table_name "
            "FROM duckdb_tables() WHERE NOT internal"
        ).fetchall()
        for kind, database, schema, name in objects:
            if (database, schema, name) in keep:
                continue
            target = ".".join(_ident(part) for part in (database, schema, name))
            self._con.execute(f"DROP {kind} IF EXISTS {target} CASCADE")
        # Values kept outside tables: types (an ENUM's values; PIVOT leaves one of the pivoted
        # values), sequences (nextval counts rows), variables, prepared statements.
        for kind, database, schema, name in self._con.execute(
            "SELECT 'TYPE', database_name, schema_name, type_name FROM duckdb_types() "
            "WHERE NOT internal UNION ALL SELECT 'SEQUENCE', database_name, schema_name, "
            "sequence_name FROM duckdb_sequences()"
        ).fetchall():
            target = ".".join(_ident(part) for part in (database, schema, name))
            self._con.execute(f"DROP {kind} IF EXISTS {target} CASCADE")
        for (name,) in self._con.execute("SELECT name FROM duckdb_variables()").fetchall():
            self._con.execute(f"RESET VARIABLE {_ident(name)}")
        for name in self._prepared:
            with contextlib.suppress(duckdb.Error):
                self._con.execute(f"DEALLOCATE PREPARE {_ident(name)}")
        self._prepared.clear()
        for name in gone:
            del self.accesses[name]
        self._granted_oids = {o: n for o, n in self._granted_oids.items() if n not in gone}
        self.notices.append(
            f"授权已结束，已移除：{'、'.join(gone)}（{why}）；本会话中自建的表、视图、宏、类型、"
            f"序列和预备语句也已移除 (grant ended: {', '.join(gone)} dropped, with the "
            f"session's own tables, views, macros, types, sequences and prepared statements)"
        )

    def take_notices(self) -> list[str]:
        found, self.notices = self.notices, []
        return found

    def describe(self) -> list[SessionObject]:
        """The granted tables and the analyst's own, with row counts (not audited)."""
        objects = []
        for name, kind in self._con.execute(
            "SELECT table_name, 'table' FROM duckdb_tables() WHERE NOT internal "
            "UNION ALL SELECT view_name, 'view' FROM duckdb_views() WHERE NOT internal "
            "ORDER BY 1"
        ).fetchall():
            access = self.accesses.get(name) if kind == "table" else None
            source = "session" if access is None else _basis(access)
            try:
                row = self._con.execute(f"SELECT count(*) FROM {_ident(name)}").fetchone()
                objects.append(SessionObject(name, source, int(row[0]) if row else 0))
            except duckdb.Error as exc:
                objects.append(SessionObject(name, source, None, str(exc).splitlines()[0]))
        return objects


def _basis(access: DataAccess) -> str:
    """Where a granted table comes from, as ``.tables`` shows it."""
    if access.basis == "grant":
        return f"授权 grant {access.grant_id}, until {access.expires_at}"
    return "本单位 own data" if access.basis == "owner" else "开放数据 open data"


def names_in(sql: str) -> set[str]:
    """Every name ``sql`` mentions (lowercased, unquoted): a one-off query's per-user session
    copies only the datasets among them."""
    return set(_identifiers(sql))


def _identifiers(query: str) -> list[str]:
    """The names in ``query`` (identifiers and keywords), lowercased, unquoted."""
    return [word for word, _ in _words(query)]


@dataclass(frozen=True)
class _Token:
    text: str  # identifiers and keywords lowercased and unquoted; others as written, stripped
    kind: str  # DuckDB's token type: identifier, keyword, operator, string_const, …
    depth: int  # parentheses around it


def _tokens(query: str) -> list[_Token]:
    """``query`` by DuckDB's tokenizer (comments dropped), with each token's depth."""
    names = iter(_words(query))
    tokens = duckdb.tokenize(query)
    bounds = [start for start, _ in tokens] + [len(query)]
    found, depth = [], 0
    for i, (start, kind) in enumerate(tokens):
        if kind.name in ("identifier", "keyword"):
            found.append(_Token(next(names)[0], kind.name, depth))
            continue
        text = query[start : bounds[i + 1]].strip()
        if kind.name == "operator":
            text = text.split("--")[0].split("/*")[0].strip()
            depth -= text.count(")")
        found.append(_Token(text, kind.name, depth))
        if kind.name == "operator":
            depth += text.count("(")
    return found


def _is_word(token: _Token) -> bool:
    return token.kind in ("identifier", "keyword")


def _name_at(tokens: Sequence[_Token], at: int) -> str | None:
    """The object named at ``tokens[at]`` (``IF [NOT] EXISTS`` skipped): the last part of a
    qualified name (``memory.main.dibao``: dibao); an alias after it (``dibao d``) is not."""
    while at < len(tokens) and tokens[at].text in ("if", "not", "exists"):
        at += 1
    if at >= len(tokens) or not _is_word(tokens[at]):
        return None
    while (
        at + 2 < len(tokens)
        and tokens[at + 1].text == "."
        and tokens[at + 1].kind == "operator"
        and _is_word(tokens[at + 2])
    ):
        at += 2
    return tokens[at].text


def _created(tokens: Sequence[_Token]) -> tuple[str, str | None, str | None] | None:
    """What a CREATE statement makes: (kind, name, table of an index), or None."""
    at = 1
    while at < len(tokens) and tokens[at].text in _CREATE_MODIFIERS:
        at += 1
    if at >= len(tokens) or not _is_word(tokens[at]):
        return None
    what = tokens[at].text
    name = _name_at(tokens, at + 1)
    on = None
    if what == "index":
        on_at = next(
            (i for i, t in enumerate(tokens) if t.text == "on" and t.kind == "keyword"), None
        )
        on = _name_at(tokens, on_at + 1) if on_at is not None else None
    return what, name, on


def _enum_of_query(tokens: Sequence[_Token]) -> bool:
    """True when a CREATE TYPE's ENUM takes its values from a query rather than a list."""
    at = next((i for i, t in enumerate(tokens) if t.text == "enum"), None)
    if at is None:
        return False
    return any(_is_word(t) for t in tokens[at + 1 :])


_DML_VERBS = {
    "INSERT": ("insert", "into"),
    "UPDATE": ("update", None),
    "DELETE": ("delete", "from"),
    "MERGE_INTO": ("merge", "into"),
}


def _dml_target(tokens: Sequence[_Token], kind: str) -> str | None:
    """The table an INSERT, UPDATE, DELETE (TRUNCATE) or MERGE changes (its name's last part),
    found at the top level after any WITH; None when Mulu cannot tell."""
    verb, then = _DML_VERBS.get(kind, (None, None))
    top = [i for i, t in enumerate(tokens) if t.depth == 0 and t.kind == "keyword"]
    for n, i in enumerate(top):
        word = tokens[i].text
        if word == "truncate" and kind == "DELETE":
            at = i + 1
            if at < len(tokens) and tokens[at].text == "table":
                at += 1
            return _name_at(tokens, at)
        if word != verb:
            continue
        if then is None:
            return _name_at(tokens, i + 1)
        following = next((j for j in top[n + 1 :] if tokens[j].text == then), None)
        return _name_at(tokens, following + 1) if following is not None else None
    return None


def _defines(query: str, kind: str) -> bool:
    """True for CREATE VIEW and CREATE MACRO/FUNCTION: defining reads nothing (a read through
    the definition is recorded when it runs)."""
    if kind == "CREATE_FUNC":
        return True
    if kind != "CREATE":
        return False
    tokens = _tokens(query)
    if not tokens or tokens[0].text != "create":
        return False
    made = _created(tokens)
    return made is not None and made[0] in ("view", "macro", "function")


def open_granted_session(
    workspace: Workspace | Path | str, accesses: Sequence[DataAccess]
) -> GrantedSession:
    """A per-user session: an in-memory DuckDB holding, for each access, a table named after
    the dataset with only the granted columns (PII masked: ``warehouse.masking``) and rows
    (``row_filter``, parameterised), copied from the lake when it opens; no catalogue, no lake,
    no extension. The copy is read through a separate read-only lake connection and streamed
    in as Arrow batches, so the session's own connection never loads the DuckLake or SQLite
    extensions nor attaches anything. Then: ``enable_external_access = false`` with no allowed
    directory (no file can be read, written or attached; no spill folder either, which DuckDB
    would allow), no autoloading, no Python replacement scans, ``lock_configuration = true``; every statement is checked first
    (``check_read_only``). The copy lives in the session's memory."""
    ws = workspace if isinstance(workspace, Workspace) else Workspace(Path(workspace).resolve())
    con = duckdb.connect(":memory:")
    try:
        if accesses:
            _copy_granted(con, ws, accesses)
        # No spill folder: DuckDB would add it to the allowed directories (./.tmp by default).
        con.execute("SET temp_directory = ''")
        con.execute("SET enable_progress_bar = false")
        con.execute("SET python_enable_replacements = false")
        con.execute("SET autoinstall_known_extensions = false")
        con.execute("SET autoload_known_extensions = false")
        con.execute("SET allow_community_extensions = false")
        con.execute("SET enable_external_access = false")
        con.execute("SET lock_configuration = true")
    except BaseException:
        con.close()
        raise
    return GrantedSession(con, ws, accesses)


def granted_select(access: DataAccess) -> tuple[str, list[str]]:
    """The SELECT (over ``lake.main.<table>``) of what ``access`` shows, and its parameters."""
    from warehouse.masking import select_list

    where = []
    params: list[str] = []
    for column, values in access.row_filter:
        if not values:
            where.append("FALSE")
            continue
        where.append(f"CAST({_ident(column)} AS VARCHAR) IN ({', '.join('?' * len(values))})")
        params.extend(str(v) for v in values)
    clause = f" WHERE {' AND '.join(where)}" if where else ""
    columns = select_list(list(access.columns), frozenset(access.masked))
    return f"SELECT {columns} FROM {lake.qualified(access.table)}{clause}", params


def _copy_granted(
    con: duckdb.DuckDBPyConnection, workspace: Workspace, accesses: Sequence[DataAccess]
) -> None:
    source = _lake_source(workspace)
    try:
        for access in accesses:
            sql, params = granted_select(access)
            reader = source.execute(sql, params).to_arrow_reader(100_000)
            con.register("_mulu_granted_copy", reader)
            try:
                con.execute(
                    f"CREATE TABLE memory.main.{_ident(access.dataset)} AS "
                    "SELECT * FROM _mulu_granted_copy"
                )
            finally:
                con.unregister("_mulu_granted_copy")
    finally:
        source.close()


def _lake_source(workspace: Workspace) -> duckdb.DuckDBPyConnection:
    """The lake attached read-only, for copying granted rows: it runs only Mulu's own
    statements (``granted_select``, values bound), never an analyst's, so it skips the
    extension signature check as the loader's does (~0.8 s per session: the files are our
    pinned duckdb-extension-* packages)."""
    con = lake.connect_lake(workspace, read_only=True, trusted=True)
    con.execute("SET enable_progress_bar = false")
    return con
