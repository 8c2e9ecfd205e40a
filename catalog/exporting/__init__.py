"""Export the catalogue as CSV, Excel, JSON or DCAT (JSON-LD).

Each format is one module with the same shape,
``write(entries, organisations, out) -> int`` (entries as ``Directory.iter_entries`` yields
them, organisations by code, returns the number of entries written), so adding a format is
adding a module and a line to ``WRITERS``.

CSV, JSON and DCAT keep every character. An Excel cell holds at most 32,767 characters, so the
Excel export cuts longer text; ``export_report`` says how many cells it cut (the CLI prints it),
and importing that file back never lets a cut text replace the full one stored
(``catalog.importing.own_export``). Use CSV or JSON to move a catalogue losslessly.

``CachedExports`` keeps the DCAT files a server hands to harvesters (``/catalog.jsonld``,
``/catalog.ttl``): each is written once, streamed to a file, and written again only when the
store's change marker says the catalogue changed.
"""

from __future__ import annotations

import functools
import hashlib
import os
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from catalog.directory import Directory
from catalog.exporting import csv_format, dcat_format, json_format, xlsx_format
from schemas.errors import InvalidInput, Unavailable
from warehouse.store import Store

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


@dataclass(frozen=True)
class ExportReport:
    entries: int  # entries written
    cut_cells: int = 0  # Excel only: cells whose text was cut at 32,767 characters


def export_catalogue(
    directory: Directory, fmt: str, out: Path, *, include_retired: bool = False
) -> int:
    """Write the catalogue to ``out`` in ``fmt``; return the number of entries written."""
    return export_report(directory, fmt, out, include_retired=include_retired).entries


def export_report(
    directory: Directory,
    fmt: str,
    out: Path,
    *,
    include_retired: bool = False,
    open_types: Iterable[str] | None = None,
) -> ExportReport:
    """Write the catalogue to ``out`` in ``fmt``; say how many entries were written and (Excel)
    how many cells were cut at Excel's limit. ``open_types``: only entries whose 开放属性 is one
    of these (the public side's DCAT, issue 13); None, every entry.

    The file is written beside ``out`` under a temporary name and moved into place at the
    end, so a failed export never leaves a truncated file where a good one is expected.
    """
    write = DCAT_WRITERS[fmt] if fmt in DCAT_WRITERS else writer_for(fmt)
    cut: list[int] = []  # what the Excel writer cut
    if write is xlsx_format.write:
        write = functools.partial(_counting_cuts, cut)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    organisations = {org["code"]: org for org in directory.store.organisations.all()}
    partial = out.with_name(f".{out.name}.{os.getpid()}.partial")
    source = directory.iter_entries(include_retired=include_retired)
    shown = None if open_types is None else frozenset(open_types)
    entries = (
        source if shown is None else (e for e in source if (e.get("open_type") or "") in shown)
    )
    try:
        count = write(entries, organisations, partial)
        os.replace(partial, out)
    finally:
        source.close()  # release the SQLite read cursor even when a writer fails midway
        partial.unlink(missing_ok=True)
    return ExportReport(count, sum(cut))


def _counting_cuts(
    cut: list[int],
    entries: Iterable[dict[str, Any]],
    organisations: Mapping[str, dict[str, Any]],
    out: Path,
) -> int:
    count, cut_cells = xlsx_format.write_counted(entries, organisations, out)
    cut.append(cut_cells)
    return count


DCAT_WRITERS: dict[str, Writer] = {"jsonld": dcat_format.write, "ttl": dcat_format.write_turtle}


class CachedExports:
    """The catalogue as DCAT files in ``folder`` (the caller's own, e.g. a temporary folder of
    a server), one per format and catalogue state.

    ``path(fmt)`` reads the store's change marker (a few aggregate reads); when a file for that
    state exists it is returned at once, otherwise one thread writes it (streamed: memory stays
    flat) while other callers for the same format wait, at most ``wait`` seconds (then
    ``Unavailable``). The previous file of a format is kept until the next one replaces it, so
    a response still sending it is never cut short.

    ``open_types``: the files hold only entries whose 开放属性 is one of these (the public
    side's variant, issue 13; give it its own folder); None, every entry.
    """

    def __init__(
        self,
        store: Store,
        folder: Path,
        *,
        wait: float = 600.0,
        open_types: Iterable[str] | None = None,
    ) -> None:
        self.store = store
        self.folder = Path(folder)
        self.wait = wait
        self.open_types = None if open_types is None else frozenset(open_types)
        self._locks = {fmt: threading.Lock() for fmt in DCAT_WRITERS}
        self.writes = 0  # files written, for tests and logs

    def path(self, fmt: str) -> Path:
        if fmt not in DCAT_WRITERS:
            raise InvalidInput(f"unknown DCAT format {fmt!r}: expected one of {list(DCAT_WRITERS)}")
        marker = hashlib.sha1(self.store.export.change_marker().encode()).hexdigest()[:16]
        wanted = self.folder / f"catalogue-{marker}.{fmt}"
        if wanted.exists():
            return wanted
        lock = self._locks[fmt]
        if not lock.acquire(timeout=self.wait):
            raise Unavailable(f"the catalogue's {fmt} export is being written; try again later")
        try:
            if wanted.exists():  # written by the thread this one waited for
                return wanted
            self.folder.mkdir(parents=True, exist_ok=True)
            export_report(
                Directory(self.store, user="export"), fmt, wanted, open_types=self.open_types
            )
            self.writes += 1
            for old in sorted(self.folder.glob(f"catalogue-*.{fmt}"), key=_mtime)[:-2]:
                old.unlink(missing_ok=True)  # keep this one and the one before it
            return wanted
        finally:
            lock.release()


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except FileNotFoundError:
        return 0.0
