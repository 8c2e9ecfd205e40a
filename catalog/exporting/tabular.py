"""Column layout and cell text shared by the CSV and Excel exports.

One column per ``ENTRY_FIELDS`` field, headed by the model field's Chinese title, so the
``mulu-table`` import mapping reads an export back unchanged. List fields are joined with ";";
信息项 become "名称:数据类型(长度);名称:数据类型" (the 说明 of an item is not kept).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

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
    return row


def organisation_row(organisation: Mapping[str, Any]) -> list[Any]:
    return [organisation.get(name) for name in ORGANISATION_FIELDS]


def header() -> list[str]:
    """The CSV/XLSX header row (the Chinese titles), for code that writes the format itself."""
    return list(ENTRY_TITLES)


to_row = entry_row  # the name bench/catalog.py uses
