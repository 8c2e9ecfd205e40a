"""What every demo dataset builder shares: the run's state (district, seed, scale, where files
go, results later datasets reuse) and what a builder returns."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from catalog.demo import vocabulary as vocab
from catalog.demo.district import STREET, VILLAGE, District
from warehouse.workspace import Workspace

DAY = dt.timedelta(days=1)
STAMP = "%Y-%m-%d %H:%M:%S"
TODAY = "today"  # in a column rule: replaced by district.today


@dataclass
class DemoDataset:
    """One generated department dataset: its spec, files and the defects planted in it."""

    name: str
    title: str
    org_code: str
    entry_code: str
    spec_path: Path
    files: list[Path]
    rows: int
    defects: list[str]  # human readable, with counts
    today: dt.date  # the district's today the rows were generated for
    defect_counts: dict[str, int] = field(default_factory=dict)  # "column:rule" -> rows
    entry_name: str = ""
    entry_fallback: bool = False  # no entry name matched: the department's first entry
    version: int = 1


class Build:
    """State of one ``write_demo_datasets`` run, shared by the dataset builders."""

    def __init__(self, root: Path, district: District, seed: int, scale: float):
        self.district, self.seed, self.scale = district, seed, scale
        self.workspace = Workspace(root)  # sources/ and datasets/ of the demo's workspace
        self.today = district.today
        self.orgs = {o.name: o for o in district.organisations}
        self.entries: dict[str, list[dict[str, Any]]] = {}
        for entry in district.entries:
            self.entries.setdefault(entry["provider_code"], []).append(entry)
        self.shared: dict[str, Any] = {}  # results later datasets reuse

    def org(self, short: str):
        return self.orgs[vocab.DISTRICT + short]

    def rows(self, full: int, minimum: int) -> int:
        return max(minimum, round(full * self.scale))

    def folder(self, org) -> Path:
        path = self.workspace.sources_dir / org.code
        path.mkdir(parents=True, exist_ok=True)
        return path

    def entry(self, org, subjects: tuple[str, ...], aspects: tuple[str, ...]):
        """(entry, fallback): the org's entry best named ``subject + aspect``, plain names before
        year/area-prefixed ones; the org's first entry when no name holds a subject."""
        for subject in subjects:
            found = []
            for e in self.entries[org.code]:
                at = e["name"].find(subject)
                if at >= 0:
                    rest = e["name"][at + len(subject) :]
                    rank = aspects.index(rest) if rest in aspects else len(aspects)
                    found.append((at > 0, rank, len(e["name"]), e["code"], e))
            if found:
                return min(found, key=lambda t: t[:4])[4], False
        return self.entries[org.code][0], True

    def villages(self, street=None) -> list[tuple[str, str]]:
        """(街道/乡镇, 村居 place name) of every 村居, or of one street's."""
        streets = {o.code: o.name for o in self.district.organisations if o.kind == STREET}
        found = []
        for o in self.district.organisations:
            if o.kind != VILLAGE or (street is not None and o.parent_code != street.code):
                continue
            assert o.parent_code is not None, "every 村居 belongs to a 街道/乡镇"
            parent = streets[o.parent_code]
            found.append(
                (parent.removeprefix(vocab.DISTRICT), o.name.removeprefix(parent)[:-3])
            )  # drop 居委会 / 村委会
        return found
