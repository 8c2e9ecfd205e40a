"""The quality gate: every load is validated between staging and publishing.

``load_validated(workspace, spec)`` is ``warehouse.loading.load_dataset`` with a
``QualityGate``: the staged rows are validated with the spec's suite (GE on DuckDB); an
error-severity failure blocks the load (the loader holds the rows, the live table stays as it
was) and its failing rows go to the quarantine table; warnings publish, flagged. Either way the
run, its expectation results and failing-row samples are stored in the metadata database
(``quality_runs``, ``quality_results``, ``quality_samples``) and GE Data Docs are built for it.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
from pathlib import Path
from typing import Any

from quality.quarantine import numbered_rows, quarantine_dir, source_samples, write_quarantine
from quality.suites import build_suite
from quality.validate import ValidationReport, validate_parquet
from schemas.dataset_spec import DatasetSpec
from schemas.entry import catalogue_now
from warehouse import metadata
from warehouse.loading import GateVerdict, LoadResult, StagedLoad, load_dataset, staging_dir
from warehouse.workspace import Workspace

log = logging.getLogger(__name__)


def docs_dir(workspace: Workspace) -> Path:
    return workspace.quality_docs_dir


class QualityGate:
    """Validates one dataset's staged loads and stores each run; a ``warehouse`` Gate."""

    def __init__(self, workspace: Workspace, spec: DatasetSpec, *,
                 today: dt.date | None = None, data_docs: bool = True) -> None:
        self.workspace, self.spec = workspace, spec
        self.today = today
        self.data_docs = data_docs
        self.report: ValidationReport | None = None  # the last run's, for callers

    def __call__(self, staged: StagedLoad) -> GateVerdict:
        run_id, spec = staged.load_id, self.spec
        today = self.today or catalogue_now().date()
        definition = build_suite(spec, today=today)
        spill = staging_dir(self.workspace) / ".duckdb-tmp"
        report = validate_parquet(staged.path, spec, today=today, temp_dir=spill, samples=False)
        samples: dict[str, list[dict[str, Any]]] = {}
        quarantined, quarantine_path = 0, None
        if any(definition.rule(r.rule).unexpected_where for r in report.failures):
            files = [(Path(s.landed_path), s.url) for s in staged.sources]
            labels = [label for _, label in files]
            with numbered_rows(self.workspace, spec, files, definition) as con:
                samples = source_samples(con, spec, report, definition, labels)
                if report.blocked:
                    target = quarantine_dir(self.workspace) / spec.name / f"{run_id}.parquet"
                    quarantined = write_quarantine(con, report, definition, labels, target)
                    quarantine_path = str(target) if quarantined else None
        docs = self._docs(report, run_id)
        store_run(self.workspace, spec, report, run_id=run_id, samples=samples,
                  quarantine_path=quarantine_path, quarantined_rows=quarantined, data_docs=docs)
        self.report = report
        return GateVerdict(run_id=run_id, blocked=report.blocked, flagged=bool(report.warnings))

    def _docs(self, report: ValidationReport, run_id: str) -> str | None:
        """GE Data Docs of the run; a failure to render them never fails the load."""
        if not self.data_docs or report.ge_result is None:
            return None
        try:
            from quality.data_docs import build_data_docs

            pii = {c.name for c in self.spec.columns if c.pii is not None}
            return str(build_data_docs(report.ge_result, site_dir=docs_dir(self.workspace),
                                       run_id=run_id, pii_columns=pii))
        except Exception as exc:  # noqa: BLE001 - rendering is a side product of the run
            log.warning("%s: Data Docs for run %s not built: %s", self.spec.name, run_id, exc)
            return None


def load_validated(workspace: Workspace, spec: DatasetSpec, *, force: bool = False,
                   today: dt.date | None = None, data_docs: bool = True) -> LoadResult:
    """Load ``spec``'s source with every staged load validated before it is published."""
    gate = QualityGate(workspace, spec, today=today, data_docs=data_docs)
    return load_dataset(workspace, spec, force=force, gate=gate)


def run_score(passed: int, waived: int, expectations: int) -> float:
    """100 × the share of expectations passed or waived."""
    return round(100.0 * (passed + waived) / expectations, 1) if expectations else 100.0


def store_run(workspace: Workspace, spec: DatasetSpec, report: ValidationReport, *, run_id: str,
              samples: dict[str, list[dict[str, Any]]], quarantine_path: str | None = None,
              quarantined_rows: int = 0, data_docs: str | None = None) -> None:
    """One transaction: the run, its results and samples (``samples`` by rule; a rule not in
    it keeps the report's own samples)."""
    records = report.to_records(run_id)
    run = records["quality_runs"][0]
    passed = sum(1 for r in report.results if r.success)
    status = "blocked" if report.blocked else "warned" if report.warnings else "passed"
    with contextlib.closing(metadata.connect(workspace.metadata_db)) as meta, \
            metadata.write_transaction(meta):
        meta.execute(
            "INSERT INTO quality_runs (run_id, dataset, entry_code, load_id, status, rows, "
            "expectations, passed, errors, warnings, score, today, engine, started_at, "
            "finished_at, seconds, quarantine_path, quarantined_rows, data_docs, spec) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (run_id, spec.name, spec.entry_code, run_id, status, run["rows"],
             len(report.results), passed, run["errors"], run["warnings"],
             run_score(passed, 0, len(report.results)), run["today"], run["engine"],
             run["started_at"], run["finished_at"], run["seconds"], quarantine_path,
             quarantined_rows, data_docs, spec.model_dump_json()))
        meta.executemany(
            "INSERT INTO quality_results (run_id, rule, expectation_type, column_name, severity, "
            "source, success, unexpected_count, element_count, observed_value, description, "
            "error) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [(run_id, r["rule"], r["expectation_type"], r["column"], r["severity"], r["source"],
              int(r["success"]), r["unexpected_count"], r["element_count"], r["observed_value"],
              r["description"], r["error"]) for r in records["quality_results"]])
        rows = []
        for result in report.results:
            found = samples.get(result.rule)
            if found is None:  # the report's own (row numbers within the staged file)
                found = [{"source_file": None, "source_row": s.get("source_row"),
                          "reason": s["reason"], "values": s["values"]}
                         for s in result.samples]
            for position, sample in enumerate(found, 1):
                rows.append((run_id, result.rule, position, sample.get("source_file"),
                             sample.get("source_row"), sample.get("reason"),
                             json.dumps(sample["values"], ensure_ascii=False, default=str)))
        meta.executemany(
            'INSERT INTO quality_samples (run_id, rule, position, source_file, source_row, '
            'reason, "values") VALUES (?, ?, ?, ?, ?, ?, ?)', rows)
