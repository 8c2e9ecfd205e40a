"""Dagster assets for one department dataset, made from its spec by a factory.

Two assets per dataset: ``raw/<name>`` lands the source files unchanged (content-addressed,
never overwritten) and ``warehouse/<name>`` loads them into a versioned lake table and
registers the load with the catalogue entry. The 35k catalogue entries are data, never assets:
only datasets with a spec become assets.
"""


import dagster as dg

from catalog.datasets import DatasetPlan, register_load
from catalog.directory import Directory
from warehouse.landing import land
from warehouse.loading import load_dataset, load_history
from warehouse.workspace import Workspace

PIPELINE_USER = "pipeline"


def raw_key(name: str) -> dg.AssetKey:
    return dg.AssetKey(["raw", name])


def table_key(name: str) -> dg.AssetKey:
    return dg.AssetKey(["warehouse", name])


def dataset_assets(plan: DatasetPlan, workspace: Workspace) -> list[dg.AssetsDefinition]:
    # No "from __future__ import annotations" here: Dagster inspects the context annotation.
    spec = plan.spec
    description = spec.description or spec.title
    common = {"entry_code": spec.entry_code, "spec": str(plan.spec_path),
              "cycle": plan.cycle.label if plan.cycle else "未说明"}

    @dg.asset(key=raw_key(spec.name), group_name="landing", kinds={"file"},
              description=f"{spec.title}: source files as received ({spec.source.url})",
              metadata={**common, "source": spec.source.url})
    def raw_files(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
        landed = land(spec.source.url, workspace.landing_dir, spec.name,
                      storage_options=spec.source.storage_options or None)
        new = [f for f in landed if not f.already_present]
        context.log.info(f"{spec.name}: {len(landed)} file(s), {len(new)} new")
        return dg.MaterializeResult(metadata={
            "files": len(landed), "new_files": len(new),
            "bytes": sum(f.size for f in landed),
            "sha256": dg.MetadataValue.json([f.sha256 for f in landed]),
        })

    @dg.asset(key=table_key(spec.name), deps=[raw_key(spec.name)], group_name="warehouse",
              kinds={"duckdb", "parquet"}, description=description,
              metadata={**common, "table": spec.name, "load_mode": spec.load.mode})
    def warehouse_table(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
        result = load_dataset(workspace, spec)
        # Register the latest published load, not just this run's: a load recovered after a
        # crash (published by the dead run) reports "unchanged" here but still needs registering.
        published = [r for r in load_history(workspace, spec.name) if r.status == "published"]
        if published:
            latest = published[-1]
            directory = Directory.open(workspace, user=PIPELINE_USER)
            try:
                register_load(directory, entry_code=spec.entry_code, finished_at=latest.finished_at,
                              rows=latest.rows, load_id=latest.load_id, dataset=spec.name)
            finally:
                directory.close()
        context.log.info(f"{spec.name}: {result.status}, {result.rows} rows")
        return dg.MaterializeResult(metadata={
            "status": result.status, "rows": dg.MetadataValue.int(result.rows or 0),
            "load_id": result.load_id, "snapshot_id": result.snapshot_id,
            "fingerprint": result.fingerprint, "table": result.table,
        })

    return [raw_files, warehouse_table]
