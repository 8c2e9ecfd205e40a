"""The quality gate end to end: real files, real GE on DuckDB, a real lake and metadata DB."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest
from loading_fixtures import lake_rows, loads, write_csv, write_spec

from quality.gate import load_validated
from quality.runs import RunNotFound, get_run, list_runs, review_run
from schemas.errors import Conflict, InvalidInput, NotFound
from schemas.identity import make_id_card
from warehouse.load import load_dataset
from warehouse.store import Store
from warehouse.workspace import Workspace

TODAY = dt.date(2026, 11, 25)
COLUMNS = [
    {"name": "id_card_no", "source": "身份证号", "pii": "身份证号", "format": "身份证号"},
    {"name": "person_name", "source": "姓名", "nullable": False},
    {"name": "monthly_allowance", "source": "保障金额", "type": "decimal(10,2)", "min": 0},
    {"name": "approved_on", "source": "认定日期", "type": "date"},
]
HEADER = [c["source"] for c in COLUMNS]
IDS = [make_id_card("320303", dt.date(1950 + i, 1 + i % 12, 1 + i % 28), i) for i in range(8)]
GOOD = [[IDS[i], f"居民{i}", f"{500 + i}.00", "2026-03-01"] for i in range(6)]
BAD_ID = IDS[6][:17] + ("0" if IDS[6][17] != "0" else "1")


def bad_rows() -> list[list[str]]:
    """GOOD plus: a wrong check digit, a repeated key, an empty name, a future date."""
    return [
        *GOOD,
        [BAD_ID, "错号", "600.00", "2026-03-01"],  # line 8
        [IDS[0], "重复", "610.00", "2026-03-02"],  # line 9: key of line 2 again
        [IDS[7], "", "620.00", "2026-03-03"],  # line 10: name empty
        [make_id_card("320303", dt.date(1990, 5, 5), 99), "未来", "630.00", "2027-01-01"],
    ]


@pytest.fixture
def store(workspace: Workspace):
    with Store.open(workspace) as opened:
        yield opened


@pytest.fixture
def roster(tmp_path: Path, workspace: Workspace):
    source = tmp_path / "exchange" / "低保.csv"
    write_csv(source, HEADER, GOOD)
    spec = write_spec(
        tmp_path / "datasets", "dibao", source, columns=COLUMNS, primary_key=["id_card_no"]
    )
    return source, spec


@pytest.mark.slow
def test_a_clean_load_passes_and_is_stored(workspace, store, roster):
    _, spec = roster
    result = load_validated(store, workspace, spec, today=TODAY, data_docs=False)
    assert (result.status, result.quality, result.rows) == ("published", "passed", 6)
    [run] = list_runs(store)
    assert run["run_id"] == result.load_id == result.quality_run_id
    assert (run["status"], run["errors"], run["warnings"], run["score"]) == ("passed", 0, 0, 100)
    assert loads(workspace, "dibao")[0]["quality"] == "passed"


@pytest.mark.slow
def test_a_bad_load_is_blocked_quarantined_and_the_old_version_stays(workspace, store, roster):
    source, spec = roster
    first = load_validated(store, workspace, spec, today=TODAY, data_docs=False)
    write_csv(source, HEADER, bad_rows())
    blocked = load_validated(store, workspace, spec, today=TODAY, data_docs=False)

    assert blocked.status == "blocked"
    assert blocked.snapshot_id == first.snapshot_id
    assert len(lake_rows(workspace, "dibao")) == 6  # the live table is the first version
    assert (workspace.held_dir / "dibao" / f"{blocked.load_id}.parquet").exists()
    run = get_run(store, blocked.quality_run_id)
    failed = {r["rule"]: r for r in run["results"] if not r["success"]}
    assert set(failed) == {
        "id_card_no:format",
        "primary_key",
        "person_name:nullable",
        "approved_on:not_future",
    }
    assert [
        failed[r]["unexpected_count"]
        for r in (
            "id_card_no:format",
            "primary_key",
            "person_name:nullable",
            "approved_on:not_future",
        )
    ] == [1, 2, 1, 1]
    # Samples name the source file and its line, PII masked.
    [sample] = failed["id_card_no:format"]["samples"]
    assert (sample["source_file"], sample["source_row"]) == (str(source), 8)
    assert sample["values"]["id_card_no"] == BAD_ID[:3] + "*" * 13 + BAD_ID[-2:]
    assert [s["source_row"] for s in failed["primary_key"]["samples"]] == [2, 9]
    # The quarantine table holds every failing row with its reasons, unmasked.
    quarantine = duckdb.sql(
        f"SELECT _source_row, _failed_rules, person_name FROM "
        f"read_parquet('{run['quarantine_path']}') ORDER BY 1"
    ).fetchall()
    assert quarantine == [
        (2, ["primary_key"], "居民0"),
        (8, ["id_card_no:format"], "错号"),
        (9, ["primary_key"], "重复"),
        (10, ["person_name:nullable"], None),
        (11, ["approved_on:not_future"], "未来"),
    ]
    assert run["quarantined_rows"] == 5
    assert run["score"] < 100
    # Running again on the same files validates nothing new: it waits for the steward.
    again = load_validated(store, workspace, spec, today=TODAY, data_docs=False)
    assert again.status == "unchanged"
    assert again.quality_run_id == blocked.quality_run_id
    assert len(list_runs(store)) == 2


@pytest.mark.slow
def test_a_steward_accepts_a_blocked_load_and_it_is_published(workspace, store, roster):
    source, spec = roster
    write_csv(source, HEADER, bad_rows())
    blocked = load_validated(store, workspace, spec, today=TODAY, data_docs=False)
    assert blocked.status == "blocked"
    assert list_runs(store, pending=True)[0]["run_id"] == blocked.quality_run_id

    outcome = review_run(
        store,
        workspace,
        blocked.quality_run_id[:12],
        "accept",
        reviewer="王科长",
        note="核实: 错号已通知民政局更正",
    )
    assert outcome["published"].status == "published"
    assert len(lake_rows(workspace, "dibao")) == len(bad_rows())
    run = get_run(store, blocked.quality_run_id)
    assert run["decision"] == "accepted"
    assert run["load"]["status"] == "published"
    assert [(r["action"], r["reviewer"]) for r in run["reviews"]] == [("accept", "王科长")]
    assert not (workspace.held_dir / "dibao" / f"{blocked.load_id}.parquet").exists()
    with pytest.raises(Conflict, match="accepted already"):
        review_run(store, workspace, blocked.quality_run_id, "reject", reviewer="王科长")


@pytest.mark.slow
def test_a_rejected_load_stays_out(workspace, store, roster):
    source, spec = roster
    load_validated(store, workspace, spec, today=TODAY, data_docs=False)
    write_csv(source, HEADER, bad_rows())
    blocked = load_validated(store, workspace, spec, today=TODAY, data_docs=False)
    review_run(store, workspace, blocked.quality_run_id, "reject", reviewer="王科长", note="退回")
    assert len(lake_rows(workspace, "dibao")) == 6
    assert loads(workspace, "dibao")[-1]["status"] == "rejected"
    assert not list((workspace.held_dir / "dibao").glob("*.parquet"))


@pytest.mark.slow
def test_waiving_every_blocking_failure_publishes(workspace, store, roster):
    source, spec = roster
    write_csv(source, HEADER, [*GOOD, [BAD_ID, "错号", "600.00", "2026-03-01"]])
    blocked = load_validated(store, workspace, spec, today=TODAY, data_docs=False)
    with pytest.raises(InvalidInput, match="not a failed expectation"):
        review_run(
            store, workspace, blocked.quality_run_id, "waive", rule="primary_key", reviewer="王科长"
        )
    outcome = review_run(
        store,
        workspace,
        blocked.quality_run_id,
        "waive",
        rule="id_card_no:format",
        reviewer="王科长",
        note="旧证号, 已核实",
    )
    assert outcome["published"] is not None
    assert len(lake_rows(workspace, "dibao")) == 7
    run = get_run(store, blocked.quality_run_id)
    assert (run["decision"], run["errors"], run["waived"], run["score"]) == ("accepted", 0, 1, 100)


@pytest.mark.slow
def test_warnings_publish_with_a_flag(workspace, store, tmp_path, roster):
    source, _ = roster
    write_csv(source, HEADER, [*GOOD, [BAD_ID, "错号", "600.00", "2026-03-01"]])
    spec = write_spec(
        tmp_path / "datasets", "dibao", source, columns=COLUMNS, primary_key=["id_card_no"]
    )
    spec = spec.model_copy(update={"severity": {"id_card_no:format": "warning"}})
    result = load_validated(store, workspace, spec, today=TODAY, data_docs=False)
    assert (result.status, result.quality) == ("published", "warned")
    [run] = list_runs(store, failed=True)
    assert (run["status"], run["warnings"], run["errors"]) == ("warned", 1, 0)
    assert len(lake_rows(workspace, "dibao")) == 7


@pytest.mark.slow
def test_accepting_old_rows_over_a_newer_version_is_refused(workspace, store, roster):
    source, spec = roster
    write_csv(source, HEADER, bad_rows())
    blocked = load_validated(store, workspace, spec, today=TODAY, data_docs=False)
    write_csv(source, HEADER, GOOD[:3])
    newer = load_validated(store, workspace, spec, today=TODAY, data_docs=False)
    assert newer.status == "published"
    with pytest.raises(Conflict, match="published after"):
        review_run(store, workspace, blocked.quality_run_id, "accept", reviewer="王科长")
    assert len(lake_rows(workspace, "dibao")) == 3
    review_run(
        store, workspace, blocked.quality_run_id, "accept", reviewer="王科长", over_newer=True
    )
    assert len(lake_rows(workspace, "dibao")) == len(bad_rows())


@pytest.mark.slow
def test_a_waiver_whose_publish_is_refused_records_nothing_and_can_be_retried(
    workspace, store, roster
):
    """A review is all or nothing: a waiver that would publish, refused because a newer load
    was published, leaves no waiver and no review behind, so the same waive can be retried
    (here over the newer load)."""
    source, spec = roster
    write_csv(source, HEADER, [*GOOD, [BAD_ID, "错号", "600.00", "2026-03-01"]])
    blocked = load_validated(store, workspace, spec, today=TODAY, data_docs=False)
    write_csv(source, HEADER, GOOD[:3])
    load_validated(store, workspace, spec, today=TODAY, data_docs=False)
    with pytest.raises(Conflict, match="published after"):
        review_run(
            store,
            workspace,
            blocked.quality_run_id,
            "waive",
            rule="id_card_no:format",
            reviewer="王科长",
        )
    run = get_run(store, blocked.quality_run_id)
    assert (run["decision"], run["errors"], run["waived"], run["reviews"]) == (None, 1, 0, [])
    assert run["load"]["status"] == "blocked"
    assert Path(run["load"]["held_path"]).exists()
    assert len(lake_rows(workspace, "dibao")) == 3
    outcome = review_run(
        store,
        workspace,
        blocked.quality_run_id,
        "waive",
        rule="id_card_no:format",
        reviewer="王科长",
        over_newer=True,
    )
    assert "published as snapshot" in outcome["outcome"]
    run = get_run(store, blocked.quality_run_id)
    assert (run["decision"], run["errors"], run["waived"]) == ("accepted", 0, 1)
    assert [r["outcome"] for r in run["reviews"]] == [outcome["outcome"]]
    assert len(lake_rows(workspace, "dibao")) == 7


@pytest.mark.slow
def test_review_errors_say_what_is_wrong(workspace, store, roster):
    """No such run or rule: NotFound; bad input: InvalidInput; the state forbids it: Conflict."""
    source, spec = roster
    with pytest.raises(RunNotFound, match="no quality run 'nope'"):
        get_run(store, "nope")
    with pytest.raises(RunNotFound):
        review_run(store, workspace, "nope", "accept", reviewer="王科长")
    passed = load_validated(store, workspace, spec, today=TODAY, data_docs=False)
    write_csv(source, HEADER, bad_rows())
    blocked = load_validated(store, workspace, spec, today=TODAY, data_docs=False)
    run_id = blocked.quality_run_id
    with pytest.raises(InvalidInput, match="unknown action"):
        review_run(store, workspace, run_id, "publish", reviewer="王科长")
    with pytest.raises(InvalidInput, match="needs the expectation"):
        review_run(store, workspace, run_id, "waive", reviewer="王科长")
    with pytest.raises(InvalidInput, match="reviewer"):
        review_run(store, workspace, run_id, "accept", reviewer="  ")
    with pytest.raises(InvalidInput, match="ambiguous"):  # both runs start with the year
        get_run(store, run_id[:4])
    with pytest.raises(NotFound, match="no expectation 'no_such_rule'") as missing:
        review_run(store, workspace, run_id, "waive", rule="no_such_rule", reviewer="王科长")
    assert not isinstance(missing.value, RunNotFound)
    review_run(store, workspace, run_id, "waive", rule="approved_on:not_future", reviewer="王科长")
    with pytest.raises(Conflict, match="waived already"):
        review_run(
            store, workspace, run_id, "waive", rule="approved_on:not_future", reviewer="王科长"
        )
    with pytest.raises(Conflict, match="was not blocked"):
        review_run(store, workspace, passed.quality_run_id, "accept", reviewer="王科长")
    # Nothing refused left a trace: one review, the run still waiting.
    run = get_run(store, run_id)
    assert [r["action"] for r in run["reviews"]] == ["waive"]
    assert run["decision"] is None


@pytest.mark.slow
def test_history_survives_a_restart(workspace, store, roster):
    """Runs and reviews are rows in the metadata DB: a new process reads them back."""
    source, spec = roster
    write_csv(source, HEADER, bad_rows())
    blocked = load_validated(store, workspace, spec, today=TODAY, data_docs=False)
    review_run(
        store,
        workspace,
        blocked.quality_run_id,
        "waive",
        rule="approved_on:not_future",
        reviewer="王科长",
        note="预约日期",
    )
    code = (
        "import json, sys; from pathlib import Path; from quality.runs import get_run; "
        "from warehouse.store import Store; from warehouse.workspace import Workspace; "
        "run = get_run(Store.open(Workspace(Path(sys.argv[1]))), sys.argv[2]); "
        "print(json.dumps([run['status'], run['waived'], len(run['results']), "
        "run['reviews'][0]['note']], ensure_ascii=False))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(workspace.root), blocked.quality_run_id],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).resolve().parents[1],
    )
    assert out.stdout.strip() == '["blocked", 1, 12, "预约日期"]'  # 11 rules + table:volume


def test_loads_without_the_gate_are_not_validated(workspace, store, roster):
    _, spec = roster
    result = load_dataset(workspace, spec)
    assert result.quality is None
    assert list_runs(store) == []
