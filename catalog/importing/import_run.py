"""One import's records, a chunk at a time: map them, merge exact repeats, refuse a later record
that repeats an earlier one's 信息资源代码, number records that share a key (warning each later
one), keep text Excel cut from replacing the stored full text, and write them.

Everything an import remembers across chunks is in its scratch store (``SeenRecords``), so
memory stays flat however many records the file holds.
"""

from __future__ import annotations

from typing import Any

from catalog.directory import ApplyResult, Directory, EntryRecord, RowError
from catalog.importing import own_export
from catalog.importing.import_report import ImportReport, ProblemSink
from catalog.importing.mapping import FieldProblem, Mapping
from catalog.importing.records import Problem, SourceRecord
from catalog.importing.seen import SeenRecords, record_digest
from schemas.entry import CatalogueEntry
from schemas.messages import Reason

__all__ = ["ImportRun", "has_code", "labelled"]


class ImportRun:
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
        self.spreadsheet = False  # read from a spreadsheet: a text at the cell limit may be cut

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
        digests = [record_digest(record.fields) for record, _ in mapped]
        mapped, digests = self._first_with_code(mapped, digests, found)

        # Before issue 12 every record counted toward "#n", exact repeats included.
        legacy = self._legacy_keys(mapped)
        fresh: list[tuple[SourceRecord, dict[str, Any], str | None]] = []
        firsts = self.seen.first_rows([record for record, _ in mapped], digests)
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
        keys = self._keys(fresh, found)
        if self.spreadsheet:
            for (record, values, _), key in zip(fresh, keys, strict=True):
                found[record.row].extend(self._excel_cut(record, values, key))
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

    def _first_with_code(
        self,
        mapped: list[tuple[SourceRecord, dict[str, Any]]],
        digests: list[int],
        found: dict[int, list[Problem]],
    ) -> tuple[list[tuple[SourceRecord, dict[str, Any]]], list[int]]:
        """The records (and their digests) whose 信息资源代码 no earlier, different record of
        the file gave; the others are refused (the first wins, so re-importing the file is
        stable)."""
        coded = [i for i, (_, values) in enumerate(mapped) if has_code(values)]
        clashes = dict(
            zip(
                coded,
                self.seen.code_clashes(
                    [(mapped[i][0], str(mapped[i][1]["code"]).strip()) for i in coded],
                    [digests[i] for i in coded],
                ),
                strict=True,
            )
        )
        kept, kept_digests = [], []
        for index, (record, values) in enumerate(mapped):
            first = clashes.get(index)
            if first is None:
                kept.append((record, values))
                kept_digests.append(digests[index])
                continue
            params = {"code": str(values["code"]).strip(), "first_row": first}
            field = self.mapping.source_of("code", record.fields)
            found[record.row].append(
                Problem(record.row, field, Reason("duplicate_code", params), "reject")
            )
        return kept, kept_digests

    def _keys(
        self,
        fresh: list[tuple[SourceRecord, dict[str, Any], str | None]],
        found: dict[int, list[Problem]],
    ) -> list[str | None]:
        """Each record's source key, ``key#n`` for the n-th distinct record sharing it; each
        later one of such a group warned: its entry depends on the file's order."""
        keyed = [
            (record, self.mapping.record_key(record.fields, values)) for record, values, _ in fresh
        ]
        present = [(key, record.row) for record, key in keyed if key is not None]
        counted = iter(self.seen.numbered_rows(present))
        keys: list[str | None] = []
        for record, key in keyed:
            if key is None:
                keys.append(None)
                continue
            numbered, first = next(counted)
            keys.append(numbered)
            if numbered != key:
                n = numbered.rsplit("#", 1)[1]
                params = {"first_row": first, "key": self._key_columns(record), "n": n}
                found[record.row].append(
                    Problem(record.row, "record", Reason("ambiguous_key", params), "warning")
                )
        return keys

    def _key_columns(self, record: SourceRecord) -> str:
        """The columns that identified the record, as the file names them: "标题+提供单位"."""
        mapping = self.mapping
        if mapping.prefer_key and all(
            record.fields.get(c) not in (None, "") for c in mapping.prefer_key
        ):
            return "+".join(mapping.prefer_key)
        columns = list(mapping.key) + [
            mapping.source_of(f, record.fields).split(" (")[0] for f in mapping.key_fields
        ]
        return "+".join(columns) or "key"

    def _excel_cut(
        self, record: SourceRecord, values: dict[str, Any], key: str | None
    ) -> list[Problem]:
        """Text Excel cut at its cell limit never replaces the full text stored: the stored
        value is kept and the record warned."""
        if not own_export.has_cell_limit_text(record.fields):
            return []
        entries = self.directory.store.entries
        if has_code(values):
            stored = entries.get(str(values["code"]).strip())
        else:
            stored = entries.by("source_key", [key]).get(key) if key else None
        if stored is None:
            return []
        problems = []
        for name in own_export.excel_cut_fields(self.mapping, record.fields, stored):
            values[name] = stored[name]
            params = {"label": labelled(name), "limit": f"{own_export.EXCEL_CELL_LIMIT:,}"}
            problems.append(
                Problem(
                    record.row,
                    self.mapping.source_of(name, record.fields),
                    Reason("excel_cut", params),
                    "warning",
                )
            )
        return problems

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


def has_code(values: dict[str, Any]) -> bool:
    return values.get("code") not in (None, "") and bool(str(values["code"]).strip())


def labelled(field: str) -> str:
    """An entry field as users know it: "信息资源提供方 (provider_name)"."""
    info = CatalogueEntry.model_fields.get(field)
    return f"{info.title} ({field})" if info is not None and info.title else field
