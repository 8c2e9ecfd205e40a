"""Run dataset loads in this process (``mulu run``), with Dagster's run history kept in the
workspace (``<workspace>/dagster``) so ``mulu ui`` shows the same runs."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dagster as dg

from pipelines.assets import raw_key, table_key
from pipelines.definitions import build_definitions
from pipelines.freshness_assets import SCORECARD_KEY, SWEEP_KEY
from schemas.errors import NotFound
from warehouse.load import load_history
from warehouse.workspace import Workspace

_INSTANCE_CONFIG = """\
# Dagster instance of this Mulu workspace: runs, events and schedules in SQLite files here.
telemetry:
  enabled: false
# Evaluate the datasets' freshness policies (from their entries' 更新周期) in the UI.
freshness:
  enabled: true
"""


def dagster_home(workspace: Workspace) -> Path:
    home = workspace.dagster_dir
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    if not config.exists():
        config.write_text(_INSTANCE_CONFIG, encoding="utf-8")
    return home


# The terminal gets warnings and errors; every event is still in the run's history (mulu ui).
_QUIET_CONSOLE = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}


@dataclass
class RunReport:
    success: bool
    run_id: str | None = None
    datasets: dict[str, dict[str, Any]] = field(default_factory=dict)  # name -> load metadata
    failures: dict[str, str] = field(default_factory=dict)  # step -> error
    problems: list[str] = field(default_factory=list)  # specs that could not be used


class UnknownDataset(NotFound):
    pass


def run_datasets(workspace: Workspace, select: list[str] | None = None) -> RunReport:
    """Materialise the selected datasets (all when ``select`` is empty), in-process."""
    definitions, problems = build_definitions(workspace)
    assets: list[dg.AssetsDefinition] = []
    for asset in definitions.assets or []:
        # build_definitions makes only @asset definitions; Definitions' type allows more kinds.
        assert isinstance(asset, dg.AssetsDefinition), f"unexpected asset kind {asset!r}"
        assets.append(asset)
    names = sorted({key.path[-1] for a in assets for key in a.keys if key.path[0] == "warehouse"})
    wanted = select or names
    unknown = sorted(set(wanted) - set(names))
    if unknown:
        raise UnknownDataset(
            f"no dataset named {', '.join(unknown)}; datasets: {', '.join(names) or '-'}"
        )
    instance = dg.DagsterInstance.from_config(str(dagster_home(workspace)))
    selection = [key for name in wanted for key in (raw_key(name), table_key(name))]
    if not select:  # a full run also refreshes the catalogue's freshness sweep and scorecard
        selection += [SWEEP_KEY, SCORECARD_KEY]
    result = dg.materialize(
        assets,
        instance=instance,
        selection=selection,
        raise_on_error=False,
        resources=definitions.resources,
        tags={"mulu/trigger": "cli"},
        run_config=_QUIET_CONSOLE,
    )
    report = RunReport(success=result.success, run_id=result.run_id, problems=problems)
    for event in result.get_asset_materialization_events():
        materialization = event.step_materialization_data.materialization
        if materialization.asset_key.path[0] == "warehouse":
            report.datasets[materialization.asset_key.path[-1]] = {
                key: value.value for key, value in materialization.metadata.items()
            }
    # A blocked load materialises nothing (the live table did not change): its load record says.
    for name in wanted:
        if name not in report.datasets and table_key(name).to_user_string().replace(
            "/", "__"
        ) not in {e.step_key for e in result.all_events if e.is_step_failure}:
            history = load_history(workspace, name)
            if history:
                last = history[-1]
                report.datasets[name] = {
                    "status": last.status,
                    "rows": last.rows,
                    "load_id": last.load_id,
                    "snapshot_id": last.snapshot_id,
                    "quality": last.quality,
                    "quality_run_id": last.quality_run_id,
                }
    for event in result.all_events:
        if event.is_step_failure:
            assert event.step_key is not None, "a step failure always names its step"
            error = event.step_failure_data.error
            report.failures[event.step_key] = error.message.strip() if error else "failed"
    return report
