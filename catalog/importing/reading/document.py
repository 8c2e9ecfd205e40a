"""A catalogue export opened for reading, whatever its format: ``read_document`` finds what is
wrong with the file as a whole (empty, not JSON, repeated header names, no known encoding)
before any record is read; ``Document.records`` streams the records each time it is iterated.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from catalog.importing.reading import delimited, excel
from catalog.importing.reading.common import ReadError
from catalog.importing.reading.encoding import sniff_encoding
from catalog.importing.reading.jsonfile import JsonFile, JsonRecords
from catalog.importing.reading.jsonlines import JsonLinesRecords
from catalog.importing.records import SourceRecord

FORMATS = ("csv", "xlsx", "json", "jsonl")
_SUFFIXES = {
    "csv": ("csv", "txt", "tsv"),
    "xlsx": ("xlsx", "xlsm", "xls", "ods"),
    "json": ("json", "jsonld"),
    "jsonl": ("jsonl", "ndjson"),
}


@dataclass(frozen=True)
class Document:
    """A file opened for reading. ``records`` is re-iterable and streams the file on each
    iteration, so memory stays flat however large the file."""

    path: Path
    format: str
    encoding: str | None = None  # text formats: the codec the file is read in
    decode_errors: int = 0  # bytes that encoding cannot decode (each becomes U+FFFD, warned)
    delimiter: str | None = None  # csv
    header: tuple[str, ...] = ()  # csv, xlsx: the column names (blank ones named 第N列)
    header_at: int = 0  # csv records / spreadsheet rows before the header (title rows)
    sheet: str | None = None  # xlsx: the sheet read (see reading.excel on how it is chosen)
    # xlsx: the row numbers of note rows ("制表人：张三", "注：…") the last iteration of
    # ``records`` skipped (they are never records; see reading.excel.ExcelRecords)
    skipped_rows: list[int] = field(default_factory=list, compare=False)
    _json: Any = field(default=None, repr=False, compare=False)

    def records(self, records_path: str | None = None) -> Iterable[SourceRecord] | None:
        """The records (re-iterable): for JSON the list at ``records_path`` (dotted keys; ""
        or None: the top-level list), None if there is no list there (or an empty one)."""
        if self.format == "csv":
            assert self.encoding
            assert self.delimiter
            return delimited.DelimitedRecords(
                self.path, self.encoding, self.delimiter, list(self.header), self.header_at
            )
        if self.format == "xlsx":
            return excel.ExcelRecords(
                self.path, list(self.header), self.header_at, self.sheet or "", self.skipped_rows
            )
        if self.format == "jsonl":
            assert self.encoding
            return None if records_path else JsonLinesRecords(self.path, self.encoding)
        if not self._json.has_list(records_path or ""):
            return None
        return JsonRecords(self._json, records_path or "")

    def record_paths(self) -> list[str]:
        """Where lists of records are: dotted paths to arrays of objects in a JSON file, ""
        for a top-level list; [""] for the other formats."""
        return self._json.record_paths() if self.format == "json" else [""]


def detect_format(path: Path) -> str:
    suffix = Path(path).suffix.lower().lstrip(".")
    for fmt, suffixes in _SUFFIXES.items():
        if suffix in suffixes:
            return fmt
    raise ReadError(path, "unknown_file_type", suffix=Path(path).suffix or "（无）")


def read_document(path: Path | str, fmt: str | None = None) -> Document:
    """Open an export. Raises ReadError for a missing, empty or unreadable file, a header that
    names a column twice, or text in no encoding Mulu knows."""
    path = Path(path)
    if not path.is_file():
        raise ReadError(path, "no_such_file")
    fmt = fmt or detect_format(path)
    if fmt not in FORMATS:
        raise ReadError(path, "unknown_format", format=fmt, formats=", ".join(FORMATS))
    if path.stat().st_size == 0:
        raise ReadError(path, "empty_file")
    if fmt == "xlsx":
        names, at, sheet = excel.read_header(path)
        return Document(path, fmt, header=tuple(names), header_at=at, sheet=sheet)
    encoding, errors = sniff_encoding(path)
    if fmt == "csv":
        delimiter, header, at = delimited.read_header(path, encoding)
        return Document(path, fmt, encoding, errors, delimiter, tuple(header), at)
    if fmt == "jsonl":
        return Document(path, fmt, encoding, errors)
    return Document(path, fmt, encoding, errors, _json=JsonFile(path, encoding, errors))
