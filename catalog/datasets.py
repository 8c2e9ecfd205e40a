"""Department datasets as the catalogue sees them: the specs in a workspace, the cycle each
one is held to, and the registration of every load against its catalogue entry."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from catalog.directory import Directory, EntryNotFound
from schemas.cycles import UpdateCycle, cron_for, parse_update_cycle
from schemas.dataset_spec import DatasetSpec, SpecError, load_spec
from warehouse.workspace import Workspace


@dataclass(frozen=True)
class DatasetPlan:
    """A dataset spec with what the catalogue adds: its 更新周期 and the schedule from it."""

    spec: DatasetSpec
    spec_path: Path
    cycle: UpdateCycle | None
    entry_name: str | None

    @property
    def cron(self) -> str | None:
        """The spec's own schedule, else one run per cycle; None: sensor only (不定期)."""
        if self.spec.schedule:
            return self.spec.schedule
        return cron_for(self.cycle) if self.cycle else None


def spec_paths(workspace: Workspace) -> list[Path]:
    """Every dataset spec: ``datasets/<org>/<name>.yaml``, in a stable order."""
    if not workspace.datasets_dir.is_dir():
        return []
    return sorted(p for p in workspace.datasets_dir.rglob("*") if p.suffix in (".yaml", ".yml"))


def discover_datasets(
    workspace: Workspace, directory: Directory | None = None
) -> tuple[list[DatasetPlan], list[str]]:
    """The workspace's datasets and, separately, one message per spec that cannot be used
    (a bad spec never hides the good ones)."""
    plans: list[DatasetPlan] = []
    problems: list[str] = []
    seen: dict[str, Path] = {}
    for path in spec_paths(workspace):
        try:
            spec = load_spec(path)
        except SpecError as exc:
            problems.append(str(exc))
            continue
        if spec.name in seen:
            problems.append(
                f"{path}: dataset name {spec.name!r} is already used by {seen[spec.name]}"
            )
            continue
        seen[spec.name] = path
        plans.append(_plan(spec, path, directory))
    return plans, problems


def _plan(spec: DatasetSpec, path: Path, directory: Directory | None) -> DatasetPlan:
    entry: dict[str, Any] | None = None
    if directory is not None:
        try:
            entry = directory.get(spec.entry_code)
        except EntryNotFound:
            entry = None
    label = spec.freshness or (entry or {}).get("update_cycle")
    cycle = parse_update_cycle(label) if label else None
    return DatasetPlan(spec, path, cycle, entry["name"] if entry else None)


def register_load(
    directory: Directory,
    *,
    entry_code: str,
    finished_at: str,
    rows: int,
    load_id: str,
    dataset: str,
) -> bool:
    """Record a published load as the entry's data update (最近更新时间, source pipeline).

    Idempotent by load id, so a load recovered after a crash is registered exactly once.
    Returns whether it was new.
    """
    with directory.store.transaction():  # checked and written under one write lock
        if directory.store.history.has_load(load_id):
            return False
        directory.report_update(
            entry_code,
            at=dt.datetime.fromisoformat(finished_at),
            source="pipeline",
            note=f"{dataset} load {load_id}: {rows} rows",
            load_id=load_id,
        )
    return True
