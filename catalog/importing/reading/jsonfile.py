"""JSON exports, streamed with ijson (its yajl2 C backend): memory stays flat however many
records, and one record is in memory at a time.

The parser needs valid UTF-8 and fails on escapes of unpaired surrogates (``"\\udc92"``, which
real data.json files have) and on raw control characters. So the bytes pass through
``Utf8Stream`` first: transcoded to UTF-8 where the file is in another encoding (undecodable
bytes marked), an unpaired surrogate's escape replaced by a marker character, a raw control
byte by its escape. The markers become U+FFFD in a record's fields, with a warning, and go back
to ``\\udXXX`` escapes in its raw text.

ijson gives no byte offsets, so a record's raw text is the object written back as JSON
(``json.dumps(ensure_ascii=False)``), not the file's own bytes; numbers in it keep the file's
digits (1.50, a 20-digit decimal), as ijson reads a number with a fraction as a Decimal. In the
record's fields such a number is a float if that float is the same number, else its exact text
(``common.exact_number``).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal
from itertools import islice
from pathlib import Path
from typing import Any

import ijson  # type: ignore[import-untyped]

from catalog.importing.reading.common import (
    MAX_FIELD_BYTES,
    SUSPECT_JSON,
    Cleaner,
    ReadError,
    exact_json,
    exact_numbers,
    json_raw,
    preview,
    too_large,
)
from catalog.importing.reading.encoding import CHUNK
from catalog.importing.reading.jsonstream import Utf8Stream
from catalog.importing.records import Problem, SourceRecord
from schemas.messages import Reason

# record_paths(): after the first array of records is found, how many more parser events to
# look through for others before giving up (a 1M-record array is ~30M events).
PATH_SCAN_EVENTS = 1_000_000
PATH_DEPTH = 4
PATH_COUNT = 5  # record_paths() stops after this many
_KINDS = {
    str: "string",
    int: "number",
    float: "number",
    Decimal: "number",
    bool: "boolean",
    list: "array",
}
_ENCODER = json.JSONEncoder(ensure_ascii=False)


class JsonFile:
    """What a JSON document knows about its file, and how to stream it."""

    def __init__(self, path: Path, encoding: str, decode_errors: int) -> None:
        self.path = path
        self.encoding = encoding
        self.decode_errors = decode_errors
        # Bytes pass through untouched for UTF-8 that decodes strictly (nearly every file).
        self.transcode = decode_errors > 0 or encoding not in ("utf-8-sig", "utf-8")
        self.repair = False  # set once the file shows raw line ends or tabs inside strings
        self.found: dict[str, bool] = {}
        self.top = self._check()

    def stream(self) -> Utf8Stream:
        return Utf8Stream(
            self.path, self.encoding, self.transcode, self.decode_errors > 0, repair=self.repair
        )

    def read_on(self, error: Exception, backend: Any) -> Any | None:
        """The parser to read the file again with after ``error`` (the stream repaired, or the
        Python parser), or None: a real syntax error."""
        text = str(error)
        if "invalid character inside string" in text and not self.repair:
            self.repair = True  # raw tabs or line ends in strings: escape them, read again
            return backend
        if "integer overflow" in text and backend is ijson:
            return ijson.get_backend("python")  # yajl's integers are 64-bit; Python's are not
        return None

    def _check(self) -> str:
        """The top-level value's first character ('[' or '{'); ReadError if the file does not
        start as JSON holding records (the first events are parsed, so an early syntax error
        is found here, before any record)."""
        with self.stream() as stream:
            head = stream.read().lstrip()
            if not head.startswith((b"[", b"{")):
                shown = head[:40].decode("utf-8", "replace")
                raise ReadError(self.path, "not_json", detail=f"开头是 {shown!r}")
        backend: Any = ijson
        while True:
            with self.stream() as stream:
                try:
                    for _ in islice(backend.parse(stream), 1000):
                        pass
                    return chr(head[0])
                except (ijson.JSONError, UnicodeDecodeError) as error:
                    backend = self.read_on(error, backend)
                    if backend is None:
                        detail = _first_line(error)
                        raise ReadError(self.path, "not_json", detail=detail) from error

    def has_list(self, records_path: str) -> bool:
        """Whether a non-empty list lies at ``records_path`` (dotted keys; "" the top)."""
        if not records_path:
            return self.top == "["
        if self.top != "{":
            return False
        if records_path not in self.found:
            prefix = f"{records_path}.item"
            self.found[records_path] = self._mentions(records_path.split(".")[-1]) and any(
                True for _ in self._events(prefix, first_only=True)
            )
        return self.found[records_path]

    def _mentions(self, key: str) -> bool:
        """Whether the file's bytes hold ``key`` as a JSON string at all: finding that it does
        not is a byte search (a second or so per GB), where the parser would take ten times
        as long to find nothing at the path. (Only for files read as they are; a key written
        with some of its characters escaped and others not would be missed.)"""
        if self.transcode:
            return True
        needles = {json.dumps(key, ensure_ascii=False).encode(), json.dumps(key).encode()}
        overlap = max(map(len, needles)) - 1
        with self.path.open("rb") as handle:
            tail = b""
            while chunk := handle.read(CHUNK):
                window = tail + chunk
                if any(needle in window for needle in needles):
                    return True
                tail = window[-overlap:]
        return False

    def record_paths(self) -> list[str]:
        """Dotted paths of the arrays of objects reached through keys alone, at most
        ``PATH_DEPTH`` deep, in file order; "" for a top-level list. Bounded: after the first
        is found the scan looks only ``PATH_SCAN_EVENTS`` further, and for ``PATH_COUNT``."""
        if self.top == "[":
            return [""]
        paths: list[str] = []
        budget: int | None = None
        for prefix, event, _ in self._events(None):
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
                if len(paths) == PATH_COUNT:
                    break
                budget = PATH_SCAN_EVENTS if budget is None else budget
        return paths

    def _events(self, prefix: str | None, *, first_only: bool = False) -> Iterator[Any]:
        """ijson's parser events (prefix None) or the first item at ``prefix``."""
        backend: Any = ijson
        while True:
            with self.stream() as stream:
                try:
                    if prefix is None:
                        yield from backend.parse(stream)
                    else:
                        for item in backend.items(stream, prefix, use_float=True):
                            yield item
                            if first_only:
                                return
                    return
                except (ijson.JSONError, UnicodeDecodeError) as error:
                    backend = self.read_on(error, backend)
                    if backend is None:
                        raise self.syntax_error(error, stream, 0) from error

    def syntax_error(self, error: Exception, stream: Utf8Stream, after: int) -> ReadError:
        return ReadError(
            self.path,
            "json_syntax",
            after=after,
            offset=f"{stream.consumed:,}",
            detail=_first_line(error),
        )


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
                    items = backend.items(stream, self.prefix)  # fractions: Decimal
                    for position, item in enumerate(items, start=1):
                        if position > yielded:  # after a retry: from where the last one stopped
                            yield json_record(position, item, self.file.encoding, stream.suspect)
                            yielded = position
                    return
                except (ijson.JSONError, UnicodeDecodeError) as error:
                    backend = self.file.read_on(error, backend)
                    if backend is None:
                        raise self.file.syntax_error(error, stream, yielded) from error


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
    try:
        raw = _ENCODER.encode(item)
        fields = item
    except TypeError:  # numbers with a fraction (Decimal): kept exact (see the docstring)
        fields, same = exact_numbers(item)
        raw = _ENCODER.encode(fields) if same else exact_json(item)
    problems: list[Problem] = []
    if suspect and SUSPECT_JSON.search(raw):
        cleaner = Cleaner(position, encoding, surrogates_are_bytes=False)
        fields = cleaner.fields(fields)
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
