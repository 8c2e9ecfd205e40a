"""A steward's review of a quality run (质量审核), the one use case behind the CLI, the API, the
portal and the assets: record the decision, publish or discard the held load, and register a
publish with the catalogue entry as a pipeline load would."""

from __future__ import annotations

from typing import Any

from catalog.datasets import register_load
from catalog.directory import Directory
from quality.runs import review_run
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
    waive without a rule, no reviewer) or Conflict (decided already, publishing refused).

    The registration follows the decision instead of sharing its transaction: the publish
    before it is a lake commit no metadata transaction can undo, and a registration is
    idempotent by load id (a pipeline run registers the latest published load again), so a
    crash between the two is repaired, never doubled."""
    outcome = review_run(
        store,
        workspace,
        run_id,
        action,
        reviewer=reviewer,
        rule=rule or None,
        note=note,
        over_newer=over_newer,
    )
    published = outcome.pop("published")
    if published is not None:
        register_load(
            Directory(store, user=reviewer),
            entry_code=outcome["entry_code"],
            finished_at=published.finished_at,
            rows=published.rows,
            load_id=published.load_id,
            dataset=published.dataset,
        )
        outcome["snapshot_id"] = published.snapshot_id
    return outcome
