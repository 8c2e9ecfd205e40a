"""Bulk import: real portal exports, mappings, bad rows, encodings and formats."""

from __future__ import annotations

import csv
import datetime
import json
from collections import Counter
from pathlib import Path

import pytest
import xlsxwriter
from catalog_apply_helpers import entry_records

from catalog.apply_records import EntryRecord
from catalog.importing.importer import import_file
from catalog.importing.mapping import (
    MappingError,
    detect_mapping,
    resolve_mapping,
    shipped_mappings,
)
from catalog.importing.reading import read_document

pytestmark = pytest.mark.both_stores

CN_FILES = {
    "anhui_anhui.json": ("cn-anhui-province", 700),
    "anhui_chizhou.json": ("cn-chizhou", 1648),
    "anhui_huainan.json": ("cn-huainan", 35),
    "anhui_luan.json": ("cn-luan-suzhou", 548),
    "anhui_suzhou.json": ("cn-luan-suzhou", 524),
}
DCAT_FILES = {"dhs.json": 1093, "dol.json": 465, "gsa.json": 339}


def distinct_records(path: Path, records_path: str | None = None) -> list[dict]:
    """The file's records with exact repeats left out (they merge into one entry)."""
    data = json.loads(path.read_text(encoding="utf-8"))
    records = data[records_path] if records_path else data
    unique = {json.dumps(r, ensure_ascii=False, sort_keys=True): r for r in records}
    return list(unique.values())


@pytest.mark.slow
def test_every_real_file_imports_every_record_accounted_for(directory, workspace, real_data):
    total_cn = total_us = 0
    for name, (mapping, count) in CN_FILES.items():
        path = real_data / "cn-portals" / name
        report = import_file(directory, workspace, path)
        distinct = len(distinct_records(path))
        assert (report.mapping, report.records, report.rejected) == (mapping, count, 0), (
            report.lines()[:3]
        )
        assert (report.created, report.duplicates) == (distinct, count - distinct)
        assert report.records == report.created + report.duplicates + report.rejected
        total_cn += report.created
    for name, count in DCAT_FILES.items():
        report = import_file(directory, workspace, real_data / "dcat-us" / name)
        assert (report.mapping, report.created, report.rejected) == ("dcat-us", count, 0)
        assert report.records == report.created + report.duplicates + report.rejected
        total_us += report.created
    # anhui_luan.json repeats two records word for word: 548 records, 546 entries.
    assert (total_cn, total_us) == (3453, 1897)
    con = directory.store.database.connection()
    assert (
        con.execute(
            "SELECT count(*) FROM entries WHERE provider_code IS NULL OR provider_name = ''"
        ).fetchone()[0]
        == 0
    )
    statuses = con.execute("SELECT DISTINCT status FROM imports").fetchall()
    assert [s[0] for s in statuses] == ["finished"]
    # 更新频率 / accrualPeriodicity normalised, counted against the source files themselves.
    luan = Counter(
        r.get("更新频率") for r in distinct_records(real_data / "cn-portals" / "anhui_luan.json")
    )
    got = dict(
        con.execute(
            "SELECT update_cycle, count(*) FROM entries WHERE source_key IN "
            "(SELECT source_key FROM entries) AND source = 'cn-luan-suzhou' "
            "AND landing_page IS NULL GROUP BY 1"
        ).fetchall()
    )
    assert got == {
        "每月": luan["每月"],
        "每年": luan["每年"],
        "每季度": luan["每季度"],
        "每半年": luan["每半年"],
        "每日": luan["每天"],
    }
    dol = json.loads((real_data / "dcat-us" / "dol.json").read_text())["dataset"]
    realtime = sum(d.get("accrualPeriodicity") == "R/PT1S" for d in dol)
    quarterly = sum(d.get("accrualPeriodicity") == "R/P3M" for d in dol)
    rows = dict(
        con.execute(
            "SELECT update_cycle, count(*) FROM entries WHERE source_key IN ("
            "SELECT source_key FROM entries WHERE source = 'dcat-us') AND code IN ("
            "SELECT code FROM entry_history h JOIN imports i ON h.import_id = i.id "
            "WHERE i.file LIKE '%dol.json') GROUP BY 1"
        ).fetchall()
    )
    assert rows["实时"] == realtime
    assert rows["每季度"] == quarterly
    # 更新周期 comes from accrualPeriodicity, or from a repeating interval in modified.
    assert rows.get(None, 0) <= sum("accrualPeriodicity" not in d for d in dol)

    # Importing every file again changes nothing.
    for path in [real_data / "cn-portals" / n for n in CN_FILES] + [
        real_data / "dcat-us" / n for n in DCAT_FILES
    ]:
        again = import_file(directory, workspace, path)
        assert (again.created, again.updated, again.rejected) == (0, 0, 0), again.lines()[:3]
        assert again.unchanged + again.duplicates == again.records
    assert directory.stats()["entries"] == 3453 + 1897


@pytest.mark.slow
def test_reimport_is_idempotent(directory, workspace, real_data):
    path = real_data / "cn-portals" / "anhui_chizhou.json"
    first = import_file(directory, workspace, path)
    again = import_file(directory, workspace, path)
    assert (again.created, again.updated, again.unchanged) == (0, 0, first.created)
    assert directory.stats()["entries"] == 1648


@pytest.mark.slow
def test_entries_imported_before_issue_12_are_found_by_their_old_keys(
    directory, workspace, real_data
):
    path = real_data / "cn-portals" / "anhui_luan.json"
    mapping = resolve_mapping("cn-luan-suzhou")
    records = json.loads(path.read_text(encoding="utf-8"))
    # As imported before issue 12: source_key "<mapping name>:<sha1>", "#n" from the second.
    old = list(entry_records(mapping, records))
    directory.apply(
        [EntryRecord(r.fields, row=r.row, source_key=r.legacy_key) for r in old],
        source=mapping.name,
    )
    assert directory.store.entries.has_source_key_prefix("cn-luan-suzhou:")
    report = import_file(directory, workspace, path)
    assert (report.created, report.unchanged + report.updated) == (0, len(old))
    # Rekeyed: the next import no longer needs the old keys.
    assert not directory.store.entries.has_source_key_prefix("cn-luan-suzhou:")


def test_source_key_prefix_is_a_prefix_not_a_pattern(directory):
    directory.apply(
        [
            EntryRecord(
                {"name": "甲", "provider_name": "乙", "share_type": "无条件共享"},
                source_key="my_portal:0123",
            )
        ],
        source="my_portal",
    )
    entries = directory.store.entries
    assert entries.has_source_key_prefix("my_portal:")
    assert not entries.has_source_key_prefix("myXportal:")  # "_" is no wildcard
    assert not entries.has_source_key_prefix("my%:")
    assert not entries.has_source_key_prefix("my_portal:1")


@pytest.mark.slow
def test_untitled_provider_goes_to_the_portal_not_lost(directory, workspace, real_data):
    import_file(directory, workspace, real_data / "cn-portals" / "anhui_chizhou.json")
    orphans = (
        directory.store.database.connection()
        .execute(
            "SELECT count(*) FROM entries WHERE provider_name = '池州市数据开放平台（未注明提供单位）'"
        )
        .fetchone()[0]
    )
    source = json.loads((real_data / "cn-portals" / "anhui_chizhou.json").read_text())
    assert orphans == sum(not r["提供单位"].strip() for r in source) > 0


def write_csv(path: Path, rows: list[list[str]], encoding: str = "utf-8") -> Path:
    with path.open("w", encoding=encoding, newline="") as handle:
        csv.writer(handle).writerows(rows)
    return path


GENERIC_HEADER = ["目录名称", "提供部门", "共享类型", "更新周期", "信息项", "发布日期"]


def test_bad_rows_are_reported_and_kept_good_rows_land(directory, workspace, tmp_path):
    path = write_csv(
        tmp_path / "目录.csv",
        [
            GENERIC_HEADER,
            [
                "低保对象名单",
                "区民政局",
                "有条件共享",
                "每月",
                "姓名:字符型;身份证号:字符型(18)",
                "2023/5/8",
            ],
            ["特困人员名单", "区民政局", "有条件共享", "看心情", "", ""],
            ["企业登记信息", "", "无条件共享", "每日", "", ""],
            ["医疗机构名录", "区卫健委", "随便", "每年", "", "2023年1月2日"],
        ],
    )
    lines = path.read_text(encoding="utf-8").splitlines()
    report = import_file(directory, workspace, path)
    assert report.mapping == "cn-catalogue-generic"
    # An unreadable 更新周期 (optional) leaves the field empty with a warning; a missing
    # 提供部门 or an unknown 共享类型 (required) rejects the record.
    assert (report.created, report.rejected, report.warned) == (2, 2, 1)
    assert [(p.row, p.field, p.severity) for p in report.problems] == [
        (3, "更新周期 (update_cycle)", "warning"),
        (4, "提供部门 (provider_name)", "reject"),
        (5, "共享类型 (share_type)", "reject"),
    ]
    assert "看心情" in report.problems[0].text("zh")
    assert report.problems[1].text("zh") == "缺少 信息资源提供方"
    assert report.problems[1].text("en") == "missing 信息资源提供方"
    with Path(report.rejects_file).open(encoding="utf-8-sig") as handle:
        kept = list(csv.DictReader(handle))
    assert [(k["row"], k["severity"]) for k in kept] == [
        ("3", "warning"),
        ("4", "reject"),
        ("5", "reject"),
    ]
    assert [k["raw"] for k in kept] == [lines[2], lines[3], lines[4]]  # verbatim source lines
    assert kept[0]["file"] == str(path)
    stored = (
        directory.store.database.connection()
        .execute(
            "SELECT severity, count(*) FROM import_rejects WHERE import_id = ? GROUP BY 1",
            (report.import_id,),
        )
        .fetchall()
    )
    assert dict(stored) == {"reject": 2, "warning": 1}
    entry = directory.get("300000/000001")
    assert entry["published_at"] == "2023-05-08"
    assert entry["data_items"][1] == {
        "name": "身份证号",
        "data_type": "字符型",
        "length": 18,
        "description": None,
    }
    assert directory.get("300000/000002")["update_cycle"] is None


def test_gbk_csv_decodes_byte_exact(directory, workspace, tmp_path):
    names = ["城乡低保对象", "婺源县（赣）", "䶮字测试", "𠀀扩展B"]  # GB18030-only characters too
    rows = [GENERIC_HEADER] + [[n, "区民政局", "无条件共享", "每月", "", ""] for n in names]
    path = write_csv(tmp_path / "gbk.csv", rows, encoding="gb18030")
    document = read_document(path)
    assert document.encoding == "gb18030"
    report = import_file(directory, workspace, path)
    assert report.created == 4
    assert sorted(e["name"] for e in directory.iter_entries()) == sorted(names)


def test_excel_with_chinese_sheet_name(directory, workspace, tmp_path):
    path = tmp_path / "目录.xlsx"
    workbook = xlsxwriter.Workbook(str(path))
    sheet = workbook.add_worksheet("政务信息资源目录")
    for r, row in enumerate(
        [GENERIC_HEADER, ["社保卡申领信息", "区人社局", "有条件共享", "每日", "", ""]]
    ):
        sheet.write_row(r, 0, row)
    sheet.write_datetime(
        1, 5, datetime.datetime(2024, 3, 1), workbook.add_format({"num_format": "yyyy-mm-dd"})
    )
    workbook.close()
    report = import_file(directory, workspace, path)
    assert (report.created, report.rejected) == (1, 0)
    entry = next(directory.iter_entries())
    assert (entry["name"], entry["update_cycle"], entry["published_at"]) == (
        "社保卡申领信息",
        "每日",
        "2024-03-01",
    )


def test_excel_serial_dates_without_a_format():
    from schemas.dates import parse_time  # the one date parser every import goes through

    assert parse_time("45352").value.isoformat() == "2024-03-01T00:00:00"
    assert parse_time(45352.0).precision == "day"


def test_explicit_mapping_file_wins(directory, workspace, tmp_path, real_data):
    mapping = tmp_path / "my.yaml"
    mapping.write_text(
        "name: my-portal\nkey: [url]\nfields:\n  name: 标题\n  provider_name: 来源部门\n"
        "  update_cycle: 更新频率\ndefaults:\n  share_type: 有条件共享\n",
        encoding="utf-8",
    )
    report = import_file(
        directory, workspace, real_data / "cn-portals" / "anhui_suzhou.json", mapping=str(mapping)
    )
    assert (report.mapping, report.created) == ("my-portal", 524)
    assert directory.stats()["by_share_type"] == {"有条件共享": 524}


def test_file_no_mapping_fits_lists_its_unmapped_fields(directory, workspace, tmp_path):
    path = tmp_path / "odd.json"
    path.write_text(
        json.dumps([{"资源名": "x", "单位": "y", "周期": "每月"}], ensure_ascii=False),
        encoding="utf-8",
    )
    with pytest.raises(MappingError) as info:
        import_file(directory, workspace, path)
    message = str(info.value)
    assert "信息资源名称 (name)" in message  # what the drafted mapping could not place
    assert str(path) in message
    assert "资源名" in message
    assert "单位" in message
    assert "周期" in message


def test_a_file_no_shipped_mapping_fits_imports_with_a_drafted_mapping(
    directory, workspace, tmp_path
):
    path = tmp_path / "portal.json"
    records = [
        {
            "资源名称": f"数据集{n}",
            "数源单位": "区统计局",
            "更新频率": "每月",
            "开放类型": "无条件开放",
        }
        for n in range(5)
    ]
    path.write_text(json.dumps(records, ensure_ascii=False), encoding="utf-8")
    report = import_file(directory, workspace, path)
    assert (report.drafted, report.created, report.rejected) == (True, 5, 0)
    assert f"mulu catalog mapping draft {path} -o my.yaml" in report.draft_hint("en")
    assert report.as_dict()["drafted"] is True


def test_shipped_mappings_are_valid_and_distinct():
    names = [m.name for m in shipped_mappings()]
    assert len(names) == len(set(names)) >= 7


def test_detection_prefers_the_most_specific_mapping(real_data):
    document = read_document(real_data / "dcat-us" / "gsa.json")
    mapping, records = detect_mapping(document)
    assert mapping.name == "dcat-us"
    assert sum(1 for _ in records) == 339


def test_every_mapping_setting_and_transform_is_documented():
    from catalog.importing.mapping import Detect, FieldRule, Mapping
    from catalog.importing.transforms import TRANSFORMS

    docs = (Path(__file__).resolve().parents[2] / "docs" / "mappings.md").read_text(
        encoding="utf-8"
    )
    settings = set(Mapping.model_fields) | {f.alias or n for n, f in FieldRule.model_fields.items()}
    settings |= {f.alias or n for n, f in Detect.model_fields.items()}
    undocumented = sorted(s for s in settings | set(TRANSFORMS) if f"| `{s}` |" not in docs)
    assert undocumented == []
    shipped = sorted(m.name for m in shipped_mappings() if f"| `{m.name}` |" not in docs)
    assert shipped == []
