"""Named value transforms a mapping file may apply to a source field.

Each takes the raw value and returns the value for the entry field, or raises ValueError with
a reason a person can act on. Adding one is adding a function to ``TRANSFORMS``.
"""

from __future__ import annotations

import ast
import datetime as dt
import json
import re
from collections.abc import Callable
from typing import Any

# 、 is not a separator: it enumerates inside one Chinese name (农、林、牧、渔业).
_SEPARATORS = re.compile(r"[;；,，|\n\r\t]+")
_ITEM_SEPARATOR = re.compile(r"[;；\n]+")
_NAME_TYPE_SEPARATOR = re.compile(r"[:：]")
_TYPE_LENGTH = re.compile(r"^(.*?)\((\d+)\)$")
_EXCEL_SERIAL = re.compile(r"^[1-9]\d{4}(\.\d+)?$")
_CN_DATE = re.compile(r"^(\d{4})\s*[年/.\-]\s*(\d{1,2})\s*[月/.\-]\s*(\d{1,2})\s*日?(.*)$")


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


def to_date_text(value: Any) -> str | None:
    """ISO text from the date spellings exports use: 2023-05-08, 2023/5/8, 2023年5月8日, Excel
    dates, with or without a time part. Other text is passed on for the model to judge."""
    if value is None:
        return None
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    text = str(value).strip()
    if not text:
        return None
    if _EXCEL_SERIAL.match(text):
        # A date cell without a date format reaches us as Excel's day count since 1899-12-30.
        return (dt.datetime(1899, 12, 30) + dt.timedelta(days=float(text))).date().isoformat()
    if match := _CN_DATE.match(text):
        year, month, day, rest = match.groups()
        date = f"{int(year):04d}-{int(month):02d}-{int(day):02d}"
        rest = rest.strip()
        return f"{date}T{rest}" if re.match(r"^\d{1,2}:\d{2}", rest) else date
    return text


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
