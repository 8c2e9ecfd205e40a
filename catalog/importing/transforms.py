"""Named value transforms a mapping file may apply to a source field.

Each takes the raw value and returns the value for the entry field, or raises ValueError with
a reason a person can act on. Adding one is adding a function to ``TRANSFORMS``.

The list transforms split on different characters, because 、 both joins tags (关键字
"统计、金融") and enumerates inside one name (行业 "公共管理、社会保障和社会组织"):

- ``list`` (the default for formats, tags, related codes): list literals and bracketed lists,
  ``;`` ``；`` ``,`` ``，`` ``|`` ``｜`` ``、``, line breaks and tabs, and ``/`` between format
  names (``xls/csv``; never inside ``text/csv`` or a date);
- ``lines``: line breaks and tabs only (六安/宿州's 标签, one industry name per line);
- ``semicolons``: ``;`` and ``；`` only (Mulu's own CSV/XLSX export).

All three drop blank items and placeholders (``is_placeholder``: 暂无, 无, -, /, null, N/A …).
"""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Callable
from typing import Any

from schemas.formats import FORMAT_NAMES, SPELLINGS, format_from_path, normalise_format

# One list of placeholders for the whole project (the mappings and the directory use it too).
from schemas.placeholders import PLACEHOLDERS, is_placeholder

__all__ = [
    "PLACEHOLDERS",
    "TRANSFORMS",
    "data_items",
    "distribution_formats",
    "first",
    "is_placeholder",
    "strip_mailto",
    "to_date_text",
    "to_lines",
    "to_list",
    "to_semicolon_list",
]

# `list` splits on these; `lines` only on line breaks and tabs; `semicolons` only on ; and ；.
_SEPARATORS = re.compile(r"[;；,，|｜、\r\n\t]+")
_LINE_BREAKS = re.compile(r"[\r\n\t]+")
_SEMICOLONS = re.compile(r"[;；]+")
_ITEM_SEPARATOR = re.compile(r"[;；\n]+")
_NAME_TYPE_SEPARATOR = re.compile(r"[:：]")
_TYPE_LENGTH = re.compile(r"^(.*?)\((\d+)\)$")
_BRACKETS = {"[": "]", "【": "】", "［": "］"}
_QUOTES = "'\"`‘’“”「」"
_MIME_TOP_TYPES = {"text", "application", "image", "audio", "video", "model", "font", "multipart"}
# A MIME type's parameters ("text/csv; charset=utf-8"): dropped before splitting on ";".
_MIME_PARAMETERS = re.compile(
    r"\b((?:text|application|image|audio|video|model|font|multipart)/[A-Za-z0-9.+_-]+)"
    r"(?:\s*;\s*[A-Za-z0-9_-]+\s*=\s*(?:\"[^\"]*\"|[^;,，|\s]*))+",
    re.IGNORECASE,
)
# A list literal of plain single- or double-quoted strings (no escapes inside).
_QUOTED_LIST = re.compile(
    r"""^\[\s*(?:'[^'\\]*'|"[^"\\]*")(?:\s*,\s*(?:'[^'\\]*'|"[^"\\]*"))*\s*,?\s*\]$"""
)
_QUOTED_ITEM = re.compile(r"'([^'\\]*)'|\"([^\"\\]*)\"")
_SLASHED = re.compile(r"^[A-Za-z0-9.+-]+(?:\s*/\s*[A-Za-z0-9.+-]+)+$")


def to_list(value: Any) -> list[str]:
    """A list from a list, a JSON/Python list literal (``['xls', 'api']``, ``["a","b"]``), a
    bracketed list without quotes (``[xml,xls,csv]``, ``【a，b】``) or text separated by ``;``
    ``；`` ``,`` ``，`` ``|`` ``、`` or line breaks; ``xls/csv`` splits when every part is a
    format name (``text/csv``, ``RDF/XML`` and dates do not); a MIME type's parameters
    (``text/csv; charset=utf-8``) are dropped, not split off. Quotes around items and
    placeholders (暂无, null, - …) are dropped. Use ``lines`` where 、 enumerates inside one
    name (农、林、牧、渔业)."""
    if isinstance(value, list | tuple):
        return _items(value)
    if is_placeholder(value):
        return []
    text = str(value).strip()
    closing = _BRACKETS.get(text[0])
    if closing is not None and text.endswith(closing):
        if closing == "]":
            if _QUOTED_LIST.match(text):  # ['xls', 'api']: the common case, without a parser
                return _items([single or double for single, double in _QUOTED_ITEM.findall(text)])
            for parse in (json.loads, ast.literal_eval):
                try:
                    parsed = parse(text)
                except (ValueError, SyntaxError, MemoryError, RecursionError):
                    continue
                if isinstance(parsed, list):
                    return _items(parsed)
        text = text[1:-1]
    if "=" in text:
        text = _MIME_PARAMETERS.sub(r"\1", text)
    found: list[str] = []
    for part in _SEPARATORS.split(text):
        part = _unquoted(_unbracketed(part.strip()))
        if _SLASHED.match(part) and _all_formats(parts := re.split(r"\s*/\s*", part)):
            found.extend(parts)
        elif not is_placeholder(part):
            found.append(part)
    return found


def _items(values: list[Any] | tuple[Any, ...]) -> list[str]:
    """The items of an already-parsed list, flattened, stripped, placeholders dropped."""
    found: list[str] = []
    for item in values:
        if isinstance(item, list | tuple):
            found.extend(_items(item))
        elif not is_placeholder(item):
            text = _unquoted(str(item).strip())
            if not is_placeholder(text):
                found.append(text)
    return found


def _unbracketed(part: str) -> str:
    """``[xml`` and ``json]`` (a bracketed list split by hand) without the stray bracket."""
    for opening, closing in _BRACKETS.items():
        if part.startswith(opening) and closing not in part:
            part = part[1:].strip()
        if part.endswith(closing) and opening not in part:
            part = part[:-1].strip()
    return part


def _unquoted(part: str) -> str:
    while len(part) >= 2 and part[0] in _QUOTES and part[-1] in _QUOTES:
        part = part[1:-1].strip()
    return part


def _all_formats(parts: list[str]) -> bool:
    """True when every part of ``xls/csv/json`` is a format name, so the slash separates
    formats; a MIME type (text/csv), RDF/XML, a date or a path is one value."""
    if "/".join(parts).lower() in SPELLINGS or parts[0].lower() in _MIME_TOP_TYPES:
        return False
    return all(normalise_format(p) in FORMAT_NAMES for p in parts)


def to_semicolon_list(value: Any) -> list[str]:
    """A list from text joined with ";" (Mulu's own export), keeping commas and 、 inside
    items."""
    if isinstance(value, list | tuple):
        return _items(value)
    return [p.strip() for p in _SEMICOLONS.split(str(value or "")) if not is_placeholder(p)]


def to_lines(value: Any) -> list[str]:
    """A list from text with one item per line (tabs too), keeping 、 and commas inside items
    (六安's 标签: "公共管理、社会保障和社会组织" is one industry name)."""
    if isinstance(value, list | tuple):
        return _items(value)
    return [p.strip() for p in _LINE_BREAKS.split(str(value or "")) if not is_placeholder(p)]


def distribution_formats(value: Any) -> list[str]:
    """Every DCAT-US distribution's format: its ``format``, else its ``mediaType``, else the
    extension of its ``downloadURL`` or ``accessURL`` (a landing page has none). Taking the
    first of ``distribution[].format`` / ``distribution[].mediaType`` instead drops the media
    types of distributions without a format as soon as one has one."""
    if value is None:
        return []
    found: list[str] = []
    for distribution in value if isinstance(value, list) else [value]:
        if not isinstance(distribution, dict):
            found.extend(to_list(distribution))
            continue
        for key in ("format", "mediaType"):
            if names := to_list(distribution.get(key)):
                found.extend(names)
                break
        else:
            for key in ("downloadURL", "accessURL"):
                url = distribution.get(key)
                if isinstance(url, str) and (name := format_from_path(url)):
                    found.append(name)
                    break
    return list(dict.fromkeys(found))


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
    "distribution_formats": distribution_formats,
    "date": to_date_text,
    "data_items": data_items,
    "mailto": strip_mailto,
    "first": first,
}
