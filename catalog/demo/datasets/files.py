"""Writing source files the way departments export them: CSV with an unquoted header (UTF-8,
BOM, GBK/GB18030, CRLF, a title row) and Excel with a Chinese sheet name and a title row."""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pcsv
import xlsxwriter


def write_csv(
    path: Path, table: pa.Table, *, encoding: str = "utf-8", title: str = "", crlf: bool = False
) -> None:
    """CSV with an unquoted header (as exports look); GBK/GB18030 is encoded by Python."""
    header = title + "," * (table.num_columns - 1) + "\n" if title else ""
    header += ",".join(table.column_names) + "\n"
    options = pcsv.WriteOptions(include_header=False, quoting_style="none")
    if encoding.startswith("utf-8") and not crlf:  # streamed: the 1M-row file stays fast
        with path.open("wb") as out:
            out.write(header.encode(encoding))
            pcsv.write_csv(table, out, options)
        return
    body = io.BytesIO()
    pcsv.write_csv(table, body, options)
    text = header + body.getvalue().decode("utf-8")
    path.write_bytes((text.replace("\n", "\r\n") if crlf else text).encode(encoding))


def write_xlsx(
    path: Path,
    sheet: str,
    header: list[str],
    rows: list[list[Any]],
    today: dt.date,
    *,
    title: str = "",
) -> None:
    with xlsxwriter.Workbook(str(path), {"in_memory": True}) as book:  # fixed zip timestamps
        book.set_properties({"created": dt.datetime.combine(today, dt.time(9))})
        ws = book.add_worksheet(sheet)
        bold, dates = book.add_format({"bold": True}), book.add_format({"num_format": "yyyy-mm-dd"})
        if title:
            ws.write(0, 0, title, bold)
        ws.write_row(int(bool(title)), 0, header, bold)
        for r, row in enumerate(rows, int(bool(title)) + 1):
            for c, value in enumerate(row):
                if isinstance(value, dt.date):
                    ws.write_datetime(r, c, dt.datetime.combine(value, dt.time()), dates)
                elif value is not None:
                    ws.write(r, c, value)
