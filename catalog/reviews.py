"""A steward's review of a quality run (质量审核), the one use case behind the CLI, the API, the
portal and the assets: record the decision, publish or discard the held load, and register a
publish with the catalogue entry as a pipeline load would."""

from __future__ import annotations

from typing import Any

from catalog.datasets import register_load
from catalog.directory import Directory
from quality.runs import get_run, review_run
from warehouse.workspace import Workspace


def review(workspace: Workspace, run_id: str, *, action: str, reviewer: str,
           rule: str | None = None, note: str | None = None,
           over_newer: bool = False) -> dict[str, Any]:
    """Decide on a run; accepting (or waiving its last blocking failure) publishes the held
    load and registers the update with its entry. Returns the outcome (with ``snapshot_id``
    when something was published)."""
    outcome = review_run(workspace, run_id, action, reviewer=reviewer, rule=rule or None,
                         note=note, over_newer=over_newer)
    published = outcome.pop("published")
    if published is not None:
        directory = Directory.open(workspace, user=reviewer)
        try:
            register_load(directory, entry_code=get_run(workspace, outcome["run_id"])
                          ["entry_code"], finished_at=published.finished_at,
                          rows=published.rows, load_id=published.load_id,
                          dataset=published.dataset)
        finally:
            directory.close()
        outcome["snapshot_id"] = published.snapshot_id
    return outcome
