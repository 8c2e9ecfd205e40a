"""Reading values out of a source record: a dotted path (``lookup``) and what counts as no
value (``blank``: empty, or a placeholder a source writes instead)."""

from __future__ import annotations

from typing import Any

from schemas.placeholders import is_placeholder

MISSING = object()  # what ``lookup`` gives for a path the record does not have


def lookup(record: dict[str, Any], path: str) -> Any:
    """Value at a dotted path; ``a[].b`` collects ``b`` from every item of list ``a``."""
    if path in record:
        return record[path]
    value: Any = record
    parts = path.split(".")
    for index, part in enumerate(parts):
        if part.endswith("[]"):
            items: Any = value.get(part[:-2], MISSING) if isinstance(value, dict) else MISSING
            if items is MISSING:
                return MISSING
            rest = ".".join(parts[index + 1 :])
            found = [
                lookup(item, rest) if rest else item
                for item in (items or [])
                if isinstance(item, dict) or not rest
            ]
            return [f for f in found if f is not MISSING and not empty(f)]
        if not isinstance(value, dict) or part not in value:
            return MISSING
        value = value[part]
    return value


def root(source: str) -> str:
    """The top-level field a source path reads (``publisher.name`` -> ``publisher``)."""
    return source.split(".", 1)[0].removesuffix("[]")


def blank(value: Any) -> bool:
    """No value: empty, or a placeholder a source writes instead (暂无, -, null …)."""
    return empty(value) or is_placeholder(value)


def empty(value: Any) -> bool:
    """None, blank text, or an empty list/object: "no value" (hot path: type checks first)."""
    if value is None:
        return True
    kind = type(value)
    if kind is str:
        return not value or value.isspace()
    if kind is list or kind is dict:
        return not value
    return False
