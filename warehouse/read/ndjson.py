"""Line numbers of records: DuckDB's ``read_json`` skips blank lines and ``read_csv`` empty ones,
and both number records, so a record after such a line is not on the line its number says.
``ndjson_lines`` finds the blank lines (one pass over the bytes, memory speed) and gives the SQL
that turns a record's number (``ordinality``) into its line; ``csv_record_line`` does the same
for one CSV record, when an error names it."""

from __future__ import annotations

import re
from pathlib import Path

import duckdb

from warehouse.transcode import CHUNK_SIZE, open_bytes

_BLANK = re.compile(rb"[ \t\r]*")
_BLANK_LINE_AFTER = re.compile(rb"\n[ \t\r]*(?=\n)")  # a newline, then a blank line
_EMPTY = re.compile(rb"\r?")  # what read_csv skips: a line with nothing (but a CR)
_EMPTY_LINE_AFTER = re.compile(rb"\n\r?(?=\n)")
_MAX_CASES = 500  # beyond this many blank runs, a lookup table instead of a CASE


def blank_lines(path: Path, chunk_size: int = CHUNK_SIZE, *, empty_only: bool = False) -> list[int]:
    """1-based numbers of the lines that are empty or only spaces, tabs and CRs (``empty_only``:
    empty or a CR); a last line without a newline is left out: no record follows it."""
    blank, after = (_EMPTY, _EMPTY_LINE_AFTER) if empty_only else (_BLANK, _BLANK_LINE_AFTER)
    blanks: list[int] = []
    line, blank_so_far = 1, True  # the line the next byte is on; is it blank so far
    with open_bytes(path) as source:
        while chunk := source.read(chunk_size):
            first = chunk.find(b"\n")
            if first < 0:
                blank_so_far = blank_so_far and blank.fullmatch(chunk) is not None
                continue
            if blank_so_far and blank.fullmatch(chunk, 0, first):
                blanks.append(line)
            last = chunk.rfind(b"\n")
            at, at_line = first, line + 1  # at: a newline; at_line: the line after it
            for found in after.finditer(chunk, first, last + 1):
                at_line += chunk.count(b"\n", at + 1, found.start() + 1)
                at = found.start()
                blanks.append(at_line)
            line += chunk.count(b"\n")
            blank_so_far = blank.fullmatch(chunk, last + 1) is not None
    return blanks


def record_offsets(blanks: list[int]) -> list[tuple[int, int]]:
    """[(first record after a run of blank lines, how many blank lines precede it)]."""
    offsets: list[tuple[int, int]] = []
    for count, blank in enumerate(blanks, 1):
        first_record = blank - count + 1
        if offsets and offsets[-1][0] == first_record:
            offsets[-1] = (first_record, count)
        else:
            offsets.append((first_record, count))
    return offsets


def ndjson_lines(con: duckdb.DuckDBPyConnection, path: Path, index: int) -> str:
    """SQL of a record's line from its ``ordinality`` in ``read_json(...) WITH ORDINALITY``."""
    offsets = record_offsets(blank_lines(path))
    if not offsets:
        return "ordinality"
    if len(offsets) <= _MAX_CASES:
        cases = " ".join(
            f"WHEN ordinality >= {first} THEN ordinality + {count}"
            for first, count in reversed(offsets)
        )
        return f"CASE {cases} ELSE ordinality END"
    table = f"_mulu_ndjson_lines_{index}"
    con.execute(f"CREATE OR REPLACE TEMP TABLE {table} (first_record BIGINT, blanks BIGINT)")
    con.executemany(f"INSERT INTO {table} VALUES (?, ?)", offsets)
    return (
        f"ordinality + coalesce((SELECT max(blanks) FROM {table} "
        f"WHERE first_record <= ordinality), 0)"
    )


def csv_record_line(path: Path, skip: int, record: int) -> int:
    """The line of a CSV's ``record``-th data record (1-based; ``skip`` lines before the
    first), counting the empty lines read_csv skips. Quoted values holding line breaks are not
    counted (docs/warehouse.md)."""
    offsets = record_offsets([b - skip for b in blank_lines(path, empty_only=True) if b > skip])
    return skip + record + max((count for first, count in offsets if first <= record), default=0)
