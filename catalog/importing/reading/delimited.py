"""CSV and tab- or semicolon-separated exports, streamed: one record in memory at a time.

Each record keeps the exact decoded text of its line(s) (``csv.reader`` is fed by a line
iterator that remembers what it handed out) and the number of its first line (the header is
line 1). Rows with more non-empty cells than the header reject; a field over
``MAX_FIELD_BYTES`` rejects its record only, and the file reads on after it.
"""

from __future__ import annotations

import contextlib
import csv
import io
import sys
from collections.abc import Iterator
from itertools import islice
from pathlib import Path
from typing import IO, Any

from catalog.importing.reading.common import (
    MAX_FIELD_BYTES,
    SUSPECT,
    Cleaner,
    ReadError,
    preview,
    too_large,
    valid_text,
)
from catalog.importing.records import Problem, SourceRecord
from schemas.messages import Joined, Reason

DELIMITERS = (",", "\t", ";")
HEADER_SEARCH = 20  # lines (csv: records) looked at for the delimiter and the header row
TITLE_ROWS = 5  # how far below a title row its table's header may start
# csv's own cap is process-wide and warehouse.read lifts it to sys.maxsize: set it the same way
# here, so a record reads the same whichever was imported first. Fields over MAX_FIELD_BYTES are
# found by their size (``too_large``); memory is bounded per record by ``_Lines`` instead (a
# stray opening quote would otherwise gather the rest of the file into one field).
csv.field_size_limit(sys.maxsize)
# What of an oversized record is kept to show in the rejects (the rest is counted, not kept).
RAW_KEPT = 2 * MAX_FIELD_BYTES


def column_name(position: int) -> str:
    """The name of a column whose header cell is blank: its position, 1-based (第5列)."""
    return f"第{position}列"


class _Lines:
    """Lines of a text file (line ends kept), remembering those handed out since the last
    ``take``: the text of the record csv.reader has just parsed."""

    def __init__(self, handle: IO[str], limit: int = RAW_KEPT) -> None:
        self.handle = handle
        self.taken: list[str] = []
        self.taken_chars = 0
        self.limit = limit  # characters one record may span before csv is stopped
        self.number = 0  # lines handed out so far

    def __iter__(self) -> Iterator[str]:
        return self

    def __next__(self) -> str:
        line = self.handle.readline(self.limit + 1)
        if not line:
            raise StopIteration
        if not line.endswith(("\n", "\r")):
            line += self._rest_of_line(line)
        self.number += 1
        self.taken.append(line)
        self.taken_chars += len(line)
        if self.taken_chars > self.limit:
            raise RecordTooLarge(f"field larger than field limit ({self.limit} characters)")
        return line

    def _rest_of_line(self, start: str) -> str:
        """The rest of a line cut at the limit: kept up to the limit, the rest read and
        dropped (a 1 GB line never sits in memory)."""
        kept: list[str] = []
        size = len(start)
        while chunk := self.handle.readline(self.limit + 1):
            if size < self.limit:
                kept.append(chunk[: self.limit - size])
            size += len(chunk)
            if chunk.endswith(("\n", "\r")):
                break
        return "".join(kept)

    def take(self) -> tuple[int, str]:
        """(number of the first line, text) of the lines handed out since the last take."""
        first = self.number - len(self.taken) + 1
        text = "".join(self.taken)
        self.taken.clear()
        self.taken_chars = 0
        return first, text


class RecordTooLarge(csv.Error):
    """A record spans more text than any record within the field limits could."""


def open_text(path: Path, encoding: str) -> IO[str]:
    # newline="": csv sees line ends as they are (a quoted field may hold any of them).
    return io.TextIOWrapper(path.open("rb"), encoding=encoding, errors="mulu-mark", newline="")


def read_header(path: Path, encoding: str) -> tuple[str, list[str], int]:
    """(delimiter, column names, records before the header) of a delimited file: the delimiter
    its first lines use most, the header row found past any title rows, blank names named by
    their position. Raises ReadError for repeated names or no header."""
    with open_text(path, encoding) as handle:
        sample = [handle.readline() for _ in range(HEADER_SEARCH)]
        delimiter = max(DELIMITERS, key=lambda d: sum(line.count(d) for line in sample))
        handle.seek(0)
        rows = _first_rows(csv.reader(handle, delimiter=delimiter))
    at = header_index(rows)
    if at is None:
        raise ReadError(path, "no_header")
    return delimiter, header_names(path, rows[at]), at


def _first_rows(reader: Iterator[list[str]]) -> list[list[str]]:
    """Up to HEADER_SEARCH rows, stopping at one csv cannot read (the records will say)."""
    rows: list[list[str]] = []
    with contextlib.suppress(csv.Error):
        rows.extend(islice(reader, HEADER_SEARCH))
    return rows


def header_index(rows: list[list[Any]]) -> int | None:
    """Which of a file's first rows is its header: the first that is not blank, unless it is
    a title (one cell filled, as "某某市政务信息资源目录" above a table) with a row of several
    filled cells shortly after; then that row."""
    filled = [(n, sum(1 for cell in row if str(cell).strip())) for n, row in enumerate(rows)]
    filled = [(n, count) for n, count in filled if count]
    if not filled:
        return None
    first, count = filled[0]
    if count == 1:
        wider = [n for n, count in filled[1 : TITLE_ROWS + 1] if count >= 2]
        if wider:
            return wider[0]
    return first


def header_names(path: Path, cells: list[Any]) -> list[str]:
    """Column names from header cells: cleaned, blank ones named by position, trailing blank
    ones dropped (a trailing delimiter); ReadError if a name repeats."""
    names = [_header_name(str(cell), n) for n, cell in enumerate(cells, start=1)]
    while names and names[-1] == column_name(len(names)):
        names.pop()
    repeated_header_error(path, names)
    return names


def repeated_header_error(path: Path, names: list[str]) -> None:
    """ReadError naming each column name that is used twice or more, with its columns: which
    one holds the value is unknowable, and letting the last win loses the others."""
    repeated = sorted({name for name in names if names.count(name) > 1}, key=names.index)
    if repeated:
        detail = Joined(
            tuple(
                Reason(
                    "repeated_column",
                    {
                        "name": name,
                        "columns": Joined(tuple(n + 1 for n, x in enumerate(names) if x == name)),
                    },
                )
                for name in repeated
            ),
            zh="；",
            en="; ",
        )
        raise ReadError(path, "repeated_header", names=detail)


def _header_name(cell: str, position: int) -> str:
    # Excel's cells carry no byte markers; a delimited file's do (surrogates_are_bytes).
    name = Cleaner(1, None, surrogates_are_bytes=True).text(cell, cell).strip()
    return name or column_name(position)


class DelimitedRecords:
    """The records of a delimited file; iterating reads the file again, streamed."""

    def __init__(
        self, path: Path, encoding: str, delimiter: str, header: list[str], skip: int = 0
    ) -> None:
        self.path, self.encoding, self.delimiter, self.header = path, encoding, delimiter, header
        self.skip = skip  # csv records before the header (title rows)

    def __iter__(self) -> Iterator[SourceRecord]:
        with open_text(self.path, self.encoding) as handle:
            # A record within the limits spans at most a full field per column (and the rest).
            lines = _Lines(handle, limit=max(RAW_KEPT, (len(self.header) + 1) * MAX_FIELD_BYTES))
            reader = csv.reader(lines, delimiter=self.delimiter)
            for _ in range(self.skip + 1):  # title rows and the header, read by read_header
                next(reader, None)
            lines.take()
            while True:
                try:
                    cells = next(reader)
                except StopIteration:
                    return
                except csv.Error as error:
                    yield self._unreadable(lines, str(error))
                    continue
                row, text = lines.take()
                if not any(cell.strip() for cell in cells):
                    continue  # a blank line, or a row of empty cells: no record
                yield self._record(row, text, cells)

    def _record(self, row: int, text: str, cells: list[str]) -> SourceRecord:
        header = self.header
        problems: list[Problem] = []
        suspect = SUSPECT.search(text) is not None
        if suspect:
            cleaner = Cleaner(row, self.encoding, surrogates_are_bytes=True)
            cells = [cleaner.text(cell, _name(header, n)) for n, cell in enumerate(cells)]
            problems = cleaner.problems
            text = valid_text(text)
        fields: dict[str, str] = {}
        for n, cell in enumerate(cells[: len(header)]):
            name = header[n]
            if name == column_name(n + 1) and not cell.strip():
                continue  # a blank-header column shows up only where it holds something
            size = too_large(cell)
            if size is not None:
                problems.append(_too_large(row, name, size, cell))
                cell = ""
            fields[name] = cell
        extra = [cell for cell in cells[len(header) :] if cell.strip()]
        if extra:
            reason = Reason("extra_fields", {"count": len(extra), "columns": len(header)})
            problems.append(Problem(row, "record", reason, "reject", value=extra))
        return SourceRecord(row, fields, _strip_line_end(text), problems)

    def _unreadable(self, lines: _Lines, error: str) -> SourceRecord:
        """The record csv gave up on: a field past csv's cap (over MAX_FIELD_BYTES whatever
        its characters). csv drops the rest of the line it was on and would start a new record
        at the next line, inside the open quoted field: read on to where the quotes close."""
        row, text = lines.take()
        quotes = text.count('"')
        kept, kept_chars = [text], len(text)
        size = len(text.encode("utf-8", "surrogatepass"))
        while quotes % 2:
            lines.take()  # each line on its own: counted, not gathered
            try:
                line = next(lines)
            except StopIteration:
                break
            except RecordTooLarge:
                line = "".join(lines.taken)
            quotes += line.count('"')
            size += len(line.encode("utf-8", "surrogatepass"))
            if kept_chars < RAW_KEPT:
                kept.append(line)
                kept_chars += len(line)
        raw = "".join(kept)
        if "field larger than field limit" in error:
            limit = f"{MAX_FIELD_BYTES:,}"
            reason = Reason("field_too_large", {"size": f"≥{size:,}", "limit": limit})
        else:
            reason = Reason("unparseable_record", {"detail": error})
        raw = valid_text(raw)
        value = preview(raw)
        if len(raw) > RAW_KEPT:
            raw = raw[:RAW_KEPT] + f"…（共 {size:,} 字节）"
        problem = Problem(row, "record", reason, "reject", value=value)
        return SourceRecord(row, {}, _strip_line_end(raw), [problem])


def _name(header: list[str], index: int) -> str:
    return header[index] if index < len(header) else column_name(index + 1)


def _too_large(row: int, name: str, size: int, cell: str) -> Problem:
    reason = Reason("field_too_large", {"size": f"{size:,}", "limit": f"{MAX_FIELD_BYTES:,}"})
    return Problem(row, name, reason, "reject", value=preview(cell))


def _strip_line_end(text: str) -> str:
    """A record's text without the end of its last line (inner line ends are its own)."""
    if text.endswith("\r\n"):
        return text[:-2]
    return text[:-1] if text.endswith(("\n", "\r")) else text
