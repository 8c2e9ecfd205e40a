"""Read a catalogue export into records (dicts), whatever its format.

Every CSV and Excel record carries the row number a person would look for (``__row__``: the
spreadsheet row, the header being row 1); a JSON record's number is its 1-based position.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from schemas.errors import InvalidInput

FORMATS = ("csv", "xlsx", "json")
# Tried in order; GB18030 is a superset of GBK and GB2312, the encodings Chinese exports use.
CSV_ENCODINGS = ("utf-8-sig", "gb18030")


class ReadError(InvalidInput):
    """A file that cannot be read as a catalogue export."""


@dataclass(frozen=True)
class Document:
    """A file opened for reading. JSON is parsed (a mapping's path finds the records in it);
    CSV and Excel rows are streamed each time the records are iterated, so memory stays flat
    however large the file."""

    path: Path
    format: str
    content: Any = None  # the parsed JSON value; None for csv/xlsx
    encoding: str | None = None

    def records(self, records_path: str | None) -> Iterable[dict[str, Any]] | None:
        """The records (re-iterable), at ``records_path`` for JSON; None if absent there."""
        if self.format == "csv":
            return _CsvRecords(self.path, self.encoding or "utf-8")
        if self.format == "xlsx":
            return _ExcelRecords(self.path)
        value = self.content
        for part in (records_path or "").split(".") if records_path else ():
            if not isinstance(value, dict) or part not in value:
                return None
            value = value[part]
        return value if isinstance(value, list) else None


def detect_format(path: Path) -> str:
    suffix = path.suffix.lower().lstrip(".")
    if suffix in ("csv", "txt", "tsv"):
        return "csv"
    if suffix in ("xlsx", "xlsm", "xls", "ods"):
        return "xlsx"
    if suffix in ("json", "jsonld"):
        return "json"
    raise ReadError(f"{path}: unknown file type {path.suffix!r}; expected .csv, .xlsx or .json")


def read_document(path: Path, fmt: str | None = None) -> Document:
    path = Path(path)
    if not path.is_file():
        raise ReadError(f"{path}: no such file")
    fmt = fmt or detect_format(path)
    if fmt == "csv":
        return Document(path, "csv", encoding=detect_encoding(path))
    if fmt == "xlsx":
        return Document(path, "xlsx")
    if fmt == "json":
        try:
            with path.open("rb") as handle:
                return Document(path, "json", json.load(handle))
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise ReadError(f"{path}: not valid JSON: {exc}") from exc
    raise ReadError(f"{path}: unknown format {fmt!r}; expected one of {', '.join(FORMATS)}")


def detect_encoding(path: Path, chunk_size: int = 1 << 20) -> str:
    """The first encoding that decodes the whole file strictly (streamed, so nothing is
    garbled and memory stays flat)."""
    for encoding in CSV_ENCODINGS:
        decoder = codecs.getincrementaldecoder(encoding)(errors="strict")
        try:
            with path.open("rb") as handle:
                while chunk := handle.read(chunk_size):
                    decoder.decode(chunk)
                decoder.decode(b"", final=True)
            return encoding
        except UnicodeDecodeError:
            continue
    raise ReadError(f"{path}: text is neither UTF-8 nor GB18030/GBK")


class _CsvRecords:
    def __init__(self, path: Path, encoding: str):
        self.path, self.encoding = path, encoding

    def __iter__(self) -> Iterator[dict[str, Any]]:
        with self.path.open(encoding=self.encoding, newline="") as handle:
            sample = handle.read(4096)
            handle.seek(0)
            delimiter = "\t" if sample.count("\t") > sample.count(",") else ","
            reader = csv.reader(handle, delimiter=delimiter)
            header = [h.strip() for h in next(reader, [])]
            for row in reader:
                if not any(cell.strip() for cell in row):
                    continue
                record: dict[str, Any] = {"__row__": reader.line_num}
                record.update(zip(header, row, strict=False))
                yield record


class _ExcelRecords:
    def __init__(self, path: Path):
        self.path = path

    def __iter__(self) -> Iterator[dict[str, Any]]:
        from python_calamine import CalamineWorkbook

        try:
            workbook = CalamineWorkbook.from_path(str(self.path))
        except Exception as exc:  # calamine raises its own error types per format
            raise ReadError(f"{self.path}: cannot read as a spreadsheet: {exc}") from exc
        names = workbook.sheet_names
        # Mulu's own export names its sheet; other files: the first sheet.
        sheet_name = "信息资源目录" if "信息资源目录" in names else names[0]
        rows = workbook.get_sheet_by_name(sheet_name).iter_rows()
        header = [str(h).strip() for h in next(rows, [])]
        for number, row in enumerate(rows, start=2):
            if all(cell in ("", None) for cell in row):
                continue
            record: dict[str, Any] = {"__row__": number}
            for name, cell in zip(header, row, strict=False):
                if name:
                    record[name] = _excel_cell(cell)
            yield record


def _excel_cell(cell: Any) -> Any:
    if isinstance(cell, float) and cell.is_integer():
        return str(int(cell))
    if isinstance(cell, dt.datetime | dt.date):
        return cell.isoformat()
    return cell
