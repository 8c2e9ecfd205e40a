"""Row encoding shared by the SQLite repositories: list-valued fields are JSON text in SQLite
and Python lists above the store; rows leave the store as plain dicts."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator, Sequence
from typing import Any

from warehouse.store.fields import JSON_FIELDS

CHUNK = 900  # stay under SQLite's bound-parameter limit
_JSON = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


def chunks(items: Sequence[Any], size: int = CHUNK) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def marks(count: int) -> str:
    """``?,?,…`` for ``count`` bound parameters."""
    return ",".join("?" * count)


def encode_value(field: str, value: Any) -> Any:
    if field in JSON_FIELDS:
        return _JSON.encode(value or [])
    return value


def dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)


def row_to_entry(row: sqlite3.Row) -> dict[str, Any]:
    entry = dict(row)
    for field in JSON_FIELDS:
        if field in entry:
            entry[field] = json.loads(entry[field])
    return entry
