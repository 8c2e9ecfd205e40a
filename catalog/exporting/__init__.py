"""Export the catalogue as CSV, Excel, JSON or DCAT (JSON-LD).

Each format is one module with the same shape,
``write(entries, organisations, out) -> int`` (entries as ``Directory.iter_entries`` yields
them, organisations by code, returns the number of entries written), so adding a format is
adding a module and a line to ``WRITERS``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from catalog.directory import Directory
from catalog.exporting import csv_format, dcat_format, json_format, xlsx_format
from schemas.errors import InvalidInput

Writer = Callable[[Iterable[dict[str, Any]], Mapping[str, dict[str, Any]], Path], int]

WRITERS: dict[str, Writer] = {
    "csv": csv_format.write,
    "xlsx": xlsx_format.write,
    "json": json_format.write,
    "dcat": dcat_format.write,
}
ALIASES = {"jsonld": "dcat", "json-ld": "dcat"}
FORMATS = tuple(WRITERS)


def writer_for(fmt: str) -> Writer:
    name = str(fmt).strip().lower()
    name = ALIASES.get(name, name)
    if name not in WRITERS:
        accepted = ", ".join([*FORMATS, *ALIASES])
        raise InvalidInput(f"unknown export format {fmt!r}: expected one of {accepted}")
    return WRITERS[name]


def export_catalogue(
    directory: Directory, fmt: str, out: Path, *, include_retired: bool = False
) -> int:
    """Write the catalogue to ``out`` in ``fmt``; return the number of entries written.

    The file is written beside ``out`` under a temporary name and moved into place at the
    end, so a failed export never leaves a truncated file where a good one is expected.
    """
    write = writer_for(fmt)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    organisations = {org["code"]: org for org in directory.store.organisations.all()}
    partial = out.with_name(f".{out.name}.{os.getpid()}.partial")
    entries = directory.iter_entries(include_retired=include_retired)
    try:
        count = write(entries, organisations, partial)
        os.replace(partial, out)
    finally:
        entries.close()  # release the SQLite read cursor even when a writer fails midway
        partial.unlink(missing_ok=True)
    return count
