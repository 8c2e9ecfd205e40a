"""Which stored entry a candidate record is (matching), and how two 最近更新时间 compare
(merging), for ``catalog.applying``.

A record is matched by its 信息资源代码, else by its source identity (``source_key``), else by
the identity it had before issue 12 (``legacy_key``). A legacy key of the n-th record sharing
a key (``<mapping>:<sha1>#n``, n > 1) counted records the way imports did before, which is not
how they count now, and one computed from blank key columns (no url) stood for a position in
the file: such a key (n > 1, or a record now identified by its name and provider) is trusted
only when the stored entry has the record's name and provider, else it could hand one
record's entry to another.

Dates are compared as the periods they state: "2023" at year precision agrees with any time in
2023, and the finer of two agreeing values is kept. A period running past the last moment a
datetime can hold (a 9999-12-31 sentinel) ends there.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from catalog.apply_records import EntryRecord
from schemas.codes import normalise_resource_code

# How long each precision of 最近更新时间 lasts (None: the full precision, a second).
PRECISION_RANK = {"year": 0, "month": 1, "day": 2, "minute": 3, "second": 4, None: 4}
_STEPS = {"day": dt.timedelta(days=1), "minute": dt.timedelta(minutes=1)}


# --- matching ------------------------------------------------------------------------------
def match(
    record: EntryRecord,
    by_code: dict[str, dict[str, Any]],
    by_key: dict[str, dict[str, Any]],
    pending: dict[str, dict[str, Any]],
    pending_keys: dict[str, str],
) -> dict[str, Any] | None:
    """The stored (or earlier in this batch: ``pending`` by code, ``pending_keys`` source key
    -> code) entry a record refers to, if any: by code, by source identity, by the identity it
    had before issue 12."""
    code = try_code(record.fields.get("code"))
    if code:
        return pending.get(code) or by_code.get(code)
    for key in _keys(record, by_key):
        if key in pending_keys:
            return pending[pending_keys[key]]
        existing = by_key.get(key)
        if existing is not None:
            return pending.get(existing["code"], existing)
    return None


def key_owner(
    record: EntryRecord, by_key: dict[str, dict[str, Any]], pending_keys: dict[str, str]
) -> str | None:
    """The code of the entry the record's source identity belongs to already, if any."""
    for key in _keys(record, by_key):
        owner = pending_keys.get(key) or (by_key.get(key) or {}).get("code")
        if owner:
            return owner
    return None


def _keys(record: EntryRecord, by_key: dict[str, dict[str, Any]]) -> list[str]:
    """The record's identities to look up: its source key, and its legacy key when that can be
    trusted (see the module)."""
    keys = [record.source_key] if record.source_key else []
    legacy = record.legacy_key
    if legacy and (_trusted(record, legacy) or _same_record(record, by_key.get(legacy))):
        keys.append(legacy)
    return keys


def _trusted(record: EntryRecord, legacy: str) -> bool:
    """A legacy key that identifies the record by itself: the first of its kind, for a record
    now identified by more than its name (its page, its identifier)."""
    by_name = record.source_key is not None and "name+provider_name:" in record.source_key
    return _nth(legacy) <= 1 and not by_name


def _nth(key: str) -> int:
    """n of a ``key#n`` (1 for a key without it)."""
    _, hash_sign, number = key.rpartition("#")
    return int(number) if hash_sign and number.isdigit() else 1


def _same_record(record: EntryRecord, existing: dict[str, Any] | None) -> bool:
    if existing is None:
        return True  # nothing stored under it: nothing to hand over
    return all(
        _text(existing.get(name)) == _text(record.fields.get(name))
        for name in ("name", "provider_name")
    )


def _text(value: Any) -> Any:
    return value.strip() if isinstance(value, str) else value


def try_code(raw: Any) -> str | None:
    """The normalised code, or None when absent or malformed (validation reports the latter)."""
    if raw is None or not str(raw).strip():
        return None
    try:
        return normalise_resource_code(raw)
    except ValueError:
        return None


# --- merging -------------------------------------------------------------------------------
def compare_times(
    new: str, new_precision: str | None, current: str, current_precision: str | None
) -> str:
    """ "newer", "older" or "agrees" (the periods the two values stand for overlap): the
    source's value against the stored one; "newer" also when they agree and the source's is
    the more precise (it is taken)."""
    new_start, new_end = period(new, new_precision)
    current_start, current_end = period(current, current_precision)
    if new_start >= current_end:
        return "newer"
    if new_end <= current_start:
        return "older"
    if PRECISION_RANK.get(new_precision, 4) > PRECISION_RANK.get(current_precision, 4):
        return "newer"  # the same moment, said more exactly
    return "agrees"


def period(value: str, precision: str | None) -> tuple[dt.datetime, dt.datetime]:
    """The start and end of the time ``value`` states at ``precision``; the end is capped at
    ``datetime.max`` (a year-9999 sentinel has no next year)."""
    start = dt.datetime.fromisoformat(value)
    try:
        if precision == "year":
            return start, start.replace(year=start.year + 1)
        if precision == "month":
            year, month = divmod(start.month, 12)
            return start, start.replace(year=start.year + year, month=month + 1)
        return start, start + _STEPS.get(precision or "", dt.timedelta(seconds=1))
    except (OverflowError, ValueError):  # past year 9999
        return start, dt.datetime.max.replace(tzinfo=start.tzinfo)
