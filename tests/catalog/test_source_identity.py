"""A record's identity is what its source identifies it by, not the mapping's name: the same
file imported with two differently named mappings gives one set of entries, and entries
imported before (``<mapping>:<sha1>`` keys) are found and their keys rewritten."""

from __future__ import annotations

import json

import pytest
from catalog_apply_helpers import apply_file, entry_records, fingerprint, mapping_from

from catalog.directory import Directory, EntryRecord
from catalog.importing.draft import draft_mapping
from catalog.importing.mapping import detect_mapping, resolve_mapping, shipped_mappings
from catalog.importing.reading import read_document

pytestmark = pytest.mark.both_stores

# How a person (or ``mapping draft``) might write a mapping for the Lu'an/Suzhou export: other
# name, columns in another order, fewer fields.
LUAN_BY_HAND = """
name: luan-by-hand
detect: {all: [标题, 来源部门]}
key: [来源部门, 标题]
fields:
  provider_name: 来源部门
  name: 标题
  update_cycle: 更新频率
  updated_at: 更新时间
defaults: {share_type: 无条件共享}
"""
# The same identity given as entry fields after mapping (as the generic mapping does).
LUAN_BY_FIELDS = """
name: luan-by-fields
key_fields: [name, provider_name]
fields:
  name: 标题
  provider_name: 来源部门
defaults: {share_type: 无条件共享}
"""
DCAT_COPY = """
name: my-agency
records: dataset
key: [identifier]
fields:
  name: title
  provider_name: publisher.name
  share_type: {from: accessLevel, values: {public: 无条件共享, non-public: 不予共享}}
  summary: description
"""


def _records(real_data, name: str) -> list[dict]:
    return json.loads((real_data / "cn-portals" / name).read_text(encoding="utf-8"))


def _keys(directory: Directory) -> dict[str, str]:
    con = directory.store.database.connection()
    return dict(con.execute("SELECT code, source_key FROM entries").fetchall())


@pytest.mark.slow
def test_the_same_file_with_two_mappings_gives_one_set_of_entries(directory, real_data):
    records = _records(real_data, "anhui_luan.json")
    first = apply_file(directory, resolve_mapping("cn-luan-suzhou"), records)
    assert first.created == 546
    assert first.rejected == 0
    before = fingerprint(directory)
    for text in (LUAN_BY_HAND, LUAN_BY_FIELDS):
        again = apply_file(directory, mapping_from(text), records)
        assert (again.created, again.rejected) == (0, 0)
    assert fingerprint(directory)["entries"][0] == before["entries"][0] == 546
    assert directory.store.entries.count() == 546


def test_dcat_identifier_is_the_identity_whatever_the_mapping_is_called(directory, real_data):
    catalogue = json.loads((real_data / "dcat-us" / "gsa.json").read_text(encoding="utf-8"))
    datasets = catalogue["dataset"][:60]
    first = apply_file(directory, resolve_mapping("dcat-us"), datasets)
    assert first.created == 60
    again = apply_file(directory, mapping_from(DCAT_COPY), datasets)
    assert again.created == 0
    assert directory.store.entries.count() == 60
    assert all(key.startswith("identifier:") for key in _keys(directory).values())


def test_a_url_key_is_the_landing_page_in_any_mapping(directory, real_data):
    records = _records(real_data, "anhui_huainan.json")
    shipped = resolve_mapping("cn-huainan")
    apply_file(directory, shipped, records)
    by_landing_page = mapping_from("""
name: huainan-drafted
key_fields: [landing_page]
fields: {name: 标题, provider_name: 所属部门, landing_page: url}
defaults: {share_type: 无条件共享, provider_name: 淮南市数据开放平台（未注明提供单位）}
""")
    again = apply_file(directory, by_landing_page, records)
    assert again.created == 0
    assert again.unchanged + again.updated == 35
    assert all(key.startswith("landing_page:") for key in _keys(directory).values())


@pytest.mark.slow
def test_entries_imported_before_are_matched_by_their_old_keys_and_rekeyed(directory, real_data):
    records = _records(real_data, "anhui_suzhou.json")
    mapping = resolve_mapping("cn-luan-suzhou")
    # As imported before issue 12: source_key was "<mapping name>:<sha1>".
    old = [
        EntryRecord(r.fields, row=r.row, source_key=r.legacy_key, source_record=r.source_record)
        for r in entry_records(mapping, records)
    ]
    created = directory.apply(old, source=mapping.name)
    assert created.created == 524
    assert all(key.startswith("cn-luan-suzhou:") for key in _keys(directory).values())
    versions = fingerprint(directory)["entry_history"]

    again = apply_file(directory, mapping, records)
    assert (again.created, again.updated, again.unchanged) == (0, 0, 524)
    keys = _keys(directory)
    assert len(keys) == 524
    # Suzhou's records have their own page: it identifies them (prefer_key), not 标题+来源部门.
    assert all(key.startswith("landing_page:") for key in keys.values())
    assert fingerprint(directory)["entry_history"] == versions  # rekeying is no new version
    # And the next import matches by the new key alone.
    third = directory.apply(
        [EntryRecord(r.fields, source_key=r.source_key) for r in entry_records(mapping, records)],
        source=mapping.name,
    )
    assert (third.created, third.unchanged) == (0, 524)


def test_records_sharing_a_key_stay_distinct_by_position(directory):
    mapping = mapping_from(LUAN_BY_HAND)
    records = [
        {"标题": "年报", "来源部门": "市统计局", "更新时间": "2021-01-01"},
        {"标题": "年报", "来源部门": "市统计局", "更新时间": "2022-01-01"},
    ]
    keys = [r.source_key for r in entry_records(mapping, records)]
    assert keys[1] == f"{keys[0]}#2"
    assert apply_file(directory, mapping, records).created == 2


def test_identity_ignores_whitespace_and_placeholders():
    mapping = mapping_from(LUAN_BY_HAND)
    plain = {"标题": "年报", "来源部门": "市统计局"}
    padded = {"标题": " 年报 ", "来源部门": "市统计局\t", "更新频率": "暂无"}
    assert mapping.record_key(plain, mapping.apply(plain)[0]) == mapping.record_key(
        padded, mapping.apply(padded)[0]
    )
    assert resolve_mapping("mulu-table").record_key(plain, {}) is None


@pytest.mark.slow
def test_drafted_and_shipped_mappings_give_every_real_record_the_same_identity(real_data):
    """``mapping draft`` keys a file by url/identifier when it has one, else by name and
    provider: the shipped mappings' keys mean the same, record for record."""
    for path in sorted(real_data.glob("*/*.json")):
        document = read_document(path)
        shipped, records = detect_mapping(document)
        drafted = draft_mapping(document).mapping
        for ours, theirs in zip(records, document.records(drafted.records), strict=True):
            ours = getattr(ours, "fields", ours)
            theirs = getattr(theirs, "fields", theirs)
            assert shipped.record_key(ours, shipped.apply(ours)[0]) == drafted.record_key(
                theirs, drafted.apply(theirs)[0]
            ), (path.name, ours)


def test_a_mappings_defaults_do_not_change_identity():
    with_default = mapping_from(
        LUAN_BY_HAND.replace(
            "{share_type: 无条件共享}", "{share_type: 无条件共享, provider_name: 未注明}"
        )
    )
    record = {"标题": "年报", "来源部门": ""}
    assert with_default.apply(record)[0]["provider_name"] == "未注明"
    assert with_default.record_key(record, {}) == mapping_from(LUAN_BY_HAND).record_key(record, {})


def test_prefer_key_identifies_the_records_that_have_it():
    mapping = resolve_mapping("cn-luan-suzhou")
    luan = {"标题": "年报", "来源部门": "六安市统计局", "更新频率": "每年"}
    suzhou = {**luan, "url": "https://www.ahsz.gov.cn/oportal/catalog/1"}
    assert mapping.record_key(luan, {}).startswith("name+provider_name:")
    assert mapping.record_key(suzhou, {}).startswith("landing_page:")
    assert mapping.record_key({**suzhou, "url": "暂无"}, {}).startswith("name+provider_name:")
    assert mapping.legacy_key(suzhou, mapping.apply(suzhou)[0]) == mapping.legacy_key(
        luan, mapping.apply(luan)[0]
    )  # before issue 12 the url was not part of it
    assert mapping.missing_columns({"标题", "来源部门", "更新频率"}) == []  # url is optional


# --- source namespaces ---------------------------------------------------------------------
# The same 标题 under the same 提供单位 listed by two portals: Chizhou's and Lu'an's exports.
CHIZHOU_RECORD = {"标题": "财政预算公开", "提供单位": "市财政局", "更新时间": "2024-01-02"}
LUAN_RECORD = {"标题": "财政预算公开", "来源部门": "市财政局", "更新时间": "2023-03-04"}


def test_records_keyed_by_name_from_two_portals_stay_apart_with_sources(directory):
    chizhou = resolve_mapping("cn-chizhou").with_source("chizhou")
    luan = resolve_mapping("cn-luan-suzhou").with_source("luan")
    assert apply_file(directory, chizhou, [CHIZHOU_RECORD]).created == 1
    assert apply_file(directory, luan, [LUAN_RECORD]).created == 1
    assert directory.store.entries.count() == 2
    keys = sorted(_keys(directory).values())
    assert [key.split("/", 1)[0] for key in keys] == ["chizhou", "luan"]
    assert all(key.split("/", 1)[1].startswith("name+provider_name:") for key in keys)
    dates = sorted(e["updated_at"] for e in directory.iter_entries())
    assert dates == ["2023-03-04T00:00:00", "2024-01-02T00:00:00"]  # neither overwrote
    # Each portal's re-import finds its own entry.
    again = apply_file(directory, chizhou, [CHIZHOU_RECORD])
    assert (again.created, again.unchanged) == (0, 1)


def test_without_sources_name_keys_are_one_identity_across_portals(directory):
    """The documented behaviour: name+provider keys are global unless --source is given."""
    apply_file(directory, resolve_mapping("cn-chizhou"), [CHIZHOU_RECORD])
    merged = apply_file(directory, resolve_mapping("cn-luan-suzhou"), [LUAN_RECORD])
    assert (merged.created, merged.rejected) == (0, 0)
    assert directory.store.entries.count() == 1


def test_a_source_leaves_page_and_identifier_keys_global():
    suzhou = resolve_mapping("cn-luan-suzhou")
    record = {"标题": "年报", "来源部门": "宿州市统计局", "url": "https://www.ahsz.gov.cn/x/1"}
    sourced = suzhou.with_source("suzhou")
    assert sourced.record_key(record, {}) == suzhou.record_key(record, {})
    assert sourced.record_key(record, {}).startswith("landing_page:")
    without_url = {**record, "url": ""}
    assert sourced.record_key(without_url, {}) == "suzhou/" + suzhou.record_key(without_url, {})
    assert suzhou.source is None  # with_source gives a copy
    assert sourced.with_source(None).source == "suzhou"
    dcat = resolve_mapping("dcat-us").with_source("gsa")
    assert dcat.record_key({"identifier": "x-1", "title": "t"}, {}).startswith("identifier:")


def test_a_source_is_a_word_and_shipped_mappings_set_none():
    assert all(m.source is None for m in shipped_mappings())
    assert mapping_from(LUAN_BY_HAND + "source: luan\n").source == "luan"
    for bad in ("a/b", "a:b", "two words"):
        with pytest.raises(ValueError, match="one word"):
            resolve_mapping("cn-chizhou").with_source(bad)
        with pytest.raises(ValueError, match="one word"):
            mapping_from(LUAN_BY_HAND + f"source: '{bad}'\n")


# --- records without a value in their key columns --------------------------------------------
def test_records_without_key_values_are_identified_by_name_and_provider_not_position(
    directory, real_data
):
    """An Anhui-province-shaped file without url: re-imported in another order, no entry takes
    another record's values."""
    records = [
        {k: v for k, v in r.items() if k != "url"}
        for r in _records(real_data, "anhui_anhui.json")[:80]
    ]
    mapping = resolve_mapping("cn-anhui-province")
    keys = {mapping.record_key(r, mapping.apply(r)[0]) for r in records}
    assert len(keys) == 80
    assert all(key.startswith("name+provider_name:") for key in keys)
    assert apply_file(directory, mapping, records).created == 80
    before = fingerprint(directory)
    again = apply_file(directory, mapping, list(reversed(records)))
    assert (again.created, again.updated, again.unchanged) == (0, 0, 80)
    assert fingerprint(directory) == before


def test_a_record_with_no_key_value_name_or_provider_has_no_key():
    mapping = resolve_mapping("cn-anhui-province")
    assert mapping.record_key({"标题": "暂无", "提供单位": "", "url": "-"}, {}) is None
    blank_url = {"标题": "年报", "提供单位": "省统计局", "url": " "}
    named = mapping_from(LUAN_BY_FIELDS).record_key({"标题": "年报", "来源部门": "省统计局"}, {})
    assert mapping.record_key(blank_url, {}) == named
