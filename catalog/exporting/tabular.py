"""Column layout and cell text shared by the CSV and Excel exports.

One column per ``ENTRY_FIELDS`` field, headed by the model field's Chinese title, so the
``mulu-table`` import mapping reads an export back unchanged. List fields are joined with ";";
信息项 become "名称:数据类型(长度);名称:数据类型" (the 说明 of an item is not kept).

发布日期 and 最近更新时间 are written to the precision the source stated them to (2023,
2023-05, 2023-05-08, 2023-05-08T14:30, 2023-05-08T14:30:05), each followed by its precision
column (发布日期精度, 最近更新时间精度: year, month, day, minute or second; blank in the CSV
for a full-precision value, whose text says it all).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

from schemas.dates import PRECISION_ALIASES, Precision, format_time
from schemas.entry import CatalogueEntry, Organisation
from warehouse.store.fields import ENTRY_FIELDS, JSON_FIELDS, ORGANISATION_FIELDS

LIST_SEPARATOR = ";"
ITEM_SEPARATOR = ":"

# Every field has a Chinese title; the name stands in only to keep the type a plain str.
ENTRY_TITLES = tuple(CatalogueEntry.model_fields[name].title or name for name in ENTRY_FIELDS)
ORGANISATION_TITLES = tuple(
    Organisation.model_fields[name].title or name for name in ORGANISATION_FIELDS
)

DATA_ITEMS_COLUMN = ENTRY_FIELDS.index("data_items")
LIST_COLUMNS = tuple(
    ENTRY_FIELDS.index(name)
    for name in ENTRY_FIELDS
    if name in JSON_FIELDS and name != "data_items"
)
DATE_COLUMN = ENTRY_FIELDS.index("published_at")
DATETIME_COLUMN = ENTRY_FIELDS.index("updated_at")
# (date field, its precision field, the precision a blank one means)
DATE_FIELDS: tuple[tuple[str, str, Precision], ...] = (
    ("published_at", "published_precision", "day"),
    ("updated_at", "updated_precision", "second"),
)
# date column -> (its precision column, the precision a blank one means)
DATE_COLUMNS: dict[int, tuple[int, Precision]] = {
    ENTRY_FIELDS.index(name): (ENTRY_FIELDS.index(precision_name), finest)
    for name, precision_name, finest in DATE_FIELDS
}


def stated_time(text: str | None, precision: str | None, finest: Precision) -> str | None:
    """A stored date (ISO text, the start of its period) as the text of its precision."""
    if not text:
        return None
    return format_time(dt.datetime.fromisoformat(text), stated_precision(precision, finest))


def stated_precision(precision: str | None, finest: Precision) -> Precision:
    """A stored precision column (None: ``finest``) as a precision."""
    return PRECISION_ALIASES.get(precision or "", finest)


def data_items_text(items: Sequence[Mapping[str, Any]] | None) -> str:
    """ "名称:数据类型(长度);…", the form the importer's ``data_items`` transform reads."""
    parts = []
    for item in items or ():
        text = f"{item['name']}{ITEM_SEPARATOR}{item.get('data_type') or ''}"
        if item.get("length") is not None:
            text += f"({item['length']})"
        parts.append(text)
    return LIST_SEPARATOR.join(parts)


def entry_row(entry: Mapping[str, Any]) -> list[Any]:
    """The entry's cells in column order: text, or None for an empty value."""
    row = [entry.get(name) for name in ENTRY_FIELDS]
    for column in LIST_COLUMNS:
        row[column] = LIST_SEPARATOR.join(row[column] or ())
    row[DATA_ITEMS_COLUMN] = data_items_text(row[DATA_ITEMS_COLUMN])
    for column, (precision_column, finest) in DATE_COLUMNS.items():
        row[column] = stated_time(row[column], row[precision_column], finest)
    return row


def organisation_row(organisation: Mapping[str, Any]) -> list[Any]:
    return [organisation.get(name) for name in ORGANISATION_FIELDS]


def header() -> list[str]:
    """The CSV/XLSX header row (the Chinese titles), for code that writes the format itself."""
    return list(ENTRY_TITLES)


to_row = entry_row  # the name bench/catalog.py uses
