"""JSON exports, streamed with ijson (its yajl2 C backend): memory stays flat however many
records, and one record is in memory at a time.

The parser needs valid UTF-8 and fails on escapes of unpaired surrogates (``"\\udc92"``, which
real data.json files have) and on raw control characters. So the bytes pass through
``Utf8Stream`` first: transcoded to UTF-8 where the file is in another encoding (undecodable
bytes marked), an unpaired surrogate's escape replaced by a marker character, a raw control
byte by its escape. The markers become U+FFFD in a record's fields, with a warning, and go back
to ``\\udXXX`` escapes in its raw text.

ijson gives no byte offsets, so a record's raw text is the object written back as JSON
(``json.dumps(ensure_ascii=False)``), not the file's own bytes.
"""

from __future__ import annotations

import codecs
import json
import re
from collections.abc import Iterator
from itertools import islice
from pathlib import Path
from typing import Any

import ijson

from catalog.importing.reading.common import (
    JSON_SURROGATE_MARK,
    MAX_FIELD_BYTES,
    SUSPECT_JSON,
    Cleaner,
    ReadError,
    json_raw,
    preview,
    too_large,
)
from catalog.importing.reading.encoding import CHUNK
from catalog.importing.records import Problem, SourceRecord
from schemas.messages import Reason

# An escaped backslash (consumed so that parity stays right), a surrogate escape with or
# without the low half that pairs it, or a raw control byte (invalid in JSON text).
_FIX = re.compile(
    rb"\\\\|\\u([dD][89abAB][0-9a-fA-F]{2})(\\u[dD][c-fC-F][0-9a-fA-F]{2})?"
    rb"|\\u([dD][c-fC-F][0-9a-fA-F]{2})|[\x00-\x08\x0b\x0c\x0e-\x1f]"
)
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")
_CONTROL_BYTES = bytes([*range(0x09), 0x0B, 0x0C, *range(0x0E, 0x20)])
# What could make a record's values need cleaning: a surrogate escape, the escape of a control
# character, or DEL. A file that has none anywhere (nearly every file) has no record checked.
_SUSPECT_ESCAPE = re.compile(rb"\\(?:u[dD][89a-fA-F]|u00[01]|u007[fF]|[bf])")
_ENCODER = json.JSONEncoder(ensure_ascii=False)
_HIGH = re.compile(rb"\\u[dD][89abAB][0-9a-fA-F]{2}")
# record_paths(): after the first array of records is found, how many more parser events to
# look through for others before giving up (a 1M-record array is ~30M events).
PATH_SCAN_EVENTS = 1_000_000
PATH_DEPTH = 4
_KINDS = {str: "string", int: "number", float: "number", bool: "boolean", list: "array"}


def _fix(match: re.Match[bytes]) -> bytes:
    if match.group(1):
        if match.group(2):
            return match.group()  # a surrogate pair: a real character
        return chr(JSON_SURROGATE_MARK + int(match.group(1), 16)).encode()
    if match.group(3):
        return chr(JSON_SURROGATE_MARK + int(match.group(3), 16)).encode()
    text = match.group()
    return text if text == b"\\\\" else b"\\u%04x" % text[0]


def _safe_split(buf: bytes) -> int:
    """Where ``buf`` may be cut so that no escape (nor a run of backslashes, nor a surrogate
    pair) is split between this piece and the next."""
    i = buf.find(b"\\", max(0, len(buf) - 12))
    if i < 0:
        return len(buf)
    while i > 0 and buf[i - 1] == 0x5C:
        i -= 1
    if i >= 6 and _HIGH.fullmatch(buf, i - 6, i):
        i -= 6
        while i > 0 and buf[i - 1] == 0x5C:
            i -= 1
    return i


class Utf8Stream:
    """A JSON file's bytes as the parser can take them (see the module's docstring).
    ``consumed`` is how far into the file reading has got, for error messages."""

    def __init__(
        self, path: Path, encoding: str, transcode: bool, marks: bool, chunk_size: int = CHUNK
    ) -> None:
        self.handle = path.open("rb")
        self.chunk_size = chunk_size
        self.decoder = (
            codecs.getincrementaldecoder(encoding)(errors="mulu-mark-json") if transcode else None
        )
        self.consumed = 0
        self.pending = b""
        self.started = False
        # Set (for good) once the bytes read so far hold anything a value must not keep; the
        # parser is never ahead of the reading, so records before that need no check.
        self.suspect = marks  # undecodable bytes, marked in the transcoding

    def read(self, size: int = -1) -> bytes:
        """The next piece, of whatever length (ijson takes what it gets); read(0) is how ijson
        asks whether the stream gives bytes or text."""
        if size == 0:
            return b""
        while True:
            chunk = self.handle.read(self.chunk_size)
            self.consumed += len(chunk)
            if self.decoder is not None:
                chunk = self.decoder.decode(chunk, final=not chunk).encode("utf-8")
            if not self.started:
                chunk = chunk.removeprefix(codecs.BOM_UTF8)
                self.started = bool(chunk)
            buf = self.pending + chunk
            if not chunk:  # the end
                out, self.pending = buf, b""
            else:
                split = _safe_split(buf)
                out, self.pending = buf[:split], buf[split:]
            has_controls = len(out.translate(None, _CONTROL_BYTES)) != len(out)
            if has_controls or _SURROGATE_ESCAPE.search(out):
                out = _FIX.sub(_fix, out)
            if not self.suspect:
                self.suspect = (
                    has_controls
                    or b"\x7f" in out
                    or (b"\\" in out and _SUSPECT_ESCAPE.search(out) is not None)
                )
            if out or not buf:
                return out

    def close(self) -> None:
        self.handle.close()

    def __enter__(self) -> Utf8Stream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class JsonFile:
    """What a JSON document knows about its file, and how to stream it."""

    def __init__(self, path: Path, encoding: str, decode_errors: int) -> None:
        self.path = path
        self.encoding = encoding
        self.decode_errors = decode_errors
        # Bytes pass through untouched for UTF-8 that decodes strictly (nearly every file).
        self.transcode = decode_errors > 0 or encoding not in ("utf-8-sig", "utf-8")
        self.found: dict[str, bool] = {}
        self.top = self._check()

    def stream(self) -> Utf8Stream:
        return Utf8Stream(self.path, self.encoding, self.transcode, self.decode_errors > 0)

    def _check(self) -> str:
        """The top-level value's first character ('[' or '{'); ReadError if the file does not
        start as JSON holding records (the first events are parsed, so an early syntax error
        is found here, before any record)."""
        with self.stream() as stream:
            head = stream.read().lstrip()
            if not head.startswith((b"[", b"{")):
                shown = head[:40].decode("utf-8", "replace")
                raise ReadError(self.path, "not_json", detail=f"开头是 {shown!r}")
        with self.stream() as stream:
            try:
                for _ in islice(ijson.parse(stream), 1000):
                    pass
            except (ijson.JSONError, UnicodeDecodeError) as error:
                raise ReadError(self.path, "not_json", detail=_first_line(error)) from error
        return chr(head[0])

    def has_list(self, records_path: str) -> bool:
        """Whether a non-empty list lies at ``records_path`` (dotted keys; "" the top)."""
        if not records_path:
            return self.top == "["
        if self.top != "{":
            return False
        if records_path not in self.found:
            with self.stream() as stream:
                try:
                    items = ijson.items(stream, f"{records_path}.item", use_float=True)
                    self.found[records_path] = next(iter(items), _NONE) is not _NONE
                except (ijson.JSONError, UnicodeDecodeError) as error:
                    raise self._syntax_error(error, stream, 0) from error
        return self.found[records_path]

    def record_paths(self) -> list[str]:
        """Dotted paths of the arrays of objects reached through keys alone, at most
        ``PATH_DEPTH`` deep; "" for a top-level list. Bounded: after the first is found the
        scan looks only ``PATH_SCAN_EVENTS`` further."""
        if self.top == "[":
            return [""]
        paths: list[str] = []
        budget: int | None = None
        with self.stream() as stream:
            try:
                for prefix, event, _ in ijson.parse(stream):
                    if budget is not None:
                        budget -= 1
                        if budget < 0:
                            break
                    if event != "start_map" or not prefix.endswith("item"):
                        continue
                    parent = prefix[: -len("item")].rstrip(".")
                    keys = parent.split(".") if parent else []
                    if len(keys) <= PATH_DEPTH and "item" not in keys and parent not in paths:
                        paths.append(parent)
                        budget = PATH_SCAN_EVENTS if budget is None else budget
            except (ijson.JSONError, UnicodeDecodeError) as error:
                raise self._syntax_error(error, stream, 0) from error
        return paths

    def _syntax_error(self, error: Exception, stream: Utf8Stream, after: int) -> ReadError:
        return ReadError(
            self.path,
            "json_syntax",
            after=after,
            offset=f"{stream.consumed:,}",
            detail=_first_line(error),
        )


_NONE = object()


class JsonRecords:
    """The records of the list at one path of a JSON file; iterating parses the file again."""

    def __init__(self, file: JsonFile, records_path: str) -> None:
        self.file = file
        self.prefix = f"{records_path}.item" if records_path else "item"

    def __iter__(self) -> Iterator[SourceRecord]:
        yielded = 0
        backend: Any = ijson
        while True:
            with self.file.stream() as stream:
                try:
                    items = backend.items(stream, self.prefix, use_float=True)
                    for position, item in enumerate(items, start=1):
                        if position > yielded:
                            yield json_record(position, item, self.file.encoding, stream.suspect)
                            yielded = position
                    return
                except (ijson.JSONError, UnicodeDecodeError) as error:
                    if "integer overflow" in str(error) and backend is ijson:
                        # yajl's integers are 64-bit; ijson's Python parser has no limit. Read
                        # on with it from where the C parser stopped.
                        backend = ijson.get_backend("python")
                        continue
                    raise self.file._syntax_error(error, stream, yielded) from error


def json_record(
    position: int, item: Any, encoding: str | None, suspect: bool = True
) -> SourceRecord:
    """One JSON value as a source record: fields cleaned, raw text, problems. ``suspect``:
    whether its values may need cleaning at all."""
    if not isinstance(item, dict):
        raw = json_raw(item)
        kind = _KINDS.get(type(item), "null")
        reason = Reason("not_an_object", {"kind": kind})
        return SourceRecord(
            position, {}, raw, [Problem(position, "record", reason, "reject", preview(raw))]
        )
    raw = _ENCODER.encode(item)
    problems: list[Problem] = []
    fields = item
    if suspect and SUSPECT_JSON.search(raw):
        cleaner = Cleaner(position, encoding, surrogates_are_bytes=False)
        fields = cleaner.fields(item)
        problems = cleaner.problems
        raw = json_raw(item)
    if len(raw) > MAX_FIELD_BYTES // 4:
        for name, value in fields.items():
            size = too_large(value if isinstance(value, str) else json.dumps(value))
            if size is not None:
                reason = Reason(
                    "field_too_large", {"size": f"{size:,}", "limit": f"{MAX_FIELD_BYTES:,}"}
                )
                problems.append(Problem(position, name, reason, "reject", preview(str(value))))
    return SourceRecord(position, fields, raw, problems)


def _first_line(error: Exception) -> str:
    text = error.args[0] if error.args else str(error)
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    return str(text).strip().splitlines()[0] if str(text).strip() else type(error).__name__
