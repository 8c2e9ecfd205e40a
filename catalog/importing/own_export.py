"""What only Mulu's own exports need when they are imported back: their organisations, and the
text Excel cut.

An export (``mulu catalog export``) carries the organisations (提供方) its entries name, with
every field (kind, contacts, parent): the JSON export as its "organisations" list, the Excel
export as its "提供方" sheet (the CSV export has none). Importing such a file reads them first,
before the entries, and upserts them: the export is authoritative for its own organisations, so
a value in the file fills a blank or replaces what is stored, and only a blank in the file
keeps the stored value. That is what makes moving a catalogue between systems lossless.

An Excel cell holds at most 32,767 characters, so the Excel export cuts longer text (and says
how many cells it cut). A text value of exactly that length, read from a spreadsheet, that is
the beginning of what the entry stores is such a cut: it never replaces the stored full text.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from catalog.exporting.tabular import entry_row
from catalog.importing.mapping import Mapping
from catalog.importing.reading import Document
from catalog.importing.records import Problem
from schemas.entry import Organisation
from schemas.messages import Reason, reason_of
from warehouse.store.fields import ENTRY_FIELDS, ORGANISATION_FIELDS

# mapping name -> where its files keep their organisations (JSON path, or Excel sheet name)
ORGANISATION_LISTS = {"mulu-json": "organisations", "mulu-table": "提供方"}
EXCEL_CELL_LIMIT = 32_767  # characters in one Excel cell
_SPREADSHEETS = (".xlsx", ".xlsm", ".xls", ".ods")
ORGANISATION_LABELS = {
    name: f"{Organisation.model_fields[name].title} ({name})" for name in ORGANISATION_FIELDS
}
_TITLES = {(Organisation.model_fields[name].title or name): name for name in ORGANISATION_FIELDS}


def organisations(document: Document, mapping_name: str) -> Iterator[tuple[int, dict[str, Any]]]:
    """(row, fields) of each organisation the file carries: none unless it is Mulu's own JSON
    or Excel export."""
    where = ORGANISATION_LISTS.get(mapping_name)
    if where is None:
        return
    if document.format == "json":
        records = document.records(where)
        for record in records or ():
            yield record.row, record.fields
    elif document.format == "xlsx":
        yield from _sheet(document.path, where)


def valid_organisations(
    rows: Iterator[tuple[int, dict[str, Any]]], field: str
) -> tuple[list[dict[str, Any]], list[Problem]]:
    """The organisations that validate (blank values as None: they keep what is stored) and a
    warning for each that does not (it is left out; its entries still land)."""
    found: list[dict[str, Any]] = []
    problems: list[Problem] = []
    for row, fields in rows:
        values = {
            name: value.strip() if isinstance(value, str) else value
            for name, value in fields.items()
        }
        values = {name: value for name, value in values.items() if value not in (None, "")}
        try:
            found.append(Organisation.model_validate(values).model_dump())
        except ValidationError as error:
            # The first problem, as a Reason: it speaks the import's language.
            detail = reason_of(error.errors()[0], ORGANISATION_LABELS)
            reason = Reason("organisation_invalid", {"row": row, "detail": detail})
            problems.append(Problem(row, field, reason, "warning", fields))
    return found, problems


def _sheet(path: Path, name: str) -> Iterator[tuple[int, dict[str, Any]]]:
    """The rows of Mulu's organisations sheet, by field name (its header is the titles)."""
    from python_calamine import CalamineWorkbook

    workbook = CalamineWorkbook.from_path(str(path))
    if name not in workbook.sheet_names:
        return
    rows = iter(workbook.get_sheet_by_name(name).iter_rows())
    header = [_TITLES.get(str(cell).strip()) for cell in next(rows, [])]
    if "code" not in header:
        return
    for index, cells in enumerate(rows, start=2):
        fields = {
            column: _text(cell) for column, cell in zip(header, cells, strict=False) if column
        }
        if any(fields.values()):
            yield index, fields


def _text(cell: Any) -> str:
    if isinstance(cell, float) and cell.is_integer():
        return str(int(cell))
    return "" if cell is None else str(cell)


def is_spreadsheet(path: Path) -> bool:
    return Path(path).suffix.lower() in _SPREADSHEETS


def excel_cut_fields(mapping: Mapping, fields: dict[str, Any], stored: dict[str, Any]) -> list[str]:
    """The entry fields whose source cell (in ``fields``, read from a spreadsheet) is Excel's
    cut of what ``stored`` holds: exactly the cell limit long and the beginning of the longer
    stored text. Mulu's own table export writes lists (信息项, 标签 …) as text too: for it the
    stored value is compared as the export writes it."""
    own = (
        dict(zip(ENTRY_FIELDS, entry_row(stored), strict=True))
        if mapping.name == "mulu-table"
        else {}
    )
    cut = []
    for name, rule in mapping.fields.items():
        cell = next((fields[s] for s in rule.sources if _at_limit(fields.get(s))), None)
        if cell is None:
            continue
        text = own.get(name, stored.get(name))
        if isinstance(text, str) and len(text) > EXCEL_CELL_LIMIT and text.startswith(cell):
            cut.append(name)
    return cut


def has_cell_limit_text(fields: dict[str, Any]) -> bool:
    """Whether any cell of a record is exactly Excel's cell limit long (maybe cut)."""
    return any(_at_limit(value) for value in fields.values())


def _at_limit(value: Any) -> bool:
    return isinstance(value, str) and len(value) == EXCEL_CELL_LIMIT
