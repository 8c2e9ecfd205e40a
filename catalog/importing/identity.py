"""A record's identity in its source (``Mapping.record_key``; docs/mappings.md, "Identity").

What the key *means*, not what the mapping is called. Each key column that feeds an entry field
stands for that field (``url`` mapped to landing_page is ``landing_page``; ``标题``/``来源部门``
are ``name``/``provider_name``), valued by what the record gives that field (stripped;
placeholders and a mapping's defaults are no value); a key column that feeds none stands for
itself (DCAT's ``identifier``); ``key_fields`` are entry fields already. ``prefer_key``
(``[url]``) identifies the records that have values there instead. The key is ``<meanings
joined by +>:<sha1 of their values>``, so any two mappings that key a file by the same thing
(a shipped one and a drafted one) give its records the same identity.

A source namespace (``Mapping.source``, the importer's ``--source``) prefixes keys that are
only unique within one portal (``<source>/name+provider_name:…``); a page address or a source
identifier (``landing_page``, ``identifier``) identifies a record everywhere and is never
prefixed. A record with no value in any key column is identified by its name and provider
(never by its position in the file), or not at all when it has neither.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any, Protocol

from catalog.importing.source_values import MISSING, blank, lookup
from schemas.placeholders import is_placeholder

# Meanings that identify a record whatever portal lists it: no source prefix.
GLOBAL_MEANINGS = frozenset({"landing_page", "identifier"})
# What identifies a record whose key columns are all empty.
_FALLBACK: list[tuple[str, str | None]] = [("name", None), ("provider_name", None)]

Part = tuple[str, str | None]  # (meaning, source column; None: the entry field's given value)


class Mapping(Protocol):
    """What identity reads of a ``catalog.importing.mapping.Mapping``."""

    name: str
    source: str | None
    key: list[str]
    key_fields: list[str]
    prefer_key: list[str]
    fields: dict[str, Any]  # entry field -> FieldRule (its ``sources`` and ``values``)

    def meanings_cache(self) -> dict[str, list[Part]]: ...


def record_key(mapping: Mapping, record: dict[str, Any]) -> str | None:
    """The record's identity (see the module); None when the mapping names no key, or the
    record has no value in its key columns and neither a name nor a provider."""
    if mapping.prefer_key and all(_present(record, column) for column in mapping.prefer_key):
        parts = key_meanings(mapping, "prefer", mapping.prefer_key, [])
    else:
        parts = key_meanings(mapping, "key", mapping.key, mapping.key_fields)
    if not parts:
        return None
    data = _values(mapping, parts, record)
    if _all_empty(data):
        parts = _FALLBACK  # an absent or blank key column never identifies by position
        data = _values(mapping, parts, record)
        if _all_empty(data):
            return None
    text = json.dumps([list(pair) for pair in data], ensure_ascii=False, default=str)
    digest = hashlib.sha1(text.encode("utf-8")).hexdigest()[:20]
    meanings = [meaning for meaning, _ in parts]
    key = f"{'+'.join(meanings)}:{digest}"
    if mapping.source and not set(meanings) <= GLOBAL_MEANINGS:
        return f"{mapping.source}/{key}"
    return key


def valid_source(value: str) -> str:
    """A source namespace: one word, without the ``/`` and ``:`` keys are split on."""
    source = value.strip()
    if not source or "/" in source or ":" in source or any(c.isspace() for c in source):
        raise ValueError(f"a source is one word without '/', ':' or spaces, not {value!r}")
    return source


def legacy_key(mapping: Mapping, record: dict[str, Any], values: dict[str, Any]) -> str | None:
    """The identity entries were given before issue 12: ``<mapping name>:<sha1>``."""
    if not mapping.key and not mapping.key_fields:
        return None
    parts = [lookup(record, k) for k in mapping.key] + [values.get(k) for k in mapping.key_fields]
    text = json.dumps([None if p is MISSING else p for p in parts], ensure_ascii=False, default=str)
    return f"{mapping.name}:{hashlib.sha1(text.encode('utf-8')).hexdigest()[:20]}"


def key_meanings(mapping: Mapping, kind: str, columns: list[str], fields: list[str]) -> list[Part]:
    """(meaning, source column) of each key part, sorted: an entry field (column None: the
    value the record gives it is used) or a column no field reads (its own value)."""
    cache = mapping.meanings_cache()
    if kind not in cache:
        parts: set[Part] = {(name, None) for name in fields}
        for column in columns:
            fed = [f for f, rule in mapping.fields.items() if rule.sources[0] == column] or [
                f for f, rule in mapping.fields.items() if column in rule.sources
            ]
            parts.add((fed[0], None) if fed else (column, column))
        cache[kind] = sorted(parts, key=lambda part: part[0])
    return cache[kind]


def given(mapping: Mapping, field: str, record: dict[str, Any]) -> Any:
    """What the record gives an entry field, before transforms and defaults (so that a
    mapping's defaults do not change a record's identity)."""
    rule = mapping.fields.get(field)
    for source in rule.sources if rule is not None else ():
        value = record[source] if source in record else lookup(record, source)
        if value is MISSING or blank(value):
            continue
        if rule is not None and rule.values and isinstance(value, str):
            value = rule.values.get(value.strip(), value)
        return value
    return None


def _values(mapping: Mapping, parts: list[Part], record: dict[str, Any]) -> list[tuple[str, Any]]:
    return [
        (
            meaning,
            _identity_value(
                given(mapping, meaning, record) if column is None else lookup(record, column)
            ),
        )
        for meaning, column in parts
    ]


def _present(record: dict[str, Any], column: str) -> bool:
    value = lookup(record, column)
    return value is not MISSING and not blank(value)


def _identity_value(value: Any) -> Any:
    if value is MISSING or is_placeholder(value):
        return None
    return value.strip() if isinstance(value, str) else value


def _all_empty(data: list[tuple[str, Any]]) -> bool:
    return all(value is None or value == [] for _, value in data)  # []: a[].b found nothing
