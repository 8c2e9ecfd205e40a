"""quality.data_docs: real Parquet, real GE validation on DuckDB, real Data Docs files; no mocks."""

from __future__ import annotations

import datetime as dt
import html
import re
import subprocess
import sys
from pathlib import Path

import pytest
from quality_fixtures import write_parquet

from quality.data_docs import DataDocsError, build_data_docs
from quality.validate import validate_parquet
from schemas.dataset_spec import DatasetSpec
from schemas.identity import make_id_card

REPO = Path(__file__).resolve().parents[2]
TODAY = dt.date(2026, 11, 25)
ALICE = make_id_card("110101", dt.date(1990, 1, 1), 7)
BOB = make_id_card("310104", dt.date(1985, 6, 30), 12)
BAD_ID = ALICE[:17] + ("0" if ALICE[17] != "0" else "1")  # wrong check digit


def people_spec() -> DatasetSpec:
    return DatasetSpec.model_validate(
        {
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
    )


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    rows = [
        (ALICE, "张三", "男", 1200.5, dt.date(2024, 3, 1)),
        (BOB, "李四", "女", 800, dt.date(2025, 1, 15)),
        (ALICE, "张三", "男", 1200.5, dt.date(2024, 3, 1)),  # duplicate key
        (BAD_ID, "赵六", "男", 100, dt.date(2024, 3, 1)),  # bad check digit
        (make_id_card("110101", dt.date(1970, 1, 1), 1), None, "女", 100, None),  # null name
    ]
    path = write_parquet(tmp_path_factory.mktemp("dirty") / "dirty.parquet", rows)
    report = validate_parquet(path, people_spec(), today=TODAY)
    assert {r.rule for r in report.failures} == {
        "primary_key",
        "id_card_no:format",
        "person_name:nullable",
    }
    return report


def text_of(page: Path) -> str:
    """The page's visible text (no scripts or styles, tags removed, whitespace collapsed)."""
    markup = re.sub(r"<(script|style)\b.*?</\1>", " ", page.read_text(encoding="utf-8"), flags=re.S)
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", markup)))


def test_run_page_shows_expectations_and_failures(report, tmp_path):
    site = tmp_path / "docs"
    page = build_data_docs(
        report.ge_result, site_dir=site, run_id="run-1", pii_columns={"id_card_no"}
    )

    assert page.is_file()
    assert page.parent.parent == site / "validations" / "dibao_recipients" / "run-1"
    assert page.name == "staged-batch.html"
    assert (site / "index.html").is_file()
    assert (site / "static").is_dir()
    text = text_of(page)
    assert "Run Name run-1" in text
    assert "Status: Failed" in text
    assert f"Evaluated Expectations {len(report.results)}" in text
    assert "Unsuccessful Expectations 3" in text
    # every expectation, named by its rule, with the suite's description
    for result in report.results:
        assert f"{result.rule}: {result.description}" in text
    # the failures: GE's failure icon on each, unexpected counts, the masked duplicate key
    assert page.read_text(encoding="utf-8").count("fa-times text-danger") == 1 + 3
    assert "primary_key: primary key (id_card_no) repeats 2 unexpected values found" in text
    assert "person_name:nullable: person_name is empty (nullable: false) 1 unexpected" in text
    masked = ALICE[:3] + "*" * 13 + ALICE[-2:]
    assert masked in text
    # no raw 身份证号 in the page or in the stored result the index reads
    for written in [page, *(site / "results").rglob("*.json")]:
        assert ALICE not in written.read_text(encoding="utf-8")
    # GE's own result is left as it was
    assert ALICE in str(report.ge_result)


@pytest.mark.slow
def test_runs_accumulate_and_rebuilding_a_run_is_idempotent(report, tmp_path):
    site = tmp_path / "docs"
    first = build_data_docs(report.ge_result, site_dir=site, run_id="run-1")
    # GE's default run-name filter would hide a run whose name contains "profiling"
    second = build_data_docs(report.ge_result, site_dir=site, run_id="run-2-profiling")

    assert first != second
    assert first.is_file()
    assert second.is_file()
    index = (site / "index.html").read_text(encoding="utf-8")
    for page in (first, second):
        assert page.relative_to(site).as_posix() in index
    assert build_data_docs(report.ge_result, site_dir=site, run_id="run-1") == first
    assert sorted((site / "validations").rglob("*.html")) == sorted([first, second])
    assert len(list((site / "results").rglob("*.json"))) == 2


def test_all_values_are_masked_unless_pii_columns_are_given(report, tmp_path):
    page = build_data_docs(report.ge_result, site_dir=tmp_path / "docs", run_id="run-1")
    text = text_of(page)
    assert ALICE not in text
    assert ALICE[:3] + "*" * 13 + ALICE[-2:] in text


@pytest.mark.slow
def test_a_failed_render_raises_and_stores_nothing(report, tmp_path):
    # GE 1.24.1's page title parses the run name as a date and only catches ValueError: a long
    # digit string raises OverflowError inside the site builder, which only logs it.
    site = tmp_path / "docs"
    with pytest.raises(DataDocsError, match="OverflowError"):
        build_data_docs(report.ge_result, site_dir=site, run_id="9" * 20)
    assert not list((site / "results").rglob("*.json"))
    assert build_data_docs(report.ge_result, site_dir=site, run_id="run-1").is_file()


@pytest.mark.parametrize("run_id", ["", "..", "a/b", "a\\b"])
def test_run_id_is_one_path_component(report, tmp_path, run_id):
    with pytest.raises(ValueError, match="run_id"):
        build_data_docs(report.ge_result, site_dir=tmp_path / "docs", run_id=run_id)


def test_importing_the_module_does_not_import_great_expectations():
    code = "import sys, quality.data_docs; sys.exit('great_expectations' in sys.modules)"
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr or "quality.data_docs imported great_expectations"
