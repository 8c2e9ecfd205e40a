"""The warehouse loader: landed source files → typed Parquet in staging/ → a lake snapshot.

``load_dataset`` lands the spec's source, stops when those exact files were loaded last time
('unchanged'), stages the typed rows (``stage``: drift checks before anything is written, one
streaming DuckDB COPY) and publishes them in one DuckLake transaction (``publish``). Every
attempt is a row in the metadata table ``loads``.

Exactly-once: each lake commit carries ``{dataset, load_id, fingerprint, sources}`` as its
extra_info. A process killed after the lake commit but before recording it leaves a snapshot
no ``loads`` row calls published; the next load of the dataset records it instead of writing
the rows again. Loads of one dataset take turns (a file lock); different datasets load in
parallel, retrying a commit that collided with another process's.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import hashlib
import json
import secrets
import shutil
import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import duckdb

from schemas.dataset_spec import DatasetSpec
from schemas.entry import CATALOGUE_TZ
from warehouse import metadata
from warehouse.lake import (
    LAKE_ALIAS,
    connect_lake,
    qualified,
    quote_identifier,
    quote_literal,
    retry_on_conflict,
    set_commit_message,
    snapshots,
    table_location,
    table_schema,
)
from warehouse.landing import LandedFile, LandingError, land
from warehouse.reading import (
    BAD_PREFIX,
    LoadError,
    SchemaDriftError,
    SourceError,
    read_source,
    source_error,
    typed_select,
)
from warehouse.workspace import Workspace

__all__ = ["LoadError", "LoadResult", "SchemaDriftError", "SourceError", "SourceFile",
           "StagedLoad", "fingerprint", "load_dataset", "load_history", "publish",
           "read_source", "stage", "staging_dir"]

COMMIT_AUTHOR = "mulu"
# DuckDB spills to staging/.duckdb-tmp beyond this, so a load's memory stays bounded.
MEMORY_LIMIT = "2GB"


@dataclass(frozen=True)
class SourceFile:
    url: str
    sha256: str
    landed_path: str


@dataclass(frozen=True)
class StagedLoad:
    """Typed rows ready to publish: ``path`` is ``staging/<dataset>/<load_id>.parquet``."""

    dataset: str
    load_id: str
    path: Path
    rows: int
    schema: list[tuple[str, str]]
    sources: list[SourceFile]
    fingerprint: str


@dataclass(frozen=True)
class LoadResult:
    dataset: str
    load_id: str
    status: str  # published | unchanged | failed
    rows: int
    snapshot_id: int | None
    fingerprint: str | None
    schema: list[tuple[str, str]] = field(default_factory=list)
    table: str = ""
    location: str = ""
    started_at: str = ""
    finished_at: str = ""
    error: str | None = None


def now_local() -> str:
    return dt.datetime.now(CATALOGUE_TZ).replace(tzinfo=None).isoformat(timespec="seconds")


def new_load_id() -> str:
    """Sortable by start time, unique across processes: ``20261125T114455-3f2a9c1b``."""
    return f"{dt.datetime.now(CATALOGUE_TZ):%Y%m%dT%H%M%S}-{secrets.token_hex(4)}"


def fingerprint(files: list[LandedFile]) -> str:
    """sha256 over the sorted sha256s: the same set of file contents, whatever their names."""
    return hashlib.sha256("\n".join(sorted(f.sha256 for f in files)).encode()).hexdigest()


def staging_dir(workspace: Workspace) -> Path:
    return workspace.root / "staging"


def table_name(spec: DatasetSpec) -> str:
    return f"{LAKE_ALIAS}.main.{spec.name}"


# --- stage ---------------------------------------------------------------------------------
def stage(workspace: Workspace, spec: DatasetSpec, landed: list[LandedFile], *,
          load_id: str | None = None, fingerprint_of: list[LandedFile] | None = None
          ) -> StagedLoad:
    """Read, check and type ``landed`` into ``staging/<dataset>/<load_id>.parquet``.

    Raises SchemaDriftError (missing/renamed column, a value that does not fit its column's
    type) or SourceError (unreadable file); then nothing is left in staging.
    ``fingerprint_of``: the files the fingerprint covers (default ``landed``).
    """
    load_id = load_id or new_load_id()
    folder = staging_dir(workspace) / spec.name
    folder.mkdir(parents=True, exist_ok=True)
    target, workdir = folder / f"{load_id}.parquet", folder / f"{load_id}.work"
    labels = [f.source_url for f in landed]
    con = _work_connection(workspace)
    try:
        relation = read_source(con, spec, [f.path for f in landed], names=labels,
                               workdir=workdir)
        types = {name: str(kind) for name, kind in zip(relation.columns, relation.types,
                                                        strict=True)}
        try:
            rows = con.execute(f"COPY ({typed_select(spec, types)}) TO "
                               f"{quote_literal(str(target))} (FORMAT parquet)").fetchone()[0]
        except duckdb.Error as exc:  # malformed rows surface while streaming, not at bind
            raise _name_file(exc, landed) from exc
        _check_casts(con, spec, target, labels)
    except BaseException:
        target.unlink(missing_ok=True)
        raise
    finally:
        con.close()
        shutil.rmtree(workdir, ignore_errors=True)
    return StagedLoad(
        dataset=spec.name, load_id=load_id, path=target, rows=int(rows),
        schema=[(c.name, c.duckdb_type()) for c in spec.columns],
        sources=[SourceFile(f.source_url, f.sha256, str(f.path)) for f in landed],
        fingerprint=fingerprint(fingerprint_of if fingerprint_of is not None else landed))


def _work_connection(workspace: Workspace) -> duckdb.DuckDBPyConnection:
    return _bounded(duckdb.connect(), workspace)


def _bounded(con: duckdb.DuckDBPyConnection, workspace: Workspace
             ) -> duckdb.DuckDBPyConnection:
    """Cap DuckDB's memory; beyond it, sorts and windows spill to staging/.duckdb-tmp."""
    spill = staging_dir(workspace) / ".duckdb-tmp"
    con.execute(f"SET temp_directory = {quote_literal(str(spill))}")
    con.execute(f"SET memory_limit = '{MEMORY_LIMIT}'")
    return con


def _name_file(exc: duckdb.Error, landed: list[LandedFile]) -> SourceError:
    text = str(exc)
    for file in landed:  # transcoded copies keep the landed name inside theirs
        if file.path.name in text:
            return source_error(file.source_url, exc)
    return source_error(landed[0].source_url if len(landed) == 1 else "source", exc)


def _check_casts(con: duckdb.DuckDBPyConnection, spec: DatasetSpec, staged: Path,
                 labels: list[str]) -> None:
    """Raise SchemaDriftError for the values that did not fit their column's type."""
    bad = [c for c in spec.columns
           if BAD_PREFIX + c.name in con.sql(f"SELECT * FROM {quote_literal(str(staged))} "
                                             f"LIMIT 0").columns]
    if not bad:
        return
    parts = []
    for c in bad:
        b = quote_identifier(BAD_PREFIX + c.name)
        parts.append(f"count({b}), arg_min({{'i': _source_index, 'r': _source_row, 'v': {b}}}, "
                     f"{{'i': _source_index, 'r': _source_row}}) FILTER (WHERE {b} IS NOT NULL)")
    found = con.execute(f"SELECT {', '.join(parts)} FROM {quote_literal(str(staged))}"
                        ).fetchone()
    failures = [(c, found[2 * i], found[2 * i + 1]) for i, c in enumerate(bad)
                if found[2 * i]]
    if not failures:
        return
    lines = []
    for column, count, first in failures:
        lines.append(f"{labels[first['i']]}: column {column.source} ({column.name}) is "
                     f"{column.type} in the spec, but {count} value{'s' if count > 1 else ''} "
                     f"{'are' if count > 1 else 'is'} not: first {first['v']!r} at row "
                     f"{first['r']}")
    column, _, first = failures[0]
    raise SchemaDriftError("; ".join(lines), file=labels[first["i"]], column=column.source,
                           row=int(first["r"]))


# --- publish -------------------------------------------------------------------------------
def publish(workspace: Workspace, spec: DatasetSpec, staged: StagedLoad) -> LoadResult:
    """Write ``staged`` to the lake table in one DuckLake transaction (one new snapshot).

    replace: the table becomes the staged rows; append: they are added; upsert: rows whose
    primary key is staged are replaced (a key staged twice: the last file's last row wins).
    When the lake already holds a commit of these exact sources that no load recorded (its
    process died before recording it), nothing is written: status 'unchanged' with that
    snapshot. Commit conflicts with other processes are retried with backoff.
    """
    con = _bounded(connect_lake(workspace), workspace)
    try:
        return _publish(con, workspace, spec, staged)
    finally:
        con.close()


def _publish(con: duckdb.DuckDBPyConnection, workspace: Workspace, spec: DatasetSpec,
             staged: StagedLoad) -> LoadResult:
    started = now_local()
    with contextlib.closing(metadata.connect(workspace.metadata_db)) as meta:
        recorded = _published_load_ids(meta, spec.name)
    for snapshot in snapshots(con, extra_info={"dataset": spec.name,
                                               "fingerprint": staged.fingerprint}):
        if snapshot["extra_info"].get("load_id") not in recorded:
            return _result(workspace, spec, staged, "unchanged", 0, snapshot["snapshot_id"],
                           started)
    rows, snapshot_id = retry_on_conflict(lambda: _commit(con, spec, staged))
    return _result(workspace, spec, staged, "published", rows, snapshot_id, started)


def _result(workspace: Workspace, spec: DatasetSpec, staged: StagedLoad, status: str,
            rows: int, snapshot_id: int | None, started: str) -> LoadResult:
    return LoadResult(
        dataset=spec.name, load_id=staged.load_id, status=status, rows=rows,
        snapshot_id=snapshot_id, fingerprint=staged.fingerprint, schema=staged.schema,
        table=table_name(spec), location=str(table_location(workspace, spec.name)),
        started_at=started, finished_at=now_local())


def _commit(con: duckdb.DuckDBPyConnection, spec: DatasetSpec, staged: StagedLoad
            ) -> tuple[int, int]:
    """One transaction: (rows written, snapshot id). Rolled back on any error."""
    done = _snapshot_of(con, staged.load_id)  # a retried commit that had in fact succeeded
    if done is not None:
        return done
    table, mode = qualified(spec.name), spec.load.mode
    source = f"read_parquet({quote_literal(str(staged.path))})"
    names = ", ".join(quote_identifier(name) for name, _ in staged.schema)
    con.execute("BEGIN")
    try:
        _fit_table(con, spec, staged.schema)
        if mode == "replace":
            con.execute(f"DELETE FROM {table}")
        rows_sql = f"SELECT {names} FROM {source}"
        if mode == "upsert":
            keys = [quote_identifier(k) for k in spec.primary_key]
            any_null = " OR ".join(f"{k} IS NULL" for k in keys)
            # Last wins: files are in sorted source order (monthly files: the latest month).
            rows_sql += (f" QUALIFY ({any_null}) OR row_number() OVER (PARTITION BY "
                         f"{', '.join(keys)} ORDER BY _source_index DESC, _source_row DESC) = 1")
            match = " AND ".join(f"{table}.{k} = s.{k}" for k in keys)
            con.execute(f"DELETE FROM {table} USING (SELECT DISTINCT {', '.join(keys)} "
                        f"FROM {source}) AS s WHERE {match}")
        rows = con.execute(f"INSERT INTO {table} ({names}) {rows_sql}").fetchone()[0]
        set_commit_message(con, COMMIT_AUTHOR, f"{mode} {spec.name}: {rows} rows", {
            "dataset": spec.name, "load_id": staged.load_id, "mode": mode,
            "fingerprint": staged.fingerprint, "rows": rows,
            "sources": [s.sha256 for s in staged.sources],
            "schema": [list(pair) for pair in staged.schema]})
        con.execute("COMMIT")
    except BaseException:
        with contextlib.suppress(duckdb.Error):
            con.execute("ROLLBACK")
        raise
    found = _snapshot_of(con, staged.load_id)
    assert found is not None, "committed snapshot not found"
    return found


def _fit_table(con: duckdb.DuckDBPyConnection, spec: DatasetSpec,
               schema: list[tuple[str, str]]) -> None:
    """Create the table, or bring its columns in line with the spec."""
    table, existing = qualified(spec.name), dict(table_schema(con, spec.name))
    columns = ", ".join(f"{quote_identifier(n)} {t}" for n, t in schema)
    if not existing:
        con.execute(f"CREATE TABLE {table} ({columns})")
        return
    if existing == dict(schema) and list(existing) == [n for n, _ in schema]:
        return
    if spec.load.mode == "replace":  # the old version stays readable at its snapshot
        con.execute(f"DROP TABLE {table}")
        con.execute(f"CREATE TABLE {table} ({columns})")
        return
    for name, kind in schema:
        if name not in existing:
            con.execute(f"ALTER TABLE {table} ADD COLUMN {quote_identifier(name)} {kind}")
        elif existing[name] != kind:
            raise LoadError(f"{spec.name}: column {name} is {existing[name]} in the table but "
                            f"{kind} in the spec; {spec.load.mode} cannot change a column's "
                            f"type: load once with mode replace", column=name)


def _snapshot_of(con: duckdb.DuckDBPyConnection, load_id: str) -> tuple[int, int] | None:
    """(rows, snapshot id) of the lake commit a load made, None when it made none."""
    for snapshot in snapshots(con, extra_info={"load_id": load_id}):
        return int(snapshot["extra_info"].get("rows") or 0), snapshot["snapshot_id"]
    return None


# --- load ----------------------------------------------------------------------------------
def load_dataset(workspace: Workspace, spec: DatasetSpec, *, force: bool = False,
                 after_publish: Callable[[LoadResult], None] | None = None) -> LoadResult:
    """Land, stage and publish ``spec``'s source; record the attempt in ``loads``.

    Status 'unchanged' (nothing written) when the landed files are those of the last
    published load, unless ``force``. In append mode only files not appended before are
    loaded (unless ``force``). On failure the live table is untouched, the raw files stay in
    landing/, the attempt is recorded 'failed' and the LoadError is raised.

    ``after_publish`` (for crash tests) is called between the lake commit and recording it.
    """
    workspace.ensure()
    load_id, started = new_load_id(), now_local()
    with _dataset_lock(workspace, spec.name), \
            contextlib.closing(metadata.connect(workspace.metadata_db)) as meta:
        _write(meta, "INSERT INTO loads (load_id, dataset, entry_code, status, table_name, "
                     "location, started_at) VALUES (?, ?, ?, 'started', ?, ?, ?)",
               load_id, spec.name, spec.entry_code, table_name(spec),
               str(table_location(workspace, spec.name)), started)
        try:
            with contextlib.closing(_bounded(connect_lake(workspace), workspace)) as lake:
                return _load(workspace, spec, meta, lake, load_id, started, force,
                             after_publish)
        except BaseException as exc:
            _record_failure(meta, load_id, exc)
            raise


def _load(workspace: Workspace, spec: DatasetSpec, meta: sqlite3.Connection,
          lake: duckdb.DuckDBPyConnection, load_id: str, started: str, force: bool,
          after_publish: Callable[[LoadResult], None] | None) -> LoadResult:
    _settle_earlier_loads(workspace, spec, meta, lake, load_id)
    shutil.rmtree(staging_dir(workspace) / spec.name, ignore_errors=True)  # a dead run's files
    try:
        landed = land(spec.source.url, workspace.landing_dir, spec.name,
                      storage_options=spec.source.storage_options)
    except LandingError as exc:
        raise SourceError(str(exc), file=spec.source.url) from exc
    source_fingerprint = fingerprint(landed)
    files = landed
    if spec.load.mode == "append" and not force:  # append each file's rows once
        done = {s["sha256"] for row in meta.execute(
            "SELECT sources FROM loads WHERE dataset = ? AND status = 'published'",
            (spec.name,)) for s in json.loads(row["sources"])}
        files = [f for f in landed if f.sha256 not in done]
    _write(meta, "UPDATE loads SET fingerprint = ?, sources = ? WHERE load_id = ?",
           source_fingerprint, _sources_json(files or landed), load_id)
    last = meta.execute("SELECT * FROM loads WHERE dataset = ? AND status = 'published' "
                        "ORDER BY snapshot_id DESC LIMIT 1", (spec.name,)).fetchone()
    if not files or (not force and last is not None
                     and last["fingerprint"] == source_fingerprint):
        result = LoadResult(
            dataset=spec.name, load_id=load_id, status="unchanged", rows=0,
            snapshot_id=last["snapshot_id"] if last else None, fingerprint=source_fingerprint,
            schema=[tuple(p) for p in json.loads(last["schema"] or "[]")] if last else [],
            table=table_name(spec), location=str(table_location(workspace, spec.name)),
            started_at=started, finished_at=now_local())
    else:
        staged = stage(workspace, spec, files, load_id=load_id, fingerprint_of=landed)
        try:
            result = replace(_publish(lake, workspace, spec, staged), started_at=started)
        finally:
            staged.path.unlink(missing_ok=True)
        if after_publish is not None:
            after_publish(result)
    _write(meta, "UPDATE loads SET status = ?, rows = ?, schema = ?, snapshot_id = ?, "
                 "finished_at = ? WHERE load_id = ?",
           result.status, result.rows, json.dumps(result.schema), result.snapshot_id,
           result.finished_at, load_id)
    return result


def _settle_earlier_loads(workspace: Workspace, spec: DatasetSpec, meta: sqlite3.Connection,
                          lake: duckdb.DuckDBPyConnection, current: str) -> None:
    """Record lake commits whose process died before recording them; fail other leftovers.

    Runs under the dataset lock, so every other 'started' load of the dataset is dead.
    """
    recorded = _published_load_ids(meta, spec.name)
    unrecorded = [s for s in snapshots(lake, extra_info={"dataset": spec.name})
                  if s["extra_info"].get("load_id") not in (None, *recorded)]
    for snapshot in unrecorded:
        info = snapshot["extra_info"]
        row = meta.execute("SELECT sources FROM loads WHERE load_id = ?",
                           (info["load_id"],)).fetchone()
        sources = (row["sources"] if row and row["sources"] != "[]" else json.dumps(
            [{"url": None, "sha256": s, "landed_path": None} for s in info["sources"]]))
        with metadata.write_transaction(meta):  # the row may be missing, or 'started'
            meta.execute(
                "INSERT INTO loads (load_id, dataset, entry_code, status, started_at, "
                "table_name, location) VALUES (?, ?, ?, 'published', ?, ?, ?) "
                "ON CONFLICT (load_id) DO NOTHING",
                (info["load_id"], spec.name, spec.entry_code, snapshot["snapshot_time"],
                 table_name(spec), str(table_location(workspace, spec.name))))
            meta.execute(
                "UPDATE loads SET status = 'published', fingerprint = ?, sources = ?, rows = ?, "
                "schema = ?, snapshot_id = ?, finished_at = ?, error = NULL, error_file = NULL, "
                "error_column = NULL, error_row = NULL WHERE load_id = ?",
                (info.get("fingerprint"), sources, info.get("rows"),
                 json.dumps(info.get("schema") or []), snapshot["snapshot_id"],
                 snapshot["snapshot_time"], info["load_id"]))
    _write(meta, "UPDATE loads SET status = 'failed', finished_at = ?, error = ? "
                 "WHERE dataset = ? AND status = 'started' AND load_id <> ?",
           now_local(), "abandoned: the process stopped before the load finished; the lake "
                        "holds no commit of it", spec.name, current)


def _published_load_ids(meta: sqlite3.Connection, dataset: str) -> set[str]:
    return {row[0] for row in meta.execute(
        "SELECT load_id FROM loads WHERE dataset = ? AND status = 'published'", (dataset,))}


def _record_failure(meta: sqlite3.Connection, load_id: str, exc: BaseException) -> None:
    where = exc if isinstance(exc, LoadError) else None
    message = str(exc) or type(exc).__name__
    try:
        _write(meta, "UPDATE loads SET status = 'failed', finished_at = ?, error = ?, "
                     "error_file = ?, error_column = ?, error_row = ? WHERE load_id = ?",
               now_local(), message, where and where.file, where and where.column,
               where and where.row, load_id)
    except sqlite3.Error as secondary:  # keep the load's own error as the one raised
        exc.add_note(f"(recording the failure in loads failed too: {secondary})")


def _sources_json(files: list[LandedFile]) -> str:
    return json.dumps([{"url": f.source_url, "sha256": f.sha256, "landed_path": str(f.path)}
                       for f in files], ensure_ascii=False)


def _write(meta: sqlite3.Connection, sql: str, *params: Any) -> None:
    with metadata.write_transaction(meta):
        meta.execute(sql, params)


@contextlib.contextmanager
def _dataset_lock(workspace: Workspace, dataset: str) -> Iterator[None]:
    """One load of a dataset at a time, across processes; the OS drops it if we die."""
    path = staging_dir(workspace) / f"{dataset}.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def load_history(workspace: Workspace, dataset: str) -> list[LoadResult]:
    """Every recorded load of ``dataset``, oldest first (failed ones with their error)."""
    with contextlib.closing(metadata.connect(workspace.metadata_db)) as meta:
        rows = meta.execute("SELECT * FROM loads WHERE dataset = ? ORDER BY started_at, rowid",
                            (dataset,)).fetchall()
    return [LoadResult(
        dataset=row["dataset"], load_id=row["load_id"], status=row["status"],
        rows=row["rows"] or 0, snapshot_id=row["snapshot_id"], fingerprint=row["fingerprint"],
        schema=[tuple(pair) for pair in json.loads(row["schema"] or "[]")],
        table=row["table_name"] or "", location=row["location"] or "",
        started_at=row["started_at"], finished_at=row["finished_at"] or "",
        error=row["error"]) for row in rows]
