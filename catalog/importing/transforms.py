"""Named value transforms a mapping file may apply to a source field.

Each takes the raw value and returns the value for the entry field, or raises ValueError with
a reason a person can act on. Adding one is adding a function to ``TRANSFORMS``.
"""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Callable
from typing import Any

# 、 is not a separator: it enumerates inside one Chinese name (农、林、牧、渔业).
_SEPARATORS = re.compile(r"[;；,，|\n\r\t]+")
_ITEM_SEPARATOR = re.compile(r"[;；\n]+")
_NAME_TYPE_SEPARATOR = re.compile(r"[:：]")
_TYPE_LENGTH = re.compile(r"^(.*?)\((\d+)\)$")


def to_list(value: Any) -> list[str]:
    """A list from a JSON/Python list literal ("['xls', 'api']") or text separated by ; , | or
    line breaks."""
    if value is None:
        return []
    if isinstance(value, list):
        return [str(v).strip() for v in value if str(v).strip()]
    text = str(value).strip()
    if text.startswith("[") and text.endswith("]"):
        for parse in (json.loads, ast.literal_eval):
            try:
                parsed = parse(text)
            except (ValueError, SyntaxError):
                continue
            if isinstance(parsed, list):
                return [str(v).strip() for v in parsed if str(v).strip()]
    return [part.strip() for part in _SEPARATORS.split(text) if part.strip()]


def to_semicolon_list(value: Any) -> list[str]:
    """A list from text joined with ";" (Mulu's own export), keeping commas inside items."""
    if isinstance(value, list):
        return to_list(value)
    return [part.strip() for part in re.split(r"[;；]", str(value or "")) if part.strip()]


def to_lines(value: Any) -> list[str]:
    """A list from text with one item per line (tabs too), keeping 、 and commas inside items."""
    if isinstance(value, list):
        return to_list(value)
    return [part.strip() for part in re.split(r"[\r\n\t]+", str(value or "")) if part.strip()]


def to_date_text(value: Any) -> Any:
    """A date or time as the source wrote it (None when blank): the entry model reads every
    spelling with ``schemas.dates.parse_time``, keeping its time of day, offset and precision
    (rewriting it to ISO text here lost the time of "…T14:30:05" and the precision of "2023")."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    return value


def data_items(value: Any) -> list[dict[str, Any]]:
    """信息项 from "名称:数据类型(长度);名称:数据类型" text, or a JSON list."""
    if value is None:
        return []
    if isinstance(value, list):
        return value
    text = str(value).strip()
    if text.startswith("["):
        return json.loads(text)
    items = []
    for part in _ITEM_SEPARATOR.split(text):
        part = part.strip()
        if not part:
            continue
        pieces = _NAME_TYPE_SEPARATOR.split(part, maxsplit=1)
        item: dict[str, Any] = {"name": pieces[0].strip()}
        if len(pieces) > 1:
            kind = pieces[1].strip()
            if kind.endswith(")") and (match := _TYPE_LENGTH.match(kind)):
                kind, item["length"] = match.group(1), int(match.group(2))
            item["data_type"] = kind
        items.append(item)
    return items


def strip_mailto(value: Any) -> Any:
    return value.removeprefix("mailto:") if isinstance(value, str) else value


def first(value: Any) -> Any:
    if isinstance(value, list):
        return value[0] if value else None
    return value


TRANSFORMS: dict[str, Callable[[Any], Any]] = {
    "list": to_list,
    "lines": to_lines,
    "semicolons": to_semicolon_list,
    "date": to_date_text,
    "data_items": data_items,
    "mailto": strip_mailto,
    "first": first,
}
