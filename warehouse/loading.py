"""The warehouse loader: landed source files → typed Parquet in staging/ → a lake snapshot.

``load_dataset`` lands the spec's source, stops when those exact files were loaded last time
('unchanged'), stages the typed rows (``stage``: one streaming DuckDB COPY that is also the
drift check) and publishes them in one DuckLake transaction (``publish``). Every attempt is a
row in the metadata table ``loads``.

The rows are written once: for replace and append the staged Parquet file is moved into the
table's folder and registered as the table's data file (``ducklake_add_data_files``), not
copied into a new one; upsert inserts them, to apply its last-row-wins rule. One DuckDB
connection does a load's reading, staging and committing.

Exactly-once: each lake commit carries ``{dataset, load_id, fingerprint, sources}`` as its
extra_info. A process killed after the lake commit but before recording it leaves a snapshot
no ``loads`` row calls published; the next load of the dataset records it instead of writing
the rows again. Loads of one dataset take turns (a file lock); different datasets load in
parallel, retrying a commit that collided with another process's.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import itertools
import json
import os
import secrets
import shutil
import sqlite3
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import duckdb

from schemas.dataset_spec import DatasetSpec
from schemas.entry import catalogue_now
from warehouse import metadata
from warehouse.lake import (
    LAKE_ALIAS,
    add_data_file,
    connect_lake,
    current_snapshot,
    data_file_names,
    last_committed_snapshot,
    qualified,
    quote_identifier,
    quote_literal,
    retry_on_conflict,
    set_commit_message,
    snapshots,
    table_location,
    table_schema,
)
from warehouse.landing import LandedFile, LandingError, land, local_source_files
from warehouse.reading import (
    BAD_PREFIX,
    CAST_FAILURE,
    SOURCE_VIEW,
    UNNUMBERED_VIEW,
    LoadError,
    SchemaDriftError,
    SourceError,
    checked_select,
    read_source,
    source_error,
    typed_select,
)
from warehouse.workspace import Workspace

__all__ = ["Gate", "GateVerdict", "LoadError", "LoadResult", "SchemaDriftError", "SourceError",
           "SourceFile", "StagedLoad", "fingerprint", "held_dir", "load_dataset", "load_history",
           "publish", "publish_held", "read_source", "reject_held", "stage", "staging_dir"]

COMMIT_AUTHOR = "mulu"
# DuckDB spills to staging/.duckdb-tmp beyond this, so a load's memory stays bounded.
MEMORY_LIMIT = "2GB"
# Staged files registered as a table's data files are named mulu-<load_id>-<random>.parquet in
# the table's folder (DuckLake's own are ducklake-<uuid>.parquet).
DATA_FILE_PREFIX = "mulu-"
_ROW_COLUMNS = ("_source_index", "_source_row")


@dataclass(frozen=True)
class SourceFile:
    url: str
    sha256: str
    landed_path: str


@dataclass(frozen=True)
class StagedLoad:
    """Typed rows ready to publish: ``path`` is ``staging/<dataset>/<load_id>.parquet``.

    The file holds the spec's columns with the table's types and nothing else, so it can become
    the table's data file as it is; ``numbered`` (upsert): also ``_source_index`` and
    ``_source_row``, for the last-row-wins rule.
    """

    dataset: str
    load_id: str
    path: Path
    rows: int
    schema: list[tuple[str, str]]
    sources: list[SourceFile]
    fingerprint: str
    numbered: bool = False


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
    quality_run_id: str | None = None
    quality: str | None = None  # passed | warned | blocked; None: not validated


@dataclass(frozen=True)
class GateVerdict:
    """What a quality gate (``load_dataset(gate=…)``) decided about a staged load."""

    run_id: str
    blocked: bool  # an error-severity expectation failed: hold the rows, keep the table
    flagged: bool = False  # a warning-severity expectation failed: publish, flagged

    @property
    def quality(self) -> str:
        return "blocked" if self.blocked else "warned" if self.flagged else "passed"


Gate = Callable[[StagedLoad], GateVerdict]


def now_local() -> str:
    return catalogue_now().isoformat()


def new_load_id() -> str:
    """Sortable by start time, unique across processes: ``20261125T114455-3f2a9c1b``."""
    return f"{catalogue_now():%Y%m%dT%H%M%S}-{secrets.token_hex(4)}"


def fingerprint(files: list[LandedFile]) -> str:
    """sha256 over the sorted sha256s: the same set of file contents, whatever their names."""
    return hashlib.sha256("\n".join(sorted(f.sha256 for f in files)).encode()).hexdigest()


def staging_dir(workspace: Workspace) -> Path:
    return workspace.staging_dir


def table_name(spec: DatasetSpec) -> str:
    return f"{LAKE_ALIAS}.main.{spec.name}"


# --- stage ---------------------------------------------------------------------------------
def stage(workspace: Workspace, spec: DatasetSpec, landed: list[LandedFile], *,
          load_id: str | None = None, fingerprint_of: list[LandedFile] | None = None,
          con: duckdb.DuckDBPyConnection | None = None) -> StagedLoad:
    """Read, check and type ``landed`` into ``staging/<dataset>/<load_id>.parquet``.

    Raises SchemaDriftError (missing/renamed column, a value that does not fit its column's
    type) or SourceError (unreadable file); then nothing is left in staging.
    ``fingerprint_of``: the files the fingerprint covers (default ``landed``). ``con``: the
    connection to work on (load_dataset passes its lake connection); default a new one.
    """
    load_id = load_id or new_load_id()
    work = con if con is not None else _work_connection(workspace)
    try:
        target, rows = _stage_rows(workspace, spec, work, load_id,
                                   [(f.path, f.source_url) for f in landed])
    finally:
        if con is None:
            work.close()
    return _staged(spec, load_id, target, rows, landed, fingerprint_of)


def _staged(spec: DatasetSpec, load_id: str, target: Path, rows: int, landed: list[LandedFile],
            fingerprint_of: list[LandedFile] | None) -> StagedLoad:
    return StagedLoad(
        dataset=spec.name, load_id=load_id, path=target, rows=int(rows),
        schema=[(c.name, c.duckdb_type()) for c in spec.columns],
        sources=[SourceFile(f.source_url, f.sha256, str(f.path)) for f in landed],
        fingerprint=fingerprint(fingerprint_of if fingerprint_of is not None else landed),
        numbered=spec.load.mode == "upsert")


def _stage_rows(workspace: Workspace, spec: DatasetSpec, work: duckdb.DuckDBPyConnection,
                load_id: str, inputs: list[tuple[Path, str]]) -> tuple[Path, int]:
    """COPY the checked, typed rows of ``inputs`` ((path, label) pairs) to the staging file:
    (its path, rows). Nothing is left behind when it raises."""
    folder = staging_dir(workspace) / spec.name
    folder.mkdir(parents=True, exist_ok=True)
    target, workdir = folder / f"{load_id}.parquet", folder / f"{load_id}.work"
    numbered = spec.load.mode == "upsert"  # last wins: each row's file and row are kept
    try:
        relation = read_source(work, spec, [path for path, _ in inputs],
                               names=[label for _, label in inputs], workdir=workdir)
        types = {name: str(kind) for name, kind in zip(relation.columns, relation.types,
                                                        strict=True)}
        # One pass reads, checks and writes. Numbering rows makes DuckDB read a CSV on one
        # thread, so only upsert, which needs them, pays for it; a failed check reads again,
        # numbered, to say where.
        select = (checked_select(spec, types, SOURCE_VIEW, keep=_ROW_COLUMNS) if numbered
                  else checked_select(spec, types, UNNUMBERED_VIEW))
        try:
            rows = work.execute(f"COPY ({select}) TO {quote_literal(str(target))} "
                                f"(FORMAT parquet)").fetchone()[0]
        except duckdb.Error as exc:  # malformed rows surface while streaming, not at bind
            if CAST_FAILURE in str(exc):
                raise _cast_failures(work, spec, types, inputs) from None
            raise _name_file(exc, inputs) from exc
    except BaseException:
        target.unlink(missing_ok=True)
        raise
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return target, int(rows)


def _work_connection(workspace: Workspace) -> duckdb.DuckDBPyConnection:
    return _bounded(duckdb.connect(), workspace)


def _bounded(con: duckdb.DuckDBPyConnection, workspace: Workspace
             ) -> duckdb.DuckDBPyConnection:
    """Cap DuckDB's memory; beyond it, sorts and windows spill to staging/.duckdb-tmp.

    Rows need not keep the source's order (upsert orders by ``_source_row`` itself, and a
    table has no order), so DuckDB may write them as its threads finish: less buffering,
    and about 15% faster staging."""
    spill = staging_dir(workspace) / ".duckdb-tmp"
    con.execute(f"SET temp_directory = {quote_literal(str(spill))}")
    con.execute(f"SET memory_limit = '{MEMORY_LIMIT}'")
    con.execute("SET preserve_insertion_order = false")
    return con


def _name_file(exc: duckdb.Error, inputs: list[tuple[Path, str]]) -> SourceError:
    text = str(exc)
    for path, label in inputs:  # transcoded copies keep the file's name inside theirs
        if path.name in text:
            return source_error(label, exc)
    return source_error(inputs[0][1] if len(inputs) == 1 else "source", exc)


def _cast_failures(con: duckdb.DuckDBPyConnection, spec: DatasetSpec, types: dict[str, str],
                   inputs: list[tuple[Path, str]]) -> LoadError:
    """The SchemaDriftError for the values that did not fit their column's type.

    A second read of the source, numbered, once staging has stopped on such a value: how many
    failed in each column, and the first one's file, row and value.
    """
    labels = [label for _, label in inputs]
    sql = typed_select(spec, types, SOURCE_VIEW)
    bad = [c for c in spec.columns if BAD_PREFIX + c.name in con.sql(sql).columns]
    parts = []
    for c in bad:
        b = quote_identifier(BAD_PREFIX + c.name)
        parts.append(f"count({b}), arg_min({{'i': _source_index, 'r': _source_row, 'v': {b}}}, "
                     f"{{'i': _source_index, 'r': _source_row}}) FILTER (WHERE {b} IS NOT NULL)")
    try:
        found = con.execute(f"SELECT {', '.join(parts)} FROM ({sql})").fetchone() if bad else ()
    except duckdb.Error as exc:  # a malformed row further on
        return _name_file(exc, inputs)
    failures = [(c, found[2 * i], found[2 * i + 1]) for i, c in enumerate(bad)
                if found[2 * i]]
    if not failures:
        return LoadError(f"{spec.name}: a value did not fit its column's type, but a second "
                         f"read found none: was a source file changed during the load?")
    lines = []
    for column, count, first in failures:
        lines.append(f"{labels[first['i']]}: column {column.source} ({column.name}) is "
                     f"{column.type} in the spec, but {count} value{'s' if count > 1 else ''} "
                     f"{'are' if count > 1 else 'is'} not: first {first['v']!r} at row "
                     f"{first['r']}")
    column, _, first = failures[0]
    return SchemaDriftError("; ".join(lines), file=labels[first["i"]], column=column.source,
                            row=int(first["r"]))


# --- publish -------------------------------------------------------------------------------
def publish(workspace: Workspace, spec: DatasetSpec, staged: StagedLoad) -> LoadResult:
    """Write ``staged`` to the lake table in one DuckLake transaction (one new snapshot).

    replace: the table becomes the staged rows; append: they are added; upsert: rows whose
    primary key is staged are replaced (a key staged twice: the last file's last row wins).
    replace and append register the staged file itself as the table's data file (it is moved
    into the table's folder); upsert inserts its rows.
    When the lake already holds a commit of these exact sources that no load recorded (its
    process died before recording it), nothing is written: status 'unchanged' with that
    snapshot. Commit conflicts with other processes are retried with backoff. Takes the
    dataset's lock, as load_dataset does.
    """
    with _dataset_lock(workspace, spec.name):
        con = _bounded(connect_lake(workspace), workspace)
        try:
            return _publish(con, workspace, spec, staged)
        finally:
            con.close()


def _publish(con: duckdb.DuckDBPyConnection, workspace: Workspace, spec: DatasetSpec,
             staged: StagedLoad, *, settled: bool = False) -> LoadResult:
    """``settled``: every lake commit of the dataset is recorded in ``loads`` (load_dataset
    settled them under the lock), so none can be an unrecorded commit of these sources."""
    started = now_local()
    if not settled:
        with contextlib.closing(metadata.connect(workspace.metadata_db)) as meta:
            recorded = _published_load_ids(meta, spec.name)
        for snapshot in snapshots(con, extra_info={"dataset": spec.name,
                                                   "fingerprint": staged.fingerprint}):
            if snapshot["extra_info"].get("load_id") not in recorded:
                return _result(workspace, spec, staged, "unchanged", 0,
                               snapshot["snapshot_id"], started)
    data_file = _into_table(workspace, spec, staged)
    attempts = itertools.count()
    try:
        rows, snapshot_id = retry_on_conflict(lambda: _commit(
            con, spec, staged, data_file, retry=next(attempts) > 0))
    except BaseException:
        if data_file is not None:
            _discard(con, data_file, staged.load_id)
        raise
    return _result(workspace, spec, staged, "published", rows, snapshot_id, started)


def _result(workspace: Workspace, spec: DatasetSpec, staged: StagedLoad, status: str,
            rows: int, snapshot_id: int | None, started: str) -> LoadResult:
    return LoadResult(
        dataset=spec.name, load_id=staged.load_id, status=status, rows=rows,
        snapshot_id=snapshot_id, fingerprint=staged.fingerprint, schema=staged.schema,
        table=table_name(spec), location=str(table_location(workspace, spec.name)),
        started_at=started, finished_at=now_local())


def _into_table(workspace: Workspace, spec: DatasetSpec, staged: StagedLoad) -> Path | None:
    """Move the staged file into the table's folder, to become its data file; None when its
    rows are to be inserted instead (upsert, no rows, or the move failed: staging/ and lake/
    on different filesystems).

    In the table's folder DuckLake stores the file's path relative, so a moved workspace still
    finds it. Until the commit it is a file no snapshot references: readers never see it, and
    if the process dies the next load of the dataset deletes it.
    """
    if staged.numbered or staged.rows == 0 or spec.load.mode == "upsert":
        return None
    folder = table_location(workspace, spec.name)
    target = folder / f"{DATA_FILE_PREFIX}{staged.load_id}-{secrets.token_hex(4)}.parquet"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        os.rename(staged.path, target)
    except OSError:
        return None
    return target


def _discard(con: duckdb.DuckDBPyConnection, data_file: Path, load_id: str) -> None:
    """Delete a data file moved into the table for a commit that failed, unless it happened."""
    try:
        committed = _snapshot_of(con, load_id) is not None
    except duckdb.Error:  # cannot tell: the next load of the dataset deletes it if unused
        return
    if not committed:
        data_file.unlink(missing_ok=True)


def _remove_orphans(workspace: Workspace, spec: DatasetSpec,
                    lake: duckdb.DuckDBPyConnection) -> None:
    """Delete the data files dead loads moved into the table's folder but never committed.

    Only under the dataset's lock: no other load of the dataset is between move and commit.
    """
    folder = table_location(workspace, spec.name)
    moved = list(folder.glob(f"{DATA_FILE_PREFIX}*.parquet")) if folder.is_dir() else []
    if not moved:
        return
    known = data_file_names(lake)
    for path in moved:
        if path.name not in known:
            path.unlink(missing_ok=True)


def _commit(con: duckdb.DuckDBPyConnection, spec: DatasetSpec, staged: StagedLoad,
            data_file: Path | None, *, retry: bool = False) -> tuple[int, int]:
    """One transaction: (rows written, snapshot id). Rolled back on any error."""
    done = _snapshot_of(con, staged.load_id) if retry else None
    if done is not None:  # a retried commit that had in fact succeeded
        return done
    table, mode = qualified(spec.name), spec.load.mode
    source = f"read_parquet({quote_literal(str(staged.path))})"
    names = ", ".join(quote_identifier(name) for name, _ in staged.schema)
    con.execute("BEGIN")
    try:
        created = _fit_table(con, spec, staged.schema)
        if mode == "replace" and not created:
            con.execute(f"DELETE FROM {table}")
        if data_file is not None:
            add_data_file(con, spec.name, data_file)
            rows = staged.rows
        else:
            rows_sql = f"SELECT {names} FROM {source}"
            if mode == "upsert":
                keys = [quote_identifier(k) for k in spec.primary_key]
                any_null = " OR ".join(f"{k} IS NULL" for k in keys)
                # Last wins: files are in sorted source order (monthly files: the latest).
                rows_sql += (f" QUALIFY ({any_null}) OR row_number() OVER (PARTITION BY "
                             f"{', '.join(keys)} ORDER BY _source_index DESC, "
                             f"_source_row DESC) = 1")
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
    snapshot_id = last_committed_snapshot(con)
    if snapshot_id is None:
        found = _snapshot_of(con, staged.load_id)
        if found is not None:
            return found
        if int(rows) == 0:
            # Nothing changed (say, an append of a header-only file): DuckLake makes no
            # snapshot, so the live version stays current. Repeating it is harmless.
            return 0, current_snapshot(con)
        raise LoadError(f"{spec.name}: the lake commit of load {staged.load_id} left no snapshot")
    return int(rows), snapshot_id


def _fit_table(con: duckdb.DuckDBPyConnection, spec: DatasetSpec,
               schema: list[tuple[str, str]]) -> bool:
    """Create the table, or bring its columns in line with the spec; True when (re)created."""
    table, existing = qualified(spec.name), dict(table_schema(con, spec.name))
    columns = ", ".join(f"{quote_identifier(n)} {t}" for n, t in schema)
    if not existing:
        con.execute(f"CREATE TABLE {table} ({columns})")
        return True
    if existing == dict(schema) and list(existing) == [n for n, _ in schema]:
        return False
    if spec.load.mode == "replace":  # the old version stays readable at its snapshot
        con.execute(f"DROP TABLE {table}")
        con.execute(f"CREATE TABLE {table} ({columns})")
        return True
    for name, kind in schema:
        if name not in existing:
            con.execute(f"ALTER TABLE {table} ADD COLUMN {quote_identifier(name)} {kind}")
        elif existing[name] != kind:
            raise LoadError(f"{spec.name}: column {name} is {existing[name]} in the table but "
                            f"{kind} in the spec; {spec.load.mode} cannot change a column's "
                            f"type: load once with mode replace", column=name)
    return False


def _snapshot_of(con: duckdb.DuckDBPyConnection, load_id: str) -> tuple[int, int] | None:
    """(rows, snapshot id) of the lake commit a load made, None when it made none."""
    for snapshot in snapshots(con, extra_info={"load_id": load_id}):
        return int(snapshot["extra_info"].get("rows") or 0), snapshot["snapshot_id"]
    return None


# --- load ----------------------------------------------------------------------------------
def load_dataset(workspace: Workspace, spec: DatasetSpec, *, force: bool = False,
                 gate: Gate | None = None,
                 after_publish: Callable[[LoadResult], None] | None = None) -> LoadResult:
    """Land, stage and publish ``spec``'s source; record the attempt in ``loads``.

    Status 'unchanged' (nothing written) when the landed files are those of the last
    published load, or of a later load that was blocked or rejected, unless ``force``. In
    append mode only files not appended before are loaded (unless ``force``). On failure the
    live table is untouched, the raw files stay in landing/, the attempt is recorded 'failed'
    and the LoadError is raised.

    ``gate`` (the quality layer's validation) judges the staged rows before anything is
    published: when it blocks them they are moved to ``held/<dataset>/<load_id>.parquet``,
    the load is recorded 'blocked' and the live table stays as it was, until
    ``publish_held`` (a steward accepted) or ``reject_held``.

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
            # Landing (a copy and a sha256, mostly outside the GIL) runs on a thread while the
            # lake connection opens and earlier loads are settled: neither needs the other.
            with ThreadPoolExecutor(1, thread_name_prefix=f"land-{spec.name}") as pool:
                landing = pool.submit(_land, workspace, spec)
                with contextlib.closing(_bounded(connect_lake(workspace), workspace)) as lake:
                    return _load(workspace, spec, meta, lake, landing, load_id, started,
                                 force, gate, after_publish)
        except BaseException as exc:
            _record_failure(meta, load_id, exc)
            raise


def _land(workspace: Workspace, spec: DatasetSpec) -> list[LandedFile]:
    try:
        return land(spec.source.url, workspace.landing_dir, spec.name,
                    storage_options=spec.source.storage_options)
    except LandingError as exc:
        raise SourceError(str(exc), file=spec.source.url) from exc


def _load(workspace: Workspace, spec: DatasetSpec, meta: sqlite3.Connection,
          lake: duckdb.DuckDBPyConnection, landing: Future[list[LandedFile]], load_id: str,
          started: str, force: bool, gate: Gate | None,
          after_publish: Callable[[LoadResult], None] | None) -> LoadResult:
    _settle_earlier_loads(workspace, spec, meta, lake, load_id)
    _remove_orphans(workspace, spec, lake)  # data files of dead loads, never committed
    shutil.rmtree(staging_dir(workspace) / spec.name, ignore_errors=True)  # a dead run's files
    last = meta.execute("SELECT * FROM loads WHERE dataset = ? AND status = 'published' "
                        "ORDER BY snapshot_id DESC LIMIT 1", (spec.name,)).fetchone()
    early = _stage_early(workspace, spec, lake, load_id, last, force)
    try:
        landed = landing.result()
    except BaseException:
        if early:
            early.discard()
        raise
    source_fingerprint = fingerprint(landed)
    files = landed
    if spec.load.mode == "append" and not force:  # append each file's rows once
        done = {s["sha256"] for row in meta.execute(
            "SELECT sources FROM loads WHERE dataset = ? AND status = 'published'",
            (spec.name,)) for s in json.loads(row["sources"])}
        files = [f for f in landed if f.sha256 not in done]
    _write(meta, "UPDATE loads SET fingerprint = ?, sources = ? WHERE load_id = ?",
           source_fingerprint, _sources_json(files or landed), load_id)
    judged = None if force else _judged_since(meta, spec.name, last, source_fingerprint)
    if not files or judged is not None or (
            not force and last is not None and last["fingerprint"] == source_fingerprint):
        if early:
            early.discard()
        result = LoadResult(
            dataset=spec.name, load_id=load_id, status="unchanged", rows=0,
            snapshot_id=last["snapshot_id"] if last else None, fingerprint=source_fingerprint,
            schema=[tuple(p) for p in json.loads(last["schema"] or "[]")] if last else [],
            table=table_name(spec), location=str(table_location(workspace, spec.name)),
            started_at=started, finished_at=now_local(),
            quality_run_id=(judged or last)["quality_run_id"] if (judged or last) else None,
            quality=(judged or last)["quality"] if (judged or last) else None)
    else:
        if early and early.matches(landed):
            if early.error is not None:
                raise early.error
            staged = _staged(spec, load_id, early.target, early.rows, files, landed)
        else:
            if early:
                early.discard()
            staged = stage(workspace, spec, files, load_id=load_id, fingerprint_of=landed,
                           con=lake)
        try:
            verdict = gate(staged) if gate is not None else None
            if verdict is not None and verdict.blocked:
                result = _hold(workspace, spec, meta, staged, verdict, last, started)
            else:
                result = replace(_publish(lake, workspace, spec, staged, settled=True),
                                 started_at=started)
                if verdict is not None:
                    result = replace(result, quality_run_id=verdict.run_id,
                                     quality=verdict.quality)
        finally:
            staged.path.unlink(missing_ok=True)
        if after_publish is not None and result.status == "published":
            after_publish(result)
    _write(meta, "UPDATE loads SET status = ?, rows = ?, schema = ?, snapshot_id = ?, "
                 "finished_at = ?, quality_run_id = ?, quality = ? WHERE load_id = ?",
           result.status, result.rows, json.dumps(result.schema), result.snapshot_id,
           result.finished_at, result.quality_run_id, result.quality, load_id)
    return result


def _judged_since(meta: sqlite3.Connection, dataset: str, last: sqlite3.Row | None,
                  source_fingerprint: str) -> sqlite3.Row | None:
    """The latest load of these same files that was blocked or rejected after the last
    published one: a steward has (or will have) judged them; validating again adds nothing."""
    return meta.execute(
        "SELECT * FROM loads WHERE dataset = ? AND status IN ('blocked', 'rejected') "
        "AND fingerprint = ? AND rowid > ? ORDER BY rowid DESC LIMIT 1",
        (dataset, source_fingerprint, _rowid(meta, last))).fetchone()


def _rowid(meta: sqlite3.Connection, row: sqlite3.Row | None) -> int:
    """A load's place in the order loads started (started_at is to the second only)."""
    if row is None:
        return 0
    return meta.execute("SELECT rowid FROM loads WHERE load_id = ?",
                        (row["load_id"],)).fetchone()[0]


# --- held loads (blocked by the quality gate) ----------------------------------------------
def held_dir(workspace: Workspace) -> Path:
    return workspace.held_dir


def _hold(workspace: Workspace, spec: DatasetSpec, meta: sqlite3.Connection, staged: StagedLoad,
          verdict: GateVerdict, last: sqlite3.Row | None, started: str) -> LoadResult:
    """Keep a blocked load's staged rows for a steward: ``held/<dataset>/<load_id>.parquet``."""
    folder = held_dir(workspace) / spec.name
    folder.mkdir(parents=True, exist_ok=True)
    held = folder / staged.path.name
    os.replace(staged.path, held)
    _write(meta, "UPDATE loads SET held_path = ? WHERE load_id = ?", str(held), staged.load_id)
    return LoadResult(
        dataset=spec.name, load_id=staged.load_id, status="blocked", rows=staged.rows,
        snapshot_id=last["snapshot_id"] if last else None, fingerprint=staged.fingerprint,
        schema=staged.schema, table=table_name(spec),
        location=str(table_location(workspace, spec.name)), started_at=started,
        finished_at=now_local(), quality_run_id=verdict.run_id, quality="blocked")


def publish_held(workspace: Workspace, spec: DatasetSpec, load_id: str, *,
                 over_newer: bool = False) -> LoadResult:
    """Publish a blocked load's held rows (a steward accepted them): one new snapshot.

    Refused (LoadError) when the load is not blocked, or when, in replace or upsert mode, a
    later load of the dataset has been published since (the held rows are older and would
    overwrite it), unless ``over_newer``.
    """
    with _dataset_lock(workspace, spec.name), \
            contextlib.closing(metadata.connect(workspace.metadata_db)) as meta:
        row = _held_row(meta, spec.name, load_id)
        newer = meta.execute(
            "SELECT load_id FROM loads WHERE dataset = ? AND status = 'published' "
            "AND rowid > ? ORDER BY rowid DESC LIMIT 1",
            (spec.name, _rowid(meta, row))).fetchone()
        if newer is not None and spec.load.mode != "append" and not over_newer:
            raise LoadError(f"{spec.name}: load {newer['load_id']} was published after the "
                            f"blocked load {load_id}; publishing the older rows would replace "
                            f"it (accept with over_newer to do so anyway)")
        held = Path(row["held_path"])
        if not held.exists():
            raise LoadError(f"{spec.name}: the held rows of load {load_id} are gone ({held})")
        sources = json.loads(row["sources"] or "[]")
        staged = StagedLoad(
            dataset=spec.name, load_id=load_id, path=held, rows=int(row["rows"] or 0),
            schema=[tuple(p) for p in json.loads(row["schema"] or "[]")],
            sources=[SourceFile(s.get("url") or "", s["sha256"], s.get("landed_path") or "")
                     for s in sources],
            fingerprint=row["fingerprint"], numbered=spec.load.mode == "upsert")
        with contextlib.closing(_bounded(connect_lake(workspace), workspace)) as lake:
            _settle_earlier_loads(workspace, spec, meta, lake, load_id)
            result = _publish(lake, workspace, spec, staged)
        held.unlink(missing_ok=True)
        _write(meta, "UPDATE loads SET status = 'published', snapshot_id = ?, held_path = NULL, "
                     "finished_at = ? WHERE load_id = ?",
               result.snapshot_id, result.finished_at, load_id)
        return replace(result, status="published", started_at=row["started_at"],
                       quality_run_id=row["quality_run_id"], quality=row["quality"])


def reject_held(workspace: Workspace, dataset: str, load_id: str) -> None:
    """Keep a blocked load out for good (a steward rejected it): its held rows are deleted;
    the raw files stay in landing/."""
    with _dataset_lock(workspace, dataset), \
            contextlib.closing(metadata.connect(workspace.metadata_db)) as meta:
        row = _held_row(meta, dataset, load_id)
        Path(row["held_path"]).unlink(missing_ok=True)
        _write(meta, "UPDATE loads SET status = 'rejected', held_path = NULL WHERE load_id = ?",
               load_id)


def _held_row(meta: sqlite3.Connection, dataset: str, load_id: str) -> sqlite3.Row:
    row = meta.execute("SELECT * FROM loads WHERE load_id = ? AND dataset = ?",
                       (load_id, dataset)).fetchone()
    if row is None:
        raise LoadError(f"{dataset}: no load {load_id}")
    if row["status"] != "blocked":
        raise LoadError(f"{dataset}: load {load_id} is {row['status']}, not blocked")
    return row


@dataclass
class _EarlyStage:
    """Rows staged straight from local source files while landing copies and hashes them.

    They are the landed content only if no source file changed meanwhile: each file's size,
    mtime and inode are the same before staging and after landing (the test make and rsync
    rely on). Otherwise they are discarded and the landed files staged instead.
    """

    files: list[tuple[str, Path]]
    before: list[tuple[int, int, int]]
    target: Path | None
    rows: int = 0
    error: LoadError | None = None

    def matches(self, landed: list[LandedFile]) -> bool:
        try:
            after = [_file_state(path) for _, path in self.files]
        except OSError:
            return False
        return (after == self.before
                and [url for url, _ in self.files] == [f.source_url for f in landed]
                and [state[0] for state in after] == [f.size for f in landed])

    def discard(self) -> None:
        if self.target is not None:
            self.target.unlink(missing_ok=True)


def _file_state(path: Path) -> tuple[int, int, int]:
    stat = path.stat()
    return stat.st_size, stat.st_mtime_ns, stat.st_ino


def _stage_early(workspace: Workspace, spec: DatasetSpec, lake: duckdb.DuckDBPyConnection,
                 load_id: str, last: sqlite3.Row | None, force: bool) -> _EarlyStage | None:
    """Stage a local source while it is being landed (the two overlap: landing is a copy and a
    hash, staging a DuckDB scan), unless it looks unchanged since the last published load (same
    sizes and mtimes): then landing's hash decides, and usually nothing is staged at all.

    Not for append (only files not appended before are staged) or remote sources (they are
    read once, by landing).
    """
    if spec.load.mode == "append":
        return None
    try:
        files = local_source_files(spec.source.url,
                                   storage_options=spec.source.storage_options)
        before = [_file_state(path) for _, path in files or []]
    except (LandingError, OSError):
        return None  # landing reports it
    if not files:
        return None
    seen = {s.get("url"): (s.get("size"), s.get("mtime_ns"))
            for s in json.loads(last["sources"] or "[]")} if last is not None else {}
    if not force and all(seen.get(url) == state[:2]
                         for (url, _), state in zip(files, before, strict=True)):
        return None
    early = _EarlyStage(files=files, before=before, target=None)
    try:
        early.target, early.rows = _stage_rows(workspace, spec, lake, load_id,
                                               [(path, url) for url, path in files])
    except LoadError as exc:
        early.error = exc
    return early


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
    """The files of a load; for local sources also the source's mtime, which lets the next
    load tell a probably-unchanged source (see _stage_early)."""
    records = []
    for f in files:
        record = {"url": f.source_url, "sha256": f.sha256, "landed_path": str(f.path),
                  "size": f.size}
        if "://" not in f.source_url:
            with contextlib.suppress(OSError):
                record["mtime_ns"] = Path(f.source_url).stat().st_mtime_ns
        records.append(record)
    return json.dumps(records, ensure_ascii=False)


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
        error=row["error"], quality_run_id=row["quality_run_id"], quality=row["quality"])
        for row in rows]
