"""The volume guard: a load whose row count moves too far from the published version is held
for a steward like any failed expectation. Real CSV files, the real gate (GE on DuckDB), a real
lake and metadata store; every blocked load leaves the live table's rows and checksum as they
were."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
import yaml
from loading_fixtures import loads, write_csv

from quality.gate import load_validated
from quality.runs import get_run, review_run
from quality.volume import RULE, judge_volume
from schemas.dataset_spec import Volume, load_spec
from warehouse.lake import connect_lake
from warehouse.store import Store
from warehouse.workspace import Workspace

TODAY = dt.date(2026, 11, 25)
HEADER = ["编号", "姓名", "金额"]
COLUMNS = [
    {"name": "item_id", "source": "编号", "type": "integer", "nullable": False},
    {"name": "person_name", "source": "姓名"},
    {"name": "amount", "source": "金额", "type": "decimal(10,2)"},
]


def rows(start: int, count: int) -> list[list[str]]:
    return [[str(i), f"居民{i}", f"{100 + i}.50"] for i in range(start, start + count)]


@pytest.fixture
def store(workspace: Workspace):
    with Store.open(workspace) as opened:
        yield opened


def make_spec(
    tmp_path: Path,
    source: Path,
    *,
    mode: str = "replace",
    volume: dict[str, Any] | None = None,
    primary_key: list[str] | None = None,
):
    data: dict[str, Any] = {
        "name": "relief",
        "title": "临时救助名单",
        "entry_code": "301005/000012",
        "source": {"url": str(source)},
        "columns": COLUMNS,
        "load": {"mode": mode},
    }
    if primary_key:
        data["primary_key"] = primary_key
    if volume is not None:
        data["volume"] = volume
    path = tmp_path / "datasets" / "relief.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return load_spec(path)


def live(workspace: Workspace) -> tuple[int, int | None]:
    """The published table's row count and checksum (a hash over every row)."""
    con = connect_lake(workspace, read_only=True)
    try:
        count, checksum = con.execute(
            "SELECT count(*), sum(hash(t)) FROM lake.main.relief AS t"
        ).fetchone()
        return int(count), None if checksum is None else int(checksum)
    finally:
        con.close()


def volume_result(store: Store, run_id: str) -> dict[str, Any]:
    [result] = [r for r in get_run(store, run_id)["results"] if r["rule"] == RULE]
    return result


def load(store, workspace, spec):
    return load_validated(store, workspace, spec, today=TODAY, data_docs=False)


def publish_100(tmp_path, workspace, store, **spec_options):
    """A live table of 100 rows; returns (source path, spec, its live count and checksum)."""
    source = write_csv(tmp_path / "exchange" / "救助.csv", HEADER, rows(0, 100))
    spec = make_spec(tmp_path, source, **spec_options)
    first = load(store, workspace, spec)
    assert (first.status, first.rows) == ("published", 100)
    before = live(workspace)
    assert before[0] == 100
    assert before[1] is not None
    return source, spec, before


# --- through the gate ----------------------------------------------------------------------
@pytest.mark.slow
def test_a_header_only_replace_is_blocked_and_the_live_table_stays(tmp_path, workspace, store):
    source, spec, before = publish_100(tmp_path, workspace, store)
    write_csv(source, HEADER, [])  # the department sent the header only

    blocked = load(store, workspace, spec)

    assert (blocked.status, blocked.quality, blocked.rows) == ("blocked", "blocked", 0)
    assert live(workspace) == before
    assert (workspace.held_dir / "relief" / f"{blocked.load_id}.parquet").exists()
    run = get_run(store, blocked.quality_run_id)
    assert (run["status"], run["errors"]) == ("blocked", 1)
    result = volume_result(store, blocked.quality_run_id)
    assert (result["success"], result["severity"]) == (0, "error")
    assert result["description"] == (
        "空表替换: 0 rows would replace 100 published; an empty replace always waits for a steward"
    )
    # Every other expectation passed: the guard alone held it.
    assert [r["rule"] for r in run["results"] if not r["success"]] == [RULE]
    assert loads(workspace, "relief")[-1]["status"] == "blocked"
    # Running again on the same file does not publish it either: it waits for the steward.
    assert load(store, workspace, spec).status == "unchanged"
    assert live(workspace) == before


@pytest.mark.slow
def test_an_empty_replace_blocks_even_without_a_drop_limit(tmp_path, workspace, store):
    source, spec, before = publish_100(tmp_path, workspace, store, volume={"max_drop": None})
    write_csv(source, HEADER, [])
    assert load(store, workspace, spec).status == "blocked"
    assert live(workspace) == before


@pytest.mark.slow
@pytest.mark.parametrize(
    ("kept", "status", "reason"),
    [
        (40, "blocked", "行数骤降: 40 rows would replace 100 published (-60%, max_drop 50%)"),
        (50, "published", "行数正常: 100 published rows → 50 after this replace (-50%; "),
        (60, "published", "行数正常: 100 published rows → 60 after this replace (-40%; "),
    ],
)
def test_a_replace_losing_more_than_half_blocks(tmp_path, workspace, store, kept, status, reason):
    source, spec, before = publish_100(tmp_path, workspace, store)
    write_csv(source, HEADER, rows(0, kept))

    result = load(store, workspace, spec)

    assert result.status == status
    assert volume_result(store, result.quality_run_id)["description"].startswith(reason)
    if status == "blocked":
        assert live(workspace) == before
    else:
        assert live(workspace)[0] == kept


@pytest.mark.slow
def test_the_drop_limit_is_set_in_the_spec(tmp_path, workspace, store):
    source, spec, before = publish_100(tmp_path, workspace, store, volume={"max_drop": "10%"})
    write_csv(source, HEADER, rows(0, 85))
    blocked = load(store, workspace, spec)
    assert blocked.status == "blocked"
    assert "(-15%, max_drop 10%)" in volume_result(store, blocked.quality_run_id)["description"]
    assert live(workspace) == before


@pytest.mark.slow
@pytest.mark.parametrize(("mode", "new_rows"), [("replace", 250), ("append", 150)])
def test_growth_beyond_max_growth_blocks(tmp_path, workspace, store, mode, new_rows):
    source, spec, before = publish_100(
        tmp_path, workspace, store, mode=mode, volume={"max_growth": 1}
    )
    write_csv(source, HEADER, rows(100, new_rows))  # the table would hold 250 rows

    blocked = load(store, workspace, spec)

    assert blocked.status == "blocked"
    assert volume_result(store, blocked.quality_run_id)["description"] == (
        "行数骤增: 100 published rows would become 250 (+150%, max_growth 100%)"
    )
    assert live(workspace) == before


@pytest.mark.slow
def test_growth_within_max_growth_publishes(tmp_path, workspace, store):
    source, spec, _ = publish_100(
        tmp_path, workspace, store, mode="append", volume={"max_growth": 1}
    )
    write_csv(source, HEADER, rows(100, 100))  # exactly twice as many
    assert load(store, workspace, spec).status == "published"
    assert live(workspace)[0] == 200


@pytest.mark.slow
def test_an_upsert_counts_only_the_keys_it_adds(tmp_path, workspace, store):
    source, spec, before = publish_100(
        tmp_path,
        workspace,
        store,
        mode="upsert",
        primary_key=["item_id"],
        volume={"max_growth": "20%"},
    )
    # All 100 keys again (updated) and 10 new ones: +10%, within the limit.
    changed = [[i, f"更新{i}", a] for i, _, a in rows(0, 100)] + rows(100, 10)
    write_csv(source, HEADER, changed)
    assert load(store, workspace, spec).status == "published"
    assert live(workspace)[0] == 110
    before = live(workspace)
    # 30 new keys among 40 rows: 140 rows, +27% over 110.
    write_csv(source, HEADER, rows(100, 40))
    blocked = load(store, workspace, spec)
    assert blocked.status == "blocked"
    assert volume_result(store, blocked.quality_run_id)["description"].startswith(
        "行数骤增: 110 published rows would become 140 (+27.27%, max_growth 20%)"
    )
    assert live(workspace) == before


@pytest.mark.slow
def test_a_zero_row_append_is_a_no_op(tmp_path, workspace, store):
    source, spec, before = publish_100(tmp_path, workspace, store, mode="append")
    published = store.loads.last_published("relief")
    # The month had no cases: a new file with the header only.
    write_csv(source.with_name("救助_202611.csv"), HEADER, [])
    spec = make_spec(tmp_path, source.parent / "救助*.csv", mode="append")

    result = load(store, workspace, spec)

    assert (result.status, result.quality, result.rows) == ("published", "passed", 0)
    assert result.snapshot_id == published["snapshot_id"]  # no new lake snapshot
    assert live(workspace) == before
    assert volume_result(store, result.quality_run_id)["description"] == (
        "空追加: 0 rows appended to 100 published; nothing to publish, a no-op"
    )
    last = loads(workspace, "relief")[-1]
    assert (last["status"], last["rows"], last["held_path"]) == ("published", 0, None)
    assert not any(workspace.held_dir.glob("relief/*"))
    # The empty file counts as delivered: the next run has nothing new to judge.
    assert load(store, workspace, spec).status == "unchanged"
    assert live(workspace) == before


@pytest.mark.slow
def test_a_zero_row_append_is_not_held_by_min_rows(tmp_path, workspace, store):
    source, spec, before = publish_100(tmp_path, workspace, store, mode="append")
    write_csv(source.with_name("救助_202611.csv"), HEADER, [])
    spec = make_spec(tmp_path, source.parent / "救助*.csv", mode="append", volume={"min_rows": 500})
    assert load(store, workspace, spec).status == "published"
    assert live(workspace) == before
    write_csv(source.with_name("救助_202612.csv"), HEADER, rows(100, 1))  # 101 < 500
    blocked = load(store, workspace, spec)
    assert blocked.status == "blocked"
    assert live(workspace) == before


@pytest.mark.slow
def test_a_steward_accepts_a_blocked_drop_and_it_is_published(tmp_path, workspace, store):
    source, spec, before = publish_100(tmp_path, workspace, store)
    write_csv(source, HEADER, [])
    blocked = load(store, workspace, spec)
    assert blocked.status == "blocked"
    assert live(workspace) == before

    done = review_run(
        store, workspace, blocked.quality_run_id, "accept", reviewer="steward", note="已停办"
    )

    assert done["published"].status == "published"
    assert live(workspace) == (0, None)
    assert get_run(store, blocked.quality_run_id)["decision"] == "accepted"
    assert store.loads.get(blocked.load_id)["status"] == "published"
    assert not (workspace.held_dir / "relief" / f"{blocked.load_id}.parquet").exists()


@pytest.mark.slow
def test_waiving_the_volume_rule_publishes_and_rejecting_keeps_the_table(
    tmp_path, workspace, store
):
    source, spec, before = publish_100(tmp_path, workspace, store)
    write_csv(source, HEADER, rows(0, 30))
    blocked = load(store, workspace, spec)
    assert blocked.status == "blocked"

    review_run(store, workspace, blocked.quality_run_id, "reject", reviewer="steward")
    assert live(workspace) == before
    assert store.loads.get(blocked.load_id)["status"] == "rejected"

    write_csv(source, HEADER, rows(0, 20))  # a new file, blocked again, then waived
    again = load(store, workspace, spec)
    assert again.status == "blocked"
    assert live(workspace) == before
    done = review_run(
        store, workspace, again.quality_run_id, "waive", reviewer="steward", rule=RULE
    )
    assert "published as snapshot" in done["outcome"]
    assert live(workspace)[0] == 20


@pytest.mark.slow
def test_a_first_load_is_held_only_by_min_rows(tmp_path, workspace, store):
    source = write_csv(tmp_path / "exchange" / "救助.csv", HEADER, rows(0, 3))
    spec = make_spec(tmp_path, source, volume={"min_rows": 5, "max_growth": 0})
    blocked = load(store, workspace, spec)
    assert blocked.status == "blocked"
    assert volume_result(store, blocked.quality_run_id)["description"] == (
        "行数不足: the table would hold 3 rows, fewer than min_rows 5"
    )
    write_csv(source, HEADER, rows(0, 8))  # max_growth has nothing to compare with yet
    first = load(store, workspace, spec)
    assert first.status == "published"
    assert volume_result(store, first.quality_run_id)["description"].startswith("首次装载: 8 rows")


@pytest.mark.slow
def test_a_first_empty_replace_publishes_by_default(tmp_path, workspace, store):
    source = write_csv(tmp_path / "exchange" / "救助.csv", HEADER, [])
    spec = make_spec(tmp_path, source)
    assert load(store, workspace, spec).status == "published"
    assert live(workspace) == (0, None)


# --- the bounds ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("volume", "mode", "published", "after", "ok"),
    [
        ({}, "replace", 100, 0, False),
        ({"max_drop": None}, "replace", 100, 0, False),
        ({"max_drop": 1}, "replace", 100, 0, False),
        ({}, "replace", 100, 49, False),
        ({}, "replace", 100, 50, True),
        ({}, "replace", 100, 10_000, True),  # growth is unlimited by default
        ({"max_growth": "100%"}, "replace", 100, 201, False),
        ({"max_growth": "100%"}, "replace", 100, 200, True),
        ({"max_drop": 0}, "replace", 100, 99, False),
        ({"min_rows": 10}, "append", 5, 9, False),
        ({"min_rows": 10}, "append", 5, 10, True),
        ({}, "replace", None, 0, True),  # a first load: only min_rows
        ({"min_rows": 1}, "replace", None, 0, False),
        ({"max_growth": 0}, "append", 0, 50, True),  # over an empty table: nothing to compare
        ({"min_rows": 500}, "append", 100, 100, True),  # zero rows appended: a no-op
        ({}, "replace", 0, 0, True),
    ],
)
def test_judge_volume(volume, mode, published, after, ok):
    staged = after - (published or 0) if mode == "append" else after
    verdict = judge_volume(
        Volume.model_validate(volume), mode, published=published, staged=staged, rows_after=after
    )
    assert verdict.ok is ok, verdict.reason
    assert verdict.reason.split(":")[0] in {
        "行数正常",
        "行数骤降",
        "行数骤增",
        "行数不足",
        "空表替换",
        "首次装载",
        "空表装载",
        "空追加",
    }
