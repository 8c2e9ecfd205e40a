"""Settling what a dead run left: a lake commit no load recorded, 'started' loads whose process
died, data and delete files written into a table's folder but never committed (moved in
by Mulu or written by DuckLake), staged files.

A process killed after the lake commit but before recording it leaves a snapshot no ``loads``
row calls published; the next load of the dataset records it instead of writing the rows again.
Everything here runs under the dataset's lock, so no other load of the dataset is running.
"""

from __future__ import annotations

import logging
import posixpath
import shutil

import duckdb

from schemas.dataset_spec import DatasetSpec
from warehouse.lake import data_file_names, delete_files, snapshots, table_files, table_location
from warehouse.load.results import now_local, table_name
from warehouse.store import Store
from warehouse.workspace import Workspace

log = logging.getLogger(__name__)
ABANDONED = (
    "abandoned: the process stopped before the load finished; the lake holds no commit of it"
)


def settle_earlier_loads(
    workspace: Workspace,
    spec: DatasetSpec,
    store: Store,
    lake: duckdb.DuckDBPyConnection,
    current: str,
) -> None:
    """Record lake commits whose process died before recording them; fail other leftovers
    ('started' loads of the dataset other than ``current``: their processes are dead)."""
    recorded = store.loads.published_load_ids(spec.name)
    unrecorded = [
        s
        for s in snapshots(lake, extra_info={"dataset": spec.name})
        if s["extra_info"].get("load_id") not in (None, *recorded)
    ]
    for snapshot in unrecorded:
        info = snapshot["extra_info"]
        known = store.loads.get(info["load_id"])
        sources = (
            known["sources"]
            if known and known["sources"]
            else [{"url": None, "sha256": s, "landed_path": None} for s in info["sources"]]
        )
        store.loads.record_lake_commit(
            info["load_id"],
            dataset=spec.name,
            entry_code=spec.entry_code,
            table_name=table_name(spec),
            location=str(table_location(workspace, spec.name)),
            fingerprint=info.get("fingerprint"),
            sources=sources,
            rows=info.get("rows"),
            schema=info.get("schema") or [],
            snapshot_id=snapshot["snapshot_id"],
            committed_at=snapshot["snapshot_time"],
        )
    store.loads.abandon_started(
        spec.name, except_load_id=current, finished_at=now_local(), error=ABANDONED
    )


def remove_leftover_files(
    workspace: Workspace, spec: DatasetSpec, lake: duckdb.DuckDBPyConnection
) -> list[str]:
    """Delete the Parquet files in the table's folder that the lake does not know, and
    whatever dead loads left in ``staging/<dataset>/``; return the files deleted.

    A load killed inside its lake transaction leaves files no snapshot references: a staged
    file moved in to become a data file (``mulu-…``), and what DuckLake wrote before the
    commit (``ducklake-….parquet`` inserted rows, ``ducklake-…-delete.parquet`` deleted ones:
    ~38 MB per 1M-row upsert). A file is kept when any snapshot references it as a data or
    delete file (old versions stay readable) or DuckLake's own cleanup has it scheduled.
    This runs under the dataset's lock, so no live load of the dataset is writing here."""
    removed: list[str] = []
    found = table_files(workspace, spec.name)  # a folder, or an s3:// prefix
    if found:
        known = data_file_names(lake)
        removed = [name for name in found if posixpath.basename(name) not in known]
        delete_files(workspace, removed)
    if removed:
        log.info(
            "%s: removed %d file(s) no lake snapshot references, left by a killed load: %s",
            spec.name,
            len(removed),
            ", ".join(posixpath.basename(name) for name in removed),
        )
    shutil.rmtree(workspace.staging_dir / spec.name, ignore_errors=True)
    return removed
