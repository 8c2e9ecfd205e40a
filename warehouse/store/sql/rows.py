"""Row encoding shared by the SQL repositories: list-valued fields are JSON text in the store
(SQLite or PostgreSQL) and Python lists above it; rows leave the store as plain dicts."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from typing import Any

from warehouse.store.fields import JSON_FIELDS

CHUNK = 900  # stay under SQLite's bound-parameter limit
# ``LIMIT ?`` for "no limit": SQLite takes -1 for it, PostgreSQL no negative number; both take
# the largest 64-bit integer.
NO_LIMIT = 2**63 - 1
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


def row_to_entry(row: Any) -> dict[str, Any]:
    """A row (``sqlite3.Row`` or the PostgreSQL adapter's ``Row``) as an entry dict."""
    entry = dict(row)
    for field in JSON_FIELDS:
        if field in entry:
            entry[field] = json.loads(entry[field])
    return entry
