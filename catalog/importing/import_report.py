"""What an import tells its user: the counts, the first problems, and every problem streamed
to the rejects file and the ``import_rejects`` table as it is found.

Memory stays flat however many records warn: problems are written out in batches and the
report keeps only the first ``KEPT_PROBLEMS`` of them.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Literal

from catalog.importing.records import Problem
from schemas.messages import Lang, Reason
from warehouse.store.interfaces import Imports
from warehouse.workspace import Workspace

KEPT_PROBLEMS = 200  # in the report (the CLI prints 50); all of them are in the file and table
WRITE_BATCH = 1_000
REJECTS_COLUMNS = ["file", "row", "field", "severity", "reason", "raw"]
DRAFT_COMMAND = "mulu catalog mapping draft {file} -o my.yaml"


@dataclass
class ImportReport:
    file: str
    mapping: str
    import_id: int
    lang: Lang = "zh"
    records: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0  # records that did not land
    warned: int = 0  # records that landed with a warning
    duplicates: int = 0  # exact repeats of an earlier record, merged into its entry
    organisations: int = 0  # organisations upserted from the file (Mulu's own exports)
    problem_count: int = 0
    problems: list[Problem] = field(default_factory=list)  # the first KEPT_PROBLEMS
    rejects_file: str | None = None
    drafted: bool = False  # the mapping was drafted from the file's headers
    status: Literal["running", "finished", "failed", "interrupted"] = "running"
    error: str | None = None  # what ended a failed or interrupted import

    @property
    def errors(self) -> list[Problem]:
        """The kept problems that rejected a record."""
        return [p for p in self.problems if p.severity == "reject"]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "warning"]

    def counts(self) -> dict[str, int]:
        return {
            "records": self.records,
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "rejected": self.rejected,
            "warned": self.warned,
            "duplicates": self.duplicates,
        }

    def draft_hint(self, lang: Lang | None = None) -> str | None:
        if not self.drafted:
            return None
        command = DRAFT_COMMAND.format(file=self.file)
        return Reason("drafted_mapping", {"mapping": self.mapping, "command": command}).text(
            lang or self.lang
        )

    def lines(self, lang: Lang | None = None, limit: int = 50) -> list[str]:
        """``file:row: field: reason``, one per problem (the first ``limit``)."""
        return [
            f"{self.file}:{p.row if p.row is not None else '-'}: {p.field}: {p.text(lang or self.lang)}"
            for p in self.problems[:limit]
        ]

    def as_dict(self, lang: Lang | None = None) -> dict[str, Any]:
        lang = lang or self.lang
        return {
            "file": self.file,
            "mapping": self.mapping,
            "drafted": self.drafted,
            "draft_hint": self.draft_hint(lang),
            "import_id": self.import_id,
            "organisations": self.organisations,
            "status": self.status,
            "error": self.error,
            **self.counts(),
            "problems_total": self.problem_count,
            "rejects_file": self.rejects_file,
            "problems": [{"file": self.file, **p.as_dict(lang)} for p in self.problems],
            # The rejects alone, as before issue 12.
            "errors": [
                {"file": self.file, "row": p.row, "field": p.field, "reason": p.text(lang)}
                for p in self.errors
            ],
        }


class ProblemSink:
    """Streams an import's problems to ``rejects/import-NNNNN-<stem>.csv`` (opened at the first
    problem) and to the ``import_rejects`` table, in batches."""

    def __init__(
        self,
        workspace: Workspace,
        imports: Imports,
        report: ImportReport,
        source: Path,
    ) -> None:
        self.workspace = workspace
        self.imports = imports
        self.report = report
        self.source = source
        self.path: Path | None = None
        self._handle: IO[str] | None = None
        self._writer: Any = None
        self._pending: list[dict[str, Any]] = []

    def add(self, problem: Problem, raw: str, fields: dict[str, Any] | None) -> None:
        report = self.report
        report.problem_count += 1
        if len(report.problems) < KEPT_PROBLEMS:
            report.problems.append(problem)
        reason = problem.text(report.lang)
        if self._writer is None:
            self._open()
        self._writer.writerow(
            [str(self.source), problem.row, problem.field, problem.severity, reason, raw]
        )
        self._pending.append(
            {
                "row": problem.row,
                "field": problem.field,
                "severity": problem.severity,
                "code": problem.reason.code,
                "reason": reason,
                "record": _record_json(fields, problem),
                "raw": raw,
            }
        )
        if len(self._pending) >= WRITE_BATCH:
            self.flush()

    def _open(self) -> None:
        self.workspace.rejects_dir.mkdir(parents=True, exist_ok=True)
        self.path = (
            self.workspace.rejects_dir
            / f"import-{self.report.import_id:05d}-{self.source.stem}.csv"
        )
        self._handle = self.path.open("w", encoding="utf-8-sig", newline="")
        self._writer = csv.writer(self._handle)
        self._writer.writerow(REJECTS_COLUMNS)
        self.report.rejects_file = str(self.path)

    def flush(self) -> None:
        if self._pending:
            self.imports.add_problems(self.report.import_id, self._pending)
            self._pending = []
        if self._handle is not None:
            self._handle.flush()

    def close(self) -> None:
        try:
            self.flush()
        finally:
            if self._handle is not None:
                self._handle.close()
                self._handle = None


def _record_json(fields: dict[str, Any] | None, problem: Problem) -> str:
    value: Any = fields if fields is not None else {"value": problem.value}
    return json.dumps(value, ensure_ascii=False, default=str)
