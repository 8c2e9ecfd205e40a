"""Dagster assets for one department dataset, made from its spec by a factory.

Two assets per dataset: ``raw/<name>`` lands the source files unchanged (content-addressed,
never overwritten) and ``warehouse/<name>`` loads them into a versioned lake table, validated
before publishing (``quality.gate``), and registers the load with the catalogue entry. The 35k
catalogue entries are data, never assets: only datasets with a spec become assets.

Each expectation of the dataset's suite is an asset check declared next to the asset
(``check_specs``), reported from the stored quality run. They are not Dagster-*blocking*: Mulu
blocks at the data level (a blocked load is held, not published, and the live table stays the
last good version), so what runs downstream still reads good data. A blocked load materialises
nothing; its checks fail with ERROR severity.
"""

import datetime as dt
import re

import dagster as dg

from catalog.datasets import DatasetPlan, register_load
from catalog.reviews import settle as settle_reviews
from pipelines.freshness_assets import freshness_policy_for
from pipelines.resources import MuluResource
from quality.gate import load_validated
from quality.runs import get_run
from quality.suites import build_suite
from schemas.dataset_spec import DatasetSpec
from warehouse.landing import SourceNotReady, land_source
from warehouse.load import load_history
from warehouse.store.store import Store


def check_name(rule: str) -> str:
    """A quality rule as a Dagster check name (letters, digits, _): id_card_no:format →
    id_card_no__format."""
    return re.sub(r"[^A-Za-z0-9_]", "_", rule.replace(":", "__"))


def quality_check_specs(spec: DatasetSpec) -> list[dg.AssetCheckSpec]:
    """One check per expectation the spec implies (the names do not depend on the date)."""
    suite = build_suite(spec, today=dt.date.today())
    return [
        dg.AssetCheckSpec(
            check_name(e.rule),
            asset=table_key(spec.name),
            description=f"{e.description or e.rule} ({e.severity})",
            metadata={"rule": e.rule, "severity": e.severity},
        )
        for e in suite.expectations
    ]


def check_results(store: Store, spec: DatasetSpec, run_id: str | None) -> list[dg.AssetCheckResult]:
    """Every declared check's result from quality run ``run_id``; a rule the run did not
    evaluate (no run for this version, or the spec changed since) fails as 'not validated'."""
    found = {}
    if run_id is not None:
        found = {r["rule"]: r for r in get_run(store, run_id)["results"]}
    results = []
    for expectation in build_suite(spec, today=dt.date.today()).expectations:
        result = found.get(expectation.rule)
        if result is None:
            results.append(
                dg.AssetCheckResult(
                    check_name=check_name(expectation.rule),
                    passed=False,
                    severity=dg.AssetCheckSeverity.WARN,
                    metadata={"note": "not validated: no quality run evaluated this rule"},
                )
            )
            continue
        passed = result["success"] or result["waived"]
        results.append(
            dg.AssetCheckResult(
                check_name=check_name(expectation.rule),
                passed=bool(passed),
                severity=(
                    dg.AssetCheckSeverity.ERROR
                    if result["severity"] == "error"
                    else dg.AssetCheckSeverity.WARN
                ),
                description=result["error"] or result["description"],
                metadata={
                    "run_id": run_id,
                    "unexpected_count": result["unexpected_count"],
                    "element_count": result["element_count"],
                    "waived": bool(result["waived"]),
                    "samples": dg.MetadataValue.json(result["samples"][:5]),
                },
            )
        )
    return results


def raw_key(name: str) -> dg.AssetKey:
    return dg.AssetKey(["raw", name])


def table_key(name: str) -> dg.AssetKey:
    return dg.AssetKey(["warehouse", name])


def dataset_assets(plan: DatasetPlan) -> list[dg.AssetsDefinition]:
    """The two assets of ``plan``'s dataset; the workspace and store come from the ``mulu``
    resource when they run."""
    # No "from __future__ import annotations" here: Dagster inspects the parameter annotations.
    spec = plan.spec
    description = spec.description or spec.title
    common = {
        "entry_code": spec.entry_code,
        "spec": str(plan.spec_path),
        "cycle": plan.cycle.label if plan.cycle else "未说明",
    }

    @dg.asset(
        key=raw_key(spec.name),
        group_name="landing",
        kinds={"file"},
        description=f"{spec.title}: source files as received ({spec.source.url})",
        metadata={**common, "source": spec.source.url},
    )
    def raw_files(context: dg.AssetExecutionContext, mulu: MuluResource) -> dg.MaterializeResult:
        try:
            landed = land_source(mulu.workspace, spec)
        except SourceNotReady as exc:  # not whole yet: the table's load records it 'waiting'
            context.log.info(f"{spec.name}: waiting: {exc}")
            return dg.MaterializeResult(metadata={"status": "waiting", "reason": str(exc)})
        new = [f for f in landed if not f.already_present]
        context.log.info(f"{spec.name}: {len(landed)} file(s), {len(new)} new")
        return dg.MaterializeResult(
            metadata={
                "files": len(landed),
                "new_files": len(new),
                "bytes": sum(f.size for f in landed),
                "sha256": dg.MetadataValue.json([f.sha256 for f in landed]),
            }
        )

    @dg.asset(
        key=table_key(spec.name),
        deps=[raw_key(spec.name)],
        group_name="warehouse",
        kinds={"duckdb", "parquet"},
        description=description,
        metadata={**common, "table": spec.name, "load_mode": spec.load.mode},
        check_specs=quality_check_specs(spec),
        output_required=False,
        freshness_policy=freshness_policy_for(plan),
    )
    def warehouse_table(context: dg.AssetExecutionContext, mulu: MuluResource):
        workspace, store = mulu.workspace, mulu.store
        # A review killed half-way is completed or undone before the dataset loads again.
        settle_reviews(store, workspace, dataset=spec.name)
        result = load_validated(store, workspace, spec)
        # Register the latest published load, not just this run's: a load recovered after a
        # crash (published by the dead run) reports "unchanged" here but still needs registering.
        published = [
            r for r in load_history(workspace, spec.name, store=store) if r.status == "published"
        ]
        if published:
            latest = published[-1]
            register_load(
                mulu.directory(),
                entry_code=spec.entry_code,
                finished_at=latest.finished_at,
                rows=latest.rows,
                load_id=latest.load_id,
                dataset=spec.name,
            )
        context.log.info(
            f"{spec.name}: {result.status}, {result.rows} rows"
            f"{', quality ' + result.quality if result.quality else ''}"
        )
        if result.status == "waiting":  # the source is still being written: nothing loaded
            context.log.info(f"{spec.name}: waiting ({result.error}); the next run loads it")
        elif result.status != "blocked":  # a blocked load changed nothing: no materialisation
            yield dg.MaterializeResult(
                metadata={
                    "status": result.status,
                    "rows": dg.MetadataValue.int(result.rows or 0),
                    "load_id": result.load_id,
                    "snapshot_id": result.snapshot_id,
                    "fingerprint": result.fingerprint,
                    "table": result.table,
                    "quality": result.quality or "not validated",
                    "quality_run_id": result.quality_run_id,
                }
            )
        else:
            context.log.warning(
                f"{spec.name}: load {result.load_id} blocked by quality run "
                f"{result.quality_run_id}; the live table is unchanged "
                f"(mulu quality show {result.quality_run_id})"
            )
        yield from check_results(store, spec, result.quality_run_id)

    return [raw_files, warehouse_table]
