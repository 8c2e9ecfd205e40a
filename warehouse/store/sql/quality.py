"""Quality runs (质量校验), their expectation results, failing-row samples and stewards' reviews
(质量审核): tables of migration 004 (SQLite) and the PostgreSQL baseline, in SQL both accept.
Plain values in, plain dicts out; the rules (what may be reviewed, how a score is computed) live
in ``quality``.

Insertion order is ``rowid``: SQLite's implicit one, an explicit identity column of
``quality_runs`` and ``quality_results`` on PostgreSQL, never part of a returned row.

A run's ``quarantine_path`` and ``data_docs`` are kept relative to the workspace and come back
resolved against the workspace this database lies in. A review is ``pending`` from the moment
a steward's decision starts publishing until it is done (or removed, when the publish did not
happen); ``reviews`` lists done ones only."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, Literal

from warehouse.store.database import Database
from warehouse.store.fields import ScoreKey
from warehouse.store.sql.rows import dumps, marks
from warehouse.workspace import Workspace

_RUN_COLUMNS = (
    "run_id",
    "dataset",
    "entry_code",
    "load_id",
    "status",
    "rows",
    "expectations",
    "passed",
    "errors",
    "warnings",
    "score",
    "today",
    "engine",
    "started_at",
    "finished_at",
    "seconds",
    "quarantine_path",
    "quarantined_rows",
    "data_docs",
    "spec",
)
_RESULT_COLUMNS = (
    "run_id",
    "rule",
    "expectation_type",
    "column_name",
    "severity",
    "source",
    "success",
    "unexpected_count",
    "element_count",
    "observed_value",
    "description",
    "error",
)
_PATH_COLUMNS = ("quarantine_path", "data_docs")
_SAMPLE_COLUMNS = ("run_id", "rule", "position", "source_file", "source_row", "reason", '"values"')
_LISTED = (
    "run_id, dataset, entry_code, status, decision, rows, expectations, passed, errors, "
    "warnings, waived, score, started_at, seconds, quarantined_rows"
)
NO_LIMIT = 2**63 - 1  # LIMIT for "all" (SQLite has no LIMIT ALL, PostgreSQL no LIMIT -1)
HIDDEN = "rowid"  # PostgreSQL's stand-in for SQLite's implicit rowid: not a column of a row


def mean_score(expr: str) -> str:
    """The mean of ``expr`` rounded to one decimal, a float in both dialects (PostgreSQL rounds
    numeric only, to the same half away from zero as SQLite's round)."""
    return f"CAST(round(CAST(avg({expr}) AS NUMERIC), 1) AS DOUBLE PRECISION)"


def _visible(row: Any) -> dict[str, Any]:
    found = dict(row)
    found.pop(HIDDEN, None)
    return found


# The latest run of each entry (started_at is to the second: rowid breaks ties).
_LATEST = """
    SELECT r.entry_code, r.score, r.started_at FROM quality_runs r
    WHERE r.run_id = (SELECT run_id FROM quality_runs x WHERE x.entry_code = r.entry_code
                      ORDER BY x.started_at DESC, x.rowid DESC LIMIT 1)
"""
_MONTHLY = {
    "entry": f"""
        SELECT r.entry_code AS k, substr(r.started_at, 1, 7) AS month,
               {mean_score("r.score")} AS score, count(*) AS runs
        FROM quality_runs r WHERE r.entry_code IS NOT NULL GROUP BY 1, 2 ORDER BY 1, 2""",
    "organisation": f"""
        SELECT e.provider_code AS k, substr(r.started_at, 1, 7) AS month,
               {mean_score("r.score")} AS score, count(*) AS runs
        FROM quality_runs r JOIN entries e ON e.code = r.entry_code GROUP BY 1, 2
        ORDER BY 1, 2""",
}


class SqlQuality:
    def __init__(self, db: Database, workspace: Workspace) -> None:
        self.db = db
        self.paths = workspace  # stored paths are relative to it

    # --- runs ------------------------------------------------------------------------------
    def add_run(
        self,
        run: dict[str, Any],
        results: Sequence[dict[str, Any]],
        samples: Sequence[dict[str, Any]],
    ) -> None:
        """One run with its expectation results and samples, in one transaction. ``run`` has
        the ``quality_runs`` columns (``spec``: JSON text), each result the
        ``quality_results`` columns, each sample {rule, position, source_file, source_row,
        reason, values: dict}."""
        run_id = run["run_id"]
        with self.db.transaction() as con:
            con.execute(
                f"INSERT INTO quality_runs ({', '.join(_RUN_COLUMNS)}) "
                f"VALUES ({marks(len(_RUN_COLUMNS))})",
                tuple(
                    self.paths.stored(run[c]) if c in _PATH_COLUMNS and run[c] else run[c]
                    for c in _RUN_COLUMNS
                ),
            )
            con.executemany(
                f"INSERT INTO quality_results ({', '.join(_RESULT_COLUMNS)}) "
                f"VALUES ({marks(len(_RESULT_COLUMNS))})",
                [
                    (run_id, *(int(r[c]) if c == "success" else r[c] for c in _RESULT_COLUMNS[1:]))
                    for r in results
                ],
            )
            con.executemany(
                f"INSERT INTO quality_samples ({', '.join(_SAMPLE_COLUMNS)}) "
                f"VALUES ({marks(len(_SAMPLE_COLUMNS))})",
                [
                    (
                        run_id,
                        s["rule"],
                        s["position"],
                        s.get("source_file"),
                        s.get("source_row"),
                        s.get("reason"),
                        dumps(s["values"]),
                    )
                    for s in samples
                ],
            )

    def runs(
        self,
        *,
        dataset: str | None = None,
        failed: bool = False,
        pending: bool = False,
        limit: int | None = None,
    ) -> list[dict[str, Any]]:
        """Runs (without spec, results, samples), newest first. ``failed``: blocked or warned;
        ``pending``: blocked and not decided."""
        rows = self.db.connection().execute(
            f"SELECT {_LISTED} FROM quality_runs "
            "WHERE (? IS NULL OR dataset = ?) "
            "AND (? = 0 OR status <> 'passed') "
            "AND (? = 0 OR (status = 'blocked' AND decision IS NULL)) "
            "ORDER BY started_at DESC, run_id DESC LIMIT ?",
            (dataset, dataset, int(failed), int(pending), limit if limit else NO_LIMIT),
        )
        return [dict(r) for r in rows]

    def run_ids(self, run_id_or_prefix: str, *, limit: int = 3) -> list[str]:
        """Run ids equal to ``run_id_or_prefix`` or starting with it (at most ``limit``)."""
        rows = self.db.connection().execute(
            "SELECT run_id FROM quality_runs WHERE run_id = ? OR substr(run_id, 1, ?) = ? "
            "ORDER BY run_id LIMIT ?",
            (run_id_or_prefix, len(run_id_or_prefix), run_id_or_prefix, limit),
        )
        return [str(r[0]) for r in rows]

    def run(self, run_id: str) -> dict[str, Any] | None:
        """Every column of one run (``spec``: the dataset spec as JSON text)."""
        row = (
            self.db.connection()
            .execute("SELECT * FROM quality_runs WHERE run_id = ?", (run_id,))
            .fetchone()
        )
        if row is None:
            return None
        run = _visible(row)
        for column in _PATH_COLUMNS:
            if run[column]:
                run[column] = str(self.paths.resolve(run[column]))
        return run

    def results(self, run_id: str) -> list[dict[str, Any]]:
        """The run's expectation results, failed first (errors before warnings), then in the
        order they were stored."""
        rows = self.db.connection().execute(
            "SELECT * FROM quality_results WHERE run_id = ? ORDER BY success, severity, rowid",
            (run_id,),
        )
        return [
            {**_visible(r), "success": bool(r["success"]), "waived": bool(r["waived"])}
            for r in rows
        ]

    def samples(self, run_id: str) -> list[dict[str, Any]]:
        """Failing-row samples of the run: {rule, source_file, source_row, reason, values},
        by rule and position."""
        rows = self.db.connection().execute(
            'SELECT rule, source_file, source_row, reason, "values" FROM quality_samples '
            "WHERE run_id = ? ORDER BY rule, position",
            (run_id,),
        )
        return [
            {
                "rule": r["rule"],
                "source_file": r["source_file"],
                "source_row": r["source_row"],
                "reason": r["reason"],
                "values": json.loads(r["values"]),
            }
            for r in rows
        ]

    def datasets_of_entry(self, entry_code: str) -> list[str]:
        """Datasets with a quality run for this catalogue entry."""
        rows = self.db.connection().execute(
            "SELECT DISTINCT dataset FROM quality_runs WHERE entry_code = ? ORDER BY dataset",
            (entry_code,),
        )
        return [str(r[0]) for r in rows]

    def latest_spec(self, datasets: Sequence[str]) -> str | None:
        """The dataset spec (JSON text) of the latest run of any of ``datasets``."""
        if not datasets:
            return None
        row = (
            self.db.connection()
            .execute(
                f"SELECT spec FROM quality_runs WHERE dataset IN ({marks(len(datasets))}) "
                "ORDER BY started_at DESC, rowid DESC LIMIT 1",
                tuple(datasets),
            )
            .fetchone()
        )
        return None if row is None else str(row[0])

    # --- waivers and decisions -------------------------------------------------------------
    def waive(self, run_id: str, rule: str) -> None:
        """Mark one expectation result of the run waived (it then counts as passed)."""
        with self.db.transaction() as con:
            con.execute(
                "UPDATE quality_results SET waived = 1 WHERE run_id = ? AND rule = ?",
                (run_id, rule),
            )

    def result_counts(self, run_id: str) -> dict[str, int]:
        """{total, passed, waived, errors, warnings} over the run's results; errors and
        warnings count failed results not waived."""
        row = (
            self.db.connection()
            .execute(
                "SELECT count(*) AS total, "
                "count(*) FILTER (WHERE success <> 0) AS passed, "
                "count(*) FILTER (WHERE waived <> 0) AS waived, "
                "count(*) FILTER (WHERE success = 0 AND waived = 0 AND severity = 'error') "
                "AS errors, "
                "count(*) FILTER (WHERE success = 0 AND waived = 0 AND severity = 'warning') "
                "AS warnings FROM quality_results WHERE run_id = ?",
                (run_id,),
            )
            .fetchone()
        )
        return {key: int(value) for key, value in dict(row).items()}

    def set_counts(
        self, run_id: str, *, waived: int, errors: int, warnings: int, score: float
    ) -> None:
        with self.db.transaction() as con:
            con.execute(
                "UPDATE quality_runs SET waived = ?, errors = ?, warnings = ?, "
                "score = ? WHERE run_id = ?",
                (waived, errors, warnings, score, run_id),
            )

    def decide(self, run_id: str, decision: Literal["accepted", "rejected"]) -> None:
        with self.db.transaction() as con:
            con.execute("UPDATE quality_runs SET decision = ? WHERE run_id = ?", (decision, run_id))

    # --- reviews ---------------------------------------------------------------------------
    def add_review(
        self,
        run_id: str,
        *,
        action: str,
        rule: str | None,
        note: str | None,
        reviewer: str,
        at: str,
        outcome: str,
        state: Literal["pending", "done"] = "done",
    ) -> int:
        """Record one review (``pending``: its publish is under way); its id."""
        with self.db.transaction() as con:
            row = con.execute(
                "INSERT INTO quality_reviews (run_id, action, rule, note, reviewer, at, "
                "outcome, state) VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING review_id",
                (run_id, action, rule, note, reviewer, at, outcome, state),
            ).fetchone()
            return int(row[0])

    def finish_review(self, review_id: int, outcome: str) -> None:
        """A pending review is done, with what it did."""
        with self.db.transaction() as con:
            con.execute(
                "UPDATE quality_reviews SET state = 'done', outcome = ? WHERE review_id = ?",
                (outcome, review_id),
            )

    def remove_pending_review(self, review_id: int) -> None:
        """Forget a pending review whose publish did not happen (nothing was done)."""
        with self.db.transaction() as con:
            con.execute(
                "DELETE FROM quality_reviews WHERE review_id = ? AND state = 'pending'",
                (review_id,),
            )

    def pending_reviews(self, dataset: str | None = None) -> list[dict[str, Any]]:
        """Pending reviews (of ``dataset``'s runs, or all), each with its run's ``dataset``
        and ``load_id``, oldest first."""
        rows = self.db.connection().execute(
            "SELECT v.*, r.dataset, r.load_id FROM quality_reviews v "
            "JOIN quality_runs r ON r.run_id = v.run_id "
            "WHERE v.state = 'pending' AND (? IS NULL OR r.dataset = ?) ORDER BY v.review_id",
            (dataset, dataset),
        )
        return [dict(r) for r in rows]

    def set_review_outcome(self, review_id: int, outcome: str) -> None:
        with self.db.transaction() as con:
            con.execute(
                "UPDATE quality_reviews SET outcome = ? WHERE review_id = ?", (outcome, review_id)
            )

    def reviews(self, run_id: str) -> list[dict[str, Any]]:
        rows = self.db.connection().execute(
            "SELECT * FROM quality_reviews WHERE run_id = ? AND state = 'done' ORDER BY review_id",
            (run_id,),
        )
        return [dict(r) for r in rows]

    # --- scores ----------------------------------------------------------------------------
    def latest_entry_scores(self) -> list[dict[str, Any]]:
        """Per entry with runs: {code, name, organisation, score (of its latest run), runs,
        started_at (of that run)}, lowest score first."""
        rows = self.db.connection().execute(f"""
            SELECT l.entry_code AS code, coalesce(e.name, '') AS name,
                   coalesce(e.provider_name, '') AS organisation, l.score, l.started_at,
                   (SELECT count(*) FROM quality_runs x WHERE x.entry_code = l.entry_code)
                       AS runs
            FROM ({_LATEST}) l LEFT JOIN entries e ON e.code = l.entry_code
            ORDER BY l.score, l.entry_code""")
        return [dict(r) for r in rows]

    def latest_organisation_scores(self) -> list[dict[str, Any]]:
        """Per 提供方 with validated entries: {code, name, score (mean of its entries' latest
        run scores), entries, runs}, lowest score first."""
        rows = self.db.connection().execute(f"""
            SELECT e.provider_code AS code, e.provider_name AS name,
                   {mean_score("l.score")} AS score, count(*) AS entries,
                   (SELECT count(*) FROM quality_runs x JOIN entries y ON y.code = x.entry_code
                    WHERE y.provider_code = e.provider_code) AS runs
            FROM ({_LATEST}) l JOIN entries e ON e.code = l.entry_code
            GROUP BY e.provider_code, e.provider_name
            ORDER BY score, code""")
        return [dict(r) for r in rows]

    def monthly_scores(self, by: ScoreKey) -> dict[str, list[dict[str, Any]]]:
        """{entry or organisation code: [{month (YYYY-MM), score (mean run score), runs}]},
        months in order."""
        out: dict[str, list[dict[str, Any]]] = {}
        for row in self.db.connection().execute(_MONTHLY[by]):
            out.setdefault(row["k"], []).append(
                {"month": row["month"], "score": row["score"], "runs": row["runs"]}
            )
        return out
