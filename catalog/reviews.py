"""A steward's review of a quality run (质量审核), the one use case behind the CLI, the API, the
portal and the assets: record the decision, publish or discard the held load, and register a
publish with the catalogue entry as a pipeline load would, all as one recoverable operation.

A review that publishes is recorded first as an intent (a pending review), then the held rows
are committed to the lake (exactly once by load id), then one transaction completes the review,
decides the run, records the load published and registers it with its entry (最近更新时间
moves), then the held file is removed. A process killed anywhere leaves either the blocked run
with its held file or the published one with its review and registration once the next command
has settled it: ``settle`` (also run by ``runs``, ``run`` and every review) completes a pending
review whose commit the lake holds and forgets one whose commit it does not hold.
"""

from __future__ import annotations

from typing import Any

from catalog.datasets import register_load
from catalog.directory import Directory, EntryNotFound
from quality.runs import Register, get_run, list_runs, review_run, settle_reviews
from warehouse.load import LoadResult
from warehouse.store import Store
from warehouse.workspace import Workspace


def review(
    store: Store,
    workspace: Workspace,
    run_id: str,
    *,
    action: str,
    reviewer: str,
    rule: str | None = None,
    note: str | None = None,
    over_newer: bool = False,
) -> dict[str, Any]:
    """Decide on a run; accepting (or waiving its last blocking failure) publishes the held
    load and registers the update with its entry. Returns {run_id, entry_code, action, rule,
    outcome} (with ``snapshot_id`` when something was published).

    Raises ``schemas.errors`` NotFound (no such run or rule), InvalidInput (unknown action,
    waive without a rule, no reviewer), Conflict (decided already, a newer load published:
    ``over_newer``) or Unavailable (the held rows are gone). A refused review records nothing:
    a waiver whose publish is refused is not kept, so the same waive can be retried."""
    outcome = review_run(
        store,
        workspace,
        run_id,
        action,
        reviewer=reviewer,
        rule=rule or None,
        note=note,
        over_newer=over_newer,
        register=registrar(store),
    )
    published = outcome.pop("published")
    if published is not None:
        outcome["snapshot_id"] = published.snapshot_id
    return outcome


def settle(store: Store, workspace: Workspace, *, dataset: str | None = None) -> None:
    """Finish what a process killed in the middle of a review left (see the module doc); a
    dataset whose load or review is running right now is left to that process."""
    settle_reviews(store, workspace, dataset=dataset, register=registrar(store))


def runs(store: Store, workspace: Workspace, **filters: Any) -> list[dict[str, Any]]:
    """``quality.runs.list_runs`` after settling interrupted reviews."""
    settle(store, workspace, dataset=filters.get("dataset"))
    return list_runs(store, **filters)


def run(store: Store, workspace: Workspace, run_id: str) -> dict[str, Any]:
    """``quality.runs.get_run`` after settling interrupted reviews."""
    settle(store, workspace)
    return get_run(store, run_id)


def registrar(store: Store) -> Register:
    """Registration of a published load with its entry, as the reviewer (idempotent by load
    id). An entry missing from the catalogue is said in the outcome: the publish stands."""

    def register(reviewer: str, entry_code: str | None, published: LoadResult) -> str | None:
        if not entry_code:
            return "no catalogue entry named: the update is not registered"
        try:
            register_load(
                Directory(store, user=reviewer),
                entry_code=entry_code,
                finished_at=published.finished_at,
                rows=published.rows,
                load_id=published.load_id,
                dataset=published.dataset,
            )
        except EntryNotFound:
            return f"entry {entry_code} is not in the catalogue: the update is not registered"
        return None

    return register
