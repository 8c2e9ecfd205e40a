"""Re-imports merge with what is stored: 最近更新时间 never moves back, unreadable optional
values warn instead of rejecting, provider contacts fill only blanks, and every field of the
source record is kept without making an entry "updated"."""

from __future__ import annotations

import datetime as dt

import pytest
from catalog_apply_helpers import apply_file, entry_records, fingerprint, mapping_from

from catalog.applying import compare_times
from catalog.directory import Directory, EntryRecord
from catalog.exporting import export_catalogue
from catalog.importing.mapping import resolve_mapping
from catalog.importing.reading import read_document
from schemas.errors import InvalidInput

# Doubled on PostgreSQL: every merge test that writes the store, but the real Suzhou file,
# the web API and three of the year-9999 spellings (the module took over 20 s there).

PORTAL = mapping_from("""
name: portal-x
detect: {all: [标题, 来源部门]}
key: [标题, 来源部门]
fields:
  name: 标题
  provider_name: 来源部门
  summary: 描述
  update_cycle: 更新频率
  published_at: 发布时间
  updated_at: 更新时间
  provider_contact_phone: 部门电话
  provider_contact_email: 部门邮箱
defaults: {share_type: 无条件共享}
""")
RECORD = {
    "标题": "企业基本信息",
    "来源部门": "六安市市场监管局",
    "描述": "工商登记的企业",
    "更新频率": "每月",
    "发布时间": "2021-12-08",
    "更新时间": "2022-05-01",
    "数据量": "469,585",
}


def _code(directory: Directory) -> str:
    return directory.store.entries.code_list()[0]


# --- 最近更新时间 --------------------------------------------------------------------------
@pytest.mark.both_stores
def test_a_reimport_never_moves_a_reported_update_back(directory):
    apply_file(directory, PORTAL, [RECORD])
    code = _code(directory)
    directory.report_update(code, at=dt.datetime(2026, 11, 20, 9, 30))
    warnings = []
    again = apply_file(directory, PORTAL, [RECORD], on_problem=warnings.append)
    assert (again.updated, again.unchanged, again.warned) == (0, 1, 1)
    assert directory.get(code)["updated_at"] == "2026-11-20T09:30:00"
    [warning] = warnings
    assert (warning.field, warning.severity, warning.reason.code) == (
        "updated_at",
        "warning",
        "older_update",
    )
    assert "早于已记录的 2026-11-20T09:30:00" in warning.reason.text("zh")
    events = [(e["source"], e["updated_at"]) for e in directory.store.history.updates(code)]
    assert events == [("harvest", "2022-05-01T00:00:00"), ("report", "2026-11-20T09:30:00")]
    apply_file(directory, PORTAL, [RECORD])  # the older value is logged once only
    assert len(directory.store.history.updates(code)) == 2


@pytest.mark.both_stores
def test_an_older_source_value_not_yet_logged_is_logged(directory):
    apply_file(directory, PORTAL, [{**RECORD, "更新时间": "2023-06-12"}])
    code = _code(directory)
    apply_file(directory, PORTAL, [{**RECORD, "更新时间": "2023-01-05"}])
    assert directory.get(code)["updated_at"] == "2023-06-12T00:00:00"
    assert [e["updated_at"] for e in directory.store.history.updates(code)] == [
        "2023-01-05T00:00:00",
        "2023-06-12T00:00:00",
    ]


@pytest.mark.both_stores
def test_a_newer_source_value_moves_it_forward_and_none_keeps_it(directory):
    apply_file(directory, PORTAL, [RECORD])
    code = _code(directory)
    newer = apply_file(directory, PORTAL, [{**RECORD, "更新时间": "2023-06-12 08:15"}])
    assert newer.updated == 1
    assert directory.get(code)["updated_at"] == "2023-06-12T08:15:00"
    for blank in ("", "暂无"):
        kept = apply_file(directory, PORTAL, [{**RECORD, "更新时间": blank}])
        assert kept.unchanged == 1
        assert directory.get(code)["updated_at"] == "2023-06-12T08:15:00"
    # A steward's edit is taken as given, even backwards.
    directory.update(code, {"updated_at": "2023-01-01T00:00:00"})
    assert directory.get(code)["updated_at"] == "2023-01-01T00:00:00"


def test_dates_are_compared_as_the_periods_they_state():
    day = "2023-06-05T10:00:00"
    assert compare_times("2023-01-01T00:00:00", "year", day, None) == "agrees"
    assert compare_times(day, None, "2023-01-01T00:00:00", "year") == "newer"  # finer
    assert compare_times("2024-01-01T00:00:00", "year", day, None) == "newer"
    assert compare_times("2022-01-01T00:00:00", "year", day, None) == "older"
    assert compare_times("2023-06-01T00:00:00", "month", day, None) == "agrees"
    assert compare_times("2023-12-01T00:00:00", "month", "2023-11-30T23:59:59", None) == "newer"
    assert compare_times(day, None, day, None) == "agrees"


@pytest.mark.both_stores
def test_a_year_precision_source_keeps_a_reported_time_in_that_year(directory):
    apply_file(directory, PORTAL, [{**RECORD, "更新时间": "2023"}])
    code = _code(directory)
    assert directory.get(code)["updated_precision"] == "year"
    directory.report_update(code, at=dt.datetime(2023, 7, 1, 12, 0))
    again = apply_file(directory, PORTAL, [{**RECORD, "更新时间": "2023"}])
    assert (again.unchanged, again.warned) == (1, 0)  # it agrees: no warning, nothing moves
    entry = directory.get(code)
    assert (entry["updated_at"], entry["updated_precision"]) == ("2023-07-01T12:00:00", None)


@pytest.mark.parametrize("sentinel", ["9999-12-31", "9999-12", "9999", "9999-12-31 23:59:59"])
def test_a_year_9999_sentinel_merges_without_aborting_the_import(directory, sentinel):
    apply_file(directory, PORTAL, [RECORD])
    code = _code(directory)
    later = apply_file(directory, PORTAL, [{**RECORD, "更新时间": sentinel}])
    assert (later.updated, later.rejected) == (1, 0)
    assert directory.get(code)["updated_at"].startswith("9999-")
    back = apply_file(directory, PORTAL, [RECORD])  # an older value against the sentinel
    assert (back.unchanged, back.warned, back.rejected) == (1, 1, 0)
    again = apply_file(directory, PORTAL, [{**RECORD, "更新时间": sentinel}])
    assert (again.unchanged, again.rejected) == (1, 0)


@pytest.mark.both_stores
def test_a_year_9999_sentinel_with_a_cycle_has_a_deadline_at_the_end_of_time(directory):
    from catalog.freshness.policies import entry_status
    from catalog.search.documents import deadlines

    apply_file(directory, PORTAL, [{**RECORD, "更新时间": "9999-12-31", "更新频率": "每年"}])
    entry = directory.get(_code(directory))
    status = entry_status(directory.store, entry)
    assert (status["status"], status["deadline"]) == ("fresh", dt.datetime.max)
    found = deadlines(entry["code"], entry["updated_at"], "每年", None, {})  # the search index's
    assert found.tracked


def test_periods_end_at_the_last_datetime_in_year_9999():
    for precision in ("year", "month", "day", "minute", None):
        assert compare_times("2024-01-01T00:00:00", None, "9999-12-31T23:59:59", precision) == (
            "older"
        )
    # the year 9999 lasts to datetime.max: a time in its last second agrees with it
    assert compare_times("9999-01-01T00:00:00", "year", "9999-12-31T23:59:59", None) == "agrees"
    assert compare_times("9999-12-01T00:00:00", "month", "9999-12-31T23:59:59", None) == "agrees"
    assert compare_times("9999-12-31T00:00:00", "day", "2024-05-01T00:00:00", None) == "newer"


@pytest.mark.both_stores
def test_older_values_of_a_batch_read_the_update_log_once(directory):
    """The older-date merge asks the update log once per batch, not once per record."""
    records = [{**RECORD, "标题": f"第{n}条", "更新时间": "2023-06-12"} for n in range(30)]
    apply_file(directory, PORTAL, records)
    statements: list[str] = []
    con = directory.store.database.connection()
    con.set_trace_callback(statements.append)
    try:
        older = apply_file(directory, PORTAL, [{**r, "更新时间": "2023-01-05"} for r in records])
    finally:
        con.set_trace_callback(None)
    assert (older.unchanged, older.warned) == (30, 30)
    reads = [s for s in statements if "FROM entry_updates" in s]
    assert len(reads) == 1, reads
    for code in directory.store.entries.code_list():  # each older value logged once
        assert [e["updated_at"] for e in directory.store.history.updates(code)] == [
            "2023-01-05T00:00:00",
            "2023-06-12T00:00:00",
        ]


# --- identities from before issue 12 --------------------------------------------------------
@pytest.mark.both_stores
def test_a_legacy_key_counted_by_position_does_not_hand_an_entry_to_another_record(directory):
    """Entries imported before issue 12 from a file without url: their keys were
    ``cn-anhui-province:<sha1 of no url>#n``, a position. Re-imported in another order, no
    entry takes another record's values."""
    mapping = resolve_mapping("cn-anhui-province")
    records = [
        {
            "标题": f"数据集{n}",
            "提供单位": "省统计局",
            "摘要信息": "",
            "更新频率": "每年",
            "更新日期": f"202{n}-01-01",
        }
        for n in range(1, 4)
    ]
    old = [
        EntryRecord(r.fields, row=r.row, source_key=r.legacy_key, source_record=r.source_record)
        for r in entry_records(mapping, records)
    ]
    assert [r.source_key.rpartition("#")[2] for r in old][1:] == ["2", "3"]
    assert directory.apply(old, source=mapping.name).created == 3
    names = {e["code"]: e["name"] for e in directory.iter_entries()}
    result = apply_file(directory, mapping, list(reversed(records)))
    assert (result.updated, result.rejected) == (0, 0)
    for entry in directory.iter_entries():
        assert names.get(entry["code"], entry["name"]) == entry["name"]  # no entry handed over
        number = entry["name"].removeprefix("数据集")
        assert entry["updated_at"] == f"202{number}-01-01T00:00:00", entry


@pytest.mark.both_stores
def test_a_legacy_key_of_a_repeated_title_matches_the_same_record(directory):
    mapping = resolve_mapping("cn-huainan")
    records = [
        {"标题": "年报", "所属部门": "市统计局", "url": "https://x/1"},
        {"标题": "月报", "所属部门": "市统计局", "url": "https://x/1"},
    ]
    old = [
        EntryRecord(r.fields, row=r.row, source_key=r.legacy_key, source_record=r.source_record)
        for r in entry_records(mapping, records)
    ]
    assert old[1].source_key.endswith("#2")
    directory.apply(old, source=mapping.name)
    result = apply_file(directory, mapping, records)
    assert (result.created, result.rejected) == (0, 0)
    assert sorted(e["name"] for e in directory.iter_entries()) == ["年报", "月报"]


# --- row isolation ---------------------------------------------------------------------------
@pytest.mark.both_stores
def test_lenient_drops_unreadable_optional_fields_with_a_warning(directory):
    bad = {**RECORD, "更新频率": "看心情", "发布时间": "2023-02-30"}
    result = apply_file(directory, PORTAL, [bad, {**RECORD, "标题": "另一条"}])
    assert (result.created, result.rejected, result.warned) == (2, 0, 1)
    assert sorted((w.field, w.value) for w in result.warnings) == [
        ("published_at", "2023-02-30"),
        ("update_cycle", "看心情"),
    ]
    cycle = next(w for w in result.warnings if w.field == "update_cycle")
    assert cycle.reason.code == "unreadable_optional"
    assert cycle.reason.text("zh").startswith("更新周期 的值 '看心情' 无法读取，已留空（")
    assert "看心情" in cycle.reason.text("en")
    assert "left empty" in cycle.reason.text("en")
    entry = directory.get(directory.store.entries.code_list()[0])
    assert (entry["update_cycle"], entry["published_at"]) == (None, None)


@pytest.mark.both_stores
def test_required_fields_reject_in_chinese_and_change_nothing(directory):
    apply_file(directory, PORTAL, [RECORD])
    before = fingerprint(directory)
    found = []
    result = apply_file(
        directory,
        PORTAL,
        [{**RECORD, "来源部门": "暂无", "更新频率": "看心情"}],
        on_problem=found.append,
    )
    assert (result.created, result.updated, result.rejected) == (0, 0, 1)
    assert result.errors == []
    assert result.warnings == []
    assert [(p.field, p.severity) for p in found] == [("provider_name", "reject")]
    assert found[0].reason.text("zh") == "缺少 信息资源提供方"
    assert found[0].reason.text("en") == "missing 信息资源提供方"
    assert fingerprint(directory) == before


@pytest.mark.both_stores
def test_manual_changes_stay_strict_and_say_why_in_chinese(directory):
    code = directory.create(
        {"name": "台账", "provider_name": "区民政局", "share_type": "无条件共享"}
    )
    before = fingerprint(directory)
    with pytest.raises(InvalidInput, match="缺少 信息资源提供方"):
        directory.create({"name": "台账", "share_type": "无条件共享"})
    with pytest.raises(InvalidInput, match="更新周期"):
        directory.update(code, {"update_cycle": "看心情"})
    assert fingerprint(directory) == before


# --- contacts ----------------------------------------------------------------------------------
@pytest.mark.both_stores
def test_contacts_fill_the_organisation_only_where_it_has_none(directory):
    directory.add_organisations(
        [{"code": "L0000000001", "name": "市教育局", "contact_phone": "0564-1111111"}]
    )
    records = [
        {**RECORD, "部门电话": "暂无", "部门邮箱": ""},
        {**RECORD, "标题": "第二条", "部门电话": "0564-2222222", "部门邮箱": "jg@luan.gov.cn"},
        {**RECORD, "标题": "第三条", "部门电话": "0564-3333333"},
        {
            **RECORD,
            "标题": "学校名录",
            "来源部门": "市教育局",
            "部门电话": "0564-9999999",
            "部门邮箱": "jy@luan.gov.cn",
        },
    ]
    apply_file(directory, PORTAL, records)
    market = directory.organisation("六安市市场监管局")
    assert (market["contact_phone"], market["contact_email"]) == ("0564-2222222", "jg@luan.gov.cn")
    school = directory.organisation("市教育局")
    assert school["contact_phone"] == "0564-1111111"  # a steward's value stays
    assert school["contact_email"] == "jy@luan.gov.cn"  # a blank is filled
    entry = directory.get(directory.store.entries.code_list()[0])
    assert not any(k.startswith("provider_contact") for k in entry)


@pytest.mark.both_stores
def test_placeholders_given_directly_are_no_contact_either(directory):
    """One placeholder list for mappings and the directory (schemas.placeholders)."""
    fields = {"name": "台账", "provider_name": "区民政局", "share_type": "无条件共享"}
    given = {
        "provider_contact_name": "暂无数据",
        "provider_contact_phone": "NONE",
        "provider_contact_email": "－",
    }
    directory.apply([EntryRecord({**fields, **given})], source="portal-x")
    organisation = directory.organisation("区民政局")
    assert [organisation[c] for c in ("contact_name", "contact_phone", "contact_email")] == [
        None,
        None,
        None,
    ]


def test_real_suzhou_placeholder_contacts_are_no_contact(directory, real_data):
    import json

    records = json.loads((real_data / "cn-portals" / "anhui_suzhou.json").read_text("utf-8"))
    assert {r["部门电话"] for r in records} == {"暂无"}  # the portal states no contact at all
    result = apply_file(directory, resolve_mapping("cn-luan-suzhou"), records)
    assert result.created == 524
    organisations = directory.store.organisations.all()
    assert organisations
    assert not any(o["contact_phone"] for o in organisations)


# --- the source record ---------------------------------------------------------------------
@pytest.mark.both_stores
def test_the_source_record_is_kept_and_replaced_only_by_its_source(directory, tmp_path):
    apply_file(directory, PORTAL, [RECORD])
    code = _code(directory)
    assert directory.get(code)["source_record"] == RECORD  # 数据量 too, which maps nowhere
    history = directory.history(code)
    changed = apply_file(directory, PORTAL, [{**RECORD, "数据量": "470,001"}])
    assert (changed.updated, changed.unchanged) == (0, 1)  # not an entry change
    assert directory.get(code)["source_record"]["数据量"] == "470,001"
    assert directory.history(code) == history
    # Our own CSV export re-imported (no source identity) leaves it and the entry alone.
    before = fingerprint(directory)
    out = tmp_path / "catalogue.csv"
    export_catalogue(directory, "csv", out)
    mulu = resolve_mapping("mulu-table")
    records = [getattr(r, "fields", r) for r in read_document(out).records(mulu.records)]
    result = apply_file(directory, mulu, records)
    assert (result.created, result.updated, result.unchanged, result.rejected) == (0, 0, 1, 0)
    assert fingerprint(directory) == before
    assert directory.get(code)["source_record"]["数据量"] == "470,001"


@pytest.mark.both_stores
def test_listings_leave_the_source_record_out(directory):
    apply_file(directory, PORTAL, [RECORD])
    statements: list[str] = []
    con = directory.store.database.connection()
    con.set_trace_callback(statements.append)
    try:
        page = directory.store.entries.page()
    finally:
        con.set_trace_callback(None)
    assert "source_record" not in page.entries[0]
    assert page.entries[0]["name"] == RECORD["标题"]
    # It is not read at all: a listing of 50 entries would carry 50 source records.
    listing = [s for s in statements if "LIMIT" in s]
    assert listing
    assert not any("SELECT *" in s or "source_record" in s for s in listing), listing


@pytest.mark.both_stores
def test_a_key_conflict_rejects_in_chinese_and_changes_nothing(directory):
    apply_file(directory, PORTAL, [RECORD])
    owner = _code(directory)
    before = fingerprint(directory)
    record = EntryRecord(
        {"code": "101001/000009", "name": "x", "provider_name": "y", "share_type": "无条件共享"},
        row=7,
        source_key=PORTAL.record_key(RECORD, {}),
    )
    found = []
    result = directory.apply([record], source="portal-x", lenient=True, on_problem=found.append)
    assert result.rejected == 1
    assert [(p.row, p.field, p.reason.code) for p in found] == [(7, "code", "key_conflict")]
    assert f"该来源记录已属于信息资源代码 {owner}" in found[0].reason.text("zh")
    assert fingerprint(directory) == before


@pytest.mark.slow
def test_the_api_shows_an_entrys_source_record(directory, workspace):
    from fastapi.testclient import TestClient
    from web_users import add_user, bearer

    from mulu.web.app import create_app

    apply_file(directory, PORTAL, [RECORD])
    code = _code(directory)
    token = add_user(workspace, "reader")  # a signed-in user sees entries that are not open
    with TestClient(create_app(workspace), headers=bearer(token)) as client:
        entry = client.get(f"/api/entries/{code.replace('/', '-')}").json()
        listed = client.get("/api/entries").json()["entries"][0]
    assert entry["source_record"] == RECORD
    assert "source_record" not in listed
