"""The demo's planted defects are caught by the gate: each is a failed expectation with
failing rows, and the blocked loads are not live. Real files, real GE, a real lake."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from pathlib import Path

import pytest

from catalog.demo import generate_district
from catalog.demo.datasets import DEMO_SEVERITY, write_demo_datasets
from quality.gate import load_validated
from quality.runs import get_run
from schemas.dataset_spec import load_spec
from warehouse.analyst import open_session
from warehouse.store import Store
from warehouse.workspace import Workspace

pytestmark = pytest.mark.slow  # the module's demo load takes ~10 s

SEED, TODAY, SCALE = 2024, dt.date(2026, 11, 15), 0.01
BLOCKED = {"dibao_recipients", "enterprise_registrations", "medical_insurance_settlements"}


@pytest.fixture(scope="module")
def loaded(tmp_path_factory):
    root = tmp_path_factory.mktemp("quality-demo")
    workspace = Workspace(root / "ws").ensure()
    district = generate_district(SEED, today=TODAY)
    datasets = write_demo_datasets(workspace.root, district, seed=SEED, scale=SCALE)
    results = {}
    with Store.open(workspace) as store:
        for ds in datasets:
            spec = load_spec(ds.spec_path)
            results[ds.name] = (
                ds,
                spec,
                load_validated(
                    store, workspace, spec, today=TODAY, data_docs=ds.name == "dibao_recipients"
                ),
            )
        yield workspace, store, results


def rule_of(spec, defect: str) -> str:
    """The suite rule that counts a planted defect ("column:unique|min|max|…")."""
    column, kind = defect.split(":")
    if kind == "unique" and spec.primary_key == [column]:
        return "primary_key"
    return f"{column}:range" if kind in ("min", "max") else defect


def test_every_planted_defect_is_a_failed_expectation_with_failing_rows(loaded):
    _, store, results = loaded
    checked = 0
    for _name, (ds, spec, result) in results.items():
        run = get_run(store, result.quality_run_id)
        failed = {r["rule"]: r for r in run["results"] if not r["success"]}
        planted = Counter()
        for defect, rows in ds.defect_counts.items():
            planted[rule_of(spec, defect)] += rows
        for rule, rows in planted.items():
            assert rule in failed, (ds.name, rule)
            found = failed[rule]
            if rule == "primary_key" or rule.endswith(":unique"):
                # GE counts every row of a repeated key: the copies and what they copy.
                assert rows < found["unexpected_count"] <= 2 * rows, (ds.name, rule)
            else:
                assert found["unexpected_count"] == rows, (ds.name, rule)
            assert found["samples"], (ds.name, rule)
            assert all(s["source_file"] and s["source_row"] for s in found["samples"]), (
                ds.name,
                rule,
            )
            checked += 1
        # Nothing fails that was not planted (row counts are checks of their own).
        assert set(failed) <= set(planted) | {r for r in failed if r.startswith("check:")}
    assert checked >= 12


def test_blocked_loads_are_not_live_and_warned_ones_are(loaded):
    workspace, _, results = loaded
    statuses = {name: result.status for name, (_, _, result) in results.items()}
    assert {n for n, s in statuses.items() if s == "blocked"} == BLOCKED
    assert {n for n, (_, _, r) in results.items() if r.quality == "warned"} == set(DEMO_SEVERITY)
    con = open_session(workspace)
    try:
        tables = {
            row[0]
            for row in con.execute(
                "SELECT table_name FROM duckdb_tables() WHERE database_name = 'lake'"
            ).fetchall()
        }
        assert tables == set(results) - BLOCKED
        quarantined = {
            row[0]
            for row in con.execute(
                "SELECT view_name FROM duckdb_views() WHERE schema_name = 'quarantine'"
            ).fetchall()
        }
        assert quarantined == BLOCKED
        bad_ids = con.execute(
            "SELECT count(*) FROM quarantine.dibao_recipients WHERE "
            "list_contains(_failed_rules, 'id_card_no:format')"
        ).fetchone()[0]
    finally:
        con.close()
    ds = results["dibao_recipients"][0]
    assert bad_ids == ds.defect_counts["id_card_no:format"]


def test_data_docs_are_built_for_a_run(loaded):
    workspace, store, results = loaded
    run = get_run(store, results["dibao_recipients"][2].quality_run_id)
    page = run["data_docs"]
    assert page
    assert page.endswith(".html")
    assert Path(page).is_relative_to(workspace.quality_docs_dir)
    html = Path(page).read_text(encoding="utf-8")
    assert "id_card_no:format" in html
