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
``failed`` with the reader's error and raises ``ImportBrokeOff`` (its own exit status, 8): once
the file is whole, re-running resumes.

Within one file the first record with a 信息资源代码 wins: a later, different record with the
same code is refused (an identical one is merged as a repeat), so re-importing the file is
stable. Records that share a key (标题+提供单位) but differ elsewhere stay distinct entries by
their order (``key#n``), each later one warned ``ambiguous_key``: if the file's order changes,
such entries may swap. Mulu's own exports also bring their organisations (``own_export``).
"""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Callable, Iterable, Iterator
from itertools import islice
from pathlib import Path
from typing import Any, Literal

from catalog.directory import BATCH_SIZE, Directory, now_local
from catalog.importing import own_export
from catalog.importing.draft import draft_mapping
from catalog.importing.import_report import ImportReport, ProblemSink
from catalog.importing.import_run import ImportRun, labelled
from catalog.importing.mapping import Mapping, MappingError, detect_mapping, resolve_mapping
from catalog.importing.reading import Document, ReadError, read_document
from catalog.importing.records import SourceRecord
from catalog.importing.seen import SeenRecords
from schemas.errors import InvalidInput
from schemas.messages import Lang, Reason
from warehouse.store.sqlite.scratch import ImportScratch
from warehouse.workspace import Workspace

Progress = Callable[[int], None]
CHUNK = BATCH_SIZE  # records mapped, checked and written per transaction
SAMPLE = 200  # records whose field names tell which columns a file has

__all__ = ["ImportBrokeOff", "ImportReport", "import_file", "mark_interrupted", "process_alive"]


class ImportBrokeOff(InvalidInput):
    """The file broke off mid-way, after some records were read: those landed (``report``
    counts them; its status is ``failed``), the ``imports`` row is ``failed`` with the reader's
    error, and re-running the import once the file is whole resumes it. Unlike the other
    InvalidInput errors something was written, so the CLI exits with its own status."""

    exit_code = 8  # 7 is ``mulu run``'s blocked load

    def __init__(self, report: ImportReport, error: ReadError, lang: Lang) -> None:
        self.report = report
        self.where = error.text(lang)
        landed = report.created + report.updated + report.unchanged
        reason = Reason("import_broke_off", {"landed": f"{landed:,}", "where": self.where})
        super().__init__(reason.text(lang))


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
    source: str | None = None,
) -> ImportReport:
    """Import ``path``; whole-file problems (unreadable, empty, no mapping fits, an explicit
    mapping's columns missing) raise ``InvalidInput`` before anything is written. A file that
    breaks off after its first records raises ``ImportBrokeOff`` (its ``report`` counts what
    landed). ``source`` names the portal whose record keys (name+provider) are only unique
    within it (``--source``); None: the mapping's own."""
    path = Path(path)
    store = directory.store
    mark_interrupted(directory)
    if path.is_dir():
        raise InvalidInput(Reason("is_a_directory", {"file": path}).text(lang))
    try:
        document = read_document(path)
    except ReadError as exc:
        raise _in_language(exc, lang) from None
    chosen, records, drafted = _choose_mapping(document, mapping, lang)
    try:
        chosen = chosen.with_source(source)
    except ValueError as exc:
        raise InvalidInput(f"--source: {exc}") from None
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
            _import_organisations(directory, document, chosen, report, sink)
            run = ImportRun(directory, chosen, report, sink, SeenRecords(scratch), legacy=legacy)
            run.spreadsheet = own_export.is_spreadsheet(path)
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
                        "missing": _joined(missing, lang),
                        "columns": _joined(sorted(columns), lang) or "-",
                    },
                ).text(lang)
            )
        return chosen, records, False
    if document.format in ("csv", "xlsx") and not _any(document.records(None)):
        raise InvalidInput(
            Reason(
                "header_only",
                {"file": document.path, "columns": _joined(list(document.header), lang)},
            ).text(lang)
        )
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
                        "missing": _joined([labelled(f) for f in draft.missing], lang),
                        "columns": _joined(sorted(columns), lang) or "-",
                    },
                ).text(lang)
            ) from refusal
        records = document.records(draft.mapping.records)
        if records is None:
            raise
        return draft.mapping, records, True


def _any(records: Iterable[SourceRecord] | None) -> bool:
    return records is not None and next(iter(records), None) is not None


def _joined(items: list[str], lang: Lang) -> str:
    """A list in a message, with the language's punctuation."""
    return ("、" if lang == "zh" else ", ").join(items)


def _import_organisations(
    directory: Directory,
    document: Document,
    mapping: Mapping,
    report: ImportReport,
    sink: ProblemSink,
) -> None:
    """Mulu's own export: its organisations, before its entries (see ``own_export``)."""
    where = own_export.ORGANISATION_LISTS.get(mapping.name)
    if where is None:
        return
    found, problems = own_export.valid_organisations(
        own_export.organisations(document, mapping.name), where
    )
    for problem in problems:
        sink.add(problem, json.dumps(problem.value, ensure_ascii=False, default=str), None)
    if found:
        directory.add_organisations(found)
    report.organisations = len(found)


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
