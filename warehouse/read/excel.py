"""The SQL that reads a sheet of an Excel workbook (``read_xlsx``, every cell as text).

read_xlsx stops at the first empty row unless told not to, and without a range it guesses the
table from row 1 (often a title): so the sheet is named, and its exact range read from the
sheet's dimension.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path, PurePosixPath

import duckdb

from schemas.dataset_spec import DatasetSpec
from warehouse.lake import quote_identifier, quote_literal
from warehouse.read.blanks import BLANKS, clean_names

_NS_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"


def xlsx_sql(
    con: duckdb.DuckDBPyConnection, spec: DatasetSpec, path: Path, meta: str
) -> tuple[str, list[str | None]]:
    """(SQL of the sheet's rows below the header, the header row's cells as written).

    The header row is read on its own, without read_xlsx naming its cells: read_xlsx calls an
    empty header cell ``C1`` or ``_1`` and renames a repeated one, where Mulu names an empty
    cell ``column<N>`` and reports a repeated name the spec reads. Columns are matched by
    position."""
    sheet = _sheet_name(path, spec.source.sheet)
    first_col, last_col, last_row = _sheet_extent(path, sheet)
    header_row = spec.source.header_row

    def cells(first: int, last: int) -> str:
        return (
            f"read_xlsx({quote_literal(str(path))}, sheet={quote_literal(sheet)}, "
            f"header=false, all_varchar=true, stop_at_empty=false, "
            f"range='{first_col}{first}:{last_col}{last}')"
        )

    found = con.sql(f"SELECT * FROM {cells(header_row, header_row)}").fetchone()
    header: list[str | None] = list(found) if found is not None else []
    table = cells(header_row + 1, max(last_row, header_row + 1))
    raw = list(con.sql(f"SELECT * FROM {table} LIMIT 0").columns)
    header += [None] * (len(raw) - len(header))
    names = clean_names(header)
    aliases = ", ".join(
        f"{quote_identifier(r)} AS {quote_identifier(n)}" for r, n in zip(raw, names, strict=True)
    )
    values = ", ".join(
        f"nullif(trim({quote_identifier(r)}, {quote_literal(BLANKS)}), '')" for r in raw
    )
    sql = (
        f"SELECT {aliases}, {meta}, {header_row} + ordinality AS _source_row "
        f"FROM {table} WITH ORDINALITY "
        f"WHERE ordinality > {spec.source.skip_rows} AND coalesce({values}) IS NOT NULL"
    )
    return sql, header


def _sheet_name(path: Path, wanted: str | int | None) -> str:
    names = [name for name, _ in _workbook_sheets(path)]
    if not names:
        raise ValueError("the workbook has no sheets")
    if wanted is None:
        return names[0]
    if isinstance(wanted, int):
        if not 0 <= wanted < len(names):
            raise ValueError(
                f"no sheet {wanted} (0-based); the workbook has {len(names)}: {', '.join(names)}"
            )
        return names[wanted]
    if wanted not in names:
        raise ValueError(f"no sheet {wanted!r}; the workbook has {', '.join(names)}")
    return wanted


def _workbook_sheets(path: Path) -> list[tuple[str, str]]:
    """[(sheet name, part path in the zip)] in workbook order."""
    with zipfile.ZipFile(path) as archive:
        workbook = ET.fromstring(archive.read("xl/workbook.xml"))
        rels = ET.fromstring(archive.read("xl/_rels/workbook.xml.rels"))
    targets = {rel.get("Id"): rel.get("Target", "") for rel in rels}
    found = []
    for sheet in workbook.iter():
        if sheet.tag.endswith("}sheet"):
            target = targets.get(sheet.get(f"{{{_NS_REL}}}id"), "")
            part = (
                target.lstrip("/") if target.startswith("/") else str(PurePosixPath("xl") / target)
            )
            found.append((sheet.get("name", ""), part))
    return found


def _sheet_extent(path: Path, sheet: str) -> tuple[str, str, int]:
    """(first column, last column, last row) of a sheet's used range.

    From the ``<dimension ref="A1:K500"/>`` at the top of the sheet's XML (read without
    parsing the rows); workbooks written without one are measured with python-calamine.
    """
    part = dict(_workbook_sheets(path))[sheet]
    with zipfile.ZipFile(path) as archive, archive.open(part) as handle:
        head = b""
        while b"<sheetData" not in head and len(head) < (1 << 20):
            chunk = handle.read(1 << 14)
            if not chunk:
                break
            head += chunk
    found = re.search(rb'<dimension ref="([A-Z]+)\d+:([A-Z]+)(\d+)"', head)
    if found:
        return found.group(1).decode(), found.group(2).decode(), int(found.group(3))
    return _calamine_extent(path, sheet)


def _calamine_extent(path: Path, sheet: str) -> tuple[str, str, int]:
    from python_calamine import CalamineWorkbook

    loaded = CalamineWorkbook.from_path(str(path)).get_sheet_by_name(sheet)
    (_, first), (last_row, last) = loaded.start or (0, 0), loaded.end or (0, 0)
    return _column_letters(first), _column_letters(last), last_row + 1


def _column_letters(index: int) -> str:
    """0 → A, 25 → Z, 26 → AA."""
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters
