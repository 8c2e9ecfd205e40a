"""``load_dataset``: one load of a dataset, from landing its source to recording the outcome.

It lands the spec's source (contained to the workspace's source folders, and only once whole:
else 'waiting'), stops when those exact files were loaded last time ('unchanged'),
stages the typed rows (``staging``), lets the quality gate judge them, and publishes them in one
DuckLake transaction (``commit``) or holds them for a steward (``held``). Every attempt is a
row in ``loads``; one DuckDB connection does a load's reading, staging and committing. Loads of
one dataset take turns (``lock``), and each first settles what a dead run left (``settle``).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import replace
from typing import Any, Literal

import duckdb

from schemas.dataset_spec import DatasetSpec
from warehouse.lake import connect_lake, table_location
from warehouse.landing import LandedFile, LandingError, SourceNotReady, land_source
from warehouse.load.changes import fingerprint, not_yet_loaded, source_records
from warehouse.load.commit import publish_staged
from warehouse.load.early import stage_early
from warehouse.load.held import hold
from warehouse.load.ledger import open_store, record_failure
from warehouse.load.lock import dataset_lock
from warehouse.load.results import Gate, LoadResult, StagedLoad, new_load_id, now_local, table_name
from warehouse.load.settle import remove_leftover_files, settle_earlier_loads
from warehouse.load.staging import bounded, stage, staged
from warehouse.read import SourceError
from warehouse.store import Store
from warehouse.workspace import Workspace


def load_dataset(
    workspace: Workspace,
    spec: DatasetSpec,
    *,
    force: bool = False,
    gate: Gate | None = None,
    after_publish: Callable[[LoadResult], None] | None = None,
    store: Store | None = None,
) -> LoadResult:
    """Land, stage and publish ``spec``'s source; record the attempt in ``loads``.

    Status 'unchanged' (nothing written) when the landed files are those of the last
    published load, or of a later load that was blocked or rejected, unless ``force``. In
    append mode only files not appended before are loaded (unless ``force``). On failure the
    live table is untouched, the raw files stay in landing/, the attempt is recorded 'failed'
    and the LoadError is raised. Status 'waiting' (nothing staged or published, not an
    error) when the source is still being written or its ready marker is missing
    (``warehouse.landing.Readiness``); the next load tries again.

    ``gate`` (the quality layer's validation) judges the staged rows before anything is
    published: when it blocks them they are moved to ``held/<dataset>/<load_id>.parquet``,
    the load is recorded 'blocked' and the live table stays as it was, until
    ``publish_held`` (a steward accepted) or ``reject_held``.

    ``after_publish`` (for crash tests) is called between the lake commit and recording it.
    ``store``: the metadata store to record in (default: one opened for this load).
    """
    workspace.ensure()
    load_id, started = new_load_id(), now_local()
    with dataset_lock(workspace, spec.name), open_store(workspace, store) as opened:
        opened.loads.start(
            load_id,
            dataset=spec.name,
            entry_code=spec.entry_code,
            table_name=table_name(spec),
            location=str(table_location(workspace, spec.name)),
            started_at=started,
        )
        try:
            # Landing (a copy and a sha256, mostly outside the GIL) runs on a thread while the
            # lake connection opens and earlier loads are settled: neither needs the other.
            with ThreadPoolExecutor(1, thread_name_prefix=f"land-{spec.name}") as pool:
                landing = pool.submit(_land, workspace, spec)
                with contextlib.closing(bounded(connect_lake(workspace), workspace)) as lake:
                    return _load(
                        workspace,
                        spec,
                        opened,
                        lake,
                        landing,
                        load_id,
                        started,
                        force,
                        gate,
                        after_publish,
                    )
        except BaseException as exc:
            record_failure(opened, load_id, exc)
            raise


def _land(workspace: Workspace, spec: DatasetSpec) -> list[LandedFile]:
    try:
        return land_source(workspace, spec)
    except LandingError as exc:
        raise SourceError(str(exc), file=spec.source.url) from exc


def _load(
    workspace: Workspace,
    spec: DatasetSpec,
    store: Store,
    lake: duckdb.DuckDBPyConnection,
    landing: Future[list[LandedFile]],
    load_id: str,
    started: str,
    force: bool,
    gate: Gate | None,
    after_publish: Callable[[LoadResult], None] | None,
) -> LoadResult:
    settle_earlier_loads(workspace, spec, store, lake, load_id)
    remove_leftover_files(workspace, spec, lake)
    last = store.loads.last_published(spec.name)
    early = stage_early(workspace, spec, lake, load_id, last, force)
    try:
        landed = landing.result()
    except SourceNotReady as exc:  # still being written: nothing staged, try again next run
        if early:
            early.discard()
        # The source is not whole yet: nothing was staged or published.
        result = _nothing_written(
            workspace, spec, load_id, started, last, status="waiting", error=str(exc)
        )
        store.loads.wait(load_id, finished_at=result.finished_at, reason=str(exc))
        return result
    except BaseException:
        if early:
            early.discard()
        raise
    source_fingerprint = fingerprint(landed)
    files = landed
    if spec.load.mode == "append" and not force:  # append each file's rows once
        files = not_yet_loaded(landed, store.loads.published_source_hashes(spec.name))
    store.loads.record_sources(
        load_id, fingerprint=source_fingerprint, sources=source_records(files or landed)
    )
    # A later load of these same files that was blocked or rejected: a steward has (or will
    # have) judged them; validating again adds nothing.
    judged = (
        None
        if force
        else store.loads.judged_since(
            spec.name, source_fingerprint, last["load_id"] if last else None
        )
    )
    if (
        not files
        or judged is not None
        or (not force and last is not None and last["fingerprint"] == source_fingerprint)
    ):
        if early:
            early.discard()
        result = _nothing_written(
            workspace,
            spec,
            load_id,
            started,
            last,
            status="unchanged",
            fingerprint=source_fingerprint,
            verdict=judged,
        )
    else:
        if early and early.matches(landed):
            if early.error is not None:
                raise early.error
            assert early.target is not None
            ready = staged(spec, load_id, early.target, early.rows, files, landed)
        else:
            if early:
                early.discard()
            ready = stage(workspace, spec, files, load_id=load_id, fingerprint_of=landed, con=lake)
        try:
            result = _judge_and_publish(workspace, spec, store, lake, ready, gate, last, started)
        finally:
            ready.path.unlink(missing_ok=True)
        if after_publish is not None and result.status == "published":
            after_publish(result)
    store.loads.finish(
        load_id,
        status=result.status,
        rows=result.rows,
        schema=result.schema,
        snapshot_id=result.snapshot_id,
        finished_at=result.finished_at,
        quality_run_id=result.quality_run_id,
        quality=result.quality,
    )
    return result


def _nothing_written(
    workspace: Workspace,
    spec: DatasetSpec,
    load_id: str,
    started: str,
    last: dict[str, Any] | None,
    *,
    status: Literal["unchanged", "waiting"],
    fingerprint: str | None = None,
    verdict: dict[str, Any] | None = None,
    error: str | None = None,
) -> LoadResult:
    """A load that staged and published nothing: the live version (``last``) stays, with the
    verdict of the load that judged its files (``verdict``, else ``last``'s)."""
    verdict = verdict or last
    return LoadResult(
        dataset=spec.name,
        load_id=load_id,
        status=status,
        rows=0,
        snapshot_id=last["snapshot_id"] if last else None,
        fingerprint=fingerprint,
        schema=list(last["schema"]) if last else [],
        table=table_name(spec),
        location=str(table_location(workspace, spec.name)),
        started_at=started,
        finished_at=now_local(),
        error=error,
        quality_run_id=verdict["quality_run_id"] if verdict else None,
        quality=verdict["quality"] if verdict else None,
    )


def _judge_and_publish(
    workspace: Workspace,
    spec: DatasetSpec,
    store: Store,
    lake: duckdb.DuckDBPyConnection,
    ready: StagedLoad,
    gate: Gate | None,
    last: dict[str, Any] | None,
    started: str,
) -> LoadResult:
    """Hold the staged rows when the gate blocks them, else publish them (flagged with the
    gate's verdict)."""
    verdict = gate(ready) if gate is not None else None
    if verdict is not None and verdict.blocked:
        return hold(workspace, spec, store, ready, verdict, last, started)
    result = replace(publish_staged(lake, workspace, spec, ready), started_at=started)
    if verdict is not None:
        result = replace(result, quality_run_id=verdict.run_id, quality=verdict.quality)
    return result
