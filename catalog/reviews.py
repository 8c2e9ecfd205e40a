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

from collections.abc import Mapping
from pathlib import PurePath
from typing import Any

from catalog.datasets import register_load
from catalog.directory import Directory, EntryNotFound
from catalog.policies import require_org
from quality.runs import Register, get_run, list_runs, review_run, settle_reviews
from schemas.principal import Principal
from schemas.roles import Role
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


# --- who reads runs ----------------------------------------------------------------------------
# A run's failing-row samples are the dataset's own rows: stewards read every run, an officer
# only the runs of their organisation's datasets (the CLI's ``mulu quality show`` and the web's
# /quality pages and /api/quality/runs all ask here).
SERVER_PATHS = ("quarantine_path", "data_docs")


def run_provider(store: Store, run: Mapping[str, Any]) -> str | None:
    """The organisation whose data a run checked: its entry's provider (None: no entry)."""
    entry = store.entries.get(run["entry_code"]) if run.get("entry_code") else None
    return str(entry["provider_code"]) if entry and entry.get("provider_code") else None


def runs_for(
    who: Principal, store: Store, workspace: Workspace, **filters: Any
) -> list[dict[str, Any]]:
    """``runs`` as ``who`` may list them: a steward every run; anyone else only the runs of
    their own organisation's entries (``limit`` counts those)."""
    if who.has(Role.STEWARD):
        return runs(store, workspace, **filters)
    limit = filters.pop("limit", None)
    providers: dict[str, str | None] = {}
    found = []
    for listed in runs(store, workspace, **filters, limit=None):
        code = listed.get("entry_code") or ""
        if code not in providers:
            providers[code] = run_provider(store, listed)
        if who.org_code and providers[code] == who.org_code:
            found.append(listed)
            if limit and len(found) >= limit:
                break
    return found


def run_for(who: Principal, store: Store, workspace: Workspace, run_id: str) -> dict[str, Any]:
    """``run`` if ``who`` may read it (``catalog.policies.require_org`` on the entry's
    provider: Forbidden otherwise); for anyone but a steward without the server's paths (the
    quarantine file, Data Docs, the held load, a failing row's source file but its name)."""
    found = run(store, workspace, run_id)
    require_org(who, run_provider(store, found), what="质量校验结果")
    if who.has(Role.STEWARD):
        return found
    return without_server_paths(found)


def without_server_paths(found: dict[str, Any]) -> dict[str, Any]:
    """A run as shown outside the data office: no file system paths of the server."""
    shown = {**found, **dict.fromkeys(SERVER_PATHS)}
    if shown.get("load"):
        shown["load"] = {**shown["load"], "held_path": None}
    shown["results"] = [
        {
            **result,
            "samples": [
                {
                    **sample,
                    "source_file": PurePath(sample["source_file"]).name
                    if sample.get("source_file")
                    else sample.get("source_file"),
                }
                for sample in result.get("samples", [])
            ],
        }
        for result in found.get("results", [])
    ]
    return shown


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
