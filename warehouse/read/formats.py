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
from collections.abc import Iterator
from pathlib import Path

import duckdb

from schemas.dataset_spec import DatasetSpec
from warehouse.lake import quote_identifier, quote_literal
from warehouse.read.blanks import clean_names
from warehouse.read.errors import SourceError
from warehouse.read.excel import xlsx_sql
from warehouse.read.views import NO_ROW
from warehouse.transcode import transcode_to_utf8


def file_sql(
    con: duckdb.DuckDBPyConnection,
    spec: DatasetSpec,
    path: Path,
    index: int,
    label: str,
    workdir: Path | None,
) -> tuple[str, str]:
    """(SQL with row numbers, SQL with ``_source_row`` NULL where numbering costs a parallel
    scan) for one file."""
    fmt = spec.source.format
    meta = f"{index} AS _source_index, {quote_literal(label)} AS _source_file"
    if fmt == "csv":
        return _csv_sql(spec, path, index, workdir, meta)
    if fmt == "xlsx":
        sql = xlsx_sql(con, spec, path, meta)
        return sql, sql
    if fmt in ("json", "ndjson"):
        layout = "array" if fmt == "json" else "newline_delimited"
        # sample_size=-1: keys and types come from every record, not the first 20,480.
        table = f"read_json({quote_literal(str(path))}, format='{layout}', sample_size=-1)"
        return (
            f"SELECT * EXCLUDE (ordinality), {meta}, ordinality AS _source_row "
            f"FROM {table} WITH ORDINALITY",
            f"SELECT *, {meta}, {NO_ROW} AS _source_row FROM {table}",
        )
    if fmt == "parquet":
        sql = (
            f"SELECT * EXCLUDE (file_row_number), {meta}, "
            f"file_row_number + 1 AS _source_row "
            f"FROM read_parquet({quote_literal(str(path))}, file_row_number=true)"
        )
        return sql, sql
    raise SourceError(f"{label}: unsupported format {fmt!r}", file=label)


# --- CSV -----------------------------------------------------------------------------------
def _csv_sql(
    spec: DatasetSpec, path: Path, index: int, workdir: Path | None, meta: str
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
    names = clean_names(header)
    # The header and what is above and right below it are skipped by line; nothing is sniffed.
    skip = source.header_row - 1 + header_lines + source.skip_rows
    columns = ", ".join(f"{quote_literal(n)}: 'VARCHAR'" for n in names)
    aliases = ", ".join(quote_identifier(n) for n in names)
    table = (
        f"read_csv({quote_literal(str(path))}, header=false, auto_detect=false, "
        f"skip={skip}, delim={quote_literal(delimiter)}, quote='\"', escape='\"', "
        f"columns={{{columns}}})"
    )
    return (
        f"SELECT {aliases}, {meta}, {skip} + ordinality AS _source_row "
        f"FROM {table} WITH ORDINALITY",
        f"SELECT {aliases}, {meta}, {NO_ROW} AS _source_row FROM {table}",
    )


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
