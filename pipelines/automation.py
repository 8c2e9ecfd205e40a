"""When datasets load: a schedule per cycle (from the entry's 更新周期 or the spec) and one
sensor that starts a load as soon as a source file changes."""

import hashlib
import json
from collections import defaultdict

import dagster as dg
import fsspec

from catalog.datasets import DatasetPlan
from pipelines.assets import raw_key, table_key


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
            )
        )
    return schedules


def source_signature(url: str, storage_options: dict | None = None) -> str:
    """What changes when a source file changes: names, sizes and modification stamps."""
    fs, path = fsspec.core.url_to_fs(url, **(storage_options or {}))
    paths = sorted(fs.glob(path)) if any(c in path for c in "*?[") else [path]
    parts = []
    for item in paths:
        try:
            info = fs.info(item)
        except FileNotFoundError:
            continue
        stamp = info.get("mtime") or info.get("LastModified") or info.get("ETag") or ""
        parts.append([item, info.get("size"), str(stamp)])
    return hashlib.sha1(json.dumps(parts).encode()).hexdigest()


def source_sensor(plans: list[DatasetPlan]) -> dg.SensorDefinition:
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
                signature = source_signature(spec.source.url, spec.source.storage_options)
            except Exception as exc:  # an unreachable source must not stop the other datasets
                context.log.warning(f"{spec.name}: cannot inspect {spec.source.url}: {exc}")
                continue
            if seen.get(spec.name) != signature:
                seen[spec.name] = signature
                yield dg.RunRequest(
                    run_key=f"{spec.name}:{signature}",
                    asset_selection=[raw_key(spec.name), table_key(spec.name)],
                )
        context.update_cursor(json.dumps(seen, sort_keys=True))

    return sensor


def _keys(plans: list[DatasetPlan]) -> list[dg.AssetKey]:
    return [key for p in plans for key in (raw_key(p.spec.name), table_key(p.spec.name))]
