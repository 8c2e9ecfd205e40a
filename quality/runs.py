"""Quality runs as data: list them, show one, and record a steward's review.

Runs are rows of ``quality_runs`` (with ``quality_results``, ``quality_samples`` and
``quality_reviews``); this module reads them for people (the CLI, the API) and records
decisions:

* **accept** a blocked run: its held rows are published (``warehouse.loading.publish_held``);
* **reject** a blocked run: its held rows are deleted, the live table stays as it was;
* **waive** one failed expectation: it counts as passed in the run's score; when a blocked
  run has no failed error-severity expectation left that is not waived, it is published, as
  if accepted.

Every review is a row in ``quality_reviews`` with who, when, the note and what it did.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
from typing import Any, Literal

from quality.gate import run_score
from schemas.dataset_spec import DatasetSpec
from schemas.entry import catalogue_now
from warehouse import metadata
from warehouse.loading import LoadError, LoadResult, publish_held, reject_held
from warehouse.workspace import Workspace

Action = Literal["accept", "reject", "waive"]


class ReviewError(ValueError):
    """A review that cannot be recorded (unknown run, decided already, unknown rule …)."""


def _connect(workspace: Workspace) -> contextlib.closing[sqlite3.Connection]:
    return contextlib.closing(metadata.connect(workspace.metadata_db))


def list_runs(workspace: Workspace, *, dataset: str | None = None, failed: bool = False,
              pending: bool = False, limit: int | None = None) -> list[dict[str, Any]]:
    """Runs, newest first. ``failed``: blocked or warned; ``pending``: blocked, undecided."""
    where, params = [], []
    if dataset:
        where.append("dataset = ?")
        params.append(dataset)
    if failed:
        where.append("status <> 'passed'")
    if pending:
        where.append("status = 'blocked' AND decision IS NULL")
    sql = ("SELECT run_id, dataset, entry_code, status, decision, rows, expectations, passed, "
           "errors, warnings, waived, score, started_at, seconds, quarantined_rows "
           "FROM quality_runs" + (" WHERE " + " AND ".join(where) if where else "")
           + " ORDER BY started_at DESC, run_id DESC" + (f" LIMIT {int(limit)}" if limit else ""))
    with _connect(workspace) as meta:
        return [dict(row) for row in meta.execute(sql, params)]


def resolve_run_id(meta: sqlite3.Connection, run_id: str) -> str:
    """The run ``run_id`` names, whole or as a unique prefix (as git takes short hashes)."""
    rows = meta.execute("SELECT run_id FROM quality_runs WHERE run_id = ? OR run_id LIKE ? "
                        "ORDER BY run_id LIMIT 3", (run_id, run_id.replace("%", "") + "%")
                        ).fetchall()
    exact = [r[0] for r in rows if r[0] == run_id]
    if exact:
        return exact[0]
    if not rows:
        raise ReviewError(f"no quality run {run_id!r}: see `mulu quality runs`")
    if len(rows) > 1:
        raise ReviewError(f"quality run {run_id!r} is ambiguous: "
                          f"{', '.join(r[0] for r in rows)} …")
    return rows[0][0]


def get_run(workspace: Workspace, run_id: str) -> dict[str, Any]:
    """One run with its results (failed first, each with its samples), reviews and load."""
    with _connect(workspace) as meta:
        run_id = resolve_run_id(meta, run_id)
        run = dict(meta.execute("SELECT * FROM quality_runs WHERE run_id = ?",
                                (run_id,)).fetchone())
        run.pop("spec")
        samples: dict[str, list[dict[str, Any]]] = {}
        for row in meta.execute('SELECT rule, source_file, source_row, reason, "values" '
                                'FROM quality_samples WHERE run_id = ? ORDER BY rule, position',
                                (run_id,)):
            samples.setdefault(row["rule"], []).append({
                "source_file": row["source_file"], "source_row": row["source_row"],
                "reason": row["reason"], "values": json.loads(row["values"])})
        results = []
        for row in meta.execute("SELECT * FROM quality_results WHERE run_id = ? ORDER BY "
                                "success, severity, rowid", (run_id,)):
            result = dict(row)
            result["success"], result["waived"] = bool(row["success"]), bool(row["waived"])
            result["samples"] = samples.get(row["rule"], [])
            results.append(result)
        run["results"] = results
        run["reviews"] = [dict(r) for r in meta.execute(
            "SELECT * FROM quality_reviews WHERE run_id = ? ORDER BY review_id", (run_id,))]
        load = meta.execute("SELECT status, snapshot_id, held_path FROM loads WHERE load_id = ?",
                            (run["load_id"],)).fetchone()
        run["load"] = dict(load) if load else None
    return run


def review_run(workspace: Workspace, run_id: str, action: Action, *, reviewer: str,
               rule: str | None = None, note: str | None = None,
               over_newer: bool = False) -> dict[str, Any]:
    """Record a steward's ``action`` on a run and carry it out (see the module doc).

    Returns {run_id, action, rule, outcome, published: LoadResult | None}. Raises ReviewError
    when the run is unknown, already decided (accept/reject), the rule is not a failed
    expectation of the run, or publishing is refused (a newer load was published since).
    """
    if action not in ("accept", "reject", "waive"):
        raise ReviewError(f"unknown action {action!r}: accept, reject or waive")
    if action == "waive" and not rule:
        raise ReviewError("waive needs the expectation (rule) to waive")
    if not reviewer or not reviewer.strip():
        raise ReviewError("a review needs a reviewer")
    with _connect(workspace) as meta:
        run_id = resolve_run_id(meta, run_id)
        run = meta.execute("SELECT * FROM quality_runs WHERE run_id = ?", (run_id,)).fetchone()
    spec = DatasetSpec.model_validate_json(run["spec"])
    if action in ("accept", "reject"):
        if run["status"] != "blocked":
            raise ReviewError(f"run {run_id} was not blocked ({run['status']}): its load was "
                              f"published; nothing to {action}")
        if run["decision"] is not None:
            raise ReviewError(f"run {run_id} was {run['decision']} already")
    published: LoadResult | None = None
    if action == "waive":
        outcome, published = _waive(workspace, spec, run, rule or "", over_newer)
    elif action == "accept":
        published = _publish(workspace, spec, run, over_newer)
        outcome = f"published as snapshot {published.snapshot_id}"
    else:
        try:
            reject_held(workspace, spec.name, run["load_id"])
        except LoadError as exc:
            raise ReviewError(str(exc)) from exc
        outcome = "kept out: held rows deleted, the live table unchanged"
    decision = ("accepted" if published is not None
                else "rejected" if action == "reject" else None)
    with _connect(workspace) as meta, metadata.write_transaction(meta):
        meta.execute("INSERT INTO quality_reviews (run_id, action, rule, note, reviewer, at, "
                      "outcome) VALUES (?, ?, ?, ?, ?, ?, ?)",
                      (run_id, action, rule, note, reviewer.strip(),
                       catalogue_now().isoformat(timespec="seconds"), outcome))
        if decision is not None:
            meta.execute("UPDATE quality_runs SET decision = ? WHERE run_id = ?",
                         (decision, run_id))
    return {"run_id": run_id, "action": action, "rule": rule, "outcome": outcome,
            "published": published}


def _publish(workspace: Workspace, spec: DatasetSpec, run: sqlite3.Row,
             over_newer: bool) -> LoadResult:
    try:
        return publish_held(workspace, spec, run["load_id"], over_newer=over_newer)
    except LoadError as exc:
        raise ReviewError(str(exc)) from exc


def _waive(workspace: Workspace, spec: DatasetSpec, run: sqlite3.Row, rule: str,
           over_newer: bool) -> tuple[str, LoadResult | None]:
    run_id = run["run_id"]
    with _connect(workspace) as meta, metadata.write_transaction(meta):
        result = meta.execute("SELECT * FROM quality_results WHERE run_id = ? AND rule = ?",
                              (run_id, rule)).fetchone()
        if result is None or result["success"]:
            failed = [r[0] for r in meta.execute(
                "SELECT rule FROM quality_results WHERE run_id = ? AND NOT success", (run_id,))]
            raise ReviewError(f"{rule!r} is not a failed expectation of run {run_id}"
                              + (f": failed are {', '.join(failed)}" if failed else ""))
        if result["waived"]:
            raise ReviewError(f"{rule} is waived already in run {run_id}")
        meta.execute("UPDATE quality_results SET waived = 1 WHERE run_id = ? AND rule = ?",
                      (run_id, rule))
        counts = meta.execute(
            "SELECT count(*) FILTER (WHERE success) AS passed, "
            "count(*) FILTER (WHERE waived) AS waived, count(*) AS total, "
            "count(*) FILTER (WHERE NOT success AND NOT waived AND severity = 'error') AS errors, "
            "count(*) FILTER (WHERE NOT success AND NOT waived AND severity = 'warning') "
            "AS warnings FROM quality_results WHERE run_id = ?", (run_id,)).fetchone()
        meta.execute("UPDATE quality_runs SET waived = ?, errors = ?, warnings = ?, score = ? "
                     "WHERE run_id = ?",
                     (counts["waived"], counts["errors"], counts["warnings"],
                      run_score(counts["passed"], counts["waived"], counts["total"]), run_id))
    outcome = f"{rule} waived"
    if run["status"] == "blocked" and run["decision"] is None and counts["errors"] == 0:
        published = _publish(workspace, spec, run, over_newer)
        return f"{outcome}; no blocking failure left: published as snapshot " \
               f"{published.snapshot_id}", published
    return outcome, None
