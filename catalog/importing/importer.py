"""Import one file into the directory: read, pick a mapping, map, validate, write.

Good rows are written; each bad row is reported with file, row, field and reason, kept
verbatim in the ``import_rejects`` table and in a CSV under the workspace's ``rejects/``.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from catalog.directory import Directory, EntryRecord, RowError, now_local
from catalog.importing.mapping import Mapping, detect_mapping, resolve_mapping
from catalog.importing.readers import read_document
from warehouse.workspace import Workspace

Progress = Callable[[int], None]


@dataclass
class ImportReport:
    file: str
    mapping: str
    import_id: int
    records: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: list[RowError] = field(default_factory=list)
    rejects_file: str | None = None

    @property
    def rejected(self) -> int:
        return len({e.row for e in self.errors})

    def as_dict(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "mapping": self.mapping,
            "import_id": self.import_id,
            "records": self.records,
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "rejected": self.rejected,
            "rejects_file": self.rejects_file,
            "errors": [
                {"file": self.file, "row": e.row, "field": e.field, "reason": e.reason}
                for e in self.errors
            ],
        }


def import_file(
    directory: Directory,
    workspace: Workspace,
    path: Path,
    *,
    mapping: str | None = None,
    progress: Progress | None = None,
) -> ImportReport:
    path = Path(path)
    document = read_document(path)
    if mapping is not None:
        chosen = resolve_mapping(mapping)
        records = document.records(chosen.records)
        if records is None:
            records = []
    else:
        chosen, records = detect_mapping(document)
    store = directory.store
    started = now_local().isoformat()
    # Kept relative when the file lies in the workspace (a copied workspace finds its own);
    # a file elsewhere is the user's, kept where it was.
    import_id = store.imports.start(
        workspace.stored(path.resolve()), chosen.name, directory.user, started
    )
    report = ImportReport(str(path), chosen.name, import_id)

    mapping_errors: list[RowError] = []
    entry_records = _entry_records(chosen, records, mapping_errors, progress, report)
    result = directory.apply(
        entry_records, source=chosen.name, classification=chosen.classification, import_id=import_id
    )
    report.created, report.updated, report.unchanged = (
        result.created,
        result.updated,
        result.unchanged,
    )
    report.errors = sorted(
        mapping_errors
        + [
            RowError(e.row, chosen.source_of(e.field, e.record), e.reason, e.record)
            for e in result.errors
        ],
        key=lambda e: (e.row or 0, e.field),
    )
    if report.errors:
        report.rejects_file = str(_write_rejects(workspace, import_id, path, report.errors))
    store.imports.finish(
        import_id,
        {
            "records": report.records,
            "created": report.created,
            "updated": report.updated,
            "unchanged": report.unchanged,
            "rejected": report.rejected,
        },
        now_local().isoformat(),
        [
            {"row": e.row, "field": e.field, "reason": e.reason, "record": _clean(e.record)}
            for e in report.errors
        ],
        workspace.stored(report.rejects_file) if report.rejects_file else None,
    )
    return report


def _entry_records(
    mapping: Mapping,
    records: Iterable[dict[str, Any]],
    errors: list[RowError],
    progress: Progress | None,
    report: ImportReport,
) -> Iterator[EntryRecord]:
    """Entry candidates from source records, counting them into ``report.records``."""
    seen: dict[str, int] = {}
    for position, record in enumerate(records, start=1):
        report.records = position
        row = record.get("__row__", position) if isinstance(record, dict) else position
        if progress is not None and position % 1000 == 0:
            progress(1000)
        if not isinstance(record, dict):
            errors.append(RowError(row, "record", "not an object", {"value": record}))
            continue
        values, problems = mapping.apply(record)
        if problems:
            errors.extend(RowError(row, f, reason, record) for f, reason in problems)
            continue
        key = mapping.record_key(record, values)
        if key is not None:
            # Records identical in their key fields stay distinct: the n-th gets "#n".
            seen[key] = seen.get(key, 0) + 1
            if seen[key] > 1:
                key = f"{key}#{seen[key]}"
        yield EntryRecord(values, row=row, source_key=key, raw=record)
    if progress is not None:
        progress(report.records % 1000)


def _clean(record: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in record.items() if k != "__row__"}


def _write_rejects(
    workspace: Workspace, import_id: int, path: Path, errors: list[RowError]
) -> Path:
    workspace.rejects_dir.mkdir(parents=True, exist_ok=True)
    out = workspace.rejects_dir / f"import-{import_id:05d}-{path.stem}.csv"
    with out.open("w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["file", "row", "field", "reason", "record"])
        for e in errors:
            writer.writerow(
                [
                    str(path),
                    e.row,
                    e.field,
                    e.reason,
                    json.dumps(_clean(e.record), ensure_ascii=False, default=str),
                ]
            )
    return out
