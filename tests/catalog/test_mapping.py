"""Applying a mapping to one record: placeholders, transform failures by field, repeating
intervals in ``modified``, contacts, value maps read regardless of case, the columns an explicit
mapping needs (an import refused before writing when they are absent)."""

from __future__ import annotations

import hashlib
import json

import pytest
from catalog_apply_helpers import mapping_from

from catalog.importing.importer import import_file
from catalog.importing.mapping import MappingError, available_fields, resolve_mapping
from catalog.importing.records import SourceRecord

PORTAL = mapping_from("""
name: test-portal
detect: {all: [标题, 来源部门]}
key: [标题, 来源部门]
fields:
  name: 标题
  provider_name: 来源部门
  summary: 描述
  update_cycle: 更新频率
  updated_at: 更新时间
  data_items: 信息项
  provider_contact_phone: 部门电话
  provider_contact_email: {from: 部门邮箱, transform: mailto}
defaults: {share_type: 无条件共享}
""")
RECORD = {
    "标题": "企业名录",
    "来源部门": "市市场监管局",
    "更新频率": "每月",
    "更新时间": "2023-06-12",
}


@pytest.mark.parametrize("placeholder", ["暂无", "无", "-", "/", "null", "NULL", "N/A", " 暂无 "])
def test_placeholders_are_no_value(placeholder):
    values, problems = PORTAL.apply(
        {**RECORD, "描述": placeholder, "部门电话": placeholder, "更新频率": placeholder}
    )
    assert problems == []
    assert values["summary"] is None
    assert values["provider_contact_phone"] is None
    assert values["update_cycle"] is None


def test_a_failing_transform_warns_on_an_optional_field_and_keeps_the_raw_value():
    values, problems = PORTAL.apply({**RECORD, "信息项": "[姓名, 不是JSON"})
    assert "data_items" not in values  # left empty: a re-import keeps what is stored
    [problem] = problems
    assert (problem.field, problem.severity, problem.value) == (
        "data_items",
        "warning",
        "[姓名, 不是JSON",
    )
    assert problem.reason.code == "unreadable_optional"
    assert problem.reason.text("zh").startswith(
        "信息项信息 的值 '[姓名, 不是JSON' 无法读取，已留空"
    )
    assert problem.reason.text("en").startswith("信息项信息: '[姓名, 不是JSON' cannot be read")


def test_a_failing_transform_rejects_a_required_field():
    strict = mapping_from("""
name: strict
fields:
  name: {from: 标题, transform: data_items}
  provider_name: 来源部门
defaults: {share_type: 无条件共享}
""")
    values, problems = strict.apply({**RECORD, "标题": "[坏"})
    assert [(p.field, p.severity, p.value) for p in problems] == [("name", "reject", "[坏")]
    assert problems[0].reason.text("zh").startswith("信息资源名称 的值 '[坏' 无法读取")


@pytest.mark.parametrize("interval", ["R/P1D", "R/PT1S", "r/P1W"])
def test_a_repeating_interval_in_modified_feeds_the_cycle_and_never_rejects(interval):
    dcat = resolve_mapping("dcat-us")
    record = {
        "title": "Daily counts",
        "identifier": "x-1",
        "publisher": {"name": "Agency"},
        "accessLevel": "public",
        "modified": interval,
    }
    values, problems = dcat.apply(record)
    assert values["update_cycle"] == interval
    assert "updated_at" not in values
    assert [(p.field, p.severity, p.reason.code) for p in problems] == [
        ("updated_at", "warning", "interval_as_modified")
    ]
    assert "已用作更新周期" in problems[0].reason.text("zh")

    # The record's own accrualPeriodicity wins; the interval is still no date.
    values, problems = dcat.apply({**record, "accrualPeriodicity": "R/P1M"})
    assert values["update_cycle"] == "R/P1M"
    assert "updated_at" not in values
    assert [(p.severity, p.reason.code) for p in problems] == [("warning", "unreadable_optional")]
    assert "重复周期而非日期" in problems[0].reason.text("zh")
    assert "repeating interval" in problems[0].reason.text("en")


def test_contacts_are_mapping_targets():
    values, problems = PORTAL.apply(
        {**RECORD, "部门电话": "0564-1234567", "部门邮箱": "mailto:a@b.cn"}
    )
    assert problems == []
    assert values["provider_contact_phone"] == "0564-1234567"
    assert values["provider_contact_email"] == "a@b.cn"
    with pytest.raises(ValueError, match="publisher_email"):
        mapping_from("name: x\nfields: {name: a, publisher_email: b}")


def test_missing_columns_names_detect_and_key_columns():
    assert PORTAL.missing_columns({"标题", "来源部门", "描述"}) == []
    assert PORTAL.missing_columns({"标题", "描述"}) == ["来源部门"]
    dcat = resolve_mapping("dcat-us")
    assert dcat.missing_columns({"title", "publisher"}) == ["identifier"]
    keyed_by_url = resolve_mapping("cn-huainan")
    assert "url" in keyed_by_url.missing_columns({"标题", "所属部门", "数据领域"})


def test_available_fields_reads_source_records():
    records = [
        SourceRecord(2, {"标题": "a", "来源部门": "b"}, "a,b"),
        SourceRecord(3, {"标题": "c", "描述": "d"}, "c,,d"),
    ]
    assert available_fields(records) == {"标题", "来源部门", "描述"}
    assert available_fields([{"__row__": 2, "x": 1}]) == {"x"}


def test_real_dcat_contact_points_map_to_the_publisher(real_data):
    dcat = resolve_mapping("dcat-us")
    catalogue = json.loads((real_data / "dcat-us" / "gsa.json").read_text(encoding="utf-8"))
    values, _ = dcat.apply(catalogue["dataset"][0])
    assert values["provider_contact_name"] == "Toni L. Holloway"
    assert values["provider_contact_email"] == "toni.holloway@gsa.gov"


@pytest.mark.parametrize(
    "written", ["Public", "PUBLIC", " public ", "Non-Public", "restricted Public"]
)
def test_value_maps_ignore_case_and_surrounding_whitespace(written):
    dcat = resolve_mapping("dcat-us")
    record = {"title": "t", "identifier": "x-1", "publisher": {"name": "Agency"}}
    values, problems = dcat.apply({**record, "accessLevel": written})
    expected = {"public": "无条件共享", "non-public": "不予共享", "restricted public": "有条件共享"}
    assert values["share_type"] == expected[written.strip().lower()]
    assert problems == []


def test_an_exact_value_map_key_wins_over_a_folded_one():
    exact = mapping_from("""
name: exact
fields:
  name: 标题
  provider_name: 来源部门
  share_type: {from: 共享, values: {Open: 无条件共享, open: 不予共享, " 有条件 ": 有条件共享}}
""")
    for written, expected in [
        ("Open", "无条件共享"),
        ("open", "不予共享"),
        ("OPEN", "无条件共享"),  # folded: the first key that folds alike
        ("有条件", "有条件共享"),
    ]:
        values, _ = exact.apply({**RECORD, "共享": written})
        assert values["share_type"] == expected, written


def test_missing_columns_names_each_detect_any_group_without_a_column():
    generic = resolve_mapping("cn-catalogue-generic")
    [names, providers] = generic.detect.any_of
    assert generic.missing_columns({"目录名称", "提供部门"}) == []
    assert generic.missing_columns({"标题", "来源部门"}) == ["|".join(names)]
    assert generic.missing_columns({"标题"}) == ["|".join(names), "|".join(providers)]
    assert "信息资源名称|目录名称|" in generic.missing_columns(set())[0]


def catalogue_state(directory) -> tuple[dict[str, int], str]:
    con = directory.store.database.connection()
    counts = {
        table: con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
        for table in ("entries", "entry_history", "organisations", "imports", "import_rejects")
    }
    digest = hashlib.sha256()
    for row in con.execute("SELECT * FROM entries ORDER BY code"):
        digest.update(json.dumps(list(row), ensure_ascii=False, default=str).encode())
    return counts, digest.hexdigest()


def test_an_explicit_mapping_whose_detect_any_columns_are_absent_writes_nothing(
    directory, workspace, real_data, tmp_path
):
    import_file(directory, workspace, real_data / "cn-portals" / "anhui_huainan.json")
    before = catalogue_state(directory)
    assert before[0]["entries"] == 35
    # 六安's export names its records 标题, which no 名称 column of the generic mapping is
    luan = real_data / "cn-portals" / "anhui_luan.json"
    with pytest.raises(MappingError) as info:
        import_file(directory, workspace, luan, mapping="cn-catalogue-generic")
    assert "信息资源名称|目录名称|" in str(info.value)
    assert "cn-catalogue-generic" in str(info.value)
    assert catalogue_state(directory) == before

    odd = tmp_path / "odd.csv"
    odd.write_text("名字,单位,共享类型\n甲,乙,无条件共享\n", encoding="utf-8")
    with pytest.raises(MappingError) as info:
        import_file(directory, workspace, odd, mapping="cn-catalogue-generic")
    assert str(info.value).count("|") >= 2  # both groups named
    assert catalogue_state(directory) == before
