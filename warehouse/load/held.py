"""Held loads (待审核): staged rows the quality gate blocked, kept in
``held/<dataset>/<load_id>.parquet`` until a steward publishes or rejects them; the live table
stays as it was meanwhile."""

from __future__ import annotations

import contextlib
import os
from dataclasses import replace
from pathlib import Path
from typing import Any

from schemas.dataset_spec import DatasetSpec
from warehouse.lake import connect_lake, table_location
from warehouse.load.commit import publish_staged
from warehouse.load.errors import HeldRowsMissing, LoadConflict, LoadNotFound
from warehouse.load.ledger import open_store
from warehouse.load.lock import dataset_lock
from warehouse.load.results import (
    GateVerdict,
    LoadResult,
    SourceFile,
    StagedLoad,
    now_local,
    table_name,
)
from warehouse.load.settle import settle_earlier_loads
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
    """Publish a blocked load's held rows (a steward accepted them): one new snapshot.

    Refused (LoadConflict) when the load is not blocked, or when, in replace or upsert mode, a
    later load of the dataset has been published since (the held rows are older and would
    overwrite it), unless ``over_newer``; LoadNotFound when there is no such load,
    HeldRowsMissing when its rows are gone.
    """
    with dataset_lock(workspace, spec.name), open_store(workspace, store) as opened:
        record = _held_record(opened, spec.name, load_id)
        newer = opened.loads.published_after(spec.name, load_id)
        if newer is not None and spec.load.mode != "append" and not over_newer:
            raise LoadConflict(
                f"{spec.name}: load {newer} was published after the blocked "
                f"load {load_id}; publishing the older rows would replace it "
                f"(accept with over_newer to do so anyway)"
            )
        held = Path(record["held_path"])
        if not held.exists():
            raise HeldRowsMissing(f"{spec.name}: the held rows of load {load_id} are gone ({held})")
        staged = StagedLoad(
            dataset=spec.name,
            load_id=load_id,
            path=held,
            rows=int(record["rows"] or 0),
            schema=list(record["schema"]),
            sources=[
                SourceFile(s.get("url") or "", s["sha256"], s.get("landed_path") or "")
                for s in record["sources"]
            ],
            fingerprint=record["fingerprint"],
            numbered=spec.load.mode == "upsert",
        )
        with contextlib.closing(bounded(connect_lake(workspace), workspace)) as lake:
            settle_earlier_loads(workspace, spec, opened, lake, load_id)
            result = publish_staged(
                lake, workspace, spec, staged, recorded=opened.loads.published_load_ids(spec.name)
            )
        held.unlink(missing_ok=True)
        opened.loads.publish_held(
            load_id, snapshot_id=result.snapshot_id, finished_at=result.finished_at
        )
        return replace(
            result,
            status="published",
            started_at=record["started_at"],
            quality_run_id=record["quality_run_id"],
            quality=record["quality"],
        )


def reject_held(
    workspace: Workspace, dataset: str, load_id: str, *, store: Store | None = None
) -> None:
    """Keep a blocked load out for good (a steward rejected it): its held rows are deleted;
    the raw files stay in landing/."""
    with dataset_lock(workspace, dataset), open_store(workspace, store) as opened:
        record = _held_record(opened, dataset, load_id)
        Path(record["held_path"]).unlink(missing_ok=True)
        opened.loads.reject_held(load_id)


def _held_record(store: Store, dataset: str, load_id: str) -> dict[str, Any]:
    record = store.loads.get(load_id)
    if record is None or record["dataset"] != dataset:
        raise LoadNotFound(f"{dataset}: no load {load_id}")
    if record["status"] != "blocked":
        raise LoadConflict(f"{dataset}: load {load_id} is {record['status']}, not blocked")
    return record
