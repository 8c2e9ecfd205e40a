"""Mappings in minutes: a mapping drafted from a file's headers and values imports the file.

The real exports are drafted with the shipped mappings set aside (draft_mapping is called
directly and its YAML passed as an explicit mapping), and must import every record with no
hand edit, placing at least the fields the shipped mapping for that file places.
"""

from __future__ import annotations

import csv
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from catalog.importing.draft import draft_mapping
from catalog.importing.importer import import_file
from catalog.importing.mapping import Mapping, load_mapping, resolve_mapping, shipped_mappings
from catalog.importing.reading import read_document
from catalog.importing.transforms import TRANSFORMS
from mulu.cli.mapping_commands import shipped_mappings_markdown

# Doubled on PostgreSQL: the drafted mappings' imports read back with SQL; the eight real
# files' imports run on SQLite only (the module took over 20 s on PostgreSQL).

DOCS = Path(__file__).resolve().parents[2] / "docs" / "mappings.md"
MULU = str(Path(sys.executable).with_name("mulu"))
REAL_FILES = {
    "cn-portals/anhui_anhui.json": "cn-anhui-province",
    "cn-portals/anhui_chizhou.json": "cn-chizhou",
    "cn-portals/anhui_huainan.json": "cn-huainan",
    "cn-portals/anhui_luan.json": "cn-luan-suzhou",
    "cn-portals/anhui_suzhou.json": "cn-luan-suzhou",
    "dcat-us/dhs.json": "dcat-us",
    "dcat-us/dol.json": "dcat-us",
    "dcat-us/gsa.json": "dcat-us",
}


def drafted_yaml(path: Path, folder: Path) -> tuple[object, Path]:
    drafted = draft_mapping(read_document(path))
    written = folder / f"{path.stem}.yaml"
    written.write_text(drafted.yaml, encoding="utf-8")
    return drafted, written


def source_columns(path: Path, records: str | None) -> set[str]:
    data = json.loads(path.read_text(encoding="utf-8"))
    items = data[records] if records else data
    return {key for item in items for key in item}


def shipped_places(mapping: Mapping, columns: set[str]) -> set[str]:
    """The fields the shipped mapping fills from this file: a rule whose column is in it, or a
    default."""
    placed = {
        target
        for target, rule in mapping.fields.items()
        if any(s.split(".", 1)[0].removesuffix("[]") in columns for s in rule.sources)
    }
    return placed | set(mapping.defaults)


@pytest.mark.slow
@pytest.mark.parametrize("name", REAL_FILES)
def test_a_drafted_mapping_imports_every_real_record(name, real_data, directory, workspace):
    path = real_data / name
    drafted, written = drafted_yaml(path, workspace.root)
    assert drafted.missing == []
    assert load_mapping(written).model_dump() == drafted.mapping.model_dump()

    report = import_file(directory, workspace, path, mapping=str(written))
    assert report.rejected == 0, report.lines()[:5]
    assert report.records == report.created + report.duplicates
    assert report.records == sum(1 for _ in read_document(path).records(drafted.mapping.records))

    shipped = resolve_mapping(REAL_FILES[name])
    expected = shipped_places(shipped, source_columns(path, shipped.records))
    found = set(drafted.mapping.fields) | set(drafted.mapping.defaults)
    assert expected <= found, f"{name}: the draft misses {sorted(expected - found)}"
    # The draft reads every column a field can use; what it leaves is kept on the entry anyway.
    assert set(drafted.placed) >= expected - set(drafted.mapping.defaults)


# Coverage of the drafts (the closing note of issue 12): entry field <- column, and what is left.
COVERAGE = {
    "cn-portals/anhui_anhui.json": (
        "name←标题 provider_name←提供单位 summary←摘要信息 formats←数据格式 open_type←开放属性 "
        "update_cycle←更新频率 published_at←发布日期 updated_at←更新日期 theme←所属领域 "
        "landing_page←url",
        [],
    ),
    "cn-portals/anhui_chizhou.json": (
        "name←标题 provider_name←提供单位 summary←摘要描述 formats←数据格式 updated_at←更新时间 "
        "theme←所属领域",
        [],
    ),
    "cn-portals/anhui_huainan.json": (
        "name←标题 provider_name←所属部门 format_category←数据类型 open_type←开放属性 "
        "published_at←发布时间 updated_at←更新时间 theme←数据领域 tags←主题分类 landing_page←url",
        ["创建时间"],
    ),
    "cn-portals/anhui_luan.json": (
        "name←标题 category_name←所属行业 provider_name←来源部门 summary←描述 formats←数据格式 "
        "update_cycle←更新频率 published_at←发布时间 updated_at←更新时间 theme←重点领域 tags←标签 "
        "provider_contact_phone←部门电话 provider_contact_email←部门邮箱",
        ["数据量"],
    ),
    "cn-portals/anhui_suzhou.json": (
        "name←标题 category_name←所属行业 provider_name←来源部门 summary←描述 formats←数据格式 "
        "open_type←开放类型 update_cycle←更新频率 published_at←发布时间 updated_at←更新时间 "
        "theme←重点领域 tags←标签 landing_page←url provider_contact_phone←部门电话 "
        "provider_contact_email←部门邮箱",
        ["数据量", "文件数"],
    ),
    "dcat-us/dhs.json": (
        "name←title provider_name←publisher.name summary←description formats←distribution "
        "share_type←accessLevel open_type←accessLevel updated_at←modified tags←keyword "
        "provider_contact_name←contactPoint.fn provider_contact_email←contactPoint.hasEmail",
        ["bureauCode", "license", "programCode", "rights"],
    ),
}


@pytest.mark.parametrize("name", COVERAGE)
def test_coverage_per_real_file(name, real_data):
    drafted = draft_mapping(read_document(real_data / name))
    placed, unplaced = COVERAGE[name]
    assert " ".join(f"{f}←{c}" for f, c in drafted.placed.items()) == placed
    assert drafted.unplaced == unplaced


def test_drafted_dcat_mapping_reads_access_level_as_the_shipped_one(real_data):
    drafted = draft_mapping(read_document(real_data / "dcat-us" / "gsa.json"))
    mapping = drafted.mapping
    assert mapping.records == "dataset"
    assert mapping.key == ["identifier"]
    assert mapping.fields["share_type"].sources == ["accessLevel"]
    assert mapping.fields["share_type"].values == {
        "public": "无条件共享",
        "restricted public": "有条件共享",
        "non-public": "不予共享",
    }
    assert drafted.placed["provider_name"] == "publisher.name"
    assert drafted.placed["provider_contact_email"] == "contactPoint.hasEmail"
    assert mapping.fields["provider_contact_email"].transform == "mailto"
    assert mapping.fields["formats"].transform == "distribution_formats"


def test_portal_export_without_provider_in_some_records_gets_a_placeholder(real_data):
    drafted = draft_mapping(read_document(real_data / "cn-portals" / "anhui_chizhou.json"))
    assert drafted.defaults == {
        "share_type": "无条件共享",
        "provider_name": "anhui_chizhou（未注明提供单位）",
    }
    assert "No 共享类型 column" in drafted.yaml
    # Titles repeat under one provider there (yearly files): no column is a key on its own.
    assert drafted.mapping.key == ["标题", "提供单位"]


def write_csv(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


@pytest.mark.both_stores
def test_english_headers(tmp_path, directory, workspace):
    path = write_csv(
        tmp_path / "inventory.csv",
        [
            "ID",
            "Title",
            "Publisher",
            "Description",
            "Last Updated",
            "Update Frequency",
            "Share Type",
            "Keywords",
            "Landing Page",
            "Contact Email",
            "Row Count",
        ],
        [
            [
                "a1",
                "Bus stops",
                "Transport Dept",
                "Stops",
                "2024-03-01 10:30",
                "monthly",
                "unconditional",
                "bus;transport",
                "https://example.org/a1",
                "mailto:t@example.org",
                "12",
            ],
            [
                "a2",
                "Schools",
                "Education Dept",
                "All schools",
                "2024",
                "every 2 weeks",
                "conditional",
                "schools",
                "https://example.org/a2",
                "e@example.org",
                "7",
            ],
            [
                "a3",
                "Parks",
                "Parks Dept",
                "",
                "2023-12",
                "whenever",
                "unconditional",
                "",
                "https://example.org/a3",
                "",
                "3",
            ],
        ],
    )
    drafted = draft_mapping(read_document(path))
    assert drafted.placed == {
        "name": "Title",
        "provider_name": "Publisher",
        "summary": "Description",
        "share_type": "Share Type",
        "update_cycle": "Update Frequency",
        "updated_at": "Last Updated",
        "tags": "Keywords",
        "landing_page": "Landing Page",
        "provider_contact_email": "Contact Email",
    }
    assert drafted.mapping.key == ["ID"]
    assert drafted.unplaced == ["Row Count"]
    assert drafted.mapping.fields["update_cycle"].values == {"every 2 weeks": "每2周"}
    assert drafted.unread_values == {"update_cycle": ["whenever"]}
    assert drafted.missing == []
    written = tmp_path / "inventory.yaml"
    written.write_text(drafted.yaml, encoding="utf-8")

    report = import_file(directory, workspace, path, mapping=str(written))
    assert (report.records, report.created, report.rejected) == (3, 3, 0)
    con = directory.store.database.connection()
    cycles = dict(con.execute("SELECT name, update_cycle FROM entries").fetchall())
    assert cycles == {"Bus stops": "每月", "Schools": "每2周", "Parks": None}


@pytest.mark.both_stores
def test_chinese_variant_spellings_and_value_maps(tmp_path, directory, workspace):
    path = write_csv(
        tmp_path / "编目导出.csv",
        [
            "数据名称",
            "数据 来源",
            "更新频度：",
            "开放方式",
            "摘要",
            "关键词",
            "联系人",
            "联系电话",
            "电子邮箱",
            "发布时间",
            "备注",
        ],
        [
            [
                "企业名录",
                "市市场监管局",
                "一年一次",
                "无条件开放",
                "企业",
                "企业、名录",
                "张三",
                "0551-1234567",
                "z@example.cn",
                "2023年5月8日",
                "",
            ],
            [
                "公交线路",
                "市交通局",
                "季",
                "有条件开放",
                "",
                "交通",
                "李四",
                "暂无",
                "",
                "2023-01-04",
                "x",
            ],
            [
                "空气质量",
                "市生态环境局",
                "半月",
                "无条件开放",
                "",
                "",
                "",
                "",
                "",
                "2022-11-30",
                "",
            ],
            ["天气", "市气象局", "看心情", "无条件开放", "", "", "", "", "", "2022-11-30", ""],
        ],
    )
    drafted = draft_mapping(read_document(path))
    assert drafted.placed == {
        "name": "数据名称",
        "provider_name": "数据 来源",
        "summary": "摘要",
        "open_type": "开放方式",
        "update_cycle": "更新频度：",
        "published_at": "发布时间",
        "tags": "关键词",
        "provider_contact_name": "联系人",
        "provider_contact_phone": "联系电话",
        "provider_contact_email": "电子邮箱",
    }
    assert drafted.defaults == {"share_type": "无条件共享"}
    assert drafted.mapping.fields["update_cycle"].values == {
        "一年一次": "每年",
        "季": "每季度",
        "半月": "每15日",
    }
    assert drafted.unread_values == {"update_cycle": ["看心情"]}
    assert drafted.unplaced == ["备注"]
    # No identifier column: name and provider identify a record.
    assert drafted.mapping.key == ["数据名称", "数据 来源"]
    written = tmp_path / "draft.yaml"
    written.write_text(drafted.yaml, encoding="utf-8")
    assert load_mapping(written).model_dump() == drafted.mapping.model_dump()

    report = import_file(directory, workspace, path, mapping=str(written))
    # 看心情 is not a cycle: the record lands with 更新周期 empty, and the row is reported.
    assert (report.records, report.created, report.rejected) == (4, 4, 0)


def test_identifier_with_a_repeat_is_not_the_key(tmp_path):
    path = write_csv(
        tmp_path / "ids.csv",
        ["编号", "资源名称", "提供部门", "共享类型"],
        [
            ["1", "甲", "局", "无条件共享"],
            ["1", "乙", "局", "有条件"],
            ["2", "丙", "局", "不予共享"],
        ],
    )
    drafted = draft_mapping(read_document(path))
    assert drafted.mapping.key == ["资源名称", "提供部门"]
    assert drafted.placed["share_type"] == "共享类型"
    assert drafted.defaults == {}


@pytest.mark.slow
def test_a_file_without_name_or_provider_says_so_and_exits_2(tmp_path):
    path = write_csv(tmp_path / "odd.csv", ["甲", "乙"], [["1", "2"]])
    drafted = draft_mapping(read_document(path))
    assert drafted.missing == ["name", "provider_name", "share_type"]
    assert drafted.unplaced == ["甲", "乙"]

    env = {**os.environ, "MULU_HOME": str(tmp_path / "home"), "COLUMNS": "200"}
    done = subprocess.run(
        [MULU, "catalog", "mapping", "draft", str(path)], capture_output=True, text=True, env=env
    )
    assert done.returncode == 2
    assert "信息资源名称 (name)" in done.stderr
    assert done.stdout.startswith("# Drafted by")


@pytest.mark.slow
def test_cli_writes_the_yaml_and_reports_placement(tmp_path, real_data):
    out = tmp_path / "huainan.yaml"
    env = {**os.environ, "MULU_HOME": str(tmp_path / "home"), "COLUMNS": "200"}
    done = subprocess.run(
        [
            MULU,
            "catalog",
            "mapping",
            "draft",
            str(real_data / "cn-portals" / "anhui_huainan.json"),
            "-o",
            str(out),
            "--name",
            "huainan-draft",
        ],
        capture_output=True,
        text=True,
        env=env,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == ""
    assert load_mapping(out).name == "huainan-draft"
    assert "所属部门" in done.stderr
    assert "columns left: 创建时间" in done.stderr


def test_docs_show_every_shipped_mapping_and_transform():
    """docs/mappings.md carries the table `mulu catalog mapping table` prints, and a row for
    every transform a mapping may name."""
    text = DOCS.read_text(encoding="utf-8")
    shown = text.split("<!-- shipped-mappings:start -->\n", 1)[1].split("\n<!--", 1)[0]
    assert shown == shipped_mappings_markdown(shipped_mappings()), (
        "docs/mappings.md is out of date: paste `mulu catalog mapping table` between its markers"
    )
    documented = set(re.findall(r"^\| `([a-z_]+)` \|", text.split("## Transforms", 1)[1], re.M))
    assert documented >= set(TRANSFORMS)


def test_docs_example_mapping_loads(tmp_path):
    """The example in docs/mappings.md is a mapping Mulu accepts."""
    text = DOCS.read_text(encoding="utf-8")
    example = text.split("```yaml\n", 1)[1].split("```", 1)[0]
    path = tmp_path / "example.yaml"
    path.write_text(example, encoding="utf-8")
    mapping = load_mapping(path)
    assert "provider_contact_email" in mapping.fields


@pytest.mark.both_stores
def test_excel_sheet_with_catalogue_headers(tmp_path, directory, workspace):
    import xlsxwriter

    path = tmp_path / "编目.xlsx"
    book = xlsxwriter.Workbook(str(path))
    sheet = book.add_worksheet("目录")
    rows = [
        [
            "信息资源代码",
            "信息资源名称",
            "提供部门",
            "共享属性",
            "共享条件",
            "更新周期",
            "最近更新时间",
        ],
        ["101001/000001", "人口基本信息", "市公安局", "有条件", "依申请", "两周一次", "2024-05-01"],
        ["101001/000002", "法人基本信息", "市市场监管局", "无条件共享", "", "每月", "2024-04-02"],
    ]
    for number, row in enumerate(rows):
        sheet.write_row(number, 0, row)
    book.close()

    drafted = draft_mapping(read_document(path))
    assert drafted.placed == {
        "code": "信息资源代码",
        "name": "信息资源名称",
        "provider_name": "提供部门",
        "share_type": "共享属性",
        "share_condition": "共享条件",
        "update_cycle": "更新周期",
        "updated_at": "最近更新时间",
    }
    assert drafted.mapping.key == ["信息资源代码"]
    # 每两周 the entry reads itself; 两周一次 needs a value map
    assert drafted.mapping.fields["update_cycle"].values == {"两周一次": "每2周"}
    assert drafted.defaults == {}
    written = tmp_path / "draft.yaml"
    written.write_text(drafted.yaml, encoding="utf-8")
    report = import_file(directory, workspace, path, mapping=str(written))
    assert (report.records, report.created, report.rejected) == (2, 2, 0)
    con = directory.store.database.connection()
    found = con.execute("SELECT code, share_type FROM entries ORDER BY code").fetchall()
    assert [tuple(row) for row in found] == [
        ("101001/000001", "有条件共享"),
        ("101001/000002", "无条件共享"),
    ]


def test_json_records_nested_in_an_object(tmp_path):
    path = tmp_path / "portal.json"
    records = [
        {
            "资源名称": "公交站点",
            "数源单位": "交通局",
            "开放类型": "无条件开放",
            "链接": f"https://x/{n}",
        }
        for n in range(3)
    ]
    path.write_text(
        json.dumps({"meta": {"total": 3}, "data": {"list": records}}, ensure_ascii=False),
        encoding="utf-8",
    )
    drafted = draft_mapping(read_document(path))
    assert drafted.mapping.records == "data.list"
    assert drafted.mapping.key == ["链接"]
    assert drafted.placed["landing_page"] == "链接"
    assert drafted.defaults == {"share_type": "无条件共享"}


@pytest.mark.both_stores
def test_ckan_package_list(tmp_path, directory, workspace):
    packages = [
        {
            "id": f"5f1c-{n}",
            "name": f"bus-stops-{n}",
            "title": f"Bus stops {n}",
            "notes": "Every stop",
            "organization": {"name": "transport", "title": "Transport Department"},
            "tags": [{"name": "bus"}, {"name": "transport"}],
            "groups": [{"title": "Mobility"}],
            "resources": [
                {"format": "CSV", "url": "https://x/a.csv"},
                {"format": "JSON", "url": "https://x/b"},
            ],
            "metadata_created": "2023-04-01T08:00:00",
            "metadata_modified": "2024-02-03T09:30:00Z",
            "url": f"https://portal.example/dataset/{n}",
            "maintainer": "Ana",
            "maintainer_email": "ana@example.org",
        }
        for n in range(2)
    ]
    path = tmp_path / "package_search.json"
    path.write_text(
        json.dumps({"success": True, "result": {"count": 2, "results": packages}}),
        encoding="utf-8",
    )
    drafted = draft_mapping(read_document(path))
    assert drafted.mapping.records == "result.results"
    assert drafted.mapping.key == ["id"]
    assert drafted.placed == {
        "name": "title",
        "provider_name": "organization.title",
        "summary": "notes",
        "formats": "resources",
        "published_at": "metadata_created",
        "updated_at": "metadata_modified",
        "theme": "groups[].title",
        "tags": "tags[].name",
        "landing_page": "url",
        "provider_contact_name": "maintainer",
        "provider_contact_email": "maintainer_email",
    }
    assert drafted.defaults == {"share_type": "无条件共享"}
    written = tmp_path / "ckan.yaml"
    written.write_text(drafted.yaml, encoding="utf-8")
    report = import_file(directory, workspace, path, mapping=str(written))
    assert (report.records, report.created, report.rejected, report.warned) == (2, 2, 0, 0)
    con = directory.store.database.connection()
    formats, tags = con.execute("SELECT formats, tags FROM entries LIMIT 1").fetchone()
    assert (json.loads(formats), json.loads(tags)) == (["csv", "json"], ["bus", "transport"])


@pytest.mark.both_stores
def test_placeholders_are_no_value_and_intervals_in_modified_are_cycles(
    tmp_path, directory, workspace
):
    datasets = [
        {
            "identifier": "a",
            "title": "A",
            "publisher": {"name": "暂无"},
            "accessLevel": "public",
            "modified": "R/P1D",
        },
        {
            "identifier": "b",
            "title": "B",
            "publisher": {"name": "Agency"},
            "accessLevel": "public",
            "modified": "R/PT1S",
        },
        {
            "identifier": "c",
            "title": "C",
            "publisher": {"name": "Agency"},
            "accessLevel": "non-public",
            "modified": "2023",
        },
    ]
    path = tmp_path / "data.json"
    path.write_text(json.dumps({"dataset": datasets}), encoding="utf-8")
    drafted = draft_mapping(read_document(path))
    assert drafted.placed["updated_at"] == "modified"
    assert drafted.defaults == {"provider_name": "data（未注明提供单位）"}
    written = tmp_path / "data.yaml"
    written.write_text(drafted.yaml, encoding="utf-8")
    report = import_file(directory, workspace, path, mapping=str(written))
    assert (report.records, report.created, report.rejected) == (3, 3, 0)
    con = directory.store.database.connection()
    found = con.execute("SELECT name, provider_name, update_cycle FROM entries ORDER BY name")
    assert [tuple(row) for row in found.fetchall()] == [
        ("A", "data（未注明提供单位）", "每日"),
        ("B", "Agency", "实时"),
        ("C", "Agency", None),
    ]


def test_yes_no_open_answers_get_a_value_map(tmp_path):
    path = write_csv(
        tmp_path / "open.csv",
        ["目录名称", "提供单位", "共享类型", "是否向社会开放"],
        [
            ["甲", "局", "无条件共享", "是"],
            ["乙", "局", "有条件共享", "否"],
            ["丙", "局", "不予共享", "依申请开放"],
        ],
    )
    drafted = draft_mapping(read_document(path))
    assert drafted.placed["open_type"] == "是否向社会开放"
    assert drafted.mapping.fields["open_type"].values == {"是": "无条件开放", "否": "不予开放"}
    assert drafted.unread_values == {}


@pytest.mark.both_stores
def test_awkward_headers_and_values_still_give_valid_yaml(tmp_path, directory, workspace):
    path = write_csv(
        tmp_path / "awkward.csv",
        ["名称", "提供方: 部门", "更新频率 #1", "共享类型", 'it\'s "odd"'],
        [
            ["甲", "局", "一年\n一次", "无条件共享", "x"],
            ["乙", "局", "看\n心情", "无条件共享", "y"],
            ["丙", "局", "a: b", "有条件共享", "z"],
            ["丁", "局", "null", "不予共享", "z"],
            ["戊", "局", "每年", "不予共享", "z"],
        ],
    )
    drafted = draft_mapping(read_document(path))
    assert drafted.placed == {
        "name": "名称",
        "provider_name": "提供方: 部门",
        "share_type": "共享类型",
        "update_cycle": "更新频率 #1",
    }
    assert drafted.mapping.fields["update_cycle"].values == {"一年\n一次": "每年"}
    assert drafted.unread_values == {"update_cycle": ["看\n心情", "a: b"]}
    assert drafted.unplaced == ['it\'s "odd"']
    written = tmp_path / "awkward.yaml"
    written.write_text(drafted.yaml, encoding="utf-8")
    assert load_mapping(written).model_dump() == drafted.mapping.model_dump()
    report = import_file(directory, workspace, path, mapping=str(written))
    assert (report.records, report.created, report.rejected) == (5, 5, 0)


def test_a_second_provider_column_fills_the_gaps_of_the_first(tmp_path):
    path = write_csv(
        tmp_path / "gaps.csv",
        ["资源名称", "提供单位", "来源部门", "共享类型"],
        [
            ["甲", "市局", "", "无条件共享"],
            ["乙", "", "区局", "无条件共享"],
            ["丙", "", "", "无条件共享"],
        ],
    )
    drafted = draft_mapping(read_document(path))
    assert drafted.mapping.fields["provider_name"].sources == ["提供单位", "来源部门"]
    assert drafted.defaults == {"provider_name": "gaps（未注明提供单位）"}
    values, _ = drafted.mapping.apply({"资源名称": "乙", "提供单位": "", "来源部门": "区局"})
    assert values["provider_name"] == "区局"


def test_more_chinese_headers_are_recognised(tmp_path):
    path = write_csv(
        tmp_path / "more.csv",
        ["目录名", "牵头单位", "更新频次", "共享属性", "开放条件", "主管部门"],
        [
            ["甲", "市局", "每两周", "无条件共享", "无条件开放", "市政府"],
            ["乙", "区局", "每旬", "有条件共享", "不予开放", "市政府"],
        ],
    )
    drafted = draft_mapping(read_document(path))
    assert drafted.placed == {
        "name": "目录名",
        "provider_name": "牵头单位",  # 主管部门 oversees the provider: not it
        "update_cycle": "更新频次",
        "share_type": "共享属性",
        "open_type": "开放条件",
    }
    assert drafted.unplaced == ["主管部门"]
    assert drafted.missing == []


@pytest.mark.parametrize("header", ["数据资源名称", "目录名"])
@pytest.mark.parametrize("provider", ["责任单位", "数据提供单位", "主管部门"])
def test_name_and_provider_spellings(tmp_path, header, provider):
    path = write_csv(
        tmp_path / "spellings.csv", [header, provider, "共享类型"], [["甲", "市局", "无条件共享"]]
    )
    drafted = draft_mapping(read_document(path))
    assert drafted.placed["name"] == header
    assert drafted.placed["provider_name"] == provider  # 主管部门 when no other provider column
    assert drafted.missing == []
