"""Quality runs as data: list them, show one, and record a steward's review (质量审核).

Runs are kept by the store (``store.quality``: runs, expectation results, failing-row samples,
reviews); this module reads them for people (the CLI, the API, the portal) and records
decisions:

* **accept** a blocked run: its held rows are published (``warehouse.load.publish_held``);
* **reject** a blocked run: its held rows are deleted, the live table stays as it was;
* **waive** one failed expectation: it counts as passed in the run's score; when a blocked
  run has no failed error-severity expectation left that is not waived, it is published, as
  if accepted.

Every review is a row with who, when, the note and what it did. Errors are those of
``schemas.errors``: ``NotFound`` (no such rule; ``RunNotFound``: no such run),
``InvalidInput`` (an unknown action, a waive without a rule, no reviewer, an ambiguous run id
prefix) and ``Conflict`` (decided already, not blocked, waived already); publishing or
discarding the held rows raises the loader's errors of the same hierarchy
(``warehouse.load``: ``LoadConflict`` when a newer load was published, ``HeldRowsMissing`` …).

Registering a published load with its catalogue entry is the catalogue's part:
``catalog.reviews.review`` is the one use case the applications call.
"""

from __future__ import annotations

from typing import Any, Literal

from quality.scores import run_score
from schemas.dataset_spec import DatasetSpec
from schemas.entry import catalogue_now
from schemas.errors import Conflict, InvalidInput, NotFound
from warehouse.load import LoadError, LoadResult, publish_held, reject_held
from warehouse.store import Store
from warehouse.workspace import Workspace

Action = Literal["accept", "reject", "waive"]
ACTIONS: tuple[Action, ...] = ("accept", "reject", "waive")


class RunNotFound(NotFound):
    """No quality run has this id, or an id starting with it."""


def list_runs(
    store: Store,
    *,
    dataset: str | None = None,
    failed: bool = False,
    pending: bool = False,
    limit: int | None = None,
) -> list[dict[str, Any]]:
    """Runs, newest first. ``failed``: blocked or warned; ``pending``: blocked, undecided."""
    return store.quality.runs(dataset=dataset, failed=failed, pending=pending, limit=limit)


def resolve_run_id(store: Store, run_id: str) -> str:
    """The run ``run_id`` names, whole or as a unique prefix (as git takes short hashes)."""
    if not run_id.strip():
        raise InvalidInput("a quality run id is needed: see `mulu quality runs`")
    found = store.quality.run_ids(run_id)
    if run_id in found:
        return run_id
    if not found:
        raise RunNotFound(f"no quality run {run_id!r}: see `mulu quality runs`")
    if len(found) > 1:
        raise InvalidInput(f"quality run {run_id!r} is ambiguous: {', '.join(found)} …")
    return found[0]


def get_run(store: Store, run_id: str) -> dict[str, Any]:
    """One run with its results (failed first, each with its samples), reviews and load."""
    with store.snapshot():
        run_id = resolve_run_id(store, run_id)
        run = store.quality.run(run_id)
        if run is None:  # resolved a moment ago: cannot happen inside one snapshot
            raise RunNotFound(f"no quality run {run_id!r}")
        run.pop("spec")
        samples: dict[str, list[dict[str, Any]]] = {}
        for sample in store.quality.samples(run_id):
            samples.setdefault(sample.pop("rule"), []).append(sample)
        run["results"] = [
            {**result, "samples": samples.get(result["rule"], [])}
            for result in store.quality.results(run_id)
        ]
        run["reviews"] = store.quality.reviews(run_id)
        load = store.loads.get(run["load_id"])
        run["load"] = (
            None
            if load is None
            else {key: load[key] for key in ("status", "snapshot_id", "held_path")}
        )
    return run


def review_run(
    store: Store,
    workspace: Workspace,
    run_id: str,
    action: str,
    *,
    reviewer: str,
    rule: str | None = None,
    note: str | None = None,
    over_newer: bool = False,
) -> dict[str, Any]:
    """Record a steward's ``action`` on a run and carry it out (see the module doc).

    Returns {run_id, entry_code, action, rule, outcome, published: LoadResult | None}.
    """
    if action not in ACTIONS:
        raise InvalidInput(f"unknown action {action!r}: accept, reject or waive")
    if action == "waive" and not rule:
        raise InvalidInput("waive needs the expectation (rule) to waive")
    if not reviewer or not reviewer.strip():
        raise InvalidInput("a review needs a reviewer")
    reviewer = reviewer.strip()
    run_id = resolve_run_id(store, run_id)
    run = store.quality.run(run_id)
    if run is None:
        raise RunNotFound(f"no quality run {run_id!r}")
    spec = DatasetSpec.model_validate_json(run["spec"])
    published: LoadResult | None = None
    if action == "waive":
        outcome, published = _waive(
            store, workspace, spec, run, rule or "", reviewer, note, over_newer
        )
    else:
        if run["status"] != "blocked":
            raise Conflict(
                f"run {run_id} was not blocked ({run['status']}): its load was "
                f"published; nothing to {action}"
            )
        if run["decision"] is not None:
            raise Conflict(f"run {run_id} was {run['decision']} already")
        if action == "accept":
            published = publish_held(
                workspace, spec, run["load_id"], over_newer=over_newer, store=store
            )
            outcome = f"published as snapshot {published.snapshot_id}"
        else:
            reject_held(workspace, spec.name, run["load_id"], store=store)
            outcome = "kept out: held rows deleted, the live table unchanged"
        with store.transaction():
            store.quality.add_review(
                run_id,
                action=action,
                rule=rule,
                note=note,
                reviewer=reviewer,
                at=_now(),
                outcome=outcome,
            )
            store.quality.decide(run_id, "accepted" if action == "accept" else "rejected")
    return {
        "run_id": run_id,
        "entry_code": run["entry_code"],
        "action": action,
        "rule": rule,
        "outcome": outcome,
        "published": published,
    }


def _now() -> str:
    return catalogue_now().isoformat(timespec="seconds")


def _waive(
    store: Store,
    workspace: Workspace,
    spec: DatasetSpec,
    run: dict[str, Any],
    rule: str,
    reviewer: str,
    note: str | None,
    over_newer: bool,
) -> tuple[str, LoadResult | None]:
    """Waive ``rule`` and record it in one transaction; then, when nothing blocks the run any
    more, publish it. A refused publish leaves the waiver recorded and says why in the
    outcome (the steward may then accept, e.g. over a newer load)."""
    run_id = run["run_id"]
    outcome = f"{rule} waived"
    with store.transaction():
        results = {r["rule"]: r for r in store.quality.results(run_id)}
        failed = [name for name, r in results.items() if not r["success"]]
        listed = f": failed are {', '.join(failed)}" if failed else ""
        if rule not in results:
            raise NotFound(f"run {run_id} has no expectation {rule!r}{listed}")
        if results[rule]["success"]:
            raise InvalidInput(f"{rule!r} is not a failed expectation of run {run_id}{listed}")
        if results[rule]["waived"]:
            raise Conflict(f"{rule} is waived already in run {run_id}")
        store.quality.waive(run_id, rule)
        counts = store.quality.result_counts(run_id)
        store.quality.set_counts(
            run_id,
            waived=counts["waived"],
            errors=counts["errors"],
            warnings=counts["warnings"],
            score=run_score(counts["passed"], counts["waived"], counts["total"]),
        )
        review_id = store.quality.add_review(
            run_id,
            action="waive",
            rule=rule,
            note=note,
            reviewer=reviewer,
            at=_now(),
            outcome=outcome,
        )
    if run["status"] != "blocked" or run["decision"] is not None or counts["errors"]:
        return outcome, None
    try:
        published = publish_held(
            workspace, spec, run["load_id"], over_newer=over_newer, store=store
        )
    except LoadError as exc:  # the waiver stands; the outcome says why nothing was published
        outcome = f"{outcome}; no blocking failure left, but not published: {exc}"
        store.quality.set_review_outcome(review_id, outcome)
        return outcome, None
    outcome = f"{outcome}; no blocking failure left: published as snapshot {published.snapshot_id}"
    with store.transaction():
        store.quality.set_review_outcome(review_id, outcome)
        store.quality.decide(run_id, "accepted")
    return outcome, published
