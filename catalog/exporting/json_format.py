"""JSON export: {"entries": [...], "organisations": [...]} with the model's English field names.

Each entry holds exactly the ``CatalogueEntry`` fields (no tracking columns), so
``CatalogueEntry.model_validate`` accepts it as is. Dates are ISO text to the precision the
source stated (2023, 2023-05, 2023-05-08, 2023-05-08T14:30, 2023-05-08T14:30:05), 最近更新时间
in the catalogue's local time (Asia/Shanghai) without an offset, as stored; published_precision
and updated_precision as stored (null: a day, a second). One entry per line, written as read,
so the file streams out and diffs well.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from catalog.exporting.tabular import DATE_FIELDS, stated_time
from warehouse.store.fields import ENTRY_FIELDS, ORGANISATION_FIELDS


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def write(
    entries: Iterable[dict[str, Any]], organisations: Mapping[str, dict[str, Any]], out: Path
) -> int:
    count = 0
    with Path(out).open("w", encoding="utf-8") as fh:
        fh.write('{"entries": [')
        for entry in entries:
            fh.write(",\n" if count else "\n")
            values = {name: entry.get(name) for name in ENTRY_FIELDS}
            for name, precision_name, finest in DATE_FIELDS:
                values[name] = stated_time(values[name], values[precision_name], finest)
            fh.write(_dumps(values))
            count += 1
        fh.write('\n],\n"organisations": [')
        for index, organisation in enumerate(organisations.values()):
            fh.write(",\n" if index else "\n")
            fh.write(_dumps({name: organisation.get(name) for name in ORGANISATION_FIELDS}))
        fh.write("\n]}\n")
    return count
