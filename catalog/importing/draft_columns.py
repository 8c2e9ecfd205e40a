"""What a drafted mapping knows about a file: its record list, its columns and each column's
values (distinct records only: exact repeats merge on import, so they never count against a key).

Columns are the records' top-level fields, scalars one level into objects (``publisher.name``)
and into lists of objects (``distribution[].format``). Headers are compared normalised.
"""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from itertools import islice
from typing import Any

import yaml

from catalog.importing.reading import Document
from catalog.importing.records import SourceRecord
from catalog.importing.transforms import is_placeholder

# Records looked at: every record of any real export; a 1M-record file is judged by its head.
SAMPLE_RECORDS = 20_000
_NAMESPACE = re.compile(r"^[a-z]+:(?=\S)")
CHECKED_VALUES = 300  # most frequent distinct values per column checked against the entry model


@dataclass
class Column:
    path: str
    values: Counter[str] = field(default_factory=Counter)  # value text -> distinct records
    originals: dict[str, Any] = field(default_factory=dict)  # value text -> the value as read
    present: int = 0
    empty: int = 0
    lists: int = 0
    objects: int = 0

    @property
    def root(self) -> str:
        return self.path.split(".", 1)[0].removesuffix("[]")

    def sample(self) -> list[tuple[Any, int]]:
        """The most frequent non-empty values (as read) with their counts."""
        return [(self.originals[t], n) for t, n in self.values.most_common(CHECKED_VALUES)]

    def share(self, test: Any) -> float:
        """The share of non-empty values (weighted by count) that pass ``test``."""
        sample = self.sample()
        total = sum(n for _, n in sample)
        return 1.0 if not total else sum(n for v, n in sample if test(v)) / total


def normalise_header(text: str) -> str:
    """A header as compared: full-width → half-width, case folded, letters and digits only."""
    folded = unicodedata.normalize("NFKC", str(text)).casefold()
    folded = _NAMESPACE.sub("", folded)  # dct:title, dcat:keyword are title, keyword
    return "".join(ch for ch in folded if unicodedata.category(ch)[0] in "LN")


@cache
def synonyms() -> dict[str, Any]:
    text = (resources.files("catalog.importing") / "synonyms.yaml").read_text(encoding="utf-8")
    return yaml.safe_load(text)


# --- reading the file ------------------------------------------------------------------
def fields_of(record: SourceRecord) -> dict[str, Any] | None:
    """A record's fields (None for a JSON item that is not an object)."""
    return record.fields if isinstance(record.fields, dict) else None


def cells(fields: dict[str, Any]) -> Iterator[tuple[str, Any]]:
    """(column path, value): top-level fields, scalars one level into objects
    (``publisher.name``) and into lists of objects (``distribution[].format``)."""
    for key, value in fields.items():
        yield key, value
        if isinstance(value, dict):
            for sub, inner in value.items():
                if not isinstance(inner, dict | list):
                    yield f"{key}.{sub}", inner
        elif isinstance(value, list) and any(isinstance(i, dict) for i in value):
            collected: dict[str, list[Any]] = {}
            for item in value:
                for sub, inner in item.items() if isinstance(item, dict) else ():
                    if not isinstance(inner, dict | list) and not blank(inner):
                        collected.setdefault(sub, []).append(inner)
            for sub, items in collected.items():
                yield f"{key}[].{sub}", items


def blank(value: Any) -> bool:
    """No value: None, blank text, an empty list or object, or a placeholder (暂无, -, null …),
    as the mapping treats them on import."""
    if isinstance(value, list | dict):
        return not value
    return is_placeholder(value)


def profile(records: Iterable[SourceRecord]) -> tuple[dict[str, Column], int, int]:
    """Column profiles over the distinct records of the sample; (columns, read, distinct)."""
    columns: dict[str, Column] = {}
    seen: set[bytes] = set()
    read = 0
    for item in islice(records, SAMPLE_RECORDS):
        fields = fields_of(item)
        read += 1
        if fields is None:
            continue
        # Exact repeats collapse into one entry on import, so they do not count against a key.
        text = json.dumps(fields, ensure_ascii=False, sort_keys=True, default=str)
        digest = hashlib.blake2b(text.encode("utf-8", "replace"), digest_size=16).digest()
        if digest in seen:
            continue
        seen.add(digest)
        for path, value in cells(fields):
            column = columns.setdefault(path, Column(path))
            column.present += 1
            if blank(value):
                column.empty += 1
                continue
            column.lists += isinstance(value, list)
            column.objects += isinstance(value, dict)
            key = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
            column.values[key.strip()] += 1
            column.originals.setdefault(key.strip(), value)
    return columns, read, len(seen)


def choose_records_path(document: Document) -> str:
    """The record list whose headers look most like a catalogue (JSON); "" otherwise."""
    wanted = {normalise_header(s) for spellings in synonyms()["strong"].values() for s in spellings}
    best: tuple[int, str] | None = None
    for path in document.record_paths():
        records = document.records(path or None)
        if records is None:
            continue
        headers = {
            normalise_header(p)
            for item in islice(records, 100)
            if (fields := fields_of(item)) is not None
            for p, _ in cells(fields)
        }
        score = len(headers & wanted)
        if best is None or score > best[0]:
            best = (score, path)
    return "" if best is None else best[1]
