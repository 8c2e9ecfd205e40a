"""Import one file into the directory: read, pick a mapping, map, validate, write.

Row-level isolation: a problem in one record never costs another. A record lands with a
warning when only an optional value or a character of it is unreadable (the raw value stays in
the report and beside the entry); it is rejected only when it must be (a required field missing,
extra fields, a field over the size limit). Every problem is streamed, with the record's
verbatim source text, to the ``import_rejects`` table and a CSV under the workspace's
``rejects/``.

Lifecycle: the ``imports`` row is ``running`` (with pid and host) while the import works and
always ends ``finished`` or ``failed`` (the error kept); a process killed outright leaves it
``running`` with a dead pid, which the next import or listing on that host marks
``interrupted``. Records are written in batches, each its own transaction, and applying a
record already applied changes nothing, so re-running the same import resumes it. A file that
breaks off mid-way (a download cut short) keeps the records read before the break, ends the row
``failed`` with the reader's error and raises ``ImportBrokeOff`` (its own exit status, 7): once
the file is whole, re-running resumes.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable, Iterable, Iterator
from itertools import islice
from pathlib import Path
from typing import Any, Literal

from catalog.directory import (
    BATCH_SIZE,
    ApplyResult,
    Directory,
    EntryRecord,
    RowError,
    now_local,
)
from catalog.importing.draft import draft_mapping
from catalog.importing.import_report import ImportReport, ProblemSink
from catalog.importing.mapping import (
    FieldProblem,
    Mapping,
    MappingError,
    detect_mapping,
    resolve_mapping,
)
from catalog.importing.readers import Document, ReadError, read_document
from catalog.importing.records import Problem, SourceRecord
from catalog.importing.seen import SeenRecords
from schemas.entry import CatalogueEntry
from schemas.errors import InvalidInput
from schemas.messages import Lang, Reason
from warehouse.store.sqlite.scratch import ImportScratch
from warehouse.workspace import Workspace

Progress = Callable[[int], None]
CHUNK = BATCH_SIZE  # records mapped, checked and written per transaction
SAMPLE = 200  # records whose field names tell which columns a file has

__all__ = ["ImportBrokeOff", "ImportReport", "import_file", "mark_interrupted", "process_alive"]

# The broke-off message (one import outcome, so kept beside it rather than in MESSAGES).
_BROKE_OFF = {
    "zh": "断开前的 {landed} 条记录已导入，文件随后中途断开（{where}）；请修复文件后重新导入，"
    "将从断开处继续",
    "en": "{landed} records landed before the file broke off at {where}; "
    "fix the file and re-run to resume",
}


class ImportBrokeOff(InvalidInput):
    """The file broke off mid-way, after some records were read: those landed (``report``
    counts them; its status is ``failed``), the ``imports`` row is ``failed`` with the reader's
    error, and re-running the import once the file is whole resumes it. Unlike the other
    InvalidInput errors something was written, so the CLI exits with its own status."""

    exit_code = 7

    def __init__(self, report: ImportReport, error: ReadError, lang: Lang) -> None:
        self.report = report
        self.where = error.text(lang)
        landed = report.created + report.updated + report.unchanged
        super().__init__(_BROKE_OFF[lang].format(landed=f"{landed:,}", where=self.where))


def process_alive(pid: int) -> bool:
    """Whether process ``pid`` on this host still runs."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process: alive
    return True


def mark_interrupted(directory: Directory) -> list[int]:
    """Mark this host's imports whose process died (kill -9, power loss) as interrupted."""
    return directory.store.imports.mark_interrupted(socket.gethostname(), process_alive)


def import_file(
    directory: Directory,
    workspace: Workspace,
    path: Path,
    *,
    mapping: str | None = None,
    progress: Progress | None = None,
    lang: Lang = "zh",
) -> ImportReport:
    """Import ``path``; whole-file problems (unreadable, empty, no mapping fits, an explicit
    mapping's columns missing) raise ``InvalidInput`` before anything is written. A file that
    breaks off after its first records raises ``ImportBrokeOff`` (its ``report`` counts what
    landed)."""
    path = Path(path)
    store = directory.store
    mark_interrupted(directory)
    try:
        document = read_document(path)
    except ReadError as exc:
        raise _in_language(exc, lang) from None
    chosen, records, drafted = _choose_mapping(document, mapping, lang)
    # Entries imported before issue 12 carry "<mapping name>:<sha1>"; where none do, the old
    # key is never needed, so it is not worked out for each record.
    legacy = store.entries.has_source_key_prefix(f"{chosen.name}:")
    # The scratch store first: if it cannot be made, no imports row is left running.
    with ImportScratch(workspace.staging_dir / ".imports", process_alive) as scratch:
        # Kept relative when the file lies in the workspace (a copied workspace finds its
        # own); a file elsewhere is the user's, kept where it was.
        import_id = store.imports.start(
            workspace.stored(path.resolve()),
            chosen.name,
            directory.user,
            now_local().isoformat(),
            pid=os.getpid(),
            host=socket.gethostname(),
        )
        report = ImportReport(str(path), chosen.name, import_id, lang=lang, drafted=drafted)
        sink = ProblemSink(workspace, store.imports, report, path)
        try:
            run = _Run(directory, chosen, report, sink, SeenRecords(scratch), legacy=legacy)
            for chunk in _chunks(iter(records), CHUNK):
                run.apply(chunk)
                store.imports.progress(import_id, report.counts())
                if progress is not None:
                    progress(len(chunk))
            sink.close()
        except BaseException as exc:
            # Whatever ended it (a reader error mid-file, a bug, Ctrl-C), the row says so.
            if isinstance(exc, ReadError):
                _in_language(exc, lang)
            ended: Literal["failed", "interrupted"] = (
                "failed" if isinstance(exc, Exception) else "interrupted"
            )
            report.status = ended
            report.error = _error_text(exc)
            try:
                sink.close()
            finally:
                store.imports.finish(
                    import_id,
                    report.counts(),
                    now_local().isoformat(),
                    status=ended,
                    error=report.error,
                    rejects_file=_stored(workspace, report.rejects_file),
                )
            if isinstance(exc, ReadError) and report.records:
                raise ImportBrokeOff(report, exc, lang) from exc
            raise
    report.status = "finished"
    store.imports.finish(
        import_id,
        report.counts(),
        now_local().isoformat(),
        rejects_file=_stored(workspace, report.rejects_file),
    )
    return report


# --- choosing the mapping ----------------------------------------------------------------
def _choose_mapping(
    document: Document, name: str | None, lang: Lang
) -> tuple[Mapping, Iterable[Any], bool]:
    """(mapping, its records, whether it was drafted from the file's headers)."""
    if name is not None:
        chosen = resolve_mapping(name)
        records = document.records(chosen.records)
        if records is None:
            raise InvalidInput(Reason("no_records", {"file": document.path}).text(lang))
        columns = _columns(records)
        missing = chosen.missing_columns(columns)
        if missing and columns:  # (a file with no records has nothing to match wrongly)
            raise MappingError(
                Reason(
                    "mapping_columns_missing",
                    {
                        "file": document.path,
                        "mapping": chosen.name,
                        "missing": "、".join(missing),
                        "columns": "、".join(sorted(columns)) or "-",
                    },
                ).text(lang)
            )
        return chosen, records, False
    try:
        found, records = detect_mapping(document)
        return found, records, False
    except MappingError as refusal:
        draft = draft_mapping(document)
        if draft.missing:
            shown = document.records(draft.mapping.records)
            columns = _columns(shown) if shown is not None else set()
            raise MappingError(
                Reason(
                    "draft_incomplete",
                    {
                        "file": document.path,
                        "missing": "、".join(_labelled(f) for f in draft.missing),
                        "columns": "、".join(sorted(columns)) or "-",
                    },
                ).text(lang)
            ) from refusal
        records = document.records(draft.mapping.records)
        if records is None:
            raise
        return draft.mapping, records, True


def _labelled(field: str) -> str:
    """An entry field as users know it: "信息资源提供方 (provider_name)"."""
    info = CatalogueEntry.model_fields.get(field)
    return f"{info.title} ({field})" if info is not None and info.title else field


def _columns(records: Iterable[SourceRecord]) -> set[str]:
    found: set[str] = set()
    for record in islice(records, SAMPLE):
        found.update(record.fields)
    return found


# --- reading in chunks ---------------------------------------------------------------------
def _chunks(records: Iterator[SourceRecord], size: int) -> Iterator[list[SourceRecord]]:
    chunk: list[SourceRecord] = []
    try:
        for record in records:
            chunk.append(record)
            if len(chunk) >= size:
                yield chunk
                chunk = []
    except Exception:
        # The file broke off (or another reader error): the records read before it still land.
        if chunk:
            yield chunk
        raise
    if chunk:
        yield chunk


# --- one chunk -------------------------------------------------------------------------------


class _Run:
    """State of one import across its chunks."""

    def __init__(
        self,
        directory: Directory,
        mapping: Mapping,
        report: ImportReport,
        sink: ProblemSink,
        seen: SeenRecords,
        *,
        legacy: bool,
    ) -> None:
        self.directory = directory
        self.mapping = mapping
        self.report = report
        self.sink = sink
        self.seen = seen
        self.legacy = legacy  # whether entries with the mapping's pre-issue-12 keys exist

    def apply(self, chunk: list[SourceRecord]) -> None:
        report = self.report
        found: dict[int, list[Problem]] = {}  # row -> its problems, this chunk only
        mapped: list[tuple[SourceRecord, dict[str, Any]]] = []
        for record in chunk:
            report.records += 1
            problems = found.setdefault(record.row, [])
            problems.extend(record.problems)
            if record.rejected:
                continue
            values, field_problems = self.mapping.apply(record.fields)
            problems.extend(self._problem(record, p) for p in field_problems)
            if not any(p.severity == "reject" for p in problems):
                mapped.append((record, values))

        # Before issue 12 every record counted toward "#n", exact repeats included.
        legacy = self._legacy_keys(mapped)
        fresh: list[tuple[SourceRecord, dict[str, Any], str | None]] = []
        firsts = self.seen.first_rows([record for record, _ in mapped])
        for (record, values), first, old in zip(mapped, firsts, legacy, strict=True):
            if first is None:
                fresh.append((record, values, old))
                continue
            report.duplicates += 1
            found[record.row].append(
                Problem(
                    record.row,
                    "record",
                    Reason("duplicate_record", {"first_row": first}),
                    "warning",
                )
            )
        # Records sharing a key but differing elsewhere (yearly files under one title) stay
        # distinct entries: the n-th distinct one is "key#n".
        keys = self._numbered([self.mapping.record_key(r.fields, v) for r, v, _ in fresh])
        entries = [
            EntryRecord(
                values,
                row=record.row,
                source_key=key,
                raw=record.raw,
                source_record=record.fields,
                legacy_key=old,
            )
            for (record, values, old), key in zip(fresh, keys, strict=True)
        ]
        self.seen.commit()

        if entries:
            result = self._write(entries, chunk, found)
            report.created += result.created
            report.updated += result.updated
            report.unchanged += result.unchanged

        for record in chunk:
            problems = found.get(record.row) or []
            if not problems:
                continue
            if any(p.severity == "reject" for p in problems):
                report.rejected += 1
            elif any(p.reason.code != "duplicate_record" for p in problems):
                report.warned += 1
            for problem in problems:
                self.sink.add(problem, record.raw, record.fields)
            found[record.row] = []

    def _legacy_keys(self, mapped: list[tuple[SourceRecord, dict[str, Any]]]) -> list[str | None]:
        if not self.legacy:
            return [None] * len(mapped)
        keys = [self.mapping.legacy_key(record.fields, values) for record, values in mapped]
        return self._numbered(keys, "legacy")

    def _numbered(self, keys: list[str | None], kind: str = "") -> list[str | None]:
        """Each key as counted so far in this import (``key#n`` the n-th time); None stays."""
        counted = iter(self.seen.numbered([k for k in keys if k is not None], kind))
        return [None if key is None else next(counted) for key in keys]

    def _write(
        self,
        entries: list[EntryRecord],
        chunk: list[SourceRecord],
        found: dict[int, list[Problem]],
    ) -> ApplyResult:
        fields_of = {r.row: r.fields for r in chunk}

        def on_problem(problem: RowError) -> None:
            row = problem.row if problem.row is not None else 0
            found.setdefault(row, []).append(
                Problem(
                    row,
                    self.mapping.source_of(problem.field, fields_of.get(row)),
                    problem.reason,
                    problem.severity,
                    problem.value,
                )
            )

        return self.directory.apply(
            entries,
            source=self.mapping.name,
            classification=self.mapping.classification,
            import_id=self.report.import_id,
            batch_size=len(entries) + 1,  # the whole chunk in one transaction
            lenient=True,
            on_problem=on_problem,
        )

    def _problem(self, record: SourceRecord, found: FieldProblem) -> Problem:
        """A mapping's problem, naming the source column a person sees."""
        return Problem(
            record.row,
            self.mapping.source_of(found.field, record.fields),
            found.reason,
            found.severity,
            found.value,
        )


def _in_language(error: ReadError, lang: Lang) -> ReadError:
    """A reader's error with its message in the user's language."""
    error.args = (error.text(lang),)
    return error


def _error_text(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    first = text[0] if text else ""
    return f"{type(exc).__name__}: {first}"[:500]


def _stored(workspace: Workspace, path: str | None) -> str | None:
    return workspace.stored(path) if path else None
