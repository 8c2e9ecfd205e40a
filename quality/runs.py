"""Quality runs as data: list them, show one, and record a steward's review (质量审核).

Runs are kept by the store (``store.quality``: runs, expectation results, failing-row samples,
reviews); this module reads them for people (the CLI, the API, the portal) and records
decisions:

* **accept** a blocked run: its held rows are published (``warehouse.load.publish_held``);
* **reject** a blocked run: its held rows are deleted, the live table stays as it was;
* **waive** one failed expectation: it counts as passed in the run's score; when a blocked
  run has no failed error-severity expectation left that is not waived, it is published, as
  if accepted.

A review is all or nothing, and recoverable: it runs under the dataset's lock (as loads do);
one that publishes is first recorded *pending* (the intent, naming the run and so the load),
then the held rows are committed to the lake (exactly once by load id; the table gets a hard
link of the held file, which stays), then one transaction applies the waiver, records the load
published, registers it with its entry (``register``, the catalogue's), marks the review done
and the run accepted, and only then is the held file removed. A publish refused or failed
removes the intent: nothing is recorded, not even the waiver, so the same review can be
retried. A process killed at any step leaves a pending review (or a decided load's held file)
that ``settle_reviews`` (run by every review, and by listing and loading) completes when the
lake holds the load's commit and removes when it does not. A reject is one transaction, then
the held file's removal.

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

from collections.abc import Callable
from dataclasses import replace
from typing import Any, Literal

from quality.scores import run_score
from schemas.dataset_spec import DatasetSpec
from schemas.entry import catalogue_now
from schemas.errors import Conflict, InvalidInput, NotFound
from warehouse.load import LoadConflict, LoadNotFound, LoadResult
from warehouse.load.held import (
    commit_held,
    discard_attempt,
    held_commit,
    remove_held_file,
    stray_held_files,
)
from warehouse.load.ledger import result_of
from warehouse.load.lock import dataset_lock, try_dataset_lock
from warehouse.load.results import now_local
from warehouse.store import Store
from warehouse.workspace import Workspace

Action = Literal["accept", "reject", "waive"]
ACTIONS: tuple[Action, ...] = ("accept", "reject", "waive")
# The catalogue's registration of a publish with its entry: (reviewer, entry code, the
# published load) → a remark for the review's outcome, or None. Called inside the transaction
# that completes the review.
Register = Callable[[str, str | None, LoadResult], str | None]


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
    register: Register | None = None,
) -> dict[str, Any]:
    """Record a steward's ``action`` on a run and carry it out (see the module doc), as one
    recoverable operation under the dataset's lock. ``register`` (the catalogue's) records a
    publish with its entry inside the transaction that completes the review.

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
    found = store.quality.run(run_id)
    if found is None:
        raise RunNotFound(f"no quality run {run_id!r}")
    with dataset_lock(workspace, found["dataset"]):
        _settle(store, workspace, found["dataset"], register)
        run = store.quality.run(run_id)
        if run is None:  # runs are never deleted
            raise RunNotFound(f"no quality run {run_id!r}")
        outcome, published = _decide(
            store, workspace, run, action, reviewer, rule, note, over_newer, register
        )
    return {
        "run_id": run_id,
        "entry_code": run["entry_code"],
        "action": action,
        "rule": rule,
        "outcome": outcome,
        "published": published,
    }


def settle_reviews(
    store: Store,
    workspace: Workspace,
    *,
    dataset: str | None = None,
    register: Register | None = None,
    wait: bool = False,
) -> None:
    """Finish what a dead process left of a review (of ``dataset``'s runs, or any): a pending
    review is completed when the lake holds its load's commit, else removed; a decided load's
    held file is deleted. A dataset whose lock is taken (a load or review is running, and will
    settle it) is skipped unless ``wait``."""
    datasets = {p["dataset"] for p in store.quality.pending_reviews(dataset)}
    folders = (
        [workspace.held_dir / dataset]
        if dataset
        else (sorted(workspace.held_dir.iterdir()) if workspace.held_dir.is_dir() else [])
    )
    datasets.update(
        f.name for f in folders if f.is_dir() and stray_held_files(workspace, store, f.name)
    )
    for name in sorted(datasets):
        if wait:
            with dataset_lock(workspace, name):
                _settle(store, workspace, name, register)
            continue
        with try_dataset_lock(workspace, name) as locked:
            if locked:
                _settle(store, workspace, name, register)


def _now() -> str:
    return catalogue_now().isoformat(timespec="seconds")


def _decide(
    store: Store,
    workspace: Workspace,
    run: dict[str, Any],
    action: str,
    reviewer: str,
    rule: str | None,
    note: str | None,
    over_newer: bool,
    register: Register | None,
) -> tuple[str, LoadResult | None]:
    """Carry out the decision (under the dataset's lock, nothing pending left)."""
    run_id = run["run_id"]
    review = {"run_id": run_id, "rule": rule, "note": note, "reviewer": reviewer}
    if action == "waive":
        if not _waiver_publishes(store, run, rule or ""):
            outcome = f"{rule} waived"
            with store.transaction():
                _apply_waiver(store, run_id, rule or "")
                store.quality.add_review(**review, action=action, at=_now(), outcome=outcome)
            return outcome, None
    else:
        if run["status"] != "blocked":
            raise Conflict(
                f"run {run_id} was not blocked ({run['status']}): its load was "
                f"published; nothing to {action}"
            )
        if run["decision"] is not None:
            raise Conflict(f"run {run_id} was {run['decision']} already")
        if action == "reject":
            outcome = "kept out: held rows deleted, the live table unchanged"
            held = _blocked_load(store, run)["held_path"]
            with store.transaction():
                store.loads.reject_held(run["load_id"])
                store.quality.add_review(**review, action=action, at=_now(), outcome=outcome)
                store.quality.decide(run_id, "rejected")
            remove_held_file(workspace, run["dataset"], held)
            return outcome, None
    # accept, or a waiver that leaves nothing blocking: publish. The intent first, so that a
    # process dying anywhere after it leaves a state the next command settles one way or the
    # other; the waiver itself is applied only with the publish.
    _blocked_load(store, run)
    spec = DatasetSpec.model_validate_json(run["spec"])
    review_id = store.quality.add_review(
        **review, action=action, at=_now(), outcome="publishing", state="pending"
    )
    intent = {**review, "review_id": review_id, "action": action, "load_id": run["load_id"]}
    try:
        published = commit_held(workspace, spec, store, run["load_id"], over_newer=over_newer)
    except Exception as exc:
        try:
            settled = _settle_intent(store, workspace, run, intent, register)
        except Exception as secondary:
            exc.add_note(f"(settling the review failed too, the next command will: {secondary})")
            raise exc from None
        if settled is None:  # nothing was published, nothing is recorded
            raise
        return settled
    return _complete(store, workspace, run, intent, published, register), published


def _settle(store: Store, workspace: Workspace, dataset: str, register: Register | None) -> None:
    """``settle_reviews`` for one dataset, its lock held."""
    for intent in store.quality.pending_reviews(dataset):
        run = store.quality.run(intent["run_id"])
        if run is not None:
            _settle_intent(store, workspace, run, intent, register)
    for path in stray_held_files(workspace, store, dataset):
        path.unlink(missing_ok=True)


def _settle_intent(
    store: Store,
    workspace: Workspace,
    run: dict[str, Any],
    intent: dict[str, Any],
    register: Register | None,
) -> tuple[str, LoadResult] | None:
    """Complete a pending review whose load's commit the lake holds; else remove it (and what
    the attempt left) and return None."""
    committed = held_commit(workspace, intent["load_id"])
    if committed is None:
        store.quality.remove_pending_review(intent["review_id"])
        discard_attempt(workspace, DatasetSpec.model_validate_json(run["spec"]))
        return None
    rows, snapshot_id = committed
    record = store.loads.get(intent["load_id"])
    if record is None:  # the loads row is written before anything is held: cannot happen
        raise NotFound(f"{run['dataset']}: no load {intent['load_id']}")
    published = replace(
        result_of(record),
        status="published",
        rows=rows,
        snapshot_id=snapshot_id,
        finished_at=record["finished_at"] if record["status"] == "published" else now_local(),
    )
    return _complete(store, workspace, run, intent, published, register), published


def _complete(
    store: Store,
    workspace: Workspace,
    run: dict[str, Any],
    intent: dict[str, Any],
    published: LoadResult,
    register: Register | None,
) -> str:
    """The publish happened: in one transaction the waiver (if any), the load published, its
    registration with the entry, the review done and the run accepted; then the held file
    goes."""
    run_id, rule = run["run_id"], intent["rule"]
    outcome = f"published as snapshot {published.snapshot_id}"
    if intent["action"] == "waive":
        outcome = f"{rule} waived; no blocking failure left: {outcome}"
    record = store.loads.get(published.load_id)
    held = record["held_path"] if record else None
    with store.transaction():
        if intent["action"] == "waive":
            _apply_waiver(store, run_id, rule or "")
        store.loads.publish_held(
            published.load_id, snapshot_id=published.snapshot_id, finished_at=published.finished_at
        )
        if register is not None:
            said = register(intent["reviewer"], run["entry_code"], published)
            if said:
                outcome = f"{outcome}; {said}"
        store.quality.finish_review(intent["review_id"], outcome)
        store.quality.decide(run_id, "accepted")
    remove_held_file(workspace, run["dataset"], held)
    return outcome


def _blocked_load(store: Store, run: dict[str, Any]) -> dict[str, Any]:
    record = store.loads.get(run["load_id"])
    if record is None:
        raise LoadNotFound(f"{run['dataset']}: no load {run['load_id']}")
    if record["status"] != "blocked":
        raise LoadConflict(
            f"{run['dataset']}: load {run['load_id']} is {record['status']}, not blocked"
        )
    return record


def _waiver_publishes(store: Store, run: dict[str, Any], rule: str) -> bool:
    """Check that ``rule`` may be waived; whether waiving it publishes the run (a blocked,
    undecided run with no other failed error-severity expectation left)."""
    run_id = run["run_id"]
    results = {r["rule"]: r for r in store.quality.results(run_id)}
    failed = [name for name, r in results.items() if not r["success"]]
    listed = f": failed are {', '.join(failed)}" if failed else ""
    if rule not in results:
        raise NotFound(f"run {run_id} has no expectation {rule!r}{listed}")
    if results[rule]["success"]:
        raise InvalidInput(f"{rule!r} is not a failed expectation of run {run_id}{listed}")
    if results[rule]["waived"]:
        raise Conflict(f"{rule} is waived already in run {run_id}")
    blocking = [
        name
        for name, r in results.items()
        if name != rule and not r["success"] and not r["waived"] and r["severity"] == "error"
    ]
    return run["status"] == "blocked" and run["decision"] is None and not blocking


def _apply_waiver(store: Store, run_id: str, rule: str) -> None:
    """Mark ``rule`` waived and recount the run (inside the caller's transaction)."""
    with store.transaction():
        store.quality.waive(run_id, rule)
        counts = store.quality.result_counts(run_id)
        store.quality.set_counts(
            run_id,
            waived=counts["waived"],
            errors=counts["errors"],
            warnings=counts["warnings"],
            score=run_score(counts["passed"], counts["waived"], counts["total"]),
        )
