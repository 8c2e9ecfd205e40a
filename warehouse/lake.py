"""The lake: warehouse tables as a DuckLake (Parquet files + a catalog of snapshots).

Layout in the workspace (the embedded default)::

    lake.sqlite   DuckLake catalog: tables, columns, data files, one snapshot per commit
    lake/         the Parquet data files, ``lake/main/<table>/ducklake-<uuid>.parquet``

Shared (``warehouse.settings``, docs/deploy.md): ``lake_catalog_url`` (postgresql://…) puts the
catalog in PostgreSQL, ``lake_data_url`` (s3://bucket/prefix/) the Parquet files on object
storage, each independently of the other (``LakePlace``). Then several processes on several
machines load and read at once: DuckLake serialises commits through the catalog (a snapshot id
is a primary key; the loser of a race re-checks the winner's changes and retries without
rewriting files), and loads of one dataset take turns through a PostgreSQL advisory lock
(``warehouse.load.lock``). Credentials never reach the catalog or a log: the PostgreSQL user and
password and the S3 keys become temporary DuckDB secrets of each connection, and the catalog's
connection string names only host, port and database.

Every commit is a new snapshot, so every load is a version that stays readable
(``SELECT … FROM lake.t AT (VERSION => 3)``); a reader works on one snapshot from start to end,
so it sees a table before or after a load, never half of one. Commits are atomic SQLite
transactions.

DuckDB's extensions cannot be downloaded here: they come from the ``duckdb-extension-*`` PyPI
packages and are LOADed by file path.

Queries here inline their values as SQL literals rather than binding parameters: the DuckDB
Python client imports pandas (about 0.3 s) the first time a statement has parameters.
"""

from __future__ import annotations

import datetime as dt
import importlib
import json
import logging
import os
import random
import re
import sqlite3
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import parse_qsl, unquote, urlsplit

import duckdb

from schemas.entry import catalogue_time
from schemas.errors import NotFound
from warehouse.objectstore import ObjectStore, is_object_url, join
from warehouse.settings import Settings, is_postgresql
from warehouse.workspace import Workspace

LAKE_ALIAS = "lake"
LAKE_SCHEMA = "main"
# Conflicting commits from two processes: SQLite reports the loser's write as "database is
# locked" (in WAL mode also when the other commit ended before ours started, because our read
# snapshot is stale); DuckLake reports logical conflicts as "conflict". And DuckLake 1.5.5's own
# commit retry, re-reading a catalog another process just changed, fails now and then with
# "Failed to load DuckLake - Table entry "x" does not have any columns" (x: the other
# process's new table); the catalog is intact and a fresh transaction succeeds. All are retried.
# On a PostgreSQL catalog a race DuckLake's own retries did not settle ends as the snapshot's
# primary key violated ("duplicate key value"), or a serialization failure; both are retried too.
_CONFLICT_MARKERS = (
    "database is locked",
    "database is busy",
    "conflict",
    "failed to load ducklake",
    "duplicate key value",
    "could not serialize access",
)
# The PostgreSQL catalog's user and password: a temporary secret of each connection.
_PG_SECRET = "mulu_lake_catalog"
# DuckLake's own commit retries (its defaults: 10 attempts, 100 ms apart, x1.5): more patient
# on a shared catalog, where dozens of loads may commit at once.
_DUCKLAKE_RETRIES = ("SET ducklake_max_retry_count = 30", "SET ducklake_retry_wait_ms = 50")
COMMIT_ATTEMPTS = 8
RETRY_BASE_SECONDS = 0.1
RETRY_MAX_SECONDS = 3.0

T = TypeVar("T")
log = logging.getLogger(__name__)


class LakeMissingError(NotFound):
    """A read-only connection to a lake that does not exist yet (nothing was loaded)."""


@cache
def extension_path(name: str) -> Path:
    """The ``.duckdb_extension`` file shipped in the ``duckdb_extension_<name>`` package."""
    package = importlib.import_module(f"duckdb_extension_{name}")
    return next(Path(package.__path__[0]).rglob("*.duckdb_extension"))


def load_extension(con: duckdb.DuckDBPyConnection, name: str) -> None:
    """LOAD a DuckDB extension (``ducklake``, ``sqlite_scanner``, ``excel`` …) from its package."""
    con.execute(f"LOAD {quote_literal(str(extension_path(name)))}")


def quote_identifier(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def quote_literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


@dataclass(frozen=True)
class LakePlace:
    """Where a workspace's lake is: its catalog and its Parquet files.

    ``catalog_url`` postgresql://… or None (the workspace's lake.sqlite); ``data_url`` s3://…/,
    or a folder, or None (the workspace's lake/); ``store`` how to reach the object store."""

    catalog_url: str | None
    data_url: str | None
    store: ObjectStore

    @property
    def shared_catalog(self) -> bool:
        return self.catalog_url is not None

    @property
    def object_data(self) -> bool:
        return is_object_url(self.data_url)


def lake_place(workspace: Workspace, environ: Mapping[str, str] | None = None) -> LakePlace:
    """The lake's place by the deployment settings in force (``warehouse.settings``)."""
    settings = Settings.load(workspace, environ)
    catalog = settings.lake_catalog_url
    if catalog is not None and not is_postgresql(catalog):
        raise ValueError(
            f"lake_catalog_url must be a postgresql:// URL (or unset for the workspace's "
            f"lake.sqlite), not {catalog.split('://', 1)[0]}://…"
        )
    data = settings.lake_data_url
    if data is not None and not data.endswith("/"):
        data += "/"
    return LakePlace(catalog, data, ObjectStore.of(settings, environ))


def lake_key(workspace: Workspace) -> str:
    """What identifies the lake a workspace uses (its catalog), for caching connections."""
    place = lake_place(workspace)
    if place.catalog_url:
        return _pg_dsn(place.catalog_url)[0]
    return str(catalog_path(workspace).resolve())


def catalog_path(workspace: Workspace) -> Path:
    return workspace.lake_catalog


def data_path(workspace: Workspace) -> Path:
    return workspace.lake_dir


def data_location(workspace: Workspace) -> str:
    """Where the lake's Parquet files are: an s3:// URL (ending in /) or a local folder."""
    place = lake_place(workspace)
    return place.data_url or str(data_path(workspace)) + "/"


def qualified(table: str) -> str:
    """``lake.main.<table>`` as SQL."""
    return f"{LAKE_ALIAS}.{LAKE_SCHEMA}.{quote_identifier(table)}"


def table_location(workspace: Workspace, table: str) -> str:
    """Where a table's Parquet files are: its folder, or its s3:// prefix."""
    location = data_location(workspace)
    if is_object_url(location):
        return join(location, LAKE_SCHEMA, table)
    return str(Path(location) / LAKE_SCHEMA / table)


def table_folder(workspace: Workspace, table: str) -> Path | None:
    """The local folder of a table's Parquet files; None when they are on object storage."""
    location = table_location(workspace, table)
    return None if is_object_url(location) else Path(location)


def table_files(workspace: Workspace, table: str) -> list[str]:
    """Every Parquet file under a table's location (paths, or s3:// URLs)."""
    location = table_location(workspace, table)
    if not is_object_url(location):
        folder = Path(location)
        return [str(p) for p in sorted(folder.rglob("*.parquet"))] if folder.is_dir() else []
    fs = lake_place(workspace).store.filesystem()
    scheme = location.split("://", 1)[0]
    try:
        found = fs.find(location.rstrip("/") + "/")
    except FileNotFoundError:
        return []
    return [f"{scheme}://{key}" for key in sorted(found) if key.endswith(".parquet")]


def delete_files(workspace: Workspace, files: list[str]) -> None:
    """Delete files ``table_files`` named (a missing one is no error)."""
    remote = [f for f in files if is_object_url(f)]
    for name in files:
        if not is_object_url(name):
            Path(name).unlink(missing_ok=True)
    if remote:
        lake_place(workspace).store.filesystem().rm(remote)


def _pg_dsn(url: str) -> tuple[str, dict[str, str]]:
    """A postgresql:// URL as (libpq key=value string without user and password, {user,
    password}): the first is what the catalog's path shows, the second goes into a secret."""
    parts = urlsplit(url)
    fields: dict[str, str] = {}
    if parts.hostname:
        fields["host"] = parts.hostname
    if parts.port:
        fields["port"] = str(parts.port)
    if parts.path.strip("/"):
        fields["dbname"] = unquote(parts.path.strip("/"))
    for key, value in parse_qsl(parts.query):
        if key not in ("user", "password"):
            fields[key] = value
    credentials = {}
    if parts.username:
        credentials["user"] = unquote(parts.username)
    if parts.password:
        credentials["password"] = unquote(parts.password)
    dsn = " ".join(f"{key}={_libpq_value(value)}" for key, value in fields.items())
    return dsn, credentials


def _libpq_value(value: str) -> str:
    if value and not re.search(r"[\s'\\]", value):
        return value
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def connect_lake(
    workspace: Workspace, *, read_only: bool = False, trusted: bool = False
) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB with the lake attached AS ``lake`` (tables in ``lake.main``).

    A writable connection creates the lake on first use. A read-only one raises
    LakeMissingError when there is no lake yet.

    A writable connection is the loader's and runs only the loader's SQL: it skips DuckDB's
    signature check of the extension files (about 50 ms for each of the two, on every
    connection), which come from the project's own pinned packages, not a download. Read-only
    connections, which people's queries use, keep the check, unless ``trusted``: a read-only
    connection that runs only Mulu's own statements (the per-user session's copy).
    """
    place = lake_place(workspace)
    if place.catalog_url is not None:
        return _connect_shared(workspace, place, read_only=read_only, trusted=trusted)
    catalog = catalog_path(workspace)
    if read_only and not catalog.exists():
        raise LakeMissingError(f"no lake at {catalog}: nothing has been loaded yet")
    if not read_only:
        workspace.root.mkdir(parents=True, exist_ok=True)
        if not place.object_data:
            Path(place.data_url or data_path(workspace)).mkdir(parents=True, exist_ok=True)
        if not catalog.exists():
            _create_in_wal_mode(catalog)
    # The loader's connection skips DuckDB's extension signature check (~50 ms per extension
    # per load): the files come from our pinned duckdb-extension-* packages in site-packages,
    # and whoever can change those can change any Python we run. Analyst (read-only)
    # connections, which run people's SQL, keep the check.
    skip_check = trusted or not read_only
    con = duckdb.connect(config={"allow_unsigned_extensions": True} if skip_check else {})
    try:
        load_extension(con, "sqlite_scanner")
        load_extension(con, "ducklake")
        if place.object_data:
            load_extension(con, "httpfs")
            place.store.create_duckdb_secret(con)
        # OVERRIDE_DATA_PATH: the workspace's own lake/ (or the configured data URL), whatever
        # path the lake was created with, so a moved or copied workspace still works (file
        # paths are stored relative).
        options = [
            f"DATA_PATH {quote_literal(place.data_url or str(data_path(workspace)) + '/')}",
            "OVERRIDE_DATA_PATH true",
        ]
        # Inlining off: table data always lives in Parquet under lake/, never in the catalog.
        options.append("READ_ONLY" if read_only else "DATA_INLINING_ROW_LIMIT 0")
        sql = (
            f"ATTACH {quote_literal('ducklake:sqlite:' + str(catalog))} AS {LAKE_ALIAS} "
            f"({', '.join(options)})"
        )
        # Two processes creating a new lake at once: the loser's catalog writes are "locked".
        retry_on_conflict(lambda: con.execute(sql))
    except BaseException:
        con.close()
        raise
    return con


def _connect_shared(
    workspace: Workspace, place: LakePlace, *, read_only: bool, trusted: bool
) -> duckdb.DuckDBPyConnection:
    """``connect_lake`` on a PostgreSQL catalog (data on S3 or in a folder every machine
    mounts). A new catalog is created by the first writable connection; a read-only one to a
    database without a lake raises LakeMissingError."""
    assert place.catalog_url is not None
    dsn, credentials = _pg_dsn(place.catalog_url)
    data = place.data_url or str(data_path(workspace)) + "/"
    if not read_only and not place.object_data:
        Path(data).mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(
        config={"allow_unsigned_extensions": True} if trusted or not read_only else {}
    )
    try:
        for name in ("postgres_scanner", "ducklake", *(("httpfs",) if place.object_data else ())):
            load_extension(con, name)
        if place.object_data:
            place.store.create_duckdb_secret(con)
        secret = [f"{key.upper()} {quote_literal(value)}" for key, value in credentials.items()]
        con.execute(
            f"CREATE OR REPLACE TEMPORARY SECRET {_PG_SECRET} "
            f"(TYPE postgres{''.join(', ' + s for s in secret)})"
        )
        for setting in _DUCKLAKE_RETRIES:
            con.execute(setting)
        # DATA_PATH matters only when the first writer creates the lake; afterwards the path
        # the catalog holds is the one every machine uses (no override: all must agree).
        options = [f"METADATA_PARAMETERS MAP {{'SECRET': {quote_literal(_PG_SECRET)}}}"]
        if read_only:
            options.append("READ_ONLY")
        else:
            options += [f"DATA_PATH {quote_literal(data)}", "DATA_INLINING_ROW_LIMIT 0"]
        sql = (
            f"ATTACH {quote_literal('ducklake:postgres:' + dsn)} AS {LAKE_ALIAS} "
            f"({', '.join(options)})"
        )
        try:
            # Two processes creating a new lake at once: the loser's inserts clash.
            retry_on_conflict(lambda: con.execute(sql))
        except duckdb.Error as exc:
            if read_only and "does not exist" in str(exc) and "creating a new" in str(exc):
                raise LakeMissingError(f"no lake in {dsn}: nothing has been loaded yet") from None
            raise
    except BaseException:
        con.close()
        raise
    return con


def _create_in_wal_mode(catalog: Path) -> None:
    """Create the catalog file in WAL mode (persistent in the file) so readers never block a
    commit: in SQLite's default rollback-journal mode a reader's shared lock makes a
    committing load fail with "database is locked".

    Python's sqlite3 writes a new file beside it, closes it, and only then links it into
    place (an existing catalog wins): sqlite3 never holds the file DuckDB's own SQLite opens,
    in this process or another thread of it (closing one library's handle drops the other's
    POSIX locks, and a checkpoint can then delete the WAL under it).
    """
    fresh = catalog.with_name(f".{catalog.name}.{os.getpid()}.{threading.get_ident()}.new")
    con = sqlite3.connect(fresh)
    try:
        con.execute("PRAGMA journal_mode = WAL")
    finally:
        con.close()
    try:
        os.link(fresh, catalog)
    except FileExistsError:
        pass  # another process or thread created it first: theirs is the catalog
    finally:
        fresh.unlink()


# --- commits -------------------------------------------------------------------------------
def is_commit_conflict(exc: BaseException) -> bool:
    """True for the errors a concurrent commit causes, which a retry resolves."""
    if not isinstance(exc, duckdb.Error):
        return False
    text = str(exc).lower()
    if "failed to initialize ducklake" in text and "already exists" in text:
        return True  # two processes created a new lake's tables in PostgreSQL at once
    return any(marker in text for marker in _CONFLICT_MARKERS)


def retry_on_conflict(
    work: Callable[[], T],
    *,
    attempts: int = COMMIT_ATTEMPTS,
    before_retry: Callable[[], None] | None = None,
) -> T:
    """Run ``work``; on a commit conflict wait (exponential backoff with jitter) and rerun it.

    ``before_retry`` runs before each rerun (e.g. ROLLBACK of the failed transaction).
    """
    for attempt in range(1, attempts + 1):
        try:
            return work()
        except duckdb.Error as exc:
            if attempt == attempts or not is_commit_conflict(exc):
                raise
            if before_retry is not None:
                before_retry()
            # Jitter so two processes that collided do not collide again in step.
            delay = min(RETRY_MAX_SECONDS, RETRY_BASE_SECONDS * 2 ** (attempt - 1))
            delay *= random.uniform(0.5, 1.5)
            log.warning(
                "lake commit conflict (attempt %d of %d), retrying in %.2f s: %s",
                attempt,
                attempts,
                delay,
                str(exc).replace("\n", " | "),
            )
            time.sleep(delay)
    raise AssertionError("unreachable")


def set_commit_message(
    con: duckdb.DuckDBPyConnection, author: str, message: str, extra_info: dict[str, Any]
) -> None:
    """Label the open transaction's snapshot (read back with :func:`snapshots`)."""
    info = json.dumps(extra_info, ensure_ascii=False, sort_keys=True)
    con.execute(
        f"CALL {LAKE_ALIAS}.set_commit_message({quote_literal(author)}, "
        f"{quote_literal(message)}, extra_info => {quote_literal(info)})"
    )


def scalar(con: duckdb.DuckDBPyConnection, sql: str) -> Any:
    """The first value of the one row ``sql`` returns (an aggregate, a snapshot function)."""
    row = con.execute(sql).fetchone()
    if row is None:  # such queries always return a row: none means the SQL is wrong
        raise LookupError(f"no row from: {sql}")
    return row[0]


def last_committed_snapshot(con: duckdb.DuckDBPyConnection) -> int | None:
    """The id of the snapshot this connection's last commit made (None before any)."""
    snapshot = scalar(
        con, f"SELECT id FROM ducklake_last_committed_snapshot({quote_literal(LAKE_ALIAS)})"
    )
    return None if snapshot is None else int(snapshot)


def add_data_file(con: duckdb.DuckDBPyConnection, table: str, path: Path) -> None:
    """Register the Parquet file ``path`` as a data file of ``table``, in the open transaction.

    The file is not copied: DuckLake takes it over as it is (and compaction or cleanup may
    delete it later, like its own files). Its columns are matched to the table's by name; table
    columns it lacks read as NULL. In the table's folder it is stored as a relative path, so a
    moved workspace still finds it.
    """
    con.execute(
        f"CALL ducklake_add_data_files({quote_literal(LAKE_ALIAS)}, "
        f"{quote_literal(table)}, {quote_literal(str(path))}, "
        f"schema => {quote_literal(LAKE_SCHEMA)}, allow_missing => true, "
        f"hive_partitioning => false)"
    )


# --- reading the catalog -------------------------------------------------------------------
def _in_table(table: str) -> str:
    return (
        f"database_name = {quote_literal(LAKE_ALIAS)} AND schema_name = "
        f"{quote_literal(LAKE_SCHEMA)} AND table_name = {quote_literal(table)}"
    )


def table_exists(con: duckdb.DuckDBPyConnection, table: str) -> bool:
    return bool(scalar(con, f"SELECT count(*) FROM duckdb_tables() WHERE {_in_table(table)}"))


def table_schema(con: duckdb.DuckDBPyConnection, table: str) -> list[tuple[str, str]]:
    """[(column, DuckDB type)] of a lake table in column order; [] when it does not exist."""
    rows = con.execute(
        f"SELECT column_name, data_type FROM duckdb_columns() WHERE {_in_table(table)} "
        f"ORDER BY column_index"
    ).fetchall()
    return [(name, kind) for name, kind in rows]


def _metadata(table: str) -> str:
    """A table of the lake's catalog, e.g. ``ducklake_data_file``, as SQL."""
    return f"{quote_identifier('__ducklake_metadata_' + LAKE_ALIAS)}.{table}"


def data_file_names(con: duckdb.DuckDBPyConnection) -> set[str]:
    """The file names of every data and delete file the lake knows: referenced by any
    snapshot, or waiting for DuckLake's cleanup to delete it."""
    rows = con.execute(
        f"SELECT path FROM {_metadata('ducklake_data_file')} UNION ALL "
        f"SELECT path FROM {_metadata('ducklake_delete_file')} UNION ALL "
        f"SELECT path FROM {_metadata('ducklake_files_scheduled_for_deletion')}"
    ).fetchall()
    return {Path(path).name for (path,) in rows}


def snapshots(
    con: duckdb.DuckDBPyConnection, *, extra_info: dict[str, str] | None = None
) -> list[dict[str, Any]]:
    """Every snapshot of the lake, oldest first, with ``extra_info`` parsed from its JSON.

    ``extra_info``: only snapshots whose extra info has these top-level values.
    """
    where = [
        f"json_extract_string(commit_extra_info, {quote_literal('$.' + key)}) = "
        f"{quote_literal(value)}"
        for key, value in (extra_info or {}).items()
    ]
    rows = con.execute(
        f"SELECT snapshot_id, snapshot_time, changes, author, commit_message, "
        f"commit_extra_info FROM {LAKE_ALIAS}.snapshots() "
        f"{'WHERE ' + ' AND '.join(where) if where else ''} ORDER BY snapshot_id"
    ).fetchall()
    return [
        {
            "snapshot_id": snapshot_id,
            "snapshot_time": _local_iso(when),
            "changes": {key: list(values) for key, values in (changes or {}).items()},
            "author": author,
            "message": message,
            "extra_info": _parse_json(extra),
        }
        for snapshot_id, when, changes, author, message, extra in rows
    ]


def table_versions(con: duckdb.DuckDBPyConnection, table: str) -> list[dict[str, Any]]:
    """The snapshots that created, changed or dropped ``table``, oldest first.

    Each is a dict: snapshot_id (use it in ``AT (VERSION => …)``), snapshot_time (ISO,
    Asia/Shanghai), changes, author, message, extra_info.
    """
    # A snapshot names tables it created by name and the others by id; a table dropped and
    # re-created under the same name (a replace whose columns changed) has several ids.
    ids = {
        str(row[0])
        for row in con.execute(
            f"SELECT table_id FROM {_metadata('ducklake_table')} "
            f"WHERE table_name = {quote_literal(table)}"
        ).fetchall()
    }
    name = f"{LAKE_SCHEMA}.{table}"
    found = []
    for snapshot in snapshots(con):
        for key, values in snapshot["changes"].items():
            if (key == "tables_created" and name in values) or (
                key != "tables_created"
                and key.startswith(("tables_", "inlined_"))
                and ids.intersection(values)
            ):
                found.append(snapshot)
                break
    return found


def current_snapshot(con: duckdb.DuckDBPyConnection) -> int:
    return int(scalar(con, f"SELECT id FROM ducklake_current_snapshot('{LAKE_ALIAS}')"))


def _local_iso(when: dt.datetime | None) -> str | None:
    if when is None:
        return None
    return catalogue_time(when).isoformat(timespec="seconds")


def _parse_json(text: str | None) -> dict[str, Any] | None:
    if not text:
        return None
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None
