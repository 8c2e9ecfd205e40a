"""Publishing staged rows: one DuckLake transaction, one new snapshot, exactly once.

The rows are written once: for replace and append the staged Parquet file is moved into the
table's folder and registered as the table's data file (``ducklake_add_data_files``), not
copied into a new one; upsert inserts them, to apply its last-row-wins rule.

Exactly-once: each lake commit carries ``{dataset, load_id, fingerprint, sources}`` as its
extra_info. A commit that a retry finds already made (by load id) is not made again; a commit
of the same sources that no load recorded (by fingerprint: its process died before recording
it) is not repeated (``settle`` records it).
"""

from __future__ import annotations

import contextlib
import itertools
import os
import secrets
from pathlib import Path

import duckdb

from schemas.dataset_spec import DatasetSpec
from warehouse.lake import (
    add_data_file,
    connect_lake,
    current_snapshot,
    last_committed_snapshot,
    qualified,
    quote_identifier,
    quote_literal,
    retry_on_conflict,
    set_commit_message,
    snapshots,
    table_folder,
    table_location,
    table_schema,
)
from warehouse.load.errors import LoadConflict
from warehouse.load.ledger import open_store
from warehouse.load.lock import dataset_lock
from warehouse.load.results import LoadResult, StagedLoad, now_local, table_name
from warehouse.load.staging import bounded
from warehouse.read import LoadError
from warehouse.store import Store
from warehouse.workspace import Workspace

COMMIT_AUTHOR = "mulu"
# Staged files registered as a table's data files are named mulu-<load_id>-<random>.parquet in
# the table's folder (DuckLake's own are ducklake-<uuid>.parquet).
DATA_FILE_PREFIX = "mulu-"


def publish(
    workspace: Workspace, spec: DatasetSpec, staged: StagedLoad, *, store: Store | None = None
) -> LoadResult:
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
    with dataset_lock(workspace, spec.name), open_store(workspace, store) as opened:
        recorded = opened.loads.published_load_ids(spec.name)
        with contextlib.closing(bounded(connect_lake(workspace), workspace)) as con:
            return publish_staged(con, workspace, spec, staged, recorded=recorded)


def publish_staged(
    con: duckdb.DuckDBPyConnection,
    workspace: Workspace,
    spec: DatasetSpec,
    staged: StagedLoad,
    *,
    recorded: set[str] | None = None,
) -> LoadResult:
    """``publish`` on the lake connection ``con``, under the dataset's lock.

    ``recorded``: the load ids ``loads`` records as published, to find an unrecorded commit of
    these sources; None when every lake commit of the dataset is recorded (load_dataset settled
    them under the lock), so none can be one."""
    started = now_local()
    if recorded is not None:
        for snapshot in snapshots(
            con, extra_info={"dataset": spec.name, "fingerprint": staged.fingerprint}
        ):
            if snapshot["extra_info"].get("load_id") not in recorded:
                return _result(
                    workspace, spec, staged, "unchanged", 0, snapshot["snapshot_id"], started
                )
    data_file = _into_table(workspace, spec, staged)
    attempts = itertools.count()
    try:
        rows, snapshot_id = retry_on_conflict(
            lambda: _commit(con, spec, staged, data_file, retry=next(attempts) > 0)
        )
    except BaseException:
        if data_file is not None:
            _discard(con, data_file, staged.load_id)
        raise
    return _result(workspace, spec, staged, "published", rows, snapshot_id, started)


def _result(
    workspace: Workspace,
    spec: DatasetSpec,
    staged: StagedLoad,
    status: str,
    rows: int,
    snapshot_id: int | None,
    started: str,
) -> LoadResult:
    return LoadResult(
        dataset=spec.name,
        load_id=staged.load_id,
        status=status,
        rows=rows,
        snapshot_id=snapshot_id,
        fingerprint=staged.fingerprint,
        schema=staged.schema,
        table=table_name(spec),
        location=str(table_location(workspace, spec.name)),
        started_at=started,
        finished_at=now_local(),
    )


def _into_table(workspace: Workspace, spec: DatasetSpec, staged: StagedLoad) -> Path | None:
    """Move the staged file into the table's folder, to become its data file; None when its
    rows are to be inserted instead (upsert, no rows, the lake's files on object storage, or the
    move failed: staging/ and lake/ on different filesystems).

    In the table's folder DuckLake stores the file's path relative, so a moved workspace still
    finds it. Until the commit it is a file no snapshot references: readers never see it, and
    if the process dies the next load of the dataset deletes it (``settle.remove_orphans``).
    """
    if staged.numbered or staged.rows == 0 or spec.load.mode == "upsert":
        return None
    folder = table_folder(workspace, spec.name)
    if folder is None:  # on object storage: DuckLake writes the rows there itself
        return None
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
        committed = snapshot_of(con, load_id) is not None
    except duckdb.Error:  # cannot tell: the next load of the dataset deletes it if unused
        return
    if not committed:
        data_file.unlink(missing_ok=True)


def _commit(
    con: duckdb.DuckDBPyConnection,
    spec: DatasetSpec,
    staged: StagedLoad,
    data_file: Path | None,
    *,
    retry: bool = False,
) -> tuple[int, int]:
    """One transaction: (rows written, snapshot id). Rolled back on any error."""
    done = snapshot_of(con, staged.load_id) if retry else None
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
                rows_sql += (
                    f" QUALIFY ({any_null}) OR row_number() OVER (PARTITION BY "
                    f"{', '.join(keys)} ORDER BY _source_index DESC, "
                    f"_source_row DESC) = 1"
                )
                match = " AND ".join(f"{table}.{k} = s.{k}" for k in keys)
                con.execute(
                    f"DELETE FROM {table} USING (SELECT DISTINCT {', '.join(keys)} "
                    f"FROM {source}) AS s WHERE {match}"
                )
            inserted = con.execute(f"INSERT INTO {table} ({names}) {rows_sql}").fetchone()
            rows = int(inserted[0]) if inserted else 0
        set_commit_message(
            con,
            COMMIT_AUTHOR,
            f"{mode} {spec.name}: {rows} rows",
            {
                "dataset": spec.name,
                "load_id": staged.load_id,
                "mode": mode,
                "fingerprint": staged.fingerprint,
                "rows": rows,
                "sources": [s.sha256 for s in staged.sources],
                "schema": [list(pair) for pair in staged.schema],
            },
        )
        con.execute("COMMIT")
    except BaseException:
        with contextlib.suppress(duckdb.Error):
            con.execute("ROLLBACK")
        raise
    snapshot_id = last_committed_snapshot(con)
    if snapshot_id is None:
        found = snapshot_of(con, staged.load_id)
        if found is not None:
            return found
        if rows == 0:
            # Nothing changed (say, an append of a header-only file): DuckLake makes no
            # snapshot, so the live version stays current. Repeating it is harmless.
            return 0, current_snapshot(con)
        raise LoadError(f"{spec.name}: the lake commit of load {staged.load_id} left no snapshot")
    return rows, snapshot_id


def _fit_table(
    con: duckdb.DuckDBPyConnection, spec: DatasetSpec, schema: list[tuple[str, str]]
) -> bool:
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
            raise LoadConflict(
                f"{spec.name}: column {name} is {existing[name]} in the table "
                f"but {kind} in the spec; {spec.load.mode} cannot change a "
                f"column's type: load once with mode replace",
                column=name,
            )
    return False


def snapshot_of(con: duckdb.DuckDBPyConnection, load_id: str) -> tuple[int, int] | None:
    """(rows, snapshot id) of the lake commit a load made, None when it made none."""
    for snapshot in snapshots(con, extra_info={"load_id": load_id}):
        return int(snapshot["extra_info"].get("rows") or 0), snapshot["snapshot_id"]
    return None
