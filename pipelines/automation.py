"""When datasets load: a schedule per cycle (from the entry's 更新周期 or the spec) and one
sensor that starts a load as soon as a source file changes or its ready marker appears.

A load that finds its source still being written ends 'waiting'; the file changes again (or
its marker appears) before it is whole, so a later tick sees a new signature and loads it."""

import hashlib
import json
from collections import defaultdict

import dagster as dg

from catalog.datasets import DatasetPlan
from pipelines.assets import raw_key, table_key
from pipelines.instance import run_tags
from schemas.dataset_spec import DatasetSpec
from warehouse.landing import LocalRoots, source_state
from warehouse.workspace import Workspace


def schedules_for(plans: list[DatasetPlan]) -> list[dg.ScheduleDefinition]:
    by_cron: dict[str, list[DatasetPlan]] = defaultdict(list)
    for plan in plans:
        if plan.cron:
            by_cron[plan.cron].append(plan)
    schedules = []
    for cron, members in sorted(by_cron.items()):
        slug = hashlib.sha1(cron.encode()).hexdigest()[:8]
        job = dg.define_asset_job(
            f"refresh_{slug}",
            selection=dg.AssetSelection.assets(*_keys(members)),
            description=f"datasets due on '{cron}': " + ", ".join(p.spec.name for p in members),
        )
        schedules.append(
            dg.ScheduleDefinition(
                name=f"refresh_{slug}_schedule",
                job=job,
                cron_schedule=cron,
                execution_timezone="Asia/Shanghai",
                execution_fn=_one_run_per_dataset(members),
            )
        )
    return schedules


def _one_run_per_dataset(members: list[DatasetPlan]):
    """A schedule's tick: one run per dataset, tagged with its dataset and department, so the
    run queue's limits (one load per dataset, N per department) apply to scheduled loads."""

    def evaluate(context: dg.ScheduleEvaluationContext) -> list[dg.RunRequest]:
        return [
            dg.RunRequest(
                run_key=plan.spec.name,
                asset_selection=[raw_key(plan.spec.name), table_key(plan.spec.name)],
                tags=run_tags(plan.spec),
            )
            for plan in members
        ]

    return evaluate


def source_signature(workspace: Workspace, spec: DatasetSpec) -> str:
    """What changes when a source changes: names, sizes and modification stamps of its files
    and whether its ready marker exists (nothing is read). A local source is found as loads
    find it (relative to the workspace, in its source folders; else SourceRefused)."""
    parts = source_state(
        spec.source.url,
        storage_options=spec.source.storage_options,
        roots=LocalRoots.of(workspace),
        ready=spec.source.ready,
    )
    return hashlib.sha1(json.dumps(parts).encode()).hexdigest()


def source_sensor(plans: list[DatasetPlan], workspace: Workspace) -> dg.SensorDefinition:
    @dg.sensor(
        name="source_files_changed",
        minimum_interval_seconds=60,
        asset_selection=dg.AssetSelection.assets(*_keys(plans)),
        default_status=dg.DefaultSensorStatus.RUNNING,
        description="Loads a dataset when its source files appear or change.",
    )
    def sensor(context: dg.SensorEvaluationContext):
        seen = json.loads(context.cursor) if context.cursor else {}
        for plan in plans:
            spec = plan.spec
            try:
                signature = source_signature(workspace, spec)
            except Exception as exc:  # an unreachable source must not stop the other datasets
                context.log.warning(f"{spec.name}: cannot inspect {spec.source.url}: {exc}")
                continue
            if seen.get(spec.name) != signature:
                seen[spec.name] = signature
                yield dg.RunRequest(
                    run_key=f"{spec.name}:{signature}",
                    asset_selection=[raw_key(spec.name), table_key(spec.name)],
                    tags=run_tags(spec),
                )
        context.update_cursor(json.dumps(seen, sort_keys=True))

    return sensor


def _keys(plans: list[DatasetPlan]) -> list[dg.AssetKey]:
    return [key for p in plans for key in (raw_key(p.spec.name), table_key(p.spec.name))]
