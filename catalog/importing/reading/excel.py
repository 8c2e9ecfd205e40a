"""Spreadsheet exports (.xlsx, .xls, .ods) through python-calamine: the same records as CSV.

A record's raw text is its row's cells as a JSON object (header -> cell). calamine reads a
whole sheet when it is opened (a sheet holds at most 1,048,576 rows); the records are then
handed out one at a time.

Which sheet: Mulu's own export names its sheet 信息资源目录, and that one is read. Otherwise a
workbook of one sheet is read from that sheet; of several (a 填表说明 sheet of instructions
before the catalogue, lookup lists after it), the visible sheet whose header row (found below
any title rows as for CSV) has the most distinct filled cells, among those with at least
``DATA_ROWS`` rows below it, the first such on a tie; if none has, the first sheet.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from itertools import islice
from pathlib import Path
from typing import Any

from catalog.importing.reading.common import (
    MAX_FIELD_BYTES,
    SUSPECT_JSON,
    Cleaner,
    ReadError,
    json_raw,
    note_row,
    too_large,
)
from catalog.importing.reading.delimited import (
    HEADER_SEARCH,
    column_name,
    header_index,
    header_names,
)
from catalog.importing.records import Problem, SourceRecord
from schemas.messages import Reason

# Mulu's own export names its sheet; other files: see the module's docstring.
MULU_SHEET = "信息资源目录"
DATA_ROWS = 2  # rows below its header a sheet needs to be chosen among several


def _open(path: Path) -> Any:
    from python_calamine import CalamineWorkbook

    try:
        return CalamineWorkbook.from_path(str(path))
    except Exception as error:  # calamine raises its own error types per format
        raise ReadError(path, "not_a_spreadsheet", detail=str(error)) from error


def _rows(path: Path, sheet_name: str, workbook: Any = None) -> Iterator[tuple[int, list[Any]]]:
    """(spreadsheet row number, cells) of a sheet, from its first row; a cell merged over
    several rows has its value in each of them (see ``_fill_merged``)."""
    try:
        sheet = (workbook or _open(path)).get_sheet_by_name(sheet_name)
        rows = sheet.iter_rows()
        merged = sheet.merged_cell_ranges or []  # None where the format has no merged cells
        first_column = sheet.start[1] if sheet.start else 0
    except ReadError:
        raise
    except Exception as error:
        raise ReadError(path, "not_a_spreadsheet", detail=str(error)) from error
    cells_of = _fill_merged(rows, merged, first_column) if merged else rows
    for index, cells in enumerate(cells_of):
        yield index + 1, cells


def choose_sheet(path: Path) -> str:
    """The name of the sheet that holds the catalogue (see the module's docstring)."""
    workbook = _open(path)
    names = workbook.sheet_names
    if not names:
        raise ReadError(path, "no_header")
    if MULU_SHEET in names or len(names) == 1:
        return MULU_SHEET if MULU_SHEET in names else str(names[0])
    from python_calamine import SheetVisibleEnum

    visible = {
        meta.name for meta in workbook.sheets_metadata if meta.visible == SheetVisibleEnum.Visible
    }
    best, best_width = str(names[0]), 0
    for name in names:
        if name not in visible:
            continue
        rows = [cells for _, cells in islice(_rows(path, name, workbook), HEADER_SEARCH * 2)]
        at = header_index(rows[:HEADER_SEARCH])
        if at is None:
            continue
        width = len({str(_cell(cell)).strip() for cell in rows[at]} - {""})
        data = sum(1 for cells in rows[at + 1 :] if not _blank(cells) and not note_row(cells))
        if data >= DATA_ROWS and width > best_width:
            best, best_width = str(name), width
    return best


Range = tuple[tuple[int, int], tuple[int, int]]


def _fill_merged(
    rows: Iterator[list[Any]], merged: list[Range], first_column: int
) -> Iterator[list[Any]]:
    """Rows with a vertically merged cell's value (calamine gives it in the range's top row
    only) in every row of its range, so that 提供方 merged over five records belongs to all
    five. Only down the range's first column: a title or a 注 spread across the table's width
    stays one cell (a title row, a note row), and columns never get a copied value twice.
    ``merged``: ((first row, first column), (last row, last column)), 0-based in the sheet;
    calamine's rows start at sheet row 0 but at column ``first_column``."""
    pending = sorted(
        (top, left - first_column, bottom) for (top, left), (bottom, _) in merged if bottom > top
    )
    active: list[tuple[int, int, Any]] = []  # (column, last row, value)
    next_range = 0
    for index, cells in enumerate(rows):
        while next_range < len(pending) and pending[next_range][0] == index:
            _, column, bottom = pending[next_range]
            next_range += 1
            if 0 <= column < len(cells):
                active.append((column, bottom, cells[column]))
        if active:
            cells = list(cells)
            for column, _, value in active:
                if column < len(cells) and cells[column] in ("", None):
                    cells[column] = value
            active = [item for item in active if item[1] > index]
        yield cells


def _blank(cells: list[Any]) -> bool:
    return all(cell in ("", None) or (isinstance(cell, str) and not cell.strip()) for cell in cells)


def read_header(path: Path) -> tuple[list[str], int, str]:
    """(column names, rows before the header, sheet name): the header is the first row that is
    not blank, or the table's header below a title row; blank names by their position."""
    sheet = choose_sheet(path)
    rows = [cells for _, cells in islice(_rows(path, sheet), HEADER_SEARCH)]
    at = header_index(rows)
    if at is None:
        raise ReadError(path, "no_header")
    return header_names(path, [_cell(cell) for cell in rows[at]]), at, sheet


class ExcelRecords:
    """The records of a sheet, below its header. Note rows (``common.note_row``: "制表人：张三",
    "注：…") are no records: they are skipped without a warning, and their row numbers listed
    in ``skipped_rows`` (emptied at the start of each iteration) for the importer to report."""

    def __init__(
        self,
        path: Path,
        header: list[str],
        skip: int = 0,
        sheet: str = "",
        skipped_rows: list[int] | None = None,
    ) -> None:
        self.path, self.header = path, header
        self.skip = skip  # rows before the header (blank or title rows)
        self.sheet = sheet or choose_sheet(path)
        self.skipped_rows = skipped_rows if skipped_rows is not None else []

    def __iter__(self) -> Iterator[SourceRecord]:
        self.skipped_rows.clear()
        rows = islice(_rows(self.path, self.sheet), self.skip + 1, None)
        for row, cells in rows:
            if _blank(cells):
                continue
            cells = [_cell(cell) for cell in cells]
            if note_row(cells):
                self.skipped_rows.append(row)
            else:
                yield self._record(row, cells)

    def _record(self, row: int, cells: list[Any]) -> SourceRecord:
        header = self.header
        cells_by_name: dict[str, Any] = {}
        for n, cell in enumerate(cells):
            name = header[n] if n < len(header) else column_name(n + 1)
            if name != column_name(n + 1) or cell != "":
                cells_by_name[name] = cell  # a blank-header column only where it holds something
        raw = json_raw(cells_by_name)
        problems: list[Problem] = []
        if SUSPECT_JSON.search(raw):
            cleaner = Cleaner(row, None, surrogates_are_bytes=False)
            cells_by_name = cleaner.fields(cells_by_name)
            problems = cleaner.problems
        known = set(header)
        fields = {name: cell for name, cell in cells_by_name.items() if name in known}
        for name, value in fields.items():
            size = too_large(value) if isinstance(value, str) else None
            if size is not None:
                problems.append(_too_large(row, name, size))
                fields[name] = ""
        extra = [cell for name, cell in cells_by_name.items() if name not in known]
        if extra:
            reason = Reason("extra_fields", {"count": len(extra), "columns": len(header)})
            problems.append(Problem(row, "record", reason, "reject", value=extra))
        return SourceRecord(row, fields, raw, problems)


def _too_large(row: int, name: str, size: int) -> Problem:
    reason = Reason("field_too_large", {"size": f"{size:,}", "limit": f"{MAX_FIELD_BYTES:,}"})
    return Problem(row, name, reason, "reject")


def _cell(cell: Any) -> Any:
    """A cell as today: whole numbers as their digits (a code or a count, never "3.0"), dates
    and times as ISO text, other numbers, booleans and text as they are; empty as ""."""
    if cell is None:
        return ""
    if isinstance(cell, float) and cell.is_integer():
        return str(int(cell))
    if isinstance(cell, dt.datetime | dt.date | dt.time):
        return cell.isoformat()
    if isinstance(cell, dt.timedelta):
        return str(cell)
    return cell
