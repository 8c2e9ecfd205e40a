"""Why a file could not be read, in Mulu's words: one line naming the file, the lines and the
reason, never DuckDB's options (which a spec cannot set) and never a whole line of the file.

Run only after DuckDB stopped on a file: a Python pass over it finds every row whose field count
is not the header's (up to ``MAX_LISTED``, with the total), lines too long to read, a quoted
value never closed, bytes that are not UTF-8, and NDJSON lines that are not JSON, each on the
line a person sees in an editor.
"""

from __future__ import annotations

import codecs
import csv
import json
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from schemas.dataset_spec import DatasetSpec
from warehouse.read.errors import SourceError, source_error, text_of
from warehouse.read.formats import MAX_JSON_RECORD_BYTES, MAX_LINE_BYTES, csv_layout, text_path
from warehouse.transcode import CHUNK_SIZE, TranscodeError, _error, gb18030_sample, open_bytes

MAX_LISTED = 20  # rows listed in one message; the total is given too
MAX_ECHO = 200  # characters of a value or message quoted, at most

csv.field_size_limit(sys.maxsize)


@dataclass
class Findings:
    """What is wrong with one file, in the order a person would fix it."""

    invalid: str | None = None  # bytes that are not valid text
    too_long: list[tuple[int, int]] = field(default_factory=list)  # (line, bytes)
    ragged: list[tuple[int, int]] = field(default_factory=list)  # (line, fields)
    ragged_total: int = 0
    unclosed: int | None = None  # line where a quoted value starts and never ends
    mixed: tuple[int, bool, int] | None = None  # (line, ends in CR LF, the line it differs from)
    not_json: list[tuple[int, str]] = field(default_factory=list)  # (line, reason)
    not_json_total: int = 0
    expected: int = 0  # the header's field count
    first_row: int | None = None

    def found(self) -> bool:
        return bool(
            self.invalid
            or self.too_long
            or self.ragged
            or self.unclosed
            or self.not_json
            or self.mixed
        )

    def message(self, label: str, limit: int) -> str:
        parts = []
        if self.invalid:
            parts.append(self.invalid)
        if self.too_long:
            listed = ", ".join(f"line {n} ({size:,} bytes)" for n, size in self.too_long)
            parts.append(f"too long to read (at most {limit:,} bytes a line): {listed}")
        if self.mixed is not None:
            line, crlf, other = self.mixed
            ends = ("CR LF", "LF") if crlf else ("LF", "CR LF")
            parts.append(
                f"line {line} ends in {ends[0]} but line {other} in {ends[1]}: the lines of "
                f"a file must all end the same way"
            )
        if self.unclosed is not None:
            parts.append(f"line {self.unclosed}: a quoted value starts here and is never closed")
        if self.ragged:
            total = self.ragged_total
            rows = "row does" if total == 1 else "rows do"
            listed = ", ".join(f"line {n} has {count}" for n, count in self.ragged)
            more = f" (first {len(self.ragged)} listed)" if total > len(self.ragged) else ""
            parts.append(
                f"{total} {rows} not have the header's {self.expected} fields: {listed}{more}"
            )
        if self.not_json:
            total = self.not_json_total
            listed = ", ".join(f"line {n} ({reason})" for n, reason in self.not_json)
            more = f" (first {len(self.not_json)} listed)" if total > len(self.not_json) else ""
            parts.append(
                f"{total} line{'s are' if total > 1 else ' is'} not a JSON record: {listed}{more}"
            )
        return f"{label}: " + "; ".join(parts)


def diagnose(
    spec: DatasetSpec, path: Path, index: int, label: str
) -> tuple[str, int | None] | None:
    """(the one-line message, its first line) for what is wrong with ``path``, None when the
    pass finds nothing (the caller falls back to a cleaned-up DuckDB message)."""
    fmt = spec.source.format
    if fmt not in ("csv", "ndjson"):
        return None
    with tempfile.TemporaryDirectory(prefix="mulu-diagnose-") as work:
        try:
            text = text_path(spec, path, index, Path(work))
        except TranscodeError as exc:
            return f"{label}: {_after_name(str(exc))}", exc.line
        if fmt == "csv":
            findings = _csv_findings(spec, text)
            limit = MAX_LINE_BYTES
        else:
            findings = _ndjson_findings(text)
            limit = MAX_JSON_RECORD_BYTES
    if not findings.found():
        return None
    return findings.message(label, limit), findings.first_row


def cap(text: str, limit: int = MAX_ECHO) -> str:
    """``text`` cut to ``limit`` characters (… marks the cut)."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _after_name(message: str) -> str:
    """A transcode message without its leading ``<file name>: ``."""
    return message.split(": ", 1)[1] if ": " in message else message


def _lines(
    path: Path, limit: int, findings: Findings, chunk_size: int = CHUNK_SIZE
) -> Iterator[tuple[int, str | None, int, bool]]:
    """(line number, the line without its newline or None when longer than ``limit`` bytes,
    its size in bytes, whether a newline ended it) for every line of a UTF-8 file. Memory stays
    at about a chunk plus one line of at most ``limit`` bytes. Invalid UTF-8 ends the lines
    with ``findings.invalid``."""
    decoder = codecs.getincrementaldecoder("utf-8")(errors="strict")
    number, pending, pending_bytes, consumed = 1, "", 0, 0
    with open_bytes(path) as source:
        while True:
            chunk = source.read(chunk_size)
            final = not chunk
            try:
                text = decoder.decode(chunk, final=final)
            except UnicodeDecodeError as exc:
                error = _error(
                    path, "utf-8", exc, consumed + len(chunk), number - 1, consumed, chunk
                )
                where = (
                    f"invalid UTF-8 bytes {error.bad.hex(' ')} at line {error.line}, "
                    f"byte offset {error.offset}"
                )
                likely = gb18030_sample(path)
                findings.invalid = (
                    f"not UTF-8 ({where}); it reads as GB18030 (line {likely[0]}: "
                    f"{likely[1]}…): set encoding: gbk or auto"
                    if likely is not None
                    else f"{where}; the text before them is UTF-8: is the file a mix of encodings?"
                )
                findings.first_row = findings.first_row or error.line
                return
            consumed += len(chunk)
            if number == 1 and pending == "" and text.startswith("\ufeff"):
                text = text[1:]
            parts = text.split("\n")
            for part in parts[:-1]:
                size = pending_bytes + _size(part) - part.endswith("\r")  # CRLF: not the line
                line = None if size > limit else pending + part
                yield number, line, size, True
                number += 1
                pending, pending_bytes = "", 0
            tail = parts[-1]
            pending_bytes += _size(tail)
            pending = "" if pending_bytes > limit else pending + tail
            if final:
                if pending_bytes:
                    yield number, (None if pending_bytes > limit else pending), pending_bytes, False
                return


def _size(text: str) -> int:
    """UTF-8 size of ``text``; only long text is encoded to measure it."""
    return len(text) if text.isascii() else len(text.encode("utf-8"))


def _csv_findings(spec: DatasetSpec, path: Path) -> Findings:
    findings = Findings()
    delimiter = spec.source.delimiter or ","
    try:
        header, skip = csv_layout(spec, path)
    except (ValueError, csv.Error):  # incl. UnicodeDecodeError: only look for bad bytes
        for _ in _lines(path, MAX_LINE_BYTES, findings):
            pass
        return findings
    findings.expected = len(header)
    start: int | None = None  # the line a record spanning lines starts on
    record: list[str] = []
    record_bytes = quotes = 0

    def ragged(line: int, text: str) -> None:
        try:
            fields = len(next(csv.reader([text], delimiter=delimiter, strict=False)))
        except (csv.Error, StopIteration):
            fields = text.count(delimiter) + 1
        if fields != findings.expected:
            findings.ragged_total += 1
            if len(findings.ragged) < MAX_LISTED:
                findings.ragged.append((line, fields))
            findings.first_row = min(findings.first_row or line, line)

    first_end: tuple[int, bool] | None = None  # (line, ends in CR LF) of the first line
    for number, line, size, ended in _lines(path, MAX_LINE_BYTES, findings):
        if line is not None and ended and findings.mixed is None:
            crlf = line.endswith("\r")
            if first_end is None:
                first_end = (number, crlf)
            elif crlf != first_end[1]:
                findings.mixed = (number, crlf, first_end[0])
                findings.first_row = min(findings.first_row or number, number)
        if number <= skip:
            continue
        if line is None or record_bytes + size > MAX_LINE_BYTES:
            at = start if start is not None else number
            if len(findings.too_long) < MAX_LISTED:
                findings.too_long.append((at, record_bytes + size))
            findings.first_row = min(findings.first_row or at, at)
            start, record, record_bytes, quotes = None, [], 0, 0
            continue
        line = line.removesuffix("\r")
        if start is None:
            if not line:
                continue  # DuckDB skips empty lines
            if '"' not in line:
                if line.count(delimiter) + 1 != findings.expected:
                    ragged(number, line)
                continue
            start = number
        record.append(line)
        record_bytes += size + 1
        quotes += line.count('"')
        if quotes % 2 == 0:
            ragged(start, "\n".join(record))
            start, record, record_bytes, quotes = None, [], 0, 0
    if start is not None:
        findings.unclosed = start
        findings.first_row = min(findings.first_row or start, start)
    return findings


def _ndjson_findings(path: Path) -> Findings:
    findings = Findings()
    for number, line, size, _ in _lines(path, MAX_JSON_RECORD_BYTES, findings):
        if line is None:
            if len(findings.too_long) < MAX_LISTED:
                findings.too_long.append((number, size))
            findings.first_row = findings.first_row or number
            continue
        if not line.strip(" \t\r"):
            continue
        try:
            value = json.loads(line)
        except ValueError as exc:
            reason = cap(getattr(exc, "msg", str(exc)), 80)
            column = getattr(exc, "colno", None)
            reason = f"{reason} at character {column}" if column else reason
        else:
            if isinstance(value, dict):
                continue
            reason = f"a JSON {type(value).__name__}, not an object"
        findings.not_json_total += 1
        if len(findings.not_json) < MAX_LISTED:
            findings.not_json.append((number, reason))
        findings.first_row = findings.first_row or number
    return findings


def failing_file_error(
    exc: BaseException, inputs: list[tuple[Path, str]], spec: DatasetSpec | None = None
) -> SourceError:
    """The SourceError for a read of ``inputs`` ((path, label) pairs) that DuckDB stopped.

    With the ``spec``, the file DuckDB names (or else each file in turn) is checked by
    ``diagnose``, which says in Mulu's words what is wrong and on which lines; otherwise, or
    when it finds nothing, DuckDB's first line, cleaned up, naming the file."""
    text = text_of(exc)
    named = [i for i, (path, _) in enumerate(inputs) if path.name in text]
    if spec is not None:
        order = named + [i for i in range(len(inputs)) if i not in named]
        for index in order:
            path, label = inputs[index]
            found = diagnose(spec, path, index, label)
            if found is not None:
                return SourceError(found[0], file=label, row=found[1])
            if named:
                break
    if named:  # transcoded copies keep the file's name inside theirs
        return source_error(inputs[named[0]][1], exc)
    return source_error(inputs[0][1] if len(inputs) == 1 else "source", exc)
