"""The Dagster code location: every dataset spec in the workspace becomes assets, schedules and
a sensor; the workspace and its store reach the assets as the ``mulu`` resource. Loaded lazily
(``defs`` reads ``MULU_HOME`` when Dagster loads it, not on import).

    dagster dev -m pipelines.definitions      # or: mulu ui
"""

from __future__ import annotations

import dagster as dg

from catalog.datasets import discover_datasets
from catalog.directory import Directory
from pipelines.assets import dataset_assets
from pipelines.automation import schedules_for, source_sensor
from pipelines.freshness_assets import freshness_assets
from pipelines.instance import executor_for
from pipelines.resources import MULU, PIPELINE_USER, MuluResource
from warehouse.settings import Settings
from warehouse.workspace import Workspace


def build_definitions(workspace: Workspace) -> tuple[dg.Definitions, list[str]]:
    """Definitions for the workspace's datasets, and one message per unusable spec."""
    directory = Directory.open(workspace, user=PIPELINE_USER)
    try:
        plans, problems = discover_datasets(workspace, directory)
    finally:
        directory.close()
    assets = [a for plan in plans for a in dataset_assets(plan)]
    sensors = [source_sensor(plans, workspace)] if plans else []
    catalogue_assets, catalogue_schedules = freshness_assets()
    return dg.Definitions(
        assets=assets + catalogue_assets,
        schedules=schedules_for(plans) + catalogue_schedules,
        sensors=sensors,
        resources={MULU: MuluResource.for_workspace(workspace)},
        executor=executor_for(Settings.load(workspace)),  # Celery workers when configured
    ), problems


@dg.definitions
def defs() -> dg.Definitions:
    definitions, problems = build_definitions(Workspace.from_env())
    for problem in problems:
        dg.get_dagster_logger().error(problem)
    return definitions
