"""Applying source records to a directory through a mapping, as the importer does (without
it: these tests pin the directory's and the mapping's rules), and fingerprints of the
catalogue's tables for data-safety checks."""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Iterable, Iterator
from typing import Any

import yaml

from catalog.directory import ApplyResult, Directory, EntryRecord
from catalog.importing.mapping import Mapping


def mapping_from(text: str) -> Mapping:
    return Mapping.model_validate(yaml.safe_load(text))


def _nth(key: str | None, seen: Counter[str]) -> str | None:
    if key is None:
        return None
    seen[key] += 1
    return key if seen[key] == 1 else f"{key}#{seen[key]}"


def entry_records(
    mapping: Mapping, records: Iterable[dict[str, Any]], *, legacy: bool = True
) -> Iterator[EntryRecord]:
    """EntryRecords of the records a mapping does not reject; exact repeats collapse and
    records sharing a key but differing get "#n" (the importer's rules)."""
    keys: Counter[str] = Counter()
    legacy_keys: Counter[str] = Counter()
    seen: set[str] = set()
    for row, fields in enumerate(records, start=1):
        values, problems = mapping.apply(fields)
        if any(p.severity == "reject" for p in problems):
            continue
        old = _nth(mapping.legacy_key(fields, values), legacy_keys) if legacy else None
        digest = json.dumps(fields, sort_keys=True, ensure_ascii=False, default=str)
        if digest in seen:
            continue
        seen.add(digest)
        yield EntryRecord(
            values,
            row=row,
            source_key=_nth(mapping.record_key(fields, values), keys),
            raw=fields,
            source_record=fields,
            legacy_key=old,
        )


def apply_file(
    directory: Directory, mapping: Mapping, records: Iterable[dict[str, Any]], **options: Any
) -> ApplyResult:
    return directory.apply(
        entry_records(mapping, records),
        source=mapping.name,
        classification=mapping.classification,
        lenient=True,
        **options,
    )


def fingerprint(directory: Directory) -> dict[str, tuple[int, str]]:
    """(row count, sha1 of every row) of the entry, history, update and organisation tables."""
    con = directory.store.database.connection()
    found = {}
    for table, order in (
        ("entries", "code"),
        ("entry_history", "id"),
        ("entry_updates", "id"),
        ("organisations", "code"),
    ):
        cursor = con.execute(f"SELECT * FROM {table} ORDER BY {order}")
        cursor.row_factory = None
        rows = cursor.fetchall()
        found[table] = (len(rows), hashlib.sha1(repr(rows).encode()).hexdigest())
    return found
