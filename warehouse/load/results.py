"""What a load is and what it gave: the staged rows, the result, the quality gate's verdict."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from schemas.dataset_spec import DatasetSpec
from schemas.entry import catalogue_now
from warehouse.lake import LAKE_ALIAS


@dataclass(frozen=True)
class SourceFile:
    url: str
    sha256: str
    landed_path: str


@dataclass(frozen=True)
class StagedLoad:
    """Typed rows ready to publish: ``path`` is ``staging/<dataset>/<load_id>.parquet``.

    The file holds the spec's columns with the table's types and nothing else, so it can become
    the table's data file as it is; ``numbered`` (upsert): also ``_source_index`` and
    ``_source_row``, for the last-row-wins rule.
    """

    dataset: str
    load_id: str
    path: Path
    rows: int
    schema: list[tuple[str, str]]
    sources: list[SourceFile]
    fingerprint: str
    numbered: bool = False


@dataclass(frozen=True)
class LoadResult:
    dataset: str
    load_id: str
    status: str  # published | unchanged | failed | blocked | waiting (source not whole yet)
    rows: int
    snapshot_id: int | None
    fingerprint: str | None
    schema: list[tuple[str, str]] = field(default_factory=list)
    table: str = ""
    location: str = ""
    started_at: str = ""
    finished_at: str = ""
    error: str | None = None
    quality_run_id: str | None = None
    quality: str | None = None  # passed | warned | blocked; None: not validated


@dataclass(frozen=True)
class GateVerdict:
    """What a quality gate (``load_dataset(gate=…)``) decided about a staged load."""

    run_id: str
    blocked: bool  # an error-severity expectation failed: hold the rows, keep the table
    flagged: bool = False  # a warning-severity expectation failed: publish, flagged

    @property
    def quality(self) -> str:
        return "blocked" if self.blocked else "warned" if self.flagged else "passed"


Gate = Callable[[StagedLoad], GateVerdict]


def now_local() -> str:
    return catalogue_now().isoformat()


def new_load_id() -> str:
    """Sortable by start time, unique across processes: ``20261125T114455-3f2a9c1b``."""
    return f"{catalogue_now():%Y%m%dT%H%M%S}-{secrets.token_hex(4)}"


def table_name(spec: DatasetSpec) -> str:
    return f"{LAKE_ALIAS}.main.{spec.name}"
