"""Freshness in Dagster: each dataset's policy from its entry's 更新周期, and the daily sweep
and monthly scorecard of the whole catalogue as assets on a daily schedule.

The 35,700 catalogue entries stay data: the sweep evaluates them all in one query (one asset),
never one asset each.
"""

import datetime as dt

import dagster as dg

from catalog.datasets import DatasetPlan
from catalog.freshness.scorecard import export_scorecard, scorecard
from catalog.freshness.sla import default_grace, default_soon
from catalog.freshness.sweep import save_day
from pipelines.resources import MuluResource
from schemas.cycles import UpdateCycle
from schemas.entry import catalogue_now
from warehouse.freshness_sweep import day_counts

SWEEP_KEY = dg.AssetKey(["freshness", "daily_sweep"])
SCORECARD_KEY = dg.AssetKey(["freshness", "scorecard"])
# Dagster's time windows are fixed lengths: a month counts as 31 days, a year as 366, so the
# policy never fails a dataset the catalogue's calendar SLA still calls on time.
_LONGEST_DAYS = {"hour": 1 / 24, "day": 1, "week": 7, "month": 31, "year": 366}


def longest_period(cycle: UpdateCycle) -> dt.timedelta:
    return dt.timedelta(days=(cycle.every or 1) * _LONGEST_DAYS[cycle.unit or "day"])


def freshness_policy_for(plan: DatasetPlan) -> dg.FreshnessPolicy | None:
    """Warn once the table is older than one period less the due-soon window; fail once it is
    older than one period plus the grace (sla.py's defaults). None for untracked cycles."""
    cycle = plan.cycle
    if cycle is None or not cycle.tracked:
        return None
    period = longest_period(cycle)
    return dg.FreshnessPolicy.time_window(
        fail_window=period + default_grace(cycle),
        warn_window=max(period - default_soon(cycle), dt.timedelta(minutes=1)),
    )


def freshness_assets() -> tuple[list[dg.AssetsDefinition], list[dg.ScheduleDefinition]]:
    @dg.asset(
        key=SWEEP_KEY,
        group_name="freshness",
        kinds={"duckdb", "parquet"},
        description="Every catalogue entry's freshness status today "
        "(freshness/daily/<day>.parquet): the daily history",
    )
    def daily_sweep(context: dg.AssetExecutionContext, mulu: MuluResource) -> dg.MaterializeResult:
        workspace = mulu.workspace
        day = catalogue_now().date()
        path = save_day(mulu.store, workspace, day)
        counts = day_counts(path)
        context.log.info(f"{day}: {counts}")
        return dg.MaterializeResult(
            metadata={
                "day": day.isoformat(),
                "path": str(path),
                "entries": dg.MetadataValue.int(sum(counts.values())),
                **{status: dg.MetadataValue.int(n) for status, n in sorted(counts.items())},
            }
        )

    @dg.asset(
        key=SCORECARD_KEY,
        deps=[SWEEP_KEY],
        group_name="freshness",
        kinds={"html"},
        description="This month's scorecard (更新及时率通报): organisations ranked by "
        "overdue entries and on-time rate, as CSV and HTML",
    )
    def monthly_scorecard(
        context: dg.AssetExecutionContext, mulu: MuluResource
    ) -> dg.MaterializeResult:
        month = catalogue_now().strftime("%Y-%m")
        rows = scorecard(mulu.store, month)
        folder = mulu.workspace.scorecards_dir
        csv_path = export_scorecard(rows, folder / f"{month}.csv")
        html_path = export_scorecard(rows, folder / f"{month}.html")
        top = [
            {
                "rank": r["rank"],
                "provider": r["provider_name"],
                "overdue": r["overdue"],
                "on_time_rate": r["on_time_rate"],
            }
            for r in rows[:10]
        ]
        return dg.MaterializeResult(
            metadata={
                "month": month,
                "organisations": dg.MetadataValue.int(len(rows)),
                "csv": str(csv_path),
                "html": str(html_path),
                "top": dg.MetadataValue.json(top),
            }
        )

    job = dg.define_asset_job(
        "freshness_daily",
        selection=[SWEEP_KEY, SCORECARD_KEY],
        description="the daily sweep and this month's scorecard",
    )
    schedule = dg.ScheduleDefinition(
        name="freshness_daily_schedule",
        job=job,
        cron_schedule="30 6 * * *",
        execution_timezone="Asia/Shanghai",
    )
    return [daily_sweep, monthly_scorecard], [schedule]
