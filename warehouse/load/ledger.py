"""The loads ledger as the loader uses it: the store it writes to, failures recorded with where
they happened, and the history read back as LoadResults."""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator
from typing import Any

from warehouse.load.results import LoadResult, now_local
from warehouse.read import LoadError
from warehouse.store import Store
from warehouse.workspace import Workspace


@contextlib.contextmanager
def open_store(workspace: Workspace, store: Store | None) -> Iterator[Store]:
    """``store`` when the caller has one; else one opened for the load and closed after."""
    if store is not None:
        yield store
        return
    opened = Store.open(workspace)
    try:
        yield opened
    finally:
        opened.close()


def record_failure(store: Store, load_id: str, exc: BaseException) -> None:
    """Record the load 'failed' with ``exc`` (and, for a LoadError, its file, column, row)."""
    where = exc if isinstance(exc, LoadError) else None
    error = str(exc) or type(exc).__name__
    if where is not None and where.detail:  # the whole reason is kept, not only its first line
        error = f"{error}\n{where.detail}"
    try:
        store.loads.fail(
            load_id,
            finished_at=now_local(),
            error=error,
            error_file=where.file if where else None,
            error_column=where.column if where else None,
            error_row=where.row if where else None,
        )
    except sqlite3.Error as secondary:  # keep the load's own error as the one raised
        exc.add_note(f"(recording the failure in loads failed too: {secondary})")


def result_of(record: dict[str, Any]) -> LoadResult:
    """The LoadResult a ``loads`` record describes."""
    return LoadResult(
        dataset=record["dataset"],
        load_id=record["load_id"],
        status=record["status"],
        rows=record["rows"] or 0,
        snapshot_id=record["snapshot_id"],
        fingerprint=record["fingerprint"],
        schema=list(record["schema"]),
        table=record["table_name"] or "",
        location=record["location"] or "",
        started_at=record["started_at"],
        finished_at=record["finished_at"] or "",
        error=record["error"],
        quality_run_id=record["quality_run_id"],
        quality=record["quality"],
    )


def load_history(
    workspace: Workspace, dataset: str, *, store: Store | None = None
) -> list[LoadResult]:
    """Every recorded load of ``dataset``, oldest first (failed ones with their error)."""
    with open_store(workspace, store) as opened:
        return [result_of(record) for record in opened.loads.history(dataset)]
