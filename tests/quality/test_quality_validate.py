"""quality.validate: real Parquet files, real GE on DuckDB (SQL pushdown), no mocks."""

from __future__ import annotations

import datetime as dt

import duckdb
import pytest
from quality_fixtures import write_parquet

from quality.suites import sql_literal
from quality.validate import validate_parquet
from schemas.dataset_spec import DatasetSpec
from schemas.identity import ID_CARD_CHECK_CHARS, ID_CARD_WEIGHTS, make_id_card

TODAY = dt.date(2026, 11, 25)
ALICE = make_id_card("110101", dt.date(1990, 1, 1), 7)
BOB = make_id_card("310104", dt.date(1985, 6, 30), 12)
CAROL = make_id_card("440305", dt.date(2001, 2, 3), 456)
BAD_ID = ALICE[:17] + ("0" if ALICE[17] != "0" else "1")  # wrong check digit


def people_spec(**overrides) -> DatasetSpec:
    data = {
        "name": "dibao_recipients",
        "title": "城乡低保对象名单",
        "entry_code": "301005/000012",
        "source": {"url": "/srv/dibao.csv"},
        "columns": [
            {"name": "id_card_no", "pii": "身份证号", "format": "身份证号"},
            {"name": "person_name", "nullable": False},
            {"name": "gender", "allowed_values": ["男", "女"]},
            {"name": "monthly_allowance", "type": "decimal(10,2)", "min": 0, "max": 5000},
            {"name": "approved_on", "type": "date"},
        ],
        "primary_key": ["id_card_no"],
    }
    data.update(overrides)
    return DatasetSpec.model_validate(data)


CLEAN = [
    (ALICE, "张三", "男", 1200.5, dt.date(2024, 3, 1)),
    (BOB, "李四", "女", 800, dt.date(2025, 1, 15)),
    (CAROL, "王五", None, 0, None),
]


@pytest.fixture(scope="module")
def dirty_report(tmp_path_factory):
    rows = [
        *CLEAN,
        (ALICE, "张三", "男", 1200.5, dt.date(2024, 3, 1)),  # row 4: duplicate key
        (BAD_ID, "赵六", "男", 100, dt.date(2024, 3, 1)),  # row 5: bad check digit
        (make_id_card("110101", dt.date(1970, 1, 1), 1), None, "女", 100, None),  # 6: null name
        (make_id_card("110101", dt.date(1970, 1, 1), 2), "孙七", "未知", 100, None),  # 7: value
        (make_id_card("110101", dt.date(1970, 1, 1), 3), "周八", "男", 9999, None),  # 8: range
        (make_id_card("110101", dt.date(1970, 1, 1), 4), "吴九", "女", -1, None),  # 9: range
        (
            make_id_card("110101", dt.date(1970, 1, 1), 5),
            "郑十",
            "男",
            1,
            TODAY + dt.timedelta(days=1),
        ),  # 10: future
    ]
    path = write_parquet(tmp_path_factory.mktemp("dirty") / "dirty.parquet", rows)
    return validate_parquet(path, people_spec(), today=TODAY)


@pytest.mark.parametrize(
    ("rule", "count", "rows"),
    [
        ("primary_key", 2, [1, 4]),
        ("id_card_no:format", 1, [5]),
        ("person_name:nullable", 1, [6]),
        ("gender:allowed_values", 1, [7]),
        ("monthly_allowance:range", 2, [8, 9]),
        ("approved_on:not_future", 1, [10]),
    ],
)
def test_each_failure_is_caught_with_count_and_sample(dirty_report, rule, count, rows):
    result = dirty_report.result(rule)
    assert not result.success
    assert result.error is None
    assert result.unexpected_count == count
    assert result.element_count == 10
    assert [s["row_number"] for s in result.samples] == rows
    # the source row a person would look for (the loader's _source_row), and a reason
    assert [s["source_row"] for s in result.samples] == [r + 1 for r in rows]
    assert all(s["reason"] == result.description for s in result.samples)


def test_dirty_report_blocks_and_names_failures(dirty_report):
    assert dirty_report.blocked
    assert dirty_report.engine == "SqlAlchemyExecutionEngine"
    assert dirty_report.rows == 10
    assert {r.rule for r in dirty_report.failures} == {
        "primary_key",
        "id_card_no:format",
        "person_name:nullable",
        "gender:allowed_values",
        "monthly_allowance:range",
        "approved_on:not_future",
    }
    assert all(r.error is None for r in dirty_report.results)


def test_samples_show_values_and_mask_pii(dirty_report):
    sample = dirty_report.result("gender:allowed_values").samples[0]
    assert sample["values"] == {"gender": "未知"}
    bad = dirty_report.result("id_card_no:format").samples[0]["values"]["id_card_no"]
    assert bad != BAD_ID
    assert bad.startswith(BAD_ID[:3])
    assert bad.endswith(BAD_ID[-2:])
    assert "*" in bad


def test_report_as_records(dirty_report):
    records = dirty_report.to_records("run-1")
    assert records["quality_runs"][0]["blocked"] is True
    assert len(records["quality_results"]) == len(dirty_report.results)
    assert len(records["quality_samples"]) == sum(len(r.samples) for r in dirty_report.results)
    assert {s["rule"] for s in records["quality_samples"]} >= {"primary_key", "id_card_no:format"}


def test_clean_file_passes(tmp_path):
    spec = people_spec(
        checks=[
            {
                "expectation": "expect_column_values_to_match_regex",
                "column": "person_name",
                "regex": "^[^0-9]+$",
            },
            {
                "expectation": "expect_table_row_count_to_be_between",
                "min_value": 1,
                "max_value": 10,
            },
        ]
    )
    report = validate_parquet(write_parquet(tmp_path / "clean.parquet", CLEAN), spec, today=TODAY)
    failures = [(r.rule, r.error, r.unexpected_count) for r in report.failures]
    assert not report.blocked, failures
    assert not report.warnings, failures
    assert all(r.error is None for r in report.results)
    assert report.result("id_card_no:format").unexpected_count == 0


def test_warning_severity_reports_without_blocking(tmp_path):
    rows = [*CLEAN, ("bad", "赵六", "男", 1, None)]
    spec = people_spec(
        checks=[
            {
                "expectation": "expect_table_row_count_to_be_between",
                "min_value": 100,
                "severity": "warning",
            },
            {
                "expectation": "expect_column_values_to_match_regex",
                "column": "person_name",
                "regex": "^张",
                "severity": "warning",
            },
        ]
    )
    spec.columns[0].format = None  # only the warnings fail: no 身份证号 format here
    spec.primary_key.clear()
    report = validate_parquet(write_parquet(tmp_path / "w.parquet", rows), spec, today=TODAY)
    assert not report.blocked
    assert {r.rule for r in report.warnings} == {
        "check:0:expect_table_row_count_to_be_between",
        "check:1:expect_column_values_to_match_regex:person_name",
    }
    regex = report.result("check:1:expect_column_values_to_match_regex:person_name")
    assert regex.unexpected_count == 3
    assert [s["values"]["person_name"] for s in regex.samples] == ["李四", "王五", "赵六"]


@pytest.mark.slow
def test_type_and_missing_column_are_caught(tmp_path):
    path = tmp_path / "t.parquet"
    duckdb.connect().execute(
        f"COPY (SELECT '{ALICE}' AS id_card_no, 'x' AS person_name, '男' AS gender, "
        f"'12.5' AS monthly_allowance) TO {sql_literal(str(path))} (FORMAT parquet)"
    )
    report = validate_parquet(path, people_spec(), today=TODAY)
    assert report.blocked
    failed = {r.rule for r in report.failures}
    assert {"table:columns", "monthly_allowance:type"} <= failed
    assert report.result("monthly_allowance:type").observed_value == 1


@pytest.mark.slow
def test_million_rows_run_in_duckdb_not_pandas(tmp_path):
    """1M rows: GE's SQL engine (every metric a DuckDB query), not its pandas path."""
    path = tmp_path / "big.parquet"
    weighted = " + ".join(
        f"(ascii(substr(b, {i + 1}, 1)) - 48) * {w}" for i, w in enumerate(ID_CARD_WEIGHTS)
    )
    duckdb.connect().execute(
        f"COPY (SELECT b || substr('{ID_CARD_CHECK_CHARS}', (({weighted}) % 11) + 1, 1) "
        f"AS id_card_no, '名' || i AS person_name, CASE WHEN i % 2 = 0 THEN '男' ELSE '女' END "
        f"AS gender, (i % 5000)::DECIMAL(10,2) AS monthly_allowance, "
        f"DATE '2000-01-01' + (i % 9000)::INTEGER AS approved_on FROM (SELECT i, "
        f"'1101' || lpad((i // 365000)::VARCHAR, 2, '0') || "
        f"strftime(DATE '1930-01-01' + ((i // 1000) % 365)::INTEGER, '%Y%m%d') || "
        f"lpad((i % 1000)::VARCHAR, 3, '0') AS b FROM range(1000000) r(i))) "
        f"TO {sql_literal(str(path))} (FORMAT parquet)"
    )
    report = validate_parquet(path, people_spec(), today=TODAY)
    assert report.rows == 1_000_000
    assert report.engine == "SqlAlchemyExecutionEngine"  # not PandasExecutionEngine
    assert not report.blocked, [(r.rule, r.unexpected_count, r.error) for r in report.failures]
