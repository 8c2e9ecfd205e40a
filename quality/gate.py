"""The quality gate: every load is validated between staging and publishing.

``load_validated(store, workspace, spec)`` is ``warehouse.load.load_dataset`` with a
``QualityGate``: the staged rows are validated with the spec's suite (GE on DuckDB); an
error-severity failure blocks the load (the loader holds the rows, the live table stays as it
was) and its failing rows go to the quarantine table (``Workspace.quarantine_dir``); warnings
publish, flagged. The volume guard (``quality.volume``, rule ``table:volume``) is one more
error-severity result: a row count too far from the published version's blocks the load too.
Either way the run, its expectation results and failing-row samples are kept by the store
(``store.quality``) and GE Data Docs are built for it (``Workspace.quality_docs_dir``).
"""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path
from typing import Any

from quality.quarantine import numbered_rows, source_samples, write_quarantine
from quality.scores import run_score
from quality.suites import build_suite
from quality.validate import ValidationReport, validate_parquet
from quality.volume import check_volume
from schemas.dataset_spec import DatasetSpec
from schemas.entry import catalogue_now
from warehouse.load import GateVerdict, LoadResult, StagedLoad, load_dataset
from warehouse.store import Store
from warehouse.workspace import Workspace

log = logging.getLogger(__name__)


class QualityGate:
    """Validates one dataset's staged loads and stores each run; a ``warehouse`` Gate."""

    def __init__(
        self,
        store: Store,
        workspace: Workspace,
        spec: DatasetSpec,
        *,
        today: dt.date | None = None,
        data_docs: bool = True,
    ) -> None:
        self.store, self.workspace, self.spec = store, workspace, spec
        self.today = today
        self.data_docs = data_docs
        self.report: ValidationReport | None = None  # the last run's, for callers

    def __call__(self, staged: StagedLoad) -> GateVerdict:
        run_id, spec = staged.load_id, self.spec
        today = self.today or catalogue_now().date()
        definition = build_suite(spec, today=today)
        spill = self.workspace.staging_dir / ".duckdb-tmp"
        volume = check_volume(self.workspace, spec, staged)
        report = validate_parquet(staged.path, spec, today=today, temp_dir=spill, samples=False)
        blocked = report.blocked or not volume.success
        samples: dict[str, list[dict[str, Any]]] = {}
        quarantined, quarantine_path = 0, None
        if any(definition.rule(r.rule).unexpected_where for r in report.failures):
            files = [(Path(s.landed_path), s.url) for s in staged.sources]
            labels = [label for _, label in files]
            with numbered_rows(self.workspace, spec, files, definition) as con:
                samples = source_samples(con, spec, report, definition, labels)
                if blocked:
                    target = self.workspace.quarantine_dir / spec.name / f"{run_id}.parquet"
                    quarantined = write_quarantine(con, report, definition, labels, target)
                    quarantine_path = str(target) if quarantined else None
        # The volume guard's result joins the suite's (after quarantine, which reads only the
        # suite's row-level rules): stored, scored, waived and shown like them.
        report.results.append(volume)
        docs = self._docs(report, run_id)
        store_run(
            self.store,
            spec,
            report,
            run_id=run_id,
            samples=samples,
            quarantine_path=quarantine_path,
            quarantined_rows=quarantined,
            data_docs=docs,
        )
        self.report = report
        return GateVerdict(run_id=run_id, blocked=report.blocked, flagged=bool(report.warnings))

    def _docs(self, report: ValidationReport, run_id: str) -> str | None:
        """GE Data Docs of the run; a failure to render them never fails the load."""
        if not self.data_docs or report.ge_result is None:
            return None
        try:
            from quality.data_docs import build_data_docs

            pii = {c.name for c in self.spec.columns if c.pii is not None}
            return str(
                build_data_docs(
                    report.ge_result,
                    site_dir=self.workspace.quality_docs_dir,
                    run_id=run_id,
                    pii_columns=pii,
                )
            )
        except Exception as exc:  # rendering is a side product of the run: never fail it
            log.warning("%s: Data Docs for run %s not built: %s", self.spec.name, run_id, exc)
            return None


def load_validated(
    store: Store,
    workspace: Workspace,
    spec: DatasetSpec,
    *,
    force: bool = False,
    today: dt.date | None = None,
    data_docs: bool = True,
) -> LoadResult:
    """Load ``spec``'s source with every staged load validated before it is published."""
    gate = QualityGate(store, workspace, spec, today=today, data_docs=data_docs)
    return load_dataset(workspace, spec, force=force, gate=gate, store=store)


def store_run(
    store: Store,
    spec: DatasetSpec,
    report: ValidationReport,
    *,
    run_id: str,
    samples: dict[str, list[dict[str, Any]]],
    quarantine_path: str | None = None,
    quarantined_rows: int = 0,
    data_docs: str | None = None,
) -> None:
    """Keep the run, its results and samples (``samples`` by rule; a rule not in it keeps the
    report's own samples) in one transaction."""
    records = report.to_records(run_id)
    run = records["quality_runs"][0]
    passed = sum(1 for r in report.results if r.success)
    status = "blocked" if report.blocked else "warned" if report.warnings else "passed"
    stored_samples = []
    for result in report.results:
        found = samples.get(result.rule)
        if found is None:  # the report's own (row numbers within the staged file)
            found = [
                {
                    "source_file": None,
                    "source_row": s.get("source_row"),
                    "reason": s["reason"],
                    "values": s["values"],
                }
                for s in result.samples
            ]
        stored_samples += [
            {**sample, "rule": result.rule, "position": position}
            for position, sample in enumerate(found, 1)
        ]
    store.quality.add_run(
        {
            "run_id": run_id,
            "dataset": spec.name,
            "entry_code": spec.entry_code,
            "load_id": run_id,
            "status": status,
            "rows": run["rows"],
            "expectations": len(report.results),
            "passed": passed,
            "errors": run["errors"],
            "warnings": run["warnings"],
            "score": run_score(passed, 0, len(report.results)),
            "today": run["today"],
            "engine": run["engine"],
            "started_at": run["started_at"],
            "finished_at": run["finished_at"],
            "seconds": run["seconds"],
            "quarantine_path": quarantine_path,
            "quarantined_rows": quarantined_rows,
            "data_docs": data_docs,
            "spec": spec.model_dump_json(),
        },
        [{**r, "column_name": r["column"]} for r in records["quality_results"]],
        stored_samples,
    )
