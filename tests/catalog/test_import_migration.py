"""Moving a catalogue between workspaces through Mulu's own exports loses nothing: entries and
organisations (kind, contacts, parent) arrive identical, and text Excel cut at its cell limit
never replaces the full text stored."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from catalog.directory import Directory, EntryRecord
from catalog.exporting import export_report
from catalog.importing.importer import import_file
from catalog.importing.own_export import EXCEL_CELL_LIMIT
from schemas.entry import Organisation
from warehouse.store.fields import ENTRY_FIELDS, ORGANISATION_FIELDS
from warehouse.workspace import Workspace

ORGANISATIONS = 24
ENTRIES = 96


def organisation(n: int) -> Organisation:
    """Every field filled: a district body and, below the first four, its parent."""
    return Organisation(
        code=f"11340100MB{n:07d}X",
        name=f"示范区第{n}局",
        parent_code=None if n < 4 else f"11340100MB{n % 4:07d}X",
        kind=("区级部门", "街道/乡镇", "村居")[n % 3],
        contact_name=f"联系人{n}",
        contact_phone=f"0551-6{n:03d} 1234",
        contact_email=f"org{n}@example.gov.cn",
    )


def entry(n: int) -> dict:
    org = organisation(n % ORGANISATIONS)
    return {
        "code": f"{101001 + n % 7}/{n + 1:06d}",
        "name": f"信息资源{n}",
        "category_name": "人口",
        "provider_name": org.name,
        "provider_code": org.code,
        "summary": f'摘要{n}，含"引号";和分号\n第二行',
        "format_category": "数据库",
        "formats": ["xlsx", "csv"],
        "data_items": [{"name": "姓名", "data_type": "C", "length": 50}],
        "share_type": ("无条件共享", "有条件共享", "不予共享")[n % 3],
        "share_condition": "仅限政务用途" if n % 3 == 1 else None,
        "share_method": "共享平台方式/接口",
        "open_type": "不予开放",
        "update_cycle": ("每月", "每年", "实时", "不定期")[n % 4],
        "published_at": ("2023", "2023-05", "2023-05-08")[n % 3],
        "updated_at": f"2024-0{n % 9 + 1}-15T09:30:00",
        "related_codes": [],
        "theme": "公共安全",
        "tags": ["户籍", f"标签{n % 5}"],
        "landing_page": f"https://data.example.gov.cn/r/{n}",
    }


@pytest.fixture
def district(tmp_path: Path):
    workspace = Workspace(tmp_path / "district")
    directory = Directory.open(workspace, user="t")
    directory.workspace_for_tests = workspace  # the tests that import into it again
    directory.add_organisations([organisation(n) for n in range(ORGANISATIONS)])
    result = directory.apply([EntryRecord(entry(n)) for n in range(ENTRIES)], source="test")
    assert (result.created, result.errors) == (ENTRIES, [])
    yield directory
    directory.close()


def organisations_checksum(directory: Directory) -> tuple[int, str]:
    rows = sorted(
        (
            tuple(o.get(name) for name in ORGANISATION_FIELDS)
            for o in directory.store.organisations.all()
        ),
        key=lambda row: row[0],
    )
    return len(rows), hashlib.sha256(json.dumps(rows, ensure_ascii=False).encode()).hexdigest()


def entries_checksum(directory: Directory) -> tuple[int, str]:
    rows = [tuple(e.get(name) for name in ENTRY_FIELDS) for e in directory.iter_entries()]
    text = json.dumps(rows, ensure_ascii=False, default=str)
    return len(rows), hashlib.sha256(text.encode()).hexdigest()


@pytest.mark.parametrize("fmt", ["json", "xlsx"])
def test_migrating_through_an_export_keeps_organisations_and_entries(district, tmp_path, fmt):
    out = tmp_path / f"district.{fmt}"
    assert export_report(district, fmt, out).entries == ENTRIES
    target = Workspace(tmp_path / f"new-{fmt}")
    migrated = Directory.open(target, user="t")
    try:
        report = import_file(migrated, target, out)
        assert report.mapping == ("mulu-json" if fmt == "json" else "mulu-table")
        assert (report.created, report.rejected, report.organisations) == (
            ENTRIES,
            0,
            ORGANISATIONS,
        )
        assert organisations_checksum(migrated) == organisations_checksum(district)
        assert entries_checksum(migrated) == entries_checksum(district)
        police = migrated.organisation(organisation(5).code)
        assert (police["kind"], police["contact_email"], police["parent_code"]) == (
            "村居",
            "org5@example.gov.cn",
            organisation(1).code,
        )
    finally:
        migrated.close()


def test_an_export_is_authoritative_for_its_organisations_blanks_keep(district, tmp_path):
    out = tmp_path / "district.json"
    export_report(district, "json", out)
    target = Workspace(tmp_path / "new")
    migrated = Directory.open(target, user="t")
    try:
        code = organisation(2).code
        migrated.add_organisations(
            [{"code": code, "name": "旧名", "kind": "旧类别", "contact_name": "旧联系人"}]
        )
        # The file blanks one field of another organisation: the stored value stays.
        data = json.loads(out.read_text(encoding="utf-8"))
        data["organisations"][3]["contact_phone"] = None
        migrated.add_organisations([{**organisation(3).model_dump(), "contact_phone": "留着"}])
        out.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
        import_file(migrated, target, out)
        replaced = migrated.organisation(code)
        assert (replaced["name"], replaced["kind"], replaced["contact_name"]) == (
            organisation(2).name,
            organisation(2).kind,
            organisation(2).contact_name,
        )
        assert migrated.organisation(organisation(3).code)["contact_phone"] == "留着"
    finally:
        migrated.close()


def test_an_unreadable_organisation_warns_and_the_entries_still_land(district, tmp_path):
    out = tmp_path / "district.json"
    export_report(district, "json", out)
    data = json.loads(out.read_text(encoding="utf-8"))
    data["organisations"][0]["name"] = None  # a name is required
    data["organisations"][0]["surprise"] = 1
    out.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    target = Workspace(tmp_path / "new")
    migrated = Directory.open(target, user="t")
    try:
        report = import_file(migrated, target, out, lang="en")
        assert (report.created, report.rejected, report.organisations) == (
            ENTRIES,
            0,
            ORGANISATIONS - 1,
        )
        (warning,) = [p for p in report.problems if p.reason.code == "organisation_invalid"]
        assert warning.row == 1
        assert warning.text("en") == (
            "organisation row 1 cannot be read and was not imported: missing 提供方名称 (name)"
        )
        assert warning.text("zh") == "提供方第 1 行无法读取，未导入：缺少 提供方名称 (name)"
    finally:
        migrated.close()


LONG = "长" * (EXCEL_CELL_LIMIT + 100)


def test_excel_export_says_what_it_cut_and_reimport_keeps_the_full_text(district, tmp_path):
    code = entry(0)["code"]
    district.update(code, {"summary": LONG})
    before = entries_checksum(district)
    history = len(district.history(code))
    for fmt in ("csv", "json"):
        assert export_report(district, fmt, tmp_path / f"all.{fmt}").cut_cells == 0
    out = tmp_path / "all.xlsx"
    assert export_report(district, "xlsx", out).cut_cells == 1

    report = import_file(district, district_workspace(district), out, lang="en")
    assert (report.updated, report.unchanged, report.rejected) == (0, ENTRIES, 0)
    (cut,) = [p for p in report.problems if p.reason.code == "excel_cut"]
    assert "32,767" in cut.text("en")
    assert cut.field.startswith("信息资源摘要")
    assert district.get(code)["summary"] == LONG
    assert entries_checksum(district) == before
    assert len(district.history(code)) == history


def test_a_text_at_the_cell_limit_that_is_not_a_cut_replaces(district, tmp_path):
    """Only the beginning of what is stored counts as Excel's cut: other text of that length
    is a real change."""
    code = entry(0)["code"]
    district.update(code, {"summary": LONG})
    out = tmp_path / "all.xlsx"
    export_report(district, "xlsx", out)
    district.update(code, {"summary": "短"})  # stored text no longer starts with the cell's
    report = import_file(district, district_workspace(district), out)
    assert report.updated == 1
    assert district.get(code)["summary"] == LONG[:EXCEL_CELL_LIMIT]


def district_workspace(directory: Directory) -> Workspace:
    return directory.workspace_for_tests


def test_a_list_excel_cut_keeps_the_stored_list(district, tmp_path):
    """信息项 are one cell in the table export: a cut cell must not drop the items past it."""
    code = entry(1)["code"]
    items = [{"name": f"字段{n:05d}", "data_type": "C", "length": 50} for n in range(3_000)]
    district.update(code, {"data_items": items})
    stored = district.get(code)["data_items"]
    out = tmp_path / "all.xlsx"
    assert export_report(district, "xlsx", out).cut_cells == 1
    report = import_file(district, district_workspace(district), out)
    assert (report.updated, report.rejected) == (0, 0)
    (cut,) = [p for p in report.problems if p.reason.code == "excel_cut"]
    assert cut.field.startswith("信息项信息")
    assert district.get(code)["data_items"] == stored


def test_a_cut_cell_of_another_spreadsheet_keeps_the_text_stored_under_its_key(
    directory, workspace, tmp_path
):
    """Records without a code are found by their key (name+provider) to compare."""
    import xlsxwriter

    header = ["目录名称", "提供部门", "共享类型", "摘要"]
    full = tmp_path / "full.csv"
    full.write_text(",".join(header) + f"\n长摘要,部门,无条件共享,{LONG}\n", encoding="utf-8")
    assert import_file(directory, workspace, full).created == 1
    sheet = tmp_path / "cut.xlsx"
    with xlsxwriter.Workbook(str(sheet)) as book:
        page = book.add_worksheet()
        for row, cells in enumerate([header, ["长摘要", "部门", "无条件共享", LONG]]):
            for column, cell in enumerate(cells):
                page.write_string(row, column, cell)  # xlsxwriter cuts the summary, as Excel
    report = import_file(directory, workspace, sheet)
    assert (report.created, report.updated, report.unchanged) == (0, 0, 1)
    assert [p.reason.code for p in report.problems] == ["excel_cut"]
    (only,) = list(directory.iter_entries())
    assert only["summary"] == LONG
