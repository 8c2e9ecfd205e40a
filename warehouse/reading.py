"""Reading source files into DuckDB, and typing their columns as the dataset spec says.

``read_source`` gives one relation over every file of a load: the source's own columns (text for
CSV and Excel, native types for JSON and Parquet) plus ``_source_index`` (which file),
``_source_file`` and ``_source_row`` (the row a person would look for: the CSV line or the
spreadsheet row). Files are checked one by one before anything is written, so a missing or
renamed column is reported with the file it is missing from.

``checked_select`` is the SQL a load writes: each spec column cast to its type, nothing else, and
a value that does not fit stops the query (``CAST_FAILURE``), so writing the rows is the check.
``typed_select`` is the same casts with, beside each typed column, the value that did not cast
(``_bad_<column>``): the second look, only after a failure, that counts the bad values and names
the first one's file and row.
Nothing is guessed: CSV is read with the header and delimiter the spec gives and every column as
VARCHAR; Excel with ``all_varchar``.
"""

from __future__ import annotations

import csv
import gzip
import io
import re
import tempfile
import xml.etree.ElementTree as ET
import zipfile
from collections.abc import Iterator, Sequence
from pathlib import Path, PurePosixPath
from typing import Any

import duckdb

from schemas.dataset_spec import Column, DatasetSpec
from warehouse.lake import load_extension, quote_identifier, quote_literal
from warehouse.transcode import TranscodeError, transcode_to_utf8

SOURCE_VIEW = "_mulu_source"
# The same rows without row numbers: counting CSV/JSON rows (WITH ORDINALITY) makes DuckDB scan
# the file on one thread, which halves a load's speed on two cores.
UNNUMBERED_VIEW = "_mulu_source_unnumbered"
# The message of the error() a value that does not fit its column raises in checked_select.
CAST_FAILURE = "mulu: a value does not fit its column's type"
META_COLUMNS = ("_source_index", "_source_file", "_source_row")
BAD_PREFIX = "_bad_"
# Blank means empty: ordinary and full-width (U+3000) spaces, tabs and line ends.
_BLANKS = " \t\r\n\u3000"
_TRUE = ("true", "t", "yes", "y", "1", "是", "对", "真")
_FALSE = ("false", "f", "no", "n", "0", "否", "错", "假")
_EXTRA_DATE_FORMATS = ("%Y%m%d", "%Y.%m.%d", "%Y年%m月%d日")
_EXTRA_TIMESTAMP_FORMATS = ("%Y/%m/%d %H:%M:%S", "%Y/%m/%d %H:%M", "%Y%m%d%H%M%S",
                            "%Y%m%d %H:%M:%S", "%Y年%m月%d日 %H:%M:%S", "%Y年%m月%d日 %H:%M",
                            "%Y%m%d", "%Y.%m.%d", "%Y年%m月%d日")
# Excel stores dates as days since 1899-12-30; read as text they arrive as "46024" / "46024.5".
_EXCEL_EPOCH = "1899-12-30"
_EXCEL_MAX_SERIAL = 2958465  # 9999-12-31


class LoadError(RuntimeError):
    """A load that failed; ``file``, ``column`` and ``row`` say where, when known."""

    def __init__(self, message: str, *, file: str | None = None, column: str | None = None,
                 row: int | None = None) -> None:
        super().__init__(message)
        self.file, self.column, self.row = file, column, row


class SourceError(LoadError):
    """A source that cannot be fetched or read: missing, bad bytes, malformed rows."""


class SchemaDriftError(LoadError):
    """The source no longer matches the spec: a column is missing, renamed or retyped."""


# --- reading -------------------------------------------------------------------------------
def read_source(con: duckdb.DuckDBPyConnection, spec: DatasetSpec, files: list[Path], *,
                names: Sequence[str] | None = None,
                workdir: Path | None = None) -> duckdb.DuckDBPyRelation:
    """Every row of ``files`` as one relation (also the temp view ``_mulu_source``).

    Files are unioned by name. Raises SchemaDriftError when a file lacks a column the spec
    names, SourceError when a file cannot be read. ``names`` are the files as people know
    them (source URLs), for messages; ``workdir`` receives UTF-8 copies of GBK files
    (default: a new temporary directory; the caller deletes it). The temp view
    ``_mulu_source_unnumbered`` holds the same rows with ``_source_row`` NULL for CSV and JSON,
    which DuckDB reads in parallel.
    """
    if not files:
        raise SourceError(f"{spec.name}: no source files")
    labels = list(names) if names is not None else [str(f) for f in files]
    fmt = spec.source.format
    if fmt == "xlsx":
        load_extension(con, "excel")
    if fmt == "csv" and spec.source.encoding not in ("utf-8", "utf-8-sig") and workdir is None:
        workdir = Path(tempfile.mkdtemp(prefix="mulu-read-"))
    for index, (path, label) in enumerate(zip(files, labels, strict=True)):
        try:
            sql, unnumbered = _file_sql(con, spec, Path(path), index, label, workdir)
            relation = con.sql(sql)  # binds: reads the header / samples the file
        except TranscodeError as exc:
            raise SourceError(f"{label}: {exc}", file=label, row=exc.line) from exc
        except (duckdb.Error, OSError, ValueError, KeyError, zipfile.BadZipFile) as exc:
            raise source_error(label, exc) from exc
        _check_columns(spec, relation.columns, label)
        con.execute(f"CREATE OR REPLACE TEMP VIEW {SOURCE_VIEW}_{index} AS {sql}")
        con.execute(f"CREATE OR REPLACE TEMP VIEW {UNNUMBERED_VIEW}_{index} AS {unnumbered}")
    for view in (SOURCE_VIEW, UNNUMBERED_VIEW):
        con.execute(f"CREATE OR REPLACE TEMP VIEW {view} AS " + " UNION ALL BY NAME ".join(
            f"SELECT * FROM {view}_{index}" for index in range(len(files))))
    return con.sql(f"SELECT * FROM {SOURCE_VIEW}")


def source_error(label: str, exc: BaseException) -> SourceError:
    """A DuckDB/OS error reading a file as a SourceError naming the file (and line if given)."""
    text = str(exc).strip()
    line = re.search(r"\bLine:\s*(\d+)", text)
    first = text.splitlines()[0] if text else type(exc).__name__
    return SourceError(f"{label}: cannot read: {first}", file=label,
                       row=int(line.group(1)) if line else None)


def _file_sql(con: duckdb.DuckDBPyConnection, spec: DatasetSpec, path: Path, index: int,
              label: str, workdir: Path | None) -> tuple[str, str]:
    """(SQL with row numbers, SQL with ``_source_row`` NULL where numbering costs a parallel
    scan) for one file."""
    fmt = spec.source.format
    meta = f"{index} AS _source_index, {quote_literal(label)} AS _source_file"
    if fmt == "csv":
        return _csv_sql(spec, path, index, workdir, meta)
    if fmt == "xlsx":
        sql = _xlsx_sql(con, spec, path, meta)
        return sql, sql
    if fmt in ("json", "ndjson"):
        layout = "array" if fmt == "json" else "newline_delimited"
        # sample_size=-1: keys and types come from every record, not the first 20,480.
        table = (f"read_json({quote_literal(str(path))}, format='{layout}', "
                 f"sample_size=-1)")
        return (f"SELECT * EXCLUDE (ordinality), {meta}, ordinality AS _source_row "
                f"FROM {table} WITH ORDINALITY",
                f"SELECT *, {meta}, {_NO_ROW} AS _source_row FROM {table}")
    if fmt == "parquet":
        sql = (f"SELECT * EXCLUDE (file_row_number), {meta}, "
               f"file_row_number + 1 AS _source_row "
               f"FROM read_parquet({quote_literal(str(path))}, file_row_number=true)")
        return sql, sql
    raise SourceError(f"{label}: unsupported format {fmt!r}", file=label)


_NO_ROW = "CAST(NULL AS BIGINT)"


def _check_columns(spec: DatasetSpec, columns: Sequence[str], label: str) -> None:
    present = [c for c in columns if c not in META_COLUMNS]
    wanted = [column.source for column in spec.columns]
    missing = [name for name in wanted if name not in present]
    if not missing:
        return
    unexpected = [name for name in present if name not in wanted]
    by_source = {column.source: column.name for column in spec.columns}
    listed = ", ".join(f"{name} ({by_source[name]})" for name in missing)
    message = f"{label}: missing column{'s' if len(missing) > 1 else ''} {listed}"
    if unexpected:
        message += (f"; unexpected column{'s' if len(unexpected) > 1 else ''} "
                    f"{', '.join(unexpected)} (a renamed column shows as missing and unexpected)")
    raise SchemaDriftError(message, file=label, column=missing[0])


def _clean_names(raw: Sequence[str]) -> list[str]:
    """Header names without surrounding blanks; empty ones numbered, repeats suffixed _1, _2."""
    names: list[str] = []
    for position, name in enumerate(raw, 1):
        name = (name or "").strip(_BLANKS) or f"column{position}"
        base, suffix = name, 0
        while name in names:
            suffix += 1
            name = f"{base}_{suffix}"
        names.append(name)
    return names


# --- CSV -----------------------------------------------------------------------------------
def _csv_sql(spec: DatasetSpec, path: Path, index: int, workdir: Path | None, meta: str
             ) -> tuple[str, str]:
    source = spec.source
    if source.encoding not in ("utf-8", "utf-8-sig"):
        # DuckDB's own GBK decoding corrupted a row of a 1M-row file: decode in Python first.
        assert workdir is not None
        target = workdir / f"{index:04d}-{path.name}.utf8.csv"
        transcode_to_utf8(path, target, source.encoding)
        path = target
    delimiter = source.delimiter or ","
    header, header_lines = _csv_header(path, delimiter, source.header_row)
    names = _clean_names(header)
    # The header and what is above and right below it are skipped by line; nothing is sniffed.
    skip = source.header_row - 1 + header_lines + source.skip_rows
    columns = ", ".join(f"{quote_literal(n)}: 'VARCHAR'" for n in names)
    aliases = ", ".join(quote_identifier(n) for n in names)
    table = (f"read_csv({quote_literal(str(path))}, header=false, auto_detect=false, "
             f"skip={skip}, delim={quote_literal(delimiter)}, quote='\"', escape='\"', "
             f"columns={{{columns}}})")
    return (f"SELECT {aliases}, {meta}, {skip} + ordinality AS _source_row "
            f"FROM {table} WITH ORDINALITY",
            f"SELECT {aliases}, {meta}, {_NO_ROW} AS _source_row FROM {table}")


def _csv_header(path: Path, delimiter: str, header_row: int) -> tuple[list[str], int]:
    """The header's fields and how many lines it spans (a quoted name may hold a newline)."""
    opener = gzip.open if path.suffix.lower() == ".gz" else open
    with opener(path, "rt", encoding="utf-8-sig", newline="") as handle:
        lines = _CountingLines(handle)
        for _ in range(header_row - 1):
            if next(lines, None) is None:
                raise ValueError(f"header_row {header_row} is past the end of the file")
        start = lines.count
        header = next(csv.reader(lines, delimiter=delimiter), None)
        if not header:
            raise ValueError(f"no header at line {header_row}")
        return header, lines.count - start


class _CountingLines(Iterator[str]):
    """Lines of a text file, counting how many were read."""

    def __init__(self, handle: io.TextIOBase) -> None:
        self.handle, self.count = handle, 0

    def __next__(self) -> str:
        line = self.handle.readline()
        if not line:
            raise StopIteration
        self.count += 1
        return line


# --- Excel ---------------------------------------------------------------------------------
def _xlsx_sql(con: duckdb.DuckDBPyConnection, spec: DatasetSpec, path: Path, meta: str) -> str:
    sheet = _sheet_name(path, spec.source.sheet)
    first_col, last_col, last_row = _sheet_extent(path, sheet)
    header_row = spec.source.header_row
    # read_xlsx stops at the first empty row unless told not to, and without a range it guesses
    # the table from row 1 (often a title): so give the exact range, from the sheet dimension.
    table = (f"read_xlsx({quote_literal(str(path))}, sheet={quote_literal(sheet)}, "
             f"header=true, all_varchar=true, stop_at_empty=false, "
             f"range='{first_col}{header_row}:{last_col}{max(last_row, header_row + 1)}')")
    raw = [name for name in con.sql(f"SELECT * FROM {table}").columns]
    names = _clean_names(raw)
    aliases = ", ".join(f"{quote_identifier(r)} AS {quote_identifier(n)}"
                        for r, n in zip(raw, names, strict=True))
    cells = ", ".join(f"nullif(trim({quote_identifier(r)}, {quote_literal(_BLANKS)}), '')"
                      for r in raw)
    return (f"SELECT {aliases}, {meta}, {header_row} + ordinality AS _source_row "
            f"FROM {table} WITH ORDINALITY "
            f"WHERE ordinality > {spec.source.skip_rows} AND coalesce({cells}) IS NOT NULL")


def _sheet_name(path: Path, wanted: str | int | None) -> str:
    names = [name for name, _ in _workbook_sheets(path)]
    if not names:
        raise ValueError("the workbook has no sheets")
    if wanted is None:
        return names[0]
    if isinstance(wanted, int):
        if not 0 <= wanted < len(names):
            raise ValueError(f"no sheet {wanted} (0-based); the workbook has {len(names)}: "
                             f"{', '.join(names)}")
        return names[wanted]
    if wanted not in names:
        raise ValueError(f"no sheet {wanted!r}; the workbook has {', '.join(names)}")
    return wanted


_NS_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"


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
            part = target.lstrip("/") if target.startswith("/") else str(
                PurePosixPath("xl") / target)
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


# --- typing --------------------------------------------------------------------------------
def checked_select(spec: DatasetSpec, source_types: dict[str, str],
                   source: str = UNNUMBERED_VIEW, *, keep: Sequence[str] = ()) -> str:
    """SQL: the spec's columns typed exactly as the table types them, in spec order, then the
    ``keep`` columns of ``source`` (e.g. ``_source_index``, ``_source_row``); nothing else.

    A value that does not fit its column stops the query with CAST_FAILURE (DuckDB's
    ``error()``), so the one pass that writes the rows is also the check; ``typed_select``
    then finds what failed. Values and rows are those of ``typed_select``.
    """
    fail = f"error({quote_literal(CAST_FAILURE)})"
    values, typed, final, present = list(keep), list(keep), [], []
    for i, column in enumerate(spec.columns):
        raw, name = quote_identifier(column.source), quote_identifier(column.name)
        source_type = source_types[column.source]
        check = None
        if source_type in ("VARCHAR", "JSON"):
            text = f"json_extract_string({raw}, '$')" if source_type == "JSON" else raw
            as_written = column.type == "string" or _trim_free(column)
            values.append(f"{_blank_as_null(text, trim=not as_written)} AS _v{i}")
            value = f"_v{i}"
            can_fail, cast = _text_cast(column, value, spec.source.format == "xlsx")
            if can_fail and as_written:
                # Cast as written; only a value that fails is trimmed and cast again.
                _, again = _text_cast(column, f"trim({value}, {quote_literal(_BLANKS)})",
                                      spec.source.format == "xlsx")
                check = (f"CASE WHEN {name} IS NOT NULL OR {value} IS NULL THEN {name} "
                         f"ELSE coalesce({again}, {fail}) END AS {name}")
        else:  # native types: JSON numbers and booleans, Parquet columns
            value = f"_n{i}"
            values.append(f"{raw} AS {value}")
            can_fail, cast = _native_cast(column, value, source_type)
        present.append(value)
        typed.append(f"{cast} AS {name}")
        if can_fail:
            typed.append(value)
            final.append(check or f"CASE WHEN {name} IS NULL AND {value} IS NOT NULL THEN "
                                  f"{fail} ELSE {name} END AS {name}")
        else:
            final.append(name)
    return (f"SELECT {', '.join([*final, *keep])} FROM "
            f"(SELECT {', '.join(typed)} FROM (SELECT {', '.join(values)} FROM {source}) "
            f"WHERE {' OR '.join(f'{p} IS NOT NULL' for p in present)})")


def typed_select(spec: DatasetSpec, source_types: dict[str, str], source: str = SOURCE_VIEW
                 ) -> str:
    """SQL: the spec's columns typed, ``_bad_<name>`` (the value that did not cast, else NULL)
    for each typed column, and the source's ``_source_index``, ``_source_row``.

    Rows without a value in any spec column are left out (blank lines, empty spreadsheet
    rows). ``source_types``: DuckDB type of each source column (after the union).
    """
    # Three projections, so each value is trimmed once and each cast computed once.
    values, typed, final = ["_source_index", "_source_row"], ["_source_index", "_source_row"], []
    present = []
    for i, column in enumerate(spec.columns):
        raw = quote_identifier(column.source)
        name = quote_identifier(column.name)
        source_type = source_types[column.source]
        if source_type in ("VARCHAR", "JSON"):
            text = f"json_extract_string({raw}, '$')" if source_type == "JSON" else raw
            values.append(f"{_blank_as_null(text, trim=column.type != 'string')} AS _v{i}")
            present.append(f"_v{i}")
            can_fail, cast = _text_cast(column, f"_v{i}", spec.source.format == "xlsx")
            value = f"_v{i}"
        else:  # native types: JSON numbers and booleans, Parquet columns
            values.append(f"{raw} AS _n{i}")
            present.append(f"_n{i}")
            can_fail, cast = _native_cast(column, f"_n{i}", source_type)
            value = f"CAST(_n{i} AS VARCHAR)"
        typed.append(f"{cast} AS {name}")
        final.append(name)
        if can_fail:
            bad = quote_identifier(BAD_PREFIX + column.name)
            typed.append(f"{value} AS {bad}")
            final.append(f"CASE WHEN {name} IS NULL THEN {bad} END AS {bad}")
    return (f"SELECT {', '.join(final)}, _source_index, _source_row FROM "
            f"(SELECT {', '.join(typed)} FROM (SELECT {', '.join(values)} FROM {source}) "
            f"WHERE {' OR '.join(f'{p} IS NOT NULL' for p in present)})")


def _trim_free(column: Column) -> bool:
    """True when casting a value as written gives, whenever it succeeds, what casting it
    trimmed gives: DuckDB's number and ISO date parsers skip surrounding whitespace, and the
    whole-number, boolean and extra date patterns match whole values only. Not so for
    timestamps ('…Z ' casts, as UTC) or a date ``format`` that DuckDB's ISO cast could also
    read differently."""
    kind = column.type.split("(")[0]
    return kind in ("integer", "bigint", "double", "decimal", "boolean") or (
        kind == "date" and not column.format)


def _blank_as_null(text: str, *, trim: bool) -> str:
    """SQL: NULL when ``text`` is empty or only blanks; else the text, as written or trimmed.

    A blank value is empty or starts with a blank, so cheap comparisons go first (text that
    starts with U+3000 sorts from '\u3000' to before '\u3001') and the regex runs only on the
    few values they let through; trim() only when there is something to trim: on 1M rows this
    is about twice as fast as trim() on every value."""
    starts_blank = " OR ".join([f"{text} < '!'"] + [  # ' ', tab, CR, LF sort before '!'
        f"({text} >= {quote_literal(blank)} AND {text} < {quote_literal(chr(ord(blank) + 1))})"
        for blank in _BLANKS if blank > " "])
    blank = f"({starts_blank}) AND regexp_full_match({text}, '[{_BLANKS}]*')"
    if not trim:
        return f"CASE WHEN {blank} THEN NULL ELSE {text} END"
    edge = f"regexp_matches({text}, '^[{_BLANKS}]|[{_BLANKS}]$')"
    return (f"CASE WHEN {blank} THEN NULL WHEN {edge} THEN trim({text}, "
            f"{quote_literal(_BLANKS)}) ELSE {text} END")


def _native_cast(column: Column, n: str, source_type: str) -> tuple[bool, str]:
    """(can a value fail, the typed value) for a natively typed source column ``n``."""
    target = column.duckdb_type()
    kind = column.type.split("(")[0]
    if kind == "string":
        return False, f"CAST({n} AS VARCHAR)"
    if source_type == target:
        return False, n
    cast = f"TRY_CAST({n} AS {target})"
    if kind in ("integer", "bigint") and source_type.startswith(("DOUBLE", "FLOAT", "DEC")):
        cast = f"CASE WHEN {n} = trunc({n}) THEN {cast} END"  # 12.5 is not 13
    return True, cast


def _text_cast(column: Column, v: str, from_excel: bool) -> tuple[bool, str]:
    """(can a value fail, the typed value) for text ``v``: blank is NULL already, and for
    typed columns surrounding blanks are trimmed."""
    target = column.duckdb_type()
    kind = column.type.split("(")[0]
    if kind == "string":
        # Text is kept as written (leading zeros, inner spaces); only blank becomes NULL.
        return False, v
    return True, _typed_text(column, kind, target, v, from_excel)


def _typed_text(column: Column, kind: str, target: str, v: str, from_excel: bool) -> str:
    if kind in ("integer", "bigint"):
        # TRY_CAST rounds '12.5' to 13 and reads '0x10' as 16: accept only whole numbers.
        return f"CASE WHEN regexp_full_match({v}, '[+-]?[0-9]+(\\.0*)?') THEN TRY_CAST({v} AS {target}) END"
    if kind in ("double", "decimal"):
        return f"TRY_CAST({v} AS {target})"
    if kind == "boolean":
        return (f"CASE WHEN lower({v}) IN ({_sql_list(_TRUE)}) THEN true "
                f"WHEN lower({v}) IN ({_sql_list(_FALSE)}) THEN false END")
    if kind == "date":
        options = [f"CAST(try_strptime({v}, {quote_literal(column.format)}) AS DATE)"
                   ] if column.format else []
        options += [f"TRY_CAST({v} AS DATE)",
                    f"CAST(try_strptime({v}, [{_sql_list(_EXTRA_DATE_FORMATS)}]) AS DATE)"]
        if from_excel:
            options.append(f"CASE WHEN {_excel_serial(v)} THEN DATE '{_EXCEL_EPOCH}' + "
                           f"CAST(floor(TRY_CAST({v} AS DOUBLE)) AS INTEGER) END")
        return f"coalesce({', '.join(options)})"
    if kind == "timestamp":
        options = [
            # An offset (+08:00, Z) is honoured: the value becomes Asia/Shanghai local time.
            f"CASE WHEN regexp_matches({v}, '(Z|[+-][0-9]{{2}}:?[0-9]{{2}})$') THEN "
            f"timezone('Asia/Shanghai', TRY_CAST({v} AS TIMESTAMPTZ)) END",
            f"CAST(try_strptime({v}, {quote_literal(column.format)}) AS TIMESTAMP)"
            if column.format else "NULL",
            f"TRY_CAST({v} AS TIMESTAMP)",
            f"CAST(try_strptime({v}, [{_sql_list(_EXTRA_TIMESTAMP_FORMATS)}]) AS TIMESTAMP)"]
        if from_excel:
            options.append(f"CASE WHEN {_excel_serial(v)} THEN TIMESTAMP '{_EXCEL_EPOCH}' + "
                           f"to_microseconds(CAST(round(TRY_CAST({v} AS DOUBLE) * 86400000000) "
                           f"AS BIGINT)) END")
        return f"coalesce({', '.join(options)})"
    raise ValueError(f"unknown column type {column.type!r}")


def _excel_serial(v: str) -> str:
    return (f"(regexp_full_match({v}, '[0-9]+(\\.[0-9]+)?') AND "
            f"TRY_CAST({v} AS DOUBLE) BETWEEN 1 AND {_EXCEL_MAX_SERIAL})")


def _sql_list(values: Sequence[Any]) -> str:
    return ", ".join(quote_literal(str(value)) for value in values)
