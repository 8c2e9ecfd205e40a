"""Granted reads (issue 13): what one principal may read of one dataset, read from the lake.

Every data channel reads through here — the portal's sample rows, the REST data endpoint,
downloads, CKAN's ``datastore_search`` — so each applies a ``schemas.access.DataAccess`` the
same way:

* only ``access.columns``, in that order; ``access.masked`` ones masked inside DuckDB
  (``warehouse.masking``: the clear value never leaves DuckDB);
* ``access.row_filter``: a row is kept when every filtered column's value (as text) is one of
  the allowed values. The values are bound as query parameters, never written into SQL; a
  filter on a column the table no longer has refuses the read (a filter never silently
  widens); granted columns the table no longer has (a reload changed the schema) are left
  out, and a read with none left is refused;
* the lake read-only (``connect_lake(workspace, read_only=True)``), one DuckLake snapshot per
  read: the count and the rows of a page, or a whole download, come from one transaction, so
  a load publishing meanwhile is seen entirely or not at all. Opening that connection costs
  about 0.6 s (DuckDB checks the extensions' signatures), so a process opens it once per
  workspace and each read takes a cursor of it (microseconds); every transaction reads the
  lake's latest committed snapshot, so loads by other processes are seen at once. Only this
  module's SQL ever runs on it.

``read_page``: a page in a stable order, DuckLake's ``rowid`` (a row keeps its id across
snapshots; new rows get larger ones), with the total of the granted view. ``stream``: the whole
granted view as CSV (UTF-8 with a byte-order mark, so Excel opens Chinese text correctly), Excel
or Parquet, produced from DuckDB record batches of ``BATCH_ROWS`` rows: memory stays flat
whatever the table's size (a 2-million-row table streams in the same ~200 MB as a 100,000-row
one). CSV and Parquet bytes flow from the first batch on. Excel is written with xlsxwriter's
constant-memory mode to a temporary file and sent once complete (a zip is finished only at its
end): about 50,000 cells a second, so its first byte waits for the whole workbook, and a view
over one sheet's 1,048,575 rows is refused (InvalidInput) in favour of CSV or Parquet. A
download is in the table's stored order (insertion order, which is rowid order), without a sort.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import decimal
import math
import tempfile
import threading
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

import duckdb

from schemas.access import DataAccess
from schemas.errors import Conflict, InvalidInput, NotFound
from warehouse import lake
from warehouse.masking import select_list
from warehouse.workspace import Workspace

Format = Literal["csv", "xlsx", "parquet"]
FORMATS: tuple[Format, ...] = ("csv", "xlsx", "parquet")
MEDIA_TYPES: dict[str, str] = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "parquet": "application/vnd.apache.parquet",
}
BATCH_ROWS = 20_000  # rows per DuckDB record batch while streaming
CHUNK_BYTES = 1 << 20  # the size of the pieces an Excel file is sent in
MAX_PAGE = 32_000  # the most rows one page returns (CKAN's ckan.datastore.search.rows_max)
EXCEL_ROWS = 1_048_575  # the most data rows of an Excel download (1,048,576 less the header)
EXCEL_MAX_INT = 10**15  # larger integers go to Excel as text (it keeps 15 digits)
UTF8_BOM = b"\xef\xbb\xbf"


_SHARED: dict[str, duckdb.DuckDBPyConnection] = {}
_SHARED_LOCK = threading.Lock()


def _connect(workspace: Workspace) -> duckdb.DuckDBPyConnection:
    """A new cursor of this process's read-only lake connection for ``workspace`` (opened on
    first use; LakeMissingError, a NotFound, while nothing was loaded). Close it after use."""
    key = lake.lake_key(workspace)  # the lake.sqlite path, or the PostgreSQL catalog
    with _SHARED_LOCK:
        shared = _SHARED.get(key)
        if shared is None:
            shared = _SHARED[key] = lake.connect_lake(workspace, read_only=True)
        return shared.cursor()


@dataclass(frozen=True)
class GrantedPage:
    """One page of a granted view: ``columns`` as shown, ``rows`` as Python values (masked
    columns as text), ``total`` rows in the whole view; ``types`` the DuckDB type of each
    column as shown (VARCHAR for masked ones)."""

    columns: list[str]
    rows: list[list[Any]]
    total: int
    types: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class _Plan:
    """The SQL of a granted view over one connection: columns, types, select, where, params."""

    columns: list[str]
    types: list[str]
    select: str
    source: str
    where: str
    params: list[str]

    def query(self, suffix: str = "") -> str:
        return f"SELECT {self.select} FROM {self.source}{self.where}{suffix}"


def _plan(
    con: duckdb.DuckDBPyConnection, access: DataAccess, *, as_file: Format | None = None
) -> _Plan:
    """The granted view of ``access.table`` as the table is now. ``as_file``: values a file
    of that format cannot hold are selected as text (``_as_text``)."""
    schema = dict(lake.table_schema(con, access.table))
    if not schema:
        raise NotFound(f"数据集 {access.dataset} 尚无已发布的数据 (no published data)")
    columns = [c for c in access.columns if c in schema]
    if not columns:
        raise Conflict(
            f"数据集 {access.dataset} 的表中已没有授权的列 (none of the granted columns is in "
            f"the table now): {', '.join(access.columns)}"
        )
    masked = access.masked & frozenset(columns)
    types = ["VARCHAR" if c in masked else schema[c] for c in columns]
    select = select_list(columns, masked)
    if as_file is not None and any(_as_text(t, as_file) for t in types):
        select = ", ".join(
            f"CAST({lake.quote_identifier(c)} AS VARCHAR) AS {lake.quote_identifier(c)}"
            if _as_text(t, as_file)
            else select_list([c], masked)
            for c, t in zip(columns, types, strict=True)
        )
    conditions: list[str] = []
    params: list[str] = []
    for column, allowed in access.row_filter:
        if column not in schema:
            raise Conflict(
                f"数据集 {access.dataset} 的行过滤列 {column} 已不在表中 (the row filter's column "
                "is no longer in the table)"
            )
        if not allowed:
            conditions.append("FALSE")
            continue
        marks = ", ".join("?" for _ in allowed)
        conditions.append(f"CAST({lake.quote_identifier(column)} AS VARCHAR) IN ({marks})")
        params.extend(str(v) for v in allowed)
    where = f" WHERE {' AND '.join(conditions)}" if conditions else ""
    return _Plan(columns, types, select, lake.qualified(access.table), where, params)


def _as_text(duckdb_type: str, fmt: Format) -> bool:
    """Types a download writes as DuckDB's text of the value: intervals, bit strings, UUIDs
    and times with a zone in every format (Parquet has no such types); in CSV and Excel also
    lists, structs, maps, unions, enums and blobs (escaped); in CSV times and timestamps."""
    if duckdb_type in ("INTERVAL", "BIT", "UUID", "TIME WITH TIME ZONE"):
        return True
    if fmt == "csv" and duckdb_type.startswith(("TIMESTAMP", "TIME")):
        return True  # 2026-01-02 03:04:05, not Arrow's 2026-01-02 03:04:05.000000
    return fmt != "parquet" and (
        duckdb_type.endswith("]")
        or duckdb_type.startswith(("STRUCT", "MAP", "UNION", "ENUM"))
        or duckdb_type == "BLOB"
    )


def _execute(
    con: duckdb.DuckDBPyConnection, sql: str, params: list[str]
) -> duckdb.DuckDBPyConnection:
    # No parameters, no binding: the DuckDB client imports pandas the first time a statement
    # has parameters (warehouse.lake's note); values are never written into the SQL.
    return con.execute(sql, params) if params else con.execute(sql)


def _natural(value: int, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InvalidInput(f"{name}: 应为非负整数 (must be a natural number): {value!r}")
    return value


def read_page(
    workspace: Workspace, access: DataAccess, *, offset: int = 0, limit: int = 100
) -> GrantedPage:
    """Rows ``offset`` … ``offset + limit`` of the granted view (at most ``MAX_PAGE``), in rowid
    order, and the view's total. NotFound when the dataset has no published table."""
    offset = _natural(offset, "offset")
    limit = min(_natural(limit, "limit"), MAX_PAGE)
    con = _connect(workspace)
    try:
        con.execute("BEGIN TRANSACTION")  # the count and the rows from one snapshot
        plan = _plan(con, access)
        found = _execute(
            con, f"SELECT count(*) FROM {plan.source}{plan.where}", plan.params
        ).fetchone()
        total = int(found[0]) if found else 0
        rows: list[list[Any]] = []
        if limit and offset < total:
            fetched = _execute(
                con, plan.query(f" ORDER BY rowid LIMIT {limit} OFFSET {offset}"), plan.params
            ).fetchall()
            rows = [list(r) for r in fetched]
        con.execute("ROLLBACK")
        return GrantedPage(plan.columns, rows, total, plan.types)
    finally:
        con.close()


class GrantedStream(Iterator[bytes]):
    """A download of a granted view in pieces of bytes (an ``Iterator[bytes]``). Opening it
    checks the table and the grant's columns at once (NotFound, Conflict), before any byte is
    sent; ``rows`` counts the rows sent so far, ``finished`` is True once the last byte was.
    ``close()`` (also when a client went away) ends the read and closes the connection."""

    def __init__(self, workspace: Workspace, access: DataAccess, fmt: Format) -> None:
        if fmt not in FORMATS:
            raise InvalidInput(f"下载格式应为 csv、xlsx 或 parquet (format): {fmt!r}")
        self.access = access
        self.format: Format = fmt
        self.rows = 0
        self.finished = False
        self._con = _connect(workspace)
        try:
            self._con.execute("BEGIN TRANSACTION")  # one snapshot for the whole download
            plan = _plan(self._con, access, as_file=fmt)
            self.columns = plan.columns
            self.types = plan.types
            if fmt == "xlsx":
                _fits_excel(self._con, plan, access)
            self._reader = _execute(self._con, plan.query(), plan.params).to_arrow_reader(
                BATCH_ROWS
            )
        except BaseException:
            self._con.close()
            raise
        writer: Callable[[], Generator[bytes, None, None]] = {
            "csv": self._csv,
            "xlsx": self._xlsx,
            "parquet": self._parquet,
        }[fmt]
        self._pieces = writer()

    def __iter__(self) -> GrantedStream:
        return self

    def __next__(self) -> bytes:
        try:
            return next(self._pieces)
        except StopIteration:
            self.finished = True
            self.close()
            raise

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._pieces.close()
        with contextlib.suppress(Exception):
            self._reader.close()
        self._con.close()

    def _batches(self) -> Iterator[Any]:
        for batch in self._reader:
            self.rows += batch.num_rows
            yield batch

    def _csv(self) -> Generator[bytes, None, None]:
        import pyarrow.csv as pacsv

        sink = _Drain()
        writer: Any = None
        yield UTF8_BOM
        for batch in self._batches():
            if writer is None:
                writer = pacsv.CSVWriter(
                    sink, batch.schema, write_options=pacsv.WriteOptions(eol="\r\n")
                )
            writer.write_batch(batch)
            yield sink.take()
        if writer is None:  # no rows: the header alone
            yield (",".join(_csv_name(c) for c in self.columns) + "\r\n").encode()
        else:
            writer.close()
            yield sink.take()

    def _parquet(self) -> Generator[bytes, None, None]:
        import pyarrow.parquet as pq

        sink = _Drain()
        with pq.ParquetWriter(sink, self._reader.schema, compression="zstd") as writer:
            for batch in self._batches():
                writer.write_batch(batch)
                piece = sink.take()
                if piece:
                    yield piece
        yield sink.take()

    def _xlsx(self) -> Generator[bytes, None, None]:
        # xlsxwriter builds the zip at close: the workbook goes to a temporary file (each row
        # is written to disk as it comes, constant_memory), then the file is sent in pieces.
        import xlsxwriter

        with tempfile.TemporaryFile(prefix="mulu-download-", suffix=".xlsx") as file:
            workbook = xlsxwriter.Workbook(
                file,
                {
                    "constant_memory": True,
                    "strings_to_formulas": False,  # a text "=…" stays text, never a formula
                    "strings_to_urls": False,
                    "strings_to_numbers": False,
                    "default_date_format": "yyyy-mm-dd",
                },
            )
            stamp = workbook.add_format({"num_format": "yyyy-mm-dd hh:mm:ss"})
            sheet = workbook.add_worksheet("数据")
            sheet.write_row(0, 0, self.columns, workbook.add_format({"bold": True}))
            row = 1
            for batch in self._batches():
                for values in zip(*(c.to_pylist() for c in batch.columns), strict=True):
                    for col, value in enumerate(values):
                        _excel_cell(sheet, row, col, value, stamp)
                    row += 1
            workbook.close()
            file.seek(0)
            while piece := file.read(CHUNK_BYTES):
                yield piece


def stream(workspace: Workspace, access: DataAccess, fmt: Format) -> GrantedStream:
    """The whole granted view as ``fmt`` bytes, piece by piece (see ``GrantedStream``)."""
    return GrantedStream(workspace, access, fmt)


class _Drain:
    """A write-only file for pyarrow's writers whose bytes are taken away piece by piece."""

    def __init__(self) -> None:
        self._pieces: list[bytes] = []
        self.closed = False

    def write(self, data: Any) -> int:
        piece = bytes(data)
        self._pieces.append(piece)
        return len(piece)

    def take(self) -> bytes:
        piece = b"".join(self._pieces)
        self._pieces.clear()
        return piece

    def flush(self) -> None:
        pass

    def close(self) -> None:
        self.closed = True

    def writable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

    def readable(self) -> bool:
        return False


def _fits_excel(con: duckdb.DuckDBPyConnection, plan: _Plan, access: DataAccess) -> None:
    """An Excel sheet holds 1,048,575 rows under its header: a larger view is refused before
    anything is built (CSV and Parquet have no limit)."""
    found = _execute(con, f"SELECT count(*) FROM {plan.source}{plan.where}", plan.params).fetchone()
    total = int(found[0]) if found else 0
    if total > EXCEL_ROWS:
        raise InvalidInput(
            f"数据集 {access.dataset} 有 {total:,} 行，超过 Excel 单表上限 {EXCEL_ROWS:,} 行："
            "请下载 CSV 或 Parquet (too many rows for Excel; download CSV or Parquet)"
        )


def _csv_name(column: str) -> str:
    return '"' + column.replace('"', '""') + '"'


def _excel_cell(sheet: Any, row: int, col: int, value: Any, stamp: Any) -> None:
    if value is None:
        return
    if isinstance(value, bool):
        sheet.write_boolean(row, col, value)
    elif isinstance(value, int):
        if abs(value) < EXCEL_MAX_INT:
            sheet.write_number(row, col, value)
        else:
            sheet.write_string(row, col, str(value))
    elif isinstance(value, float | decimal.Decimal):
        number = float(value)
        if math.isfinite(number):
            sheet.write_number(row, col, number)
        else:  # NaN, ±inf: Excel has no such numbers
            sheet.write_string(row, col, str(value))
    elif isinstance(value, dt.datetime):
        sheet.write_datetime(row, col, value.replace(tzinfo=None), stamp)
    elif isinstance(value, dt.date | dt.time):
        sheet.write_datetime(row, col, value)
    else:
        sheet.write_string(row, col, str(value))
