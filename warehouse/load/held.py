"""Held loads (待审核): staged rows the quality gate blocked, kept in
``held/<dataset>/<load_id>.parquet`` until a steward publishes or rejects them; the live table
stays as it was meanwhile."""

from __future__ import annotations

import contextlib
import os
import shutil
from dataclasses import replace
from pathlib import Path
from typing import Any

from schemas.dataset_spec import DatasetSpec
from warehouse.lake import LakeMissingError, connect_lake, table_location
from warehouse.load.commit import publish_staged, snapshot_of
from warehouse.load.errors import HeldRowsMissing, LoadConflict, LoadNotFound
from warehouse.load.ledger import open_store, result_of
from warehouse.load.lock import dataset_lock
from warehouse.load.results import (
    GateVerdict,
    LoadResult,
    SourceFile,
    StagedLoad,
    now_local,
    table_name,
)
from warehouse.load.settle import remove_leftover_files, settle_earlier_loads
from warehouse.load.staging import bounded
from warehouse.store import Store
from warehouse.workspace import Workspace


def hold(
    workspace: Workspace,
    spec: DatasetSpec,
    store: Store,
    staged: StagedLoad,
    verdict: GateVerdict,
    last: dict[str, Any] | None,
    started: str,
) -> LoadResult:
    """Keep a blocked load's staged rows for a steward; the result names the live snapshot
    (``last``, the last published load), which stays."""
    folder = workspace.held_dir / spec.name
    folder.mkdir(parents=True, exist_ok=True)
    held = folder / staged.path.name
    os.replace(staged.path, held)
    store.loads.hold(staged.load_id, str(held))
    return LoadResult(
        dataset=spec.name,
        load_id=staged.load_id,
        status="blocked",
        rows=staged.rows,
        snapshot_id=last["snapshot_id"] if last else None,
        fingerprint=staged.fingerprint,
        schema=staged.schema,
        table=table_name(spec),
        location=str(table_location(workspace, spec.name)),
        started_at=started,
        finished_at=now_local(),
        quality_run_id=verdict.run_id,
        quality="blocked",
    )


def publish_held(
    workspace: Workspace,
    spec: DatasetSpec,
    load_id: str,
    *,
    over_newer: bool = False,
    store: Store | None = None,
) -> LoadResult:
    """Publish a blocked load's held rows (a steward accepted them): one new snapshot, the
    load recorded published, the held file removed. (A steward's review does these steps
    itself as one recoverable operation: ``quality.runs.review_run``.)

    Refused (LoadConflict) when the load is not blocked, or when, in replace or upsert mode, a
    later load of the dataset has been published since (the held rows are older and would
    overwrite it), unless ``over_newer``; LoadNotFound when there is no such load,
    HeldRowsMissing when its rows are gone.
    """
    with dataset_lock(workspace, spec.name), open_store(workspace, store) as opened:
        held = _held_record(opened, spec.name, load_id)["held_path"]
        result = commit_held(workspace, spec, opened, load_id, over_newer=over_newer)
        opened.loads.publish_held(
            load_id, snapshot_id=result.snapshot_id, finished_at=result.finished_at
        )
        remove_held_file(workspace, spec.name, held)
        return result


def commit_held(
    workspace: Workspace,
    spec: DatasetSpec,
    store: Store,
    load_id: str,
    *,
    over_newer: bool = False,
) -> LoadResult:
    """The lake commit of a blocked load's held rows, exactly once by load id (a commit the
    lake already holds is returned, not repeated); the caller holds the dataset's lock and
    records the outcome. The held file stays until the caller removes it: the table gets a
    hard link (or a copy) of it, so a process killed before the commit loses nothing.

    Refused as ``publish_held`` says."""
    record = _held_record(store, spec.name, load_id)
    with contextlib.closing(bounded(connect_lake(workspace), workspace)) as lake:
        done = snapshot_of(lake, load_id)
        if done is not None:
            rows, snapshot_id = done
            return replace(
                result_of(record),
                status="published",
                rows=rows,
                snapshot_id=snapshot_id,
                finished_at=now_local(),
            )
        newer = store.loads.published_after(spec.name, load_id)
        if newer is not None and spec.load.mode != "append" and not over_newer:
            raise LoadConflict(
                f"{spec.name}: load {newer} was published after the blocked "
                f"load {load_id}; publishing the older rows would replace it "
                f"(accept with over_newer to do so anyway)"
            )
        held = Path(record["held_path"])
        if not held.exists():
            raise HeldRowsMissing(f"{spec.name}: the held rows of load {load_id} are gone ({held})")
        settle_earlier_loads(workspace, spec, store, lake, load_id)
        staged = StagedLoad(
            dataset=spec.name,
            load_id=load_id,
            path=_link_for_commit(workspace, spec.name, held, load_id),
            rows=int(record["rows"] or 0),
            schema=list(record["schema"]),
            sources=[
                SourceFile(s.get("url") or "", s["sha256"], s.get("landed_path") or "")
                for s in record["sources"]
            ],
            fingerprint=record["fingerprint"],
            numbered=spec.load.mode == "upsert",
        )
        try:
            result = publish_staged(
                lake, workspace, spec, staged, recorded=store.loads.published_load_ids(spec.name)
            )
        finally:
            staged.path.unlink(missing_ok=True)
    return replace(
        result,
        status="published",
        started_at=record["started_at"],
        quality_run_id=record["quality_run_id"],
        quality=record["quality"],
    )


def held_commit(workspace: Workspace, load_id: str) -> tuple[int, int] | None:
    """(rows, snapshot id) of the lake commit of ``load_id``; None when the lake holds none."""
    try:
        lake = connect_lake(workspace, read_only=True)
    except LakeMissingError:
        return None
    with contextlib.closing(lake):
        return snapshot_of(lake, load_id)


def discard_attempt(workspace: Workspace, spec: DatasetSpec) -> None:
    """Remove what a publish that did not commit left (its link in staging/, a data file in the
    table's folder no snapshot references). Call with the dataset's lock held."""
    try:
        lake = connect_lake(workspace, read_only=True)
    except LakeMissingError:
        shutil.rmtree(workspace.staging_dir / spec.name, ignore_errors=True)
        return
    with contextlib.closing(lake):
        remove_leftover_files(workspace, spec, lake)


def reject_held(
    workspace: Workspace, dataset: str, load_id: str, *, store: Store | None = None
) -> None:
    """Keep a blocked load out for good (a steward rejected it): its held rows are deleted;
    the raw files stay in landing/."""
    with dataset_lock(workspace, dataset), open_store(workspace, store) as opened:
        held = _held_record(opened, dataset, load_id)["held_path"]
        opened.loads.reject_held(load_id)
        remove_held_file(workspace, dataset, held)


def remove_held_file(workspace: Workspace, dataset: str, held: str | None) -> None:
    """Delete a decided load's held file: only ever one in this workspace's held/<dataset>/
    (a path kept from elsewhere, say the original of a copied workspace, is left alone)."""
    if held and workspace.contains(held, workspace.held_dir / dataset):
        Path(held).unlink(missing_ok=True)


def stray_held_files(workspace: Workspace, store: Store, dataset: str) -> list[Path]:
    """Files in held/<dataset>/ no blocked load waits on (a process died after its decision
    was recorded, before it removed the file). Meaningful under the dataset's lock only."""
    folder = workspace.held_dir / dataset
    if not folder.is_dir():
        return []
    stray = []
    for path in folder.glob("*.parquet"):
        record = store.loads.get(path.stem)
        if record is not None and record["status"] in ("published", "rejected"):
            stray.append(path)
    return stray


def _link_for_commit(workspace: Workspace, dataset: str, held: Path, load_id: str) -> Path:
    """A second name for the held file in staging/, for the commit to move into the table."""
    folder = workspace.staging_dir / dataset
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{load_id}.held.parquet"
    target.unlink(missing_ok=True)
    try:
        os.link(held, target)
    except OSError:  # another filesystem, or no hard links: a copy
        shutil.copyfile(held, target)
    return target


def _held_record(store: Store, dataset: str, load_id: str) -> dict[str, Any]:
    record = store.loads.get(load_id)
    if record is None or record["dataset"] != dataset:
        raise LoadNotFound(f"{dataset}: no load {load_id}")
    if record["status"] != "blocked":
        raise LoadConflict(f"{dataset}: load {load_id} is {record['status']}, not blocked")
    return record
