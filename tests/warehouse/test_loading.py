"""The warehouse loader: real files of every format, a real DuckLake, real versions."""

from __future__ import annotations

import datetime as dt
import os
import time
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest
from loading_fixtures import (
    ROSTER_COLUMNS,
    ROSTER_HEADER,
    ROSTER_ROWS,
    lake_rows,
    loads,
    roster_records,
    write_csv,
    write_json,
    write_parquet,
    write_spec,
    write_xlsx,
)

from schemas.errors import InvalidInput
from warehouse.lake import connect_lake, snapshots, table_versions
from warehouse.landing import land
from warehouse.load import (
    GateVerdict,
    HeldRowsMissing,
    LoadConflict,
    LoadNotFound,
    LoadResult,
    SchemaDriftError,
    SourceError,
    commit,
    dataset,
    early,
    load_dataset,
    load_history,
    publish,
    publish_held,
    reject_held,
    stage,
    staging,
)
from warehouse.read import read_source
from warehouse.workspace import Workspace

# The roster as the lake holds it (ROSTER_ROWS typed; blank cells NULL).
ROSTER_TYPED = [
    ("张三", "010101199003074514", 3, Decimal("1250.50"), dt.date(2026, 1, 5)),
    ("李四", "110101198507151234", 1, Decimal("830.00"), dt.date(2026, 2, 11)),
    ("王五", None, None, None, dt.date(2026, 3, 3)),
    ("赵六", "0011223344556677X", 5, Decimal("2100.00"), dt.date(2026, 4, 1)),
]


def lake_snapshot_count(workspace: Workspace) -> int:
    con = connect_lake(workspace, read_only=True)
    try:
        return len(snapshots(con))
    finally:
        con.close()


def versions(workspace: Workspace, table: str) -> list[dict]:
    con = connect_lake(workspace, read_only=True)
    try:
        return table_versions(con, table)
    finally:
        con.close()


# --- formats -------------------------------------------------------------------------------
@pytest.mark.slow
def test_gbk_csv_with_title_and_units_rows(workspace, sources, specs):
    path = write_csv(
        sources / "城乡低保对象_202610.csv",
        ROSTER_HEADER,
        ROSTER_ROWS,
        encoding="gbk",
        above=["××区城乡低保对象名单"],
        below=[["", "", "人", "元", ""]],
    )
    spec = write_spec(specs, "dibao", path, encoding="GBK", header_row=2, skip_rows=1)

    result = load_dataset(workspace, spec)

    assert isinstance(result, LoadResult)
    assert (result.status, result.rows, result.dataset) == ("published", 4, "dibao")
    assert result.table == "lake.main.dibao"
    assert Path(result.location) == workspace.lake_dir / "main" / "dibao"
    assert any(Path(result.location).glob("*.parquet"))
    assert result.schema == [
        ("person_name", "VARCHAR"),
        ("id_card_no", "VARCHAR"),
        ("household_size", "INTEGER"),
        ("monthly_allowance", "DECIMAL(10,2)"),
        ("approved_on", "DATE"),
    ]
    assert result.started_at <= result.finished_at
    assert "+" not in result.finished_at
    # 身份证号 stays text with its leading zeros; Chinese survives the GBK round trip.
    assert lake_rows(workspace, "dibao", order_by="approved_on") == ROSTER_TYPED
    [row] = loads(workspace, "dibao")
    assert row["status"] == "published"
    assert row["snapshot_id"] == result.snapshot_id
    assert row["rows"] == 4
    assert row["fingerprint"] == result.fingerprint
    assert row["entry_code"] == "301005/000012"
    assert row["table_name"] == "lake.main.dibao"
    [source] = row["sources"]
    assert source["url"] == str(path)
    assert Path(source["landed_path"]).exists()
    assert row["schema"][2] == ("household_size", "INTEGER")
    # Staging holds nothing once the load is done (no transcoded copy, no staged Parquet).
    assert (
        not list((workspace.staging_dir / "dibao").glob("*"))
        if (workspace.staging_dir / "dibao").exists()
        else True
    )
    # The lake commit carries the load's identity.
    [version] = versions(workspace, "dibao")
    assert version["extra_info"]["load_id"] == result.load_id
    assert version["extra_info"]["dataset"] == "dibao"
    assert version["extra_info"]["sources"] == [source["sha256"]]


@pytest.mark.slow
def test_utf8_csv_with_bom(workspace, sources, specs):
    path = sources / "roster.csv"
    path.parent.mkdir(parents=True)
    body = write_csv(sources / "plain.csv", ROSTER_HEADER, ROSTER_ROWS).read_bytes()
    path.write_bytes(b"\xef\xbb\xbf" + body)  # the BOM sits right before 姓名
    spec = write_spec(specs, "bom_roster", path)
    assert load_dataset(workspace, spec).rows == 4
    assert lake_rows(workspace, "bom_roster", order_by="approved_on") == ROSTER_TYPED


@pytest.mark.slow
def test_excel_with_a_chinese_sheet_name(workspace, sources, specs):
    rows = [list(r) for r in ROSTER_ROWS]
    rows[0][2], rows[0][3] = 3, 1250.5  # numeric cells
    rows[0][4] = dt.datetime(2026, 1, 5)  # a real Excel date cell, not text
    rows.insert(2, [None] * 5)  # an empty row in the middle is not a record, nor the end
    path = write_xlsx(
        sources / "低保名单.xlsx",
        "低保名单(10月)",
        ROSTER_HEADER,
        rows,
        title="××区城乡低保对象名单",
    )
    spec = write_spec(specs, "dibao_xlsx", path, sheet="低保名单(10月)", header_row=2)
    assert load_dataset(workspace, spec).rows == 4
    assert lake_rows(workspace, "dibao_xlsx", order_by="approved_on") == ROSTER_TYPED
    # The same sheet by its 0-based index.
    spec = write_spec(specs, "dibao_xlsx_index", path, sheet=1, header_row=2)
    assert load_dataset(workspace, spec).rows == 4


def test_excel_drift_names_the_spreadsheet_row(workspace, sources, specs):
    rows = [list(r) for r in ROSTER_ROWS]
    rows[3][2] = "五口"
    path = write_xlsx(sources / "低保名单.xlsx", "名单", ROSTER_HEADER, rows, title="标题")
    spec = write_spec(specs, "dibao_xlsx", path, sheet="名单", header_row=2)
    with pytest.raises(SchemaDriftError) as caught:
        load_dataset(workspace, spec)
    # Title in row 1, header in row 2, the fourth data row is spreadsheet row 6.
    assert (caught.value.column, caught.value.row) == ("家庭人口", 6)


@pytest.mark.slow
def test_json_array_and_ndjson(workspace, sources, specs):
    records = roster_records()
    records[0]["家庭人口"] = 3  # JSON numbers and numeric strings both fit an integer column
    write_json(sources / "roster.json", records)
    write_json(sources / "roster.ndjson", records, lines=True)
    for name, file in (("roster_json", "roster.json"), ("roster_ndjson", "roster.ndjson")):
        spec = write_spec(specs, name, sources / file)
        assert load_dataset(workspace, spec).rows == 4
        assert lake_rows(workspace, name, order_by="approved_on") == ROSTER_TYPED


@pytest.mark.slow
def test_parquet(workspace, sources, specs):
    write_parquet(
        sources / "roster.parquet",
        {
            "姓名": ["张三", "李四"],
            "身份证号": ["010101199003074514", None],
            "家庭人口": [3, 1],
            "月保障金额(元)": [1250.5, 830.0],
            "审批日期": [dt.date(2026, 1, 5), dt.date(2026, 2, 11)],
        },
    )
    spec = write_spec(specs, "roster_pq", sources / "roster.parquet")
    assert load_dataset(workspace, spec).rows == 2
    assert lake_rows(workspace, "roster_pq", order_by="approved_on") == [
        ("张三", "010101199003074514", 3, Decimal("1250.50"), dt.date(2026, 1, 5)),
        ("李四", None, 1, Decimal("830.00"), dt.date(2026, 2, 11)),
    ]


@pytest.mark.slow
def test_a_glob_of_csvs_is_unioned_by_name(workspace, sources, specs):
    write_csv(sources / "低保_202609.csv", ROSTER_HEADER, ROSTER_ROWS[:2])
    # Another month with the columns in another order and an extra column: matched by name.
    order = [4, 3, 2, 1, 0]
    write_csv(
        sources / "低保_202610.csv",
        [ROSTER_HEADER[i] for i in order] + ["备注"],
        [[row[i] for i in order] + ["新增"] for row in ROSTER_ROWS[2:]],
    )
    spec = write_spec(specs, "dibao_glob", sources / "低保_*.csv")
    assert load_dataset(workspace, spec).rows == 4
    assert lake_rows(workspace, "dibao_glob", order_by="approved_on") == ROSTER_TYPED


def test_read_source_gives_every_column_with_file_and_row(tmp_path, sources, specs):
    path = write_csv(
        sources / "a.csv",
        ROSTER_HEADER + ["备注"],
        [r + ["x"] for r in ROSTER_ROWS],
        above=["标题"],
    )
    spec = write_spec(specs, "a", path, header_row=2)
    con = duckdb.connect()
    relation = read_source(con, spec, [path])
    assert relation.columns == ROSTER_HEADER + [
        "备注",
        "_source_index",
        "_source_file",
        "_source_row",
    ]
    rows = relation.order("_source_row").fetchall()
    assert rows[0][0] == "张三"
    assert rows[0][-1] == 3
    assert rows[2][1] is None  # an empty cell is NULL, not ""


# --- modes and versions --------------------------------------------------------------------
@pytest.mark.slow
def test_replace_keeps_the_old_version_readable(workspace, sources, specs):
    path = sources / "roster.csv"
    write_csv(path, ROSTER_HEADER, ROSTER_ROWS)
    spec = write_spec(specs, "dibao", path)
    first = load_dataset(workspace, spec)
    write_csv(path, ROSTER_HEADER, ROSTER_ROWS[:1])
    second = load_dataset(workspace, spec)
    assert (second.status, second.rows) == ("published", 1)
    assert second.snapshot_id > first.snapshot_id
    assert len(lake_rows(workspace, "dibao")) == 1
    assert (
        lake_rows(workspace, "dibao", version=first.snapshot_id, order_by="approved_on")
        == ROSTER_TYPED
    )
    assert [v["snapshot_id"] for v in versions(workspace, "dibao")] == [
        first.snapshot_id,
        second.snapshot_id,
    ]


@pytest.mark.slow
def test_replace_with_changed_columns_recreates_the_table(workspace, sources, specs):
    path = sources / "roster.csv"
    write_csv(path, ROSTER_HEADER, ROSTER_ROWS)
    first = load_dataset(workspace, write_spec(specs, "dibao", path))
    spec = write_spec(specs, "dibao", path, columns=ROSTER_COLUMNS[:2])
    second = load_dataset(workspace, spec, force=True)  # same file, new spec
    assert second.status == "published"
    assert len(lake_rows(workspace, "dibao")[0]) == 2
    assert len(lake_rows(workspace, "dibao", version=first.snapshot_id)[0]) == 5
    assert len(versions(workspace, "dibao")) == 2


@pytest.mark.slow
def test_append_adds_each_file_once(workspace, sources, specs):
    write_csv(sources / "低保_202609.csv", ROSTER_HEADER, ROSTER_ROWS[:2])
    spec = write_spec(specs, "dibao", sources / "低保_*.csv", mode="append")
    first = load_dataset(workspace, spec)
    write_csv(sources / "低保_202610.csv", ROSTER_HEADER, ROSTER_ROWS[2:])
    second = load_dataset(workspace, spec)  # the glob now matches both months
    assert (first.rows, second.rows) == (2, 2)  # September is not appended again
    assert lake_rows(workspace, "dibao", order_by="approved_on") == ROSTER_TYPED
    assert len(lake_rows(workspace, "dibao", version=first.snapshot_id)) == 2
    assert len(versions(workspace, "dibao")) == 2
    assert load_dataset(workspace, spec).status == "unchanged"
    assert len(versions(workspace, "dibao")) == 2


@pytest.mark.slow
def test_appending_a_file_without_rows_publishes_nothing_new(workspace, sources, specs):
    write_csv(sources / "低保_202609.csv", ROSTER_HEADER, ROSTER_ROWS[:2])
    spec = write_spec(specs, "dibao", sources / "低保_*.csv", mode="append")
    first = load_dataset(workspace, spec)
    write_csv(sources / "低保_202610.csv", ROSTER_HEADER, [])  # the month had no cases
    second = load_dataset(workspace, spec)
    assert (second.status, second.rows, second.snapshot_id) == ("published", 0, first.snapshot_id)
    assert len(lake_rows(workspace, "dibao")) == 2
    assert load_dataset(workspace, spec).status == "unchanged"


@pytest.mark.slow
def test_upsert_replaces_rows_by_key_and_the_last_duplicate_wins(workspace, sources, specs):
    path = sources / "roster.csv"
    write_csv(path, ROSTER_HEADER, [ROSTER_ROWS[0], ROSTER_ROWS[1]])
    spec = write_spec(specs, "dibao", path, mode="upsert", primary_key=["id_card_no"])
    first = load_dataset(workspace, spec)
    moved = ["张三", "010101199003074514", "4", "1300", "2026-10-01"]
    later = ["张三", "010101199003074514", "2", "900", "2026-10-02"]  # same key, later row
    new = ["钱七", "220101199001011234", "1", "500", "2026-10-03"]
    write_csv(path, ROSTER_HEADER, [moved, new, later])
    second = load_dataset(workspace, spec)
    assert second.rows == 2
    assert lake_rows(workspace, "dibao", order_by="id_card_no") == [
        ("张三", "010101199003074514", 2, Decimal("900.00"), dt.date(2026, 10, 2)),
        ROSTER_TYPED[1],
        ("钱七", "220101199001011234", 1, Decimal("500.00"), dt.date(2026, 10, 3)),
    ]
    assert lake_rows(workspace, "dibao", version=first.snapshot_id, order_by="id_card_no") == [
        ROSTER_TYPED[0],
        ROSTER_TYPED[1],
    ]
    assert len(versions(workspace, "dibao")) == 2


@pytest.mark.slow
def test_an_unchanged_source_writes_nothing(workspace, sources, specs):
    path = write_csv(sources / "roster.csv", ROSTER_HEADER, ROSTER_ROWS)
    spec = write_spec(specs, "dibao", path)
    first = load_dataset(workspace, spec)
    before = lake_snapshot_count(workspace)
    again = load_dataset(workspace, spec)
    assert (again.status, again.rows, again.snapshot_id) == ("unchanged", 0, first.snapshot_id)
    assert lake_snapshot_count(workspace) == before
    assert [r["status"] for r in loads(workspace, "dibao")] == ["published", "unchanged"]
    forced = load_dataset(workspace, spec, force=True)
    assert forced.status == "published"
    assert forced.snapshot_id > first.snapshot_id


@pytest.mark.slow
def test_publishing_the_same_sources_twice_writes_once(workspace, sources, specs):
    """A lake commit nobody recorded (its process died) is found, not repeated."""
    path = write_csv(sources / "roster.csv", ROSTER_HEADER, ROSTER_ROWS)
    spec = write_spec(specs, "dibao", path, mode="append")
    landed = land(str(path), workspace.landing_dir, "dibao")
    staged = stage(workspace, spec, landed)
    assert staged.rows == 4
    assert staged.path.parent == workspace.staging_dir / "dibao"
    assert [s.sha256 for s in staged.sources] == [landed[0].sha256]
    first = publish(workspace, spec, staged)
    again = publish(workspace, spec, stage(workspace, spec, landed))
    assert (first.status, again.status) == ("published", "unchanged")
    assert again.snapshot_id == first.snapshot_id
    assert len(lake_rows(workspace, "dibao")) == 4
    # load_dataset records that commit as the published load it was, and appends nothing.
    rerun = load_dataset(workspace, spec)
    assert rerun.status == "unchanged"
    assert {r["load_id"]: (r["status"], r["snapshot_id"]) for r in loads(workspace, "dibao")} == {
        first.load_id: ("published", first.snapshot_id),
        rerun.load_id: ("unchanged", first.snapshot_id),
    }
    assert len(lake_rows(workspace, "dibao")) == 4


@pytest.mark.slow
def test_a_moved_workspace_still_loads_and_reads(tmp_path, sources, specs):
    path = write_csv(sources / "roster.csv", ROSTER_HEADER, ROSTER_ROWS)
    spec = write_spec(specs, "dibao", path, mode="append")
    load_dataset(Workspace(tmp_path / "old").ensure(), spec)
    (tmp_path / "old").rename(tmp_path / "new")
    moved = Workspace(tmp_path / "new")
    write_csv(path, ROSTER_HEADER, ROSTER_ROWS[:1])
    assert load_dataset(moved, spec).rows == 1
    assert len(lake_rows(moved, "dibao")) == 5


# --- drift ---------------------------------------------------------------------------------
def _assert_failed_cleanly(workspace, dataset, error, live_before):
    """The raw file stays landed, the live table is as it was, the attempt is recorded."""
    landed = [p for p in (workspace.landing_dir / dataset).iterdir() if p.suffix == ".csv"]
    assert len(landed) == 2  # the good file of the first load and the drifted one
    assert lake_rows(workspace, dataset) == live_before
    last = loads(workspace, dataset)[-1]
    assert last["status"] == "failed"
    assert last["error"] == str(error)
    assert (last["error_file"], last["error_column"], last["error_row"]) == (
        error.file,
        error.column,
        error.row,
    )
    assert last["finished_at"]
    assert last["fingerprint"]
    history = load_history(workspace, dataset)
    assert (history[-1].status, history[-1].error) == ("failed", str(error))


@pytest.mark.slow
@pytest.mark.parametrize("drift", ["renamed", "dropped", "retyped"])
def test_schema_drift_fails_before_anything_is_written(workspace, sources, specs, drift):
    path = sources / "城乡低保对象.csv"
    write_csv(path, ROSTER_HEADER, ROSTER_ROWS)
    spec = write_spec(specs, "dibao", path)
    load_dataset(workspace, spec)
    live_before = lake_rows(workspace, "dibao")
    snapshots_before = lake_snapshot_count(workspace)

    header, rows = list(ROSTER_HEADER), [list(r) for r in ROSTER_ROWS * 2]
    if drift == "renamed":
        header[2] = "家庭人数"
    elif drift == "dropped":
        header.pop(2)
        rows = [r[:2] + r[3:] for r in rows]
    else:
        rows[5][2] = "abc"  # header is line 1, so the sixth row is line 7
    write_csv(path, header, rows)
    with pytest.raises(SchemaDriftError) as caught:
        load_dataset(workspace, spec)
    error = caught.value
    assert isinstance(error, InvalidInput)  # bad source data: CLI exit 2, HTTP 400
    assert error.file == str(path)
    assert error.column == "家庭人口"
    message = str(error)
    assert str(path) in message
    assert "家庭人口" in message
    if drift == "renamed":
        assert "missing column 家庭人口 (household_size)" in message
        assert "unexpected column 家庭人数" in message
    elif drift == "dropped":
        assert "missing column 家庭人口" in message
        assert "unexpected" not in message
    else:
        assert error.row == 7
        assert "'abc' at row 7" in message
        assert "integer" in message
    _assert_failed_cleanly(workspace, "dibao", error, live_before)
    assert lake_snapshot_count(workspace) == snapshots_before


def test_bad_values_are_counted_and_the_first_is_named(workspace, sources, specs):
    rows = [list(r) for r in ROSTER_ROWS]
    rows[1][2], rows[3][2] = "12.5", "0x10"  # rounding or hex would silently change numbers
    rows[2][4] = "2026-13-45"
    path = write_csv(sources / "roster.csv", ROSTER_HEADER, rows)
    with pytest.raises(SchemaDriftError) as caught:
        load_dataset(workspace, write_spec(specs, "dibao", path))
    message = str(caught.value)
    assert "2 values are not: first '12.5' at row 3" in message
    assert "审批日期 (approved_on) is date in the spec, but 1 value is not" in message
    assert (caught.value.column, caught.value.row) == ("家庭人口", 3)


def test_a_malformed_csv_names_the_file(workspace, sources, specs):
    path = sources / "roster.csv"
    path.parent.mkdir(parents=True)
    path.write_text(
        "姓名,身份证号,家庭人口,月保障金额(元),审批日期\n张三,1,2,3,2026-01-01\n"
        "李四,1,2,3,2026-01-01,多余\n",
        encoding="utf-8",
    )
    with pytest.raises(SourceError) as caught:
        load_dataset(workspace, write_spec(specs, "dibao", path))
    assert caught.value.file == str(path)
    assert str(path) in str(caught.value)
    assert loads(workspace, "dibao")[-1]["status"] == "failed"


def test_invalid_gbk_bytes_name_the_line(workspace, sources, specs):
    path = write_csv(sources / "roster.csv", ROSTER_HEADER, ROSTER_ROWS, encoding="gbk")
    path.write_bytes(path.read_bytes() + b"\xff\xfe,1,2,3,2026-01-01\r\n")
    with pytest.raises(SourceError) as caught:
        load_dataset(workspace, write_spec(specs, "dibao", path, encoding="gbk"))
    assert caught.value.row == 6


def test_a_missing_source_is_a_recorded_failure(workspace, sources, specs):
    spec = write_spec(specs, "dibao", sources / "nothing_*.csv")
    with pytest.raises(SourceError, match="no files match"):
        load_dataset(workspace, spec)
    assert loads(workspace, "dibao")[-1]["status"] == "failed"


@pytest.mark.slow
def test_text_to_types(workspace, sources, specs):
    columns = [
        {"name": "flag", "source": "是否有效", "type": "boolean"},
        {"name": "seen_at", "source": "上报时间", "type": "timestamp"},
        {"name": "day", "source": "日期", "type": "date", "format": "%d/%m/%Y"},
        {"name": "amount", "source": "金额", "type": "double"},
        {"name": "note", "source": "备注"},
    ]
    rows = [
        ["是", "2026-10-01 08:30:00", "05/10/2026", " 1.5 ", "  保留空格 "],
        ["否", "2026/10/02 09:15", "2026-10-06", "2", "\u3000"],
        ["TRUE", "2026-10-03T00:00:00Z", "20261007", "", "0012"],
        ["0", "2026年10月04日", "2026年10月8日", "-3", ""],
    ]
    path = write_csv(sources / "types.csv", [c["source"] for c in columns], rows)
    load_dataset(workspace, write_spec(specs, "types", path, columns=columns))
    assert lake_rows(workspace, "types", order_by="seen_at") == [
        (True, dt.datetime(2026, 10, 1, 8, 30), dt.date(2026, 10, 5), 1.5, "  保留空格 "),
        (False, dt.datetime(2026, 10, 2, 9, 15), dt.date(2026, 10, 6), 2.0, None),
        (True, dt.datetime(2026, 10, 3, 8, 0), dt.date(2026, 10, 7), None, "0012"),
        (False, dt.datetime(2026, 10, 4), dt.date(2026, 10, 8), -3.0, None),
    ]


# --- written once: the staged file becomes the table's data file ----------------------------
def _data_files(workspace: Workspace, table: str, version: int | None = None) -> list[Path]:
    """The Parquet files a version of the table reads (default: the latest)."""
    con = connect_lake(workspace, read_only=True)
    try:
        at = f", snapshot_version => {int(version)}" if version is not None else ""
        return sorted(
            Path(row[0])
            for row in con.execute(
                f"SELECT data_file FROM ducklake_list_files('lake', '{table}'{at})"
            ).fetchall()
        )
    finally:
        con.close()


def _relative_paths(workspace: Workspace) -> list[bool]:
    con = connect_lake(workspace, read_only=True)
    try:
        return [
            bool(row[0])
            for row in con.execute(
                "SELECT path_is_relative FROM __ducklake_metadata_lake.ducklake_data_file"
            ).fetchall()
        ]
    finally:
        con.close()


@pytest.fixture
def staged_inodes(monkeypatch) -> list[int]:
    """The inode of every staged file, as load_dataset stages it (from the landed files or,
    early, from the local source files)."""
    inodes: list[int] = []
    original = staging.staged

    def recording_stage(*args, **kwargs):
        staged = original(*args, **kwargs)
        inodes.append(staged.path.stat().st_ino)
        return staged

    for module in (staging, dataset):  # stage() and load_dataset's early staging
        monkeypatch.setattr(module, "staged", recording_stage)
    return inodes


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["replace", "append"])
def test_the_staged_file_becomes_the_data_file_without_a_rewrite(
    workspace, sources, specs, staged_inodes, mode
):
    write_csv(sources / "低保_202609.csv", ROSTER_HEADER, ROSTER_ROWS[:2])
    spec = write_spec(specs, "dibao", sources / "低保_*.csv", mode=mode)
    first = load_dataset(workspace, spec)
    write_csv(sources / "低保_202610.csv", ROSTER_HEADER, ROSTER_ROWS[2:])
    second = load_dataset(workspace, spec)

    table_dir = workspace.lake_dir / "main" / "dibao"
    [first_file] = _data_files(workspace, "dibao", first.snapshot_id)
    files = _data_files(workspace, "dibao")
    new_file = (set(files) - {first_file}).pop()
    # Each load's data file is its staged file, moved (same inode), not copied or rewritten.
    for result, file, inode in (
        (first, first_file, staged_inodes[0]),
        (second, new_file, staged_inodes[1]),
    ):
        assert file.parent == table_dir
        assert file.name.startswith(f"mulu-{result.load_id}-")
        assert file.stat().st_ino == inode
    assert files == ([new_file] if mode == "replace" else sorted([first_file, new_file]))
    assert not list(table_dir.glob("ducklake-*"))  # DuckLake wrote no data file of its own
    assert not list((workspace.staging_dir / "dibao").glob("*"))
    assert all(_relative_paths(workspace))  # so a moved workspace still finds them
    # The rows are right, the old version is still readable. (replace loads both months.)
    assert lake_rows(workspace, "dibao", order_by="approved_on") == ROSTER_TYPED
    assert (
        lake_rows(workspace, "dibao", version=first.snapshot_id, order_by="approved_on")
        == ROSTER_TYPED[:2]
    )
    rows = [2, 4 if mode == "replace" else 2]
    assert [first.rows, second.rows] == [r["rows"] for r in loads(workspace, "dibao")] == rows


@pytest.mark.slow
def test_upsert_still_inserts_its_rows(workspace, sources, specs, staged_inodes):
    path = write_csv(sources / "roster.csv", ROSTER_HEADER, ROSTER_ROWS)
    spec = write_spec(specs, "dibao", path, mode="upsert", primary_key=["id_card_no"])
    load_dataset(workspace, spec)
    [file] = _data_files(workspace, "dibao")
    assert file.name.startswith("ducklake-")
    assert file.stat().st_ino != staged_inodes[0]
    assert lake_rows(workspace, "dibao", order_by="approved_on") == ROSTER_TYPED


@pytest.mark.slow
def test_a_failed_commit_keeps_the_table_and_leaves_no_file(workspace, sources, specs, monkeypatch):
    path = write_csv(sources / "roster.csv", ROSTER_HEADER, ROSTER_ROWS)
    spec = write_spec(specs, "dibao", path)
    first = load_dataset(workspace, spec)
    table_dir = workspace.lake_dir / "main" / "dibao"
    files_before = sorted(table_dir.iterdir())

    def fail(*args, **kwargs):  # inside the transaction, after the file was registered
        raise RuntimeError("the catalog went away")

    monkeypatch.setattr(commit, "set_commit_message", fail)
    write_csv(path, ROSTER_HEADER, ROSTER_ROWS[:1])
    with pytest.raises(RuntimeError, match="went away"):
        load_dataset(workspace, spec)
    assert lake_rows(workspace, "dibao", order_by="approved_on") == ROSTER_TYPED
    assert sorted(table_dir.iterdir()) == files_before  # the moved file was deleted again
    assert not list((workspace.staging_dir / "dibao").glob("*.parquet"))
    assert [r["status"] for r in loads(workspace, "dibao")] == ["published", "failed"]
    assert lake_snapshot_count(workspace) == first.snapshot_id + 1  # snapshots 0 … first


@pytest.mark.slow
def test_the_next_load_deletes_data_files_of_dead_loads(workspace, sources, specs):
    path = write_csv(sources / "roster.csv", ROSTER_HEADER, ROSTER_ROWS)
    spec = write_spec(specs, "dibao", path, mode="append")
    load_dataset(workspace, spec)
    table_dir = workspace.lake_dir / "main" / "dibao"
    [live] = table_dir.iterdir()
    # What a load killed between moving its file in and committing leaves behind.
    orphan = table_dir / "mulu-20261125T000000-deadbeef-00000000.parquet"
    orphan.write_bytes(live.read_bytes())
    # DuckLake's own uncommitted files are orphans too once no snapshot references them (the
    # dataset's lock keeps a live load of it from running meanwhile); what is not Parquet stays.
    stray = table_dir / "ducklake-uncommitted.parquet"
    stray.write_bytes(live.read_bytes())
    other = table_dir / "notes.txt"
    other.write_text("not a data file")
    write_csv(path, ROSTER_HEADER, ROSTER_ROWS[:1])
    assert load_dataset(workspace, spec).rows == 1
    assert not orphan.exists()
    assert not stray.exists()
    assert other.exists()
    assert live.exists()
    assert len(lake_rows(workspace, "dibao")) == 5


@pytest.mark.slow
def test_append_with_a_column_the_spec_no_longer_has(workspace, sources, specs):
    path = write_csv(sources / "roster.csv", ROSTER_HEADER, ROSTER_ROWS[:2])
    load_dataset(workspace, write_spec(specs, "dibao", path, mode="append"))
    write_csv(path, ROSTER_HEADER, ROSTER_ROWS[2:])
    fewer = [c for c in ROSTER_COLUMNS if c["name"] != "household_size"]
    assert (
        load_dataset(workspace, write_spec(specs, "dibao", path, mode="append", columns=fewer)).rows
        == 2
    )
    rows = lake_rows(workspace, "dibao", order_by="approved_on")
    assert [r[2] for r in rows] == [3, 1, None, None]  # the table keeps the column: NULL
    assert [r[0] for r in rows] == ["张三", "李四", "王五", "赵六"]


# --- the check is the write: a failed cast is found again, exactly ------------------------
@pytest.mark.parametrize("mode", ["replace", "append", "upsert"])
def test_drift_in_the_second_file_names_that_file_and_row(workspace, sources, specs, mode):
    first = write_csv(sources / "低保_202609.csv", ROSTER_HEADER, ROSTER_ROWS)
    rows = [list(r) for r in ROSTER_ROWS * 3]
    rows[7][4], rows[9][4] = "2026-02-30", "下月"  # lines 9 and 11
    second = write_csv(sources / "低保_202610.csv", ROSTER_HEADER, rows)
    spec = write_spec(
        specs,
        "dibao",
        sources / "低保_*.csv",
        mode=mode,
        primary_key=["person_name"] if mode == "upsert" else (),
    )
    with pytest.raises(SchemaDriftError) as caught:
        load_dataset(workspace, spec)
    assert (caught.value.file, caught.value.column, caught.value.row) == (
        str(second),
        "审批日期",
        9,
    )
    assert "2 values are not: first '2026-02-30' at row 9" in str(caught.value)
    assert str(first) not in str(caught.value)
    assert not list(workspace.lake_dir.rglob("*.parquet"))
    assert not list((workspace.staging_dir / "dibao").glob("*"))


@pytest.mark.slow
def test_typed_values_with_surrounding_blanks(workspace, sources, specs):
    columns = [
        {"name": "n", "source": "人数", "type": "integer"},
        {"name": "amount", "source": "金额", "type": "decimal(10,2)"},
        {"name": "day", "source": "日期", "type": "date"},
        {"name": "day_fmt", "source": "日期2", "type": "date", "format": "%Y-%d-%m"},
        {"name": "flag", "source": "有效", "type": "boolean"},
        {"name": "seen_at", "source": "时间", "type": "timestamp"},
    ]
    rows = [
        [
            " 3 ",
            "\u30001.5\u3000",
            " 2026-01-05\t",
            " 2026-05-10 ",
            " 是 ",
            "2026-10-03T00:00:00Z ",
        ],
        ["+04", "2", "20260106", "2026-06-10", "否", "2026-10-04 08:00:00"],
        [
            "5.0\u3000",
            " 3.25",
            "\u30002026年1月7日",
            "\u30002026-07-10",
            "TRUE\t",
            "\u30002026-10-05 09:00:00",
        ],
    ]
    path = write_csv(sources / "types.csv", [c["source"] for c in columns], rows)
    load_dataset(workspace, write_spec(specs, "types", path, columns=columns))
    assert lake_rows(workspace, "types", order_by="n") == [
        (
            3,
            Decimal("1.50"),
            dt.date(2026, 1, 5),
            dt.date(2026, 10, 5),
            True,
            dt.datetime(2026, 10, 3, 8, 0),
        ),  # the offset is honoured with a blank after it
        (
            4,
            Decimal("2.00"),
            dt.date(2026, 1, 6),
            dt.date(2026, 10, 6),
            False,
            dt.datetime(2026, 10, 4, 8, 0),
        ),
        (
            5,
            Decimal("3.25"),
            dt.date(2026, 1, 7),
            dt.date(2026, 10, 7),
            True,
            dt.datetime(2026, 10, 5, 9, 0),
        ),
    ]


# --- staging a local source while it lands ---------------------------------------------------
@pytest.mark.slow
def test_a_source_rewritten_during_its_load_loads_the_landed_content(
    workspace, sources, specs, monkeypatch
):
    """Local sources are staged while they are landed; if the file changes meanwhile, those
    rows are thrown away and the landed content (the one the load records) is staged."""
    path = write_csv(sources / "低保.csv", ROSTER_HEADER, ROSTER_ROWS[:2])
    spec = write_spec(specs, "dibao", path)
    original, calls = staging.stage_rows, []

    def rewrite_after_first_staging(*args, **kwargs):
        calls.append(args[4])
        if len(calls) == 1:  # the early staging: once the old content has landed, rewrite it
            deadline = time.monotonic() + 30
            while not list((workspace.landing_dir / "dibao").glob("*.csv")):
                assert time.monotonic() < deadline, "landing never finished"
                time.sleep(0.01)
            write_csv(path, ROSTER_HEADER, ROSTER_ROWS)
        return original(*args, **kwargs)

    for module in (staging, early):  # staging the landed files, staging early
        monkeypatch.setattr(module, "stage_rows", rewrite_after_first_staging)
    result = load_dataset(workspace, spec)

    assert len(calls) == 2  # staged early, then again from the landed file
    assert calls[0][0][0] == path
    assert calls[1][0][0].parent == workspace.landing_dir / "dibao"
    [source] = loads(workspace, "dibao")[0]["sources"]
    landed_rows = len(Path(source["landed_path"]).read_text(encoding="utf-8").splitlines()) - 1
    assert landed_rows == 2  # landed before the rewrite
    assert result.rows == landed_rows == len(lake_rows(workspace, "dibao"))
    assert not list((workspace.staging_dir / "dibao").glob("*.parquet"))


@pytest.mark.slow
def test_an_unchanged_source_is_not_staged_and_a_touched_one_stays_unchanged(
    workspace, sources, specs, monkeypatch
):
    path = write_csv(sources / "低保.csv", ROSTER_HEADER, ROSTER_ROWS)
    spec = write_spec(specs, "dibao", path)
    assert load_dataset(workspace, spec).status == "published"
    staged = []
    original = staging.stage_rows
    for module in (staging, early):
        monkeypatch.setattr(
            module, "stage_rows", lambda *a, **k: staged.append(a[4]) or original(*a, **k)
        )

    assert load_dataset(workspace, spec).status == "unchanged"
    assert staged == []  # same size and mtime: nothing staged early; the hash agrees
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    assert load_dataset(workspace, spec).status == "unchanged"  # staged early, thrown away
    assert len(staged) == 1
    assert not list((workspace.staging_dir / "dibao").glob("*.parquet"))
    assert len(versions(workspace, "dibao")) == 1


# --- held loads ------------------------------------------------------------------------------
def _blocking_gate(staged):
    """A quality gate that blocks every load (the real one is quality's; the loader only needs
    its verdict)."""
    return GateVerdict(run_id=staged.load_id, blocked=True)


@pytest.mark.slow
def test_a_blocked_load_is_held_until_a_steward_publishes_it(workspace, sources, specs):
    path = write_csv(sources / "低保.csv", ROSTER_HEADER, ROSTER_ROWS)
    spec = write_spec(specs, "dibao", path)
    first = load_dataset(workspace, spec)
    write_csv(path, ROSTER_HEADER, ROSTER_ROWS[:2])

    blocked = load_dataset(workspace, spec, gate=_blocking_gate)
    assert (blocked.status, blocked.quality, blocked.rows) == ("blocked", "blocked", 2)
    assert blocked.snapshot_id == first.snapshot_id  # the live version stays
    held = workspace.held_dir / "dibao" / f"{blocked.load_id}.parquet"
    assert held.exists()
    assert len(lake_rows(workspace, "dibao")) == 4
    assert loads(workspace, "dibao")[-1]["held_path"] == str(held)
    # The same files again: a steward judges them; validating again adds nothing.
    assert load_dataset(workspace, spec, gate=_blocking_gate).status == "unchanged"

    with pytest.raises(LoadNotFound, match="no load nope"):
        publish_held(workspace, spec, "nope")
    with pytest.raises(LoadConflict, match="is published, not blocked") as caught:
        publish_held(workspace, spec, first.load_id)
    assert caught.value.http_status == 409
    published = publish_held(workspace, spec, blocked.load_id)
    assert (published.status, published.rows) == ("published", 2)
    assert published.snapshot_id > first.snapshot_id
    assert published.started_at == blocked.started_at
    assert len(lake_rows(workspace, "dibao")) == 2
    assert not held.exists()
    record = {r["load_id"]: r for r in loads(workspace, "dibao")}[blocked.load_id]
    assert (record["status"], record["held_path"]) == ("published", None)
    with pytest.raises(LoadConflict):  # decided already
        reject_held(workspace, "dibao", blocked.load_id)


@pytest.mark.slow
def test_a_held_load_older_than_the_live_one_is_refused_unless_forced(workspace, sources, specs):
    path = write_csv(sources / "低保.csv", ROSTER_HEADER, ROSTER_ROWS)
    spec = write_spec(specs, "dibao", path)
    blocked = load_dataset(workspace, spec, gate=_blocking_gate)
    write_csv(path, ROSTER_HEADER, ROSTER_ROWS[:1])
    newer = load_dataset(workspace, spec)
    assert (blocked.status, newer.status) == ("blocked", "published")

    with pytest.raises(LoadConflict, match=f"load {newer.load_id} was published after"):
        publish_held(workspace, spec, blocked.load_id)
    assert len(lake_rows(workspace, "dibao")) == 1
    assert publish_held(workspace, spec, blocked.load_id, over_newer=True).rows == 4
    assert len(lake_rows(workspace, "dibao")) == 4


@pytest.mark.slow
def test_a_rejected_load_is_kept_out_and_its_missing_rows_are_reported(workspace, sources, specs):
    path = write_csv(sources / "低保.csv", ROSTER_HEADER, ROSTER_ROWS)
    spec = write_spec(specs, "dibao", path)
    kept_out = load_dataset(workspace, spec, gate=_blocking_gate)
    reject_held(workspace, "dibao", kept_out.load_id)
    assert not (workspace.held_dir / "dibao" / f"{kept_out.load_id}.parquet").exists()
    assert loads(workspace, "dibao")[-1]["status"] == "rejected"
    assert (workspace.landing_dir / "dibao").is_dir()  # the raw files stay
    assert load_dataset(workspace, spec).status == "unchanged"  # rejected files stay out

    write_csv(path, ROSTER_HEADER, ROSTER_ROWS[:3])
    gone = load_dataset(workspace, spec, gate=_blocking_gate)
    (workspace.held_dir / "dibao" / f"{gone.load_id}.parquet").unlink()
    with pytest.raises(HeldRowsMissing, match="are gone") as caught:
        publish_held(workspace, spec, gone.load_id)
    assert caught.value.http_status == 503
    assert loads(workspace, "dibao")[-1]["status"] == "blocked"  # still the steward's to decide


def test_a_new_lake_catalog_is_in_wal_mode(tmp_path):
    """Readers must never block a commit: the lake's SQLite catalog is created in WAL mode,
    and nothing but DuckDB ever opens it (read here from the file's header bytes, not with a
    second SQLite library)."""
    from warehouse.lake import catalog_path, connect_lake
    from warehouse.workspace import Workspace

    workspace = Workspace(tmp_path / "ws")
    connect_lake(workspace).close()
    header = catalog_path(workspace).read_bytes()[:100]
    assert header.startswith(b"SQLite format 3\x00")
    assert header[18:20] == b"\x02\x02"  # file format read/write versions 2: WAL
    assert [p.name for p in catalog_path(workspace).parent.glob(".lake.sqlite.*")] == []
    con = connect_lake(workspace, read_only=True)
    try:
        snapshots = con.sql("SELECT count(*) FROM ducklake_snapshots('lake')").fetchone()
    finally:
        con.close()
    assert snapshots is not None
    assert snapshots[0] >= 1
