"""CSV export: UTF-8 with a byte-order mark, Chinese column titles, one row per entry.

The BOM is what makes Excel on Chinese Windows read the file as UTF-8 instead of GBK.
Rows are written as they are read, so memory stays flat however large the catalogue.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from catalog.exporting.tabular import ENTRY_TITLES, entry_row


def write(
    entries: Iterable[dict[str, Any]], organisations: Mapping[str, dict[str, Any]], out: Path
) -> int:
    """Write ``entries`` to ``out``; organisations are not part of the CSV (see the XLSX)."""
    count = 0
    with Path(out).open("w", encoding="utf-8-sig", newline="") as fh:
        writer = csv.writer(fh)  # the csv module quotes commas, quotes and line breaks
        writer.writerow(ENTRY_TITLES)
        for entry in entries:
            writer.writerow(entry_row(entry))
            count += 1
    return count
