"""Excel export: sheet "信息资源目录" with the entries, sheet "提供方" with the organisations.

xlsxwriter's constant_memory mode flushes each row to disk as soon as the next one starts, so
memory stays flat; that also means rows must be written in order, one sheet after the other.
Every value is written with ``write_string`` (never ``write``): a summary starting with "="
must stay text, not become a formula, and landing pages must not become hyperlinks (Excel
allows only 65,530 per sheet). 发布日期 and 最近更新时间 stated to the day or finer are real
date cells (formatted to their precision: yyyy-mm-dd, yyyy-mm-dd hh:mm, yyyy-mm-dd hh:mm:ss);
a year or a month alone, or a date before 1900 (Excel has none), is text. A cell holds at most
32,767 characters: longer text is cut there (xlsxwriter's limit, Excel's own), and
``write_counted`` says how many cells were cut; CSV and JSON keep every character. The precision
columns are always filled here: a spreadsheet reader sees a cell at midnight as a bare date,
so the column is what tells a day from 2023-05-08T00:00:00.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import xlsxwriter

from catalog.exporting.tabular import (
    DATE_COLUMNS,
    ENTRY_TITLES,
    ORGANISATION_TITLES,
    entry_row,
    organisation_row,
    stated_precision,
)
from schemas.dates import Precision, parse_time
from schemas.errors import InvalidInput
from warehouse.store.fields import ENTRY_FIELDS, ORGANISATION_FIELDS

ENTRY_SHEET = "信息资源目录"
ORGANISATION_SHEET = "提供方"
STRING_CUT = -2  # what xlsxwriter's write_string returns when it cut the text at 32,767
MAX_ROWS = 1_048_576  # Excel's limit, header included
# Excel's day 1 is 1900-01-01 and it counts a 1900-02-29 that never was: dates before March
# 1900 are written as text.
EXCEL_FIRST_DAY = dt.datetime(1900, 3, 1)

_WIDTHS = {
    "code": 16,
    "name": 36,
    "provider_name": 28,
    "provider_code": 20,
    "summary": 60,
    "data_items": 40,
    "share_condition": 24,
    "updated_at": 19,
    "published_at": 11,
    "published_precision": 8,
    "updated_precision": 8,
    "landing_page": 40,
}
_ORG_WIDTHS = {"code": 20, "name": 32, "parent_code": 20, "contact_email": 24}


def write(
    entries: Iterable[dict[str, Any]], organisations: Mapping[str, dict[str, Any]], out: Path
) -> int:
    return write_counted(entries, organisations, out)[0]


def write_counted(
    entries: Iterable[dict[str, Any]], organisations: Mapping[str, dict[str, Any]], out: Path
) -> tuple[int, int]:
    """(entries written, cells cut at Excel's 32,767 characters)."""
    cut = 0
    options = {
        "constant_memory": True,
        "strings_to_formulas": False,
        "strings_to_urls": False,
        "strings_to_numbers": False,
    }
    with xlsxwriter.Workbook(str(out), options) as book:
        header = book.add_format({"bold": True})
        formats: dict[Precision, Any] = {
            "day": book.add_format({"num_format": "yyyy-mm-dd"}),
            "minute": book.add_format({"num_format": "yyyy-mm-dd hh:mm"}),
            "second": book.add_format({"num_format": "yyyy-mm-dd hh:mm:ss"}),
        }
        sheet = _sheet(book, ENTRY_SHEET, ENTRY_TITLES, ENTRY_FIELDS, _WIDTHS, header)
        count = 0
        for count, entry in enumerate(entries, start=1):
            if count >= MAX_ROWS:
                raise InvalidInput(f"too many entries for one Excel sheet (max {MAX_ROWS - 1})")
            cells = entry_row(entry)
            for column, (precision_column, finest) in DATE_COLUMNS.items():
                if cells[column]:
                    cells[precision_column] = stated_precision(cells[precision_column], finest)
            for column, value in enumerate(cells):
                if value is None or value == "":
                    continue
                if column in DATE_COLUMNS and (cell := _date_cell(value)) is not None:
                    sheet.write_datetime(count, column, cell[0], formats[cell[1]])
                elif sheet.write_string(count, column, str(value)) == STRING_CUT:
                    cut += 1
        sheet.autofilter(0, 0, count, len(ENTRY_TITLES) - 1)

        sheet = _sheet(
            book, ORGANISATION_SHEET, ORGANISATION_TITLES, ORGANISATION_FIELDS, _ORG_WIDTHS, header
        )
        for row, organisation in enumerate(organisations.values(), start=1):
            for column, value in enumerate(organisation_row(organisation)):
                written = value not in (None, "") and sheet.write_string(row, column, str(value))
                if written == STRING_CUT:
                    cut += 1
    return count, cut


def _sheet(
    book: xlsxwriter.Workbook,
    name: str,
    titles: tuple[str, ...],
    fields: tuple[str, ...],
    widths: dict[str, int],
    header: Any,
) -> Any:
    sheet = book.add_worksheet(name)
    for column, field in enumerate(fields):
        sheet.set_column(column, column, widths.get(field, 14))
    sheet.freeze_panes(1, 0)
    for column, title in enumerate(titles):
        sheet.write_string(0, column, title, header)
    return sheet


def _date_cell(text: str) -> tuple[dt.date | dt.datetime, Precision] | None:
    """The value of a date cell and its precision, or None where the value stays text."""
    stated = parse_time(text)  # the text tabular wrote: exactly its value and precision
    if stated.precision in ("year", "month") or stated.value < EXCEL_FIRST_DAY:
        return None
    if stated.precision == "day":
        return stated.value.date(), "day"
    return stated.value, stated.precision
