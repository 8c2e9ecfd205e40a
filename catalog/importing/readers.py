"""Read a catalogue export into records (dicts), whatever its format.

Every record carries the row number a person would look for: the spreadsheet row for CSV and
Excel (the header is row 1), the 1-based position in the record list for JSON.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

FORMATS = ("csv", "xlsx", "json")
# Tried in order; GB18030 is a superset of GBK and GB2312, the encodings Chinese exports use.
CSV_ENCODINGS = ("utf-8-sig", "gb18030")


class ReadError(ValueError):
    """A file that cannot be read as a catalogue export."""


@dataclass(frozen=True)
class Document:
    """A file as read: JSON keeps its structure (records are found by a mapping's path);
    CSV and Excel become one list of records."""

    path: Path
    format: str
    content: Any  # list[dict] for csv/xlsx; the parsed JSON value for json
    encoding: str | None = None

    def records(self, records_path: str | None) -> list[dict[str, Any]] | None:
        """The records at ``records_path`` (dotted keys into a JSON object), None if absent."""
        value = self.content
        if self.format != "json" or not records_path:
            return value if isinstance(value, list) else None
        for part in records_path.split("."):
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
        return _read_csv(path)
    if fmt == "xlsx":
        return Document(path, "xlsx", _read_excel(path))
    if fmt == "json":
        try:
            with path.open("rb") as handle:
                return Document(path, "json", json.load(handle))
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise ReadError(f"{path}: not valid JSON: {exc}") from exc
    raise ReadError(f"{path}: unknown format {fmt!r}; expected one of {', '.join(FORMATS)}")


def decode_bytes(data: bytes, path: Path) -> tuple[str, str]:
    """Decode with the first encoding that fits the whole file; strict, so nothing is garbled."""
    for encoding in CSV_ENCODINGS:
        try:
            return data.decode(encoding), encoding
        except UnicodeDecodeError:
            continue
    raise ReadError(f"{path}: text is neither UTF-8 nor GB18030/GBK")


def _read_csv(path: Path) -> Document:
    text, encoding = decode_bytes(path.read_bytes(), path)
    sample = text[:4096]
    delimiter = "\t" if sample.count("\t") > sample.count(",") else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        header = next(reader)
    except StopIteration:
        return Document(path, "csv", [], encoding)
    header = [h.strip() for h in header]
    records = []
    for row in reader:
        if not any(cell.strip() for cell in row):
            continue
        record = {"__row__": reader.line_num}
        record.update(zip(header, row, strict=False))
        records.append(record)
    return Document(path, "csv", records, encoding)


def _read_excel(path: Path) -> list[dict[str, Any]]:
    from python_calamine import CalamineWorkbook

    try:
        workbook = CalamineWorkbook.from_path(str(path))
    except Exception as exc:  # calamine raises its own error types per format
        raise ReadError(f"{path}: cannot read as a spreadsheet: {exc}") from exc
    names = workbook.sheet_names
    # Mulu's own export names its sheet; other files: the first sheet.
    sheet_name = "信息资源目录" if "信息资源目录" in names else names[0]
    rows = workbook.get_sheet_by_name(sheet_name).to_python(skip_empty_area=False)
    if not rows:
        return []
    header = [str(h).strip() for h in rows[0]]
    records = []
    for number, row in enumerate(rows[1:], start=2):
        if all(cell in ("", None) for cell in row):
            continue
        record: dict[str, Any] = {"__row__": number}
        for name, cell in zip(header, row, strict=False):
            if name:
                record[name] = _excel_cell(cell)
        records.append(record)
    return records


def _excel_cell(cell: Any) -> Any:
    if isinstance(cell, float) and cell.is_integer():
        return str(int(cell))
    if isinstance(cell, dt.datetime):
        return cell.isoformat()
    if isinstance(cell, dt.date):
        return cell.isoformat()
    return cell
