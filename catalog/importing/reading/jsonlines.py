"""JSON Lines exports (.jsonl, .ndjson): one object a line. Each line is its own record, so a
line that does not parse rejects that record only; its raw text is the line itself."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path

from catalog.importing.reading.common import exact_number, preview, valid_text
from catalog.importing.reading.jsonfile import json_record
from catalog.importing.records import Problem, SourceRecord
from schemas.messages import Reason


class JsonLinesRecords:
    def __init__(self, path: Path, encoding: str) -> None:
        self.path, self.encoding = path, encoding

    def __iter__(self) -> Iterator[SourceRecord]:
        # Undecodable bytes get JSON's markers: a surrogate here is one the line escaped.
        with io.TextIOWrapper(
            self.path.open("rb"), encoding=self.encoding, errors="mulu-mark-json", newline=""
        ) as handle:
            for number, line in enumerate(handle, start=1):
                text = line.rstrip("\r\n")
                if not text.strip():
                    continue
                try:
                    # raw control characters: cleaned; 1.50 stays in the raw text, a number
                    # no float holds stays exact as text (common.exact_number)
                    value = json.loads(text, strict=False, parse_float=exact_number)
                except ValueError as error:
                    yield _unparseable(number, text, str(error))
                    continue
                record = json_record(number, value, self.encoding)
                record.raw = valid_text(text)
                yield record


def _unparseable(number: int, text: str, detail: str) -> SourceRecord:
    raw = valid_text(text)
    reason = Reason("unparseable_record", {"detail": detail})
    return SourceRecord(
        number, {}, raw, [Problem(number, "record", reason, "reject", preview(raw))]
    )
