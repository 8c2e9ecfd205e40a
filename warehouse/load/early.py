"""Early staging: a local source staged while landing copies and hashes it (the two overlap:
landing is a copy and a hash, staging a DuckDB scan), instead of after."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

from schemas.dataset_spec import DatasetSpec
from warehouse.landing import (
    LandedFile,
    LandingError,
    LocalRoots,
    local_source_files,
    missing_marker,
)
from warehouse.load.changes import looks_unchanged
from warehouse.load.staging import stage_rows
from warehouse.read import LoadError
from warehouse.workspace import Workspace


@dataclass
class EarlyStage:
    """Rows staged straight from local source files while landing copies and hashes them.

    They are the landed content only if no source file changed meanwhile: each file's size,
    mtime and inode are the same before staging and after landing (the test make and rsync
    rely on). Otherwise they are discarded and the landed files staged instead.
    """

    files: list[tuple[str, Path]]
    before: list[tuple[int, int, int]]
    target: Path | None
    rows: int = 0
    error: LoadError | None = None

    def matches(self, landed: list[LandedFile]) -> bool:
        try:
            after = [file_state(path) for _, path in self.files]
        except OSError:
            return False
        return (
            after == self.before
            and [url for url, _ in self.files] == [f.source_url for f in landed]
            and [state[0] for state in after] == [f.size for f in landed]
        )

    def discard(self) -> None:
        if self.target is not None:
            self.target.unlink(missing_ok=True)


def file_state(path: Path) -> tuple[int, int, int]:
    stat = path.stat()
    return stat.st_size, stat.st_mtime_ns, stat.st_ino


def stage_early(
    workspace: Workspace,
    spec: DatasetSpec,
    lake: duckdb.DuckDBPyConnection,
    load_id: str,
    last: dict[str, Any] | None,
    force: bool,
) -> EarlyStage | None:
    """Stage a local source while it is being landed, unless it looks unchanged since the last
    published load ``last`` (same sizes and mtimes): then landing's hash decides, and usually
    nothing is staged at all.

    Not for append (only files not appended before are staged), remote sources (they are
    read once, by landing), sources outside the workspace's source folders (never read) or
    ones whose ready marker is missing (landing reports those).
    """
    if spec.load.mode == "append":
        return None
    try:
        files = local_source_files(
            spec.source.url,
            storage_options=spec.source.storage_options,
            roots=LocalRoots.of(workspace),
        )
        before = [file_state(path) for _, path in files or []]
    except (LandingError, OSError):
        return None  # landing reports it
    if not files or missing_marker(files, spec.source.ready):
        return None
    if not force and looks_unchanged([url for url, _ in files], before, last):
        return None
    early = EarlyStage(files=files, before=before, target=None)
    try:
        early.target, early.rows = stage_rows(
            workspace, spec, lake, load_id, [(path, url) for url, path in files]
        )
    except LoadError as exc:
        early.error = exc
    return early
