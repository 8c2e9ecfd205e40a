"""The SQL that reads one source file of each format: CSV, JSON / NDJSON and Parquet here,
Excel in ``excel``.

Nothing is guessed: CSV is read with the header and delimiter the spec gives and every column as
VARCHAR. Each file's SQL adds ``_source_index``, ``_source_file`` and ``_source_row`` (the CSV
line or record a person would look for) to the source's own columns.
"""

from __future__ import annotations

import csv
import gzip
import io
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

import duckdb

from schemas.dataset_spec import DatasetSpec
from schemas.dataset_spec.encodings import UTF8_ENCODINGS
from warehouse.lake import quote_identifier, quote_literal
from warehouse.read.blanks import clean_names, repeated_names
from warehouse.read.errors import SourceError
from warehouse.read.excel import xlsx_sql
from warehouse.read.ndjson import ndjson_lines
from warehouse.read.views import NO_ROW
from warehouse.transcode import text_for_duckdb

# The longest line (record) DuckDB reads, in bytes; set explicitly so diagnostics know it.
MAX_LINE_BYTES = 2_000_000
# The largest NDJSON record DuckDB reads, in bytes.
MAX_JSON_RECORD_BYTES = 16 * 1024 * 1024


class FileSQL(NamedTuple):
    numbered: str  # SQL with _source_row
    unnumbered: str  # the same with _source_row NULL where numbering costs a parallel scan
    repeated: dict[str, list[int]]  # header names given more than once, with positions


def file_sql(
    con: duckdb.DuckDBPyConnection,
    spec: DatasetSpec,
    path: Path,
    index: int,
    label: str,
    workdir: Path | None,
) -> FileSQL:
    """The SQL that reads one file, with and without row numbers."""
    fmt = spec.source.format
    meta = f"{index} AS _source_index, {quote_literal(label)} AS _source_file"
    if fmt in ("csv", "json", "ndjson"):
        path = text_path(spec, path, index, workdir)
    if fmt == "csv":
        return _csv_sql(spec, path, meta)
    if fmt == "xlsx":
        sql, header = xlsx_sql(con, spec, path, meta)
        return FileSQL(sql, sql, repeated_names(header))
    if fmt == "json":
        table = _json_table(path, "array")
        return FileSQL(
            f"SELECT * EXCLUDE (ordinality), {meta}, ordinality AS _source_row "
            f"FROM {table} WITH ORDINALITY",
            f"SELECT *, {meta}, {NO_ROW} AS _source_row FROM {table}",
            {},
        )
    if fmt == "ndjson":
        # DuckDB skips blank lines and numbers records: the line of each comes from ndjson.
        table = _json_table(path, "newline_delimited")
        line = ndjson_lines(con, path, index)
        return FileSQL(
            f"SELECT * EXCLUDE (ordinality), {meta}, {line} AS _source_row "
            f"FROM {table} WITH ORDINALITY",
            f"SELECT *, {meta}, {NO_ROW} AS _source_row FROM {table}",
            {},
        )
    if fmt == "parquet":
        sql = (
            f"SELECT * EXCLUDE (file_row_number), {meta}, "
            f"file_row_number + 1 AS _source_row "
            f"FROM read_parquet({quote_literal(str(path))}, file_row_number=true)"
        )
        return FileSQL(sql, sql, {})
    raise SourceError(f"{label}: unsupported format {fmt!r}", file=label)


def text_path(spec: DatasetSpec, path: Path, index: int, workdir: Path | None) -> Path:
    """The UTF-8 text DuckDB reads for a text file: the file itself when it is UTF-8, else a
    copy transcoded into ``workdir`` (a new temporary directory when None). Raises
    TranscodeError (invalid bytes, a declared encoding the file does not have)."""
    encoding = spec.source.encoding
    if encoding in UTF8_ENCODINGS:
        return path
    if workdir is None:
        workdir = Path(tempfile.mkdtemp(prefix="mulu-read-"))
    suffix = ".csv" if spec.source.format == "csv" else ".json"
    return text_for_duckdb(path, workdir / f"{index:04d}-{path.name}.utf8{suffix}", encoding)


def _json_table(path: Path, layout: str) -> str:
    # sample_size=-1: keys and types come from every record, not the first 20,480.
    return (
        f"read_json({quote_literal(str(path))}, format='{layout}', sample_size=-1, "
        f"maximum_object_size={MAX_JSON_RECORD_BYTES})"
    )


# --- CSV -----------------------------------------------------------------------------------
def csv_layout(spec: DatasetSpec, path: Path, errors: str = "strict") -> tuple[list[str], int]:
    """(the header's fields, the number of lines before the first data line) of a UTF-8 CSV.

    ``errors="replace"`` reads a file in any accepted encoding well enough to count its
    lines: quotes, delimiters and line ends are ASCII bytes, never part of a GBK character."""
    source = spec.source
    header, header_lines = _csv_header(path, source.delimiter or ",", source.header_row, errors)
    return header, source.header_row - 1 + header_lines + source.skip_rows


def _csv_sql(spec: DatasetSpec, path: Path, meta: str) -> FileSQL:
    delimiter = spec.source.delimiter or ","
    header, skip = csv_layout(spec, path)
    names = clean_names(header)
    # The header and what is above and right below it are skipped by line; nothing is sniffed.
    columns = ", ".join(f"{quote_literal(n)}: 'VARCHAR'" for n in names)
    aliases = ", ".join(quote_identifier(n) for n in names)
    table = (
        f"read_csv({quote_literal(str(path))}, header=false, auto_detect=false, "
        f"skip={skip}, delim={quote_literal(delimiter)}, quote='\"', escape='\"', "
        f"max_line_size={MAX_LINE_BYTES}, columns={{{columns}}})"
    )
    return FileSQL(
        f"SELECT {aliases}, {meta}, {skip} + ordinality AS _source_row "
        f"FROM {table} WITH ORDINALITY",
        f"SELECT {aliases}, {meta}, {NO_ROW} AS _source_row FROM {table}",
        repeated_names(header),
    )


def _csv_header(
    path: Path, delimiter: str, header_row: int, errors: str = "strict"
) -> tuple[list[str], int]:
    """The header's fields and how many lines it spans (a quoted name may hold a newline)."""
    opener = gzip.open if path.suffix.lower() == ".gz" else open
    with opener(path, "rt", encoding="utf-8-sig", errors=errors, newline="") as handle:
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
