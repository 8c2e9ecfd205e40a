"""Search: real SQLite FTS5, real jieba and pypinyin, real portal data; no mocks."""

from __future__ import annotations

import contextlib
import datetime as dt
import html
import json
import re
import sqlite3
from collections import Counter
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from catalog.directory import Directory
from catalog.freshness.policies import set_policy
from catalog.freshness.sweep import statuses
from catalog.importing.importer import import_file
from catalog.search import FACETS, rebuild_index, refresh_index, search
from catalog.search import query as search_query
from catalog.search.text import pinyin_initials, query_words, segment
from mulu.cli import search_command
from mulu.cli.context import set_options
from warehouse import metadata
from warehouse.workspace import Workspace

PORTALS = ("anhui_luan.json", "anhui_chizhou.json")


@pytest.fixture(scope="module")
def portals(tmp_path_factory, real_data: Path):
    """A workspace holding two real city portals (2,196 Chinese entries)."""
    workspace = Workspace(tmp_path_factory.mktemp("search") / "ws").ensure()
    directory = Directory.open(workspace, user="tester")
    for name in PORTALS:
        report = import_file(directory, workspace, real_data / "cn-portals" / name)
        assert report.created > 0
    directory.close()
    con = metadata.connect(workspace.metadata_db)
    refresh_index(con)
    yield workspace, con
    con.close()


def names(result) -> list[str]:
    return [hit.name for hit in result.hits]


def plain_fts(con: sqlite3.Connection) -> sqlite3.Connection:
    """What Datasette gives: FTS5 with the unicode61 tokenizer over the raw text (a run of
    Han characters is one token), queried with each term quoted."""
    plain = sqlite3.connect(":memory:")
    plain.execute("CREATE VIRTUAL TABLE plain USING fts5(code UNINDEXED, name, summary, "
                  "provider_name, tags, tokenize = 'unicode61')")
    plain.executemany("INSERT INTO plain VALUES (?, ?, ?, ?, ?)", con.execute(
        "SELECT code, name, summary, provider_name, tags FROM entries WHERE status = 'active'"
    ).fetchall())
    return plain


def plain_search(plain: sqlite3.Connection, query: str) -> set[str]:
    escaped = " ".join('"' + term.replace('"', '""') + '"' for term in query.split())
    return {row[0] for row in plain.execute(
        "SELECT code FROM plain WHERE plain MATCH ?", (escaped,))}


# --- segmentation and recall -------------------------------------------------------------
def test_segmentation_of_names():
    assert segment("社保卡申领") == "社保 社保卡 申领"
    assert "社会保障" in segment("社会保障卡服务网点").split()
    assert query_words("社保卡 申领表") == ["社保卡", "申领", "表"]
    assert query_words("人口的统计") == ["人口", "统计"]  # stop words dropped


def test_finds_what_plain_unicode61_fts_cannot(portals):
    workspace, con = portals
    plain = plain_fts(con)
    # 社会保障卡服务网点 is one unicode61 token: neither 社保卡 nor 服务网点 finds it there.
    assert plain_search(plain, "社保卡") == set()
    assert plain_search(plain, "服务网点") == set()
    assert "社会保障卡服务网点" in names(search(con, "社保卡"))
    assert {"社会保障卡服务网点", "社会保障卡“一站式”服务银行网点"} <= set(
        names(search(con, "服务网点")))
    # Abbreviations: 低保 = 最低生活保障, 医保 = 医疗保险.
    found = set(names(search(con, "低保")))
    assert {"智慧城市_城市低保对象综合统计表", "智慧城市_六安市农村居民最低生活保障统计表"} <= found
    assert all("医疗保险" in h.name for h in search(con, "医保", limit=50).hits)
    assert search(con, "医保").total >= 10
    # Latin and digits inside Chinese names, punctuation between words.
    assert "工商_企业基本信息" in names(search(con, "工商_企业基本信息"))
    assert search(con, "2020年").total > 100


def test_recall_above_plain_fts_on_chinese_queries(portals):
    """Ground truth: entries whose name contains the query. Every one is found (names are
    also indexed character by character), which plain unicode61 FTS falls far short of."""
    workspace, con = portals
    plain = plain_fts(con)
    queries = ["社会保障", "企业", "学校", "统计", "医疗保险", "城管", "垃圾", "养老机构",
               "行政许可", "财政", "基本情况", "名单", "服务网点", "公交"]
    ours_total = plain_total = truth_total = 0
    for query in queries:
        truth = {r[0] for r in con.execute(
            "SELECT code FROM entries WHERE status = 'active' AND instr(name, ?) > 0", (query,))}
        assert truth, query
        ours = {h.code for h in search(con, query, limit=5000).hits}
        assert truth <= ours, (query, sorted(truth - ours)[:5])
        ours_total += len(truth & ours)
        plain_total += len(truth & plain_search(plain, query))
        truth_total += len(truth)
    assert ours_total == truth_total
    assert plain_total < truth_total * 0.05  # 7 of 888


def test_one_word_matched_alternative_by_alternative_equals_the_whole_expression(portals):
    """A one-word query is matched alternative by alternative (so the ranking can reuse
    them); it must find exactly what the whole FTS5 expression finds."""
    workspace, con = portals
    for query in ("社保卡", "统计", "医保", "建筑业", "gs", "城管", "统计数据"):
        plan = search_query._plan(query)
        assert len(plan.alternatives) == 1 and len(plan.alternatives[0]) > 1, query
        expected = {r[0] for r in con.execute(
            "SELECT d.code FROM search_fts f JOIN search_docs d ON d.id = f.rowid "
            "WHERE search_fts MATCH ? AND d.active = 1", (plan.match,))}
        assert {h.code for h in search(con, query, limit=100_000).hits} == expected, query


# --- codes and pinyin --------------------------------------------------------------------
def test_code_lookup(portals):
    workspace, con = portals
    code = con.execute("SELECT code FROM entries WHERE name = '社会保障卡服务网点'").fetchone()[0]
    for query in (code, code.replace("/", "-"), f" {code} "):
        result = search(con, query)
        assert result.hits[0].code == code
        assert result.hits[0].match == "exact_code"
    classification = code.split("/")[0]
    prefix = search(con, f"{classification}/0001", limit=3)
    assert prefix.hits and all(h.code.startswith(f"{classification}/0001") for h in prefix.hits)
    assert {h.match for h in prefix.hits} == {"code_prefix"}
    assert prefix.total == con.execute(
        "SELECT count(*) FROM entries WHERE code LIKE ? AND status = 'active'",
        (f"{classification}/0001%",)).fetchone()[0]


def test_pinyin_initials(directory, workspace):
    assert pinyin_initials("社保卡申领") == "sbksl sbk sl"
    assert pinyin_initials("重庆市人口") == "cqsrk cqs rk"  # 重 read chóng in 重庆
    code = directory.create({"name": "社保卡申领", "provider_name": "示范区人社局",
                             "share_type": "有条件共享", "update_cycle": "每月",
                             "summary": "社保卡申领记录"})
    directory.create({"name": "城乡低保对象名单", "provider_name": "示范区民政局",
                      "share_type": "有条件共享", "summary": "低保"})
    for query in ("sbk", "SBKSL", "sl"):
        result = search(workspace, query)
        assert [h.code for h in result.hits] == [code], query
    assert search(workspace, "sbk").hits[0].name_highlighted == "<mark>社保卡</mark>申领"
    assert search(workspace, "dbdx").hits[0].name == "城乡低保对象名单"
    assert search(workspace, "xyz").total == 0


# --- ranking -----------------------------------------------------------------------------
def test_exact_name_first_then_names_containing_it(directory, workspace):
    base = {"provider_name": "示范区统计局", "share_type": "无条件共享", "update_cycle": "每月"}
    noisy = directory.create({**base, "name": "年度报表",
                              "summary": "人口统计 人口统计 人口统计 人口统计 人口统计",
                              "tags": ["人口统计"]})
    longer = directory.create({**base, "name": "常住人口统计年报", "summary": "年报"})
    exact = directory.create({**base, "name": "人口统计", "summary": "按年汇总"})
    apart = directory.create({**base, "name": "人口与户籍统计", "summary": "户籍"})
    result = search(workspace, "人口统计")
    assert [h.code for h in result.hits[:2]] == [exact, longer]
    assert [h.match for h in result.hits[:2]] == ["exact_name", "name_contains"]
    assert set(h.code for h in result.hits[2:]) == {noisy, apart}
    assert result.hits[0].name_highlighted == "<mark>人口统计</mark>"
    assert result.ranking == "bm25"


def test_above_the_rank_limit_the_order_stays_tiered(portals, monkeypatch):
    workspace, con = portals
    exact = search(con, "建筑业", limit=10)
    monkeypatch.setattr(search_query, "RANK_LIMIT", 5)
    fast = search(con, "建筑业", limit=10)
    assert fast.ranking == "name_length" and exact.ranking == "bm25"
    assert fast.total == exact.total and fast.facets == exact.facets
    assert fast.hits[0].match == exact.hits[0].match == "exact_name"
    tiers = [h.match for h in fast.hits]
    order = ["exact_name", "exact_code", "code_prefix", "name_contains", "name_variant", "text"]
    assert tiers == sorted(tiers, key=order.index)
    lengths = [len(h.name) for h in fast.hits if h.match == "name_contains"]
    assert lengths == sorted(lengths)
    page2 = search(con, "建筑业", limit=10, offset=10)
    assert not {h.code for h in page2.hits} & {h.code for h in fast.hits}


def test_above_the_rank_limit_short_fields_come_before_items_and_summary(directory,
                                                                         workspace,
                                                                         monkeypatch):
    base = {"provider_name": "示范区民政局", "share_type": "无条件共享"}
    in_items = directory.create({**base, "name": "名册", "summary": "按月汇总",
                                 "data_items": [{"name": "身份证号", "data_type": "字符型"}]})
    in_summary = directory.create({**base, "name": "表", "summary": "含身份证号"})
    in_tags = directory.create({**base, "name": "较长的一个名称的登记表", "tags": ["身份证号"]})
    monkeypatch.setattr(search_query, "RANK_LIMIT", 1)
    result = search(workspace, "身份证号")
    assert result.ranking == "name_length"
    # The tagged entry first although its name is longest; then shorter names first.
    assert [h.code for h in result.hits] == [in_tags, in_summary, in_items]


# --- facets ------------------------------------------------------------------------------
def test_facet_counts_cover_all_matches(portals):
    workspace, con = portals
    result = search(con, "信息", limit=5, facet_limit=None)
    assert result.total > 100 and len(result.hits) == 5
    assert set(result.facets) == set(FACETS)
    codes = [h.code for h in search(con, "信息", limit=100_000).hits]
    assert len(codes) == result.total
    rows = con.execute(f"SELECT provider_name, share_type, update_cycle, formats FROM entries "
                       f"WHERE code IN ({', '.join('?' * len(codes))})", codes).fetchall()
    assert dict(result.facets["organisation"]) == Counter(r[0] for r in rows)
    assert dict(result.facets["share_type"]) == Counter(r[1] for r in rows)
    assert dict(result.facets["update_cycle"]) == Counter(r[2] for r in rows if r[2])
    formats = Counter(f.upper() for r in rows for f in set(json.loads(r[3])))
    assert dict(result.facets["format"]) == formats
    assert sum(c for _, c in result.facets["freshness"]) == result.total


def test_facet_filters(portals):
    workspace, con = portals
    everything = search(con, "", facet_limit=None)
    assert everything.total == con.execute(
        "SELECT count(*) FROM entries WHERE status = 'active'").fetchone()[0]
    org, count = everything.facets["organisation"][0]
    by_org = search(con, "", facets={"organisation": org})
    assert by_org.total == count and all(h.provider_name == org for h in by_org.hits)
    # Chinese key, 提供方代码 instead of the name, case-insensitive format.
    provider_code = by_org.hits[0].provider_code
    assert search(con, "", facets={"提供方": provider_code}).total == count
    csv = dict(everything.facets["format"])["CSV"]
    assert search(con, "", facets={"格式": "csv"}).total == csv
    # AND across keys, OR within one.
    both = search(con, "", facets={"organisation": org, "format": "XLS"}, limit=1000)
    assert both.total == dict(by_org.facets["format"]).get("XLS", 0) > 0
    assert all(h.provider_name == org and "XLS" in h.formats for h in both.hits)
    second, count2 = everything.facets["organisation"][1]
    either = search(con, "", facets={"organisation": [org, second]})
    assert either.total == count + count2
    assert dict(either.facets["organisation"]) == {org: count, second: count2}
    # Freshness by value or Chinese name.
    overdue = dict(everything.facets["freshness"])["overdue"]
    assert search(con, "", facets={"freshness": "逾期"}).total == overdue
    assert search(con, "", facets={"organisation": "没有这个单位"}).total == 0
    with pytest.raises(ValueError, match="unknown facet"):
        search(con, "", facets={"colour": "red"})
    with pytest.raises(ValueError, match="unknown freshness"):
        search(con, "", facets={"freshness": "stale"})


def test_freshness_facet_matches_the_sweep(portals):
    workspace, con = portals
    swept = {r["code"]: r["status"] for r in statuses(workspace)}
    hits = search(con, "", limit=100_000).hits
    assert {h.code: h.freshness for h in hits} == swept
    # A policy change (the organisation agreed yearly, ten years' grace) is seen: due soon.
    org = con.execute("SELECT provider_code FROM entries WHERE update_cycle = '每月' "
                      "GROUP BY provider_code ORDER BY count(*) DESC").fetchone()[0]
    before = dict(search(con, "", facets={"organisation": org}).facets["freshness"])
    set_policy(workspace, "organisation", org, user="tester", cycle="每年",
               grace=dt.timedelta(days=3650))
    try:
        stats = refresh_index(con)
        assert stats.freshness_updated > 0 and stats.indexed == 0
        swept = {r["code"]: r["status"] for r in statuses(workspace)}
        assert {h.code: h.freshness for h in search(con, "", limit=100_000).hits} == swept
        after = dict(search(con, "", facets={"organisation": org}).facets["freshness"])
        assert "overdue" not in after and after["due_soon"] == before["overdue"]
    finally:
        with metadata.write_transaction(con):
            con.execute("DELETE FROM freshness_policies")
        refresh_index(con)


# --- keeping in step ---------------------------------------------------------------------
def test_incremental_refresh_after_create_update_retire(directory, workspace):
    con = metadata.connect(workspace.metadata_db)
    try:
        code = directory.create({"name": "社会保障卡申领", "provider_name": "示范区人社局",
                                 "share_type": "有条件共享", "update_cycle": "每月",
                                 "summary": "社会保障卡申领记录",
                                 "data_items": [{"name": "姓名", "data_type": "字符型"}],
                                 "tags": ["社保"], "formats": ["xlsx"]})
        first = search(con, "社保卡")
        assert first.refreshed == 1 and [h.code for h in first.hits] == [code]
        assert search(con, "社保卡").refreshed == 0  # nothing changed: nothing re-indexed
        assert search(con, "姓名").total == 1  # 信息项
        assert search(con, "人社局").total == 1  # 提供方

        directory.update(code, {"name": "居民医保参保登记"})
        result = search(con, "医疗保险")
        assert result.refreshed == 1 and [h.name for h in result.hits] == ["居民医保参保登记"]
        assert search(con, "申领").total == 1  # still in the summary
        assert search(con, "社会保障卡申领").hits[0].match != "exact_name"

        other = directory.create({"name": "社会保障卡申领", "provider_name": "示范区人社局",
                                  "share_type": "无条件共享"})
        directory.retire(code, reason="merged")
        result = search(con, "")
        assert [h.code for h in result.hits] == [other]
        assert search(con, "医疗保险").total == 0
        assert dict(result.facets["share_type"]) == {"无条件共享": 1}
        directory.restore(code)
        assert search(con, "医疗保险").total == 1

        # Another process writing directly (no Directory) is seen as well.
        with metadata.write_transaction(con):
            con.execute("UPDATE entries SET summary = '公共租赁住房' WHERE code = ?", (other,))
        assert [h.code for h in search(con, "公租房").hits] == [other]
        with metadata.write_transaction(con):
            con.execute("DELETE FROM entry_history WHERE code = ?", (other,))
            con.execute("DELETE FROM entries WHERE code = ?", (other,))
        assert search(con, "公租房").total == 0
        assert search(con, "").total == 1

        assert rebuild_index(con).indexed == 1
        assert search(con, "医保").total == 1
    finally:
        con.close()


def test_connection_per_thread_sees_changes(directory, workspace):
    """A web server keeps a connection per thread: each sees the others' refreshes, and two
    never index the same change at once."""
    import threading

    one = metadata.connect(workspace.metadata_db)
    two = metadata.connect(workspace.metadata_db)
    try:
        directory.create({"name": "公交线路信息", "provider_name": "示范区交通局",
                          "share_type": "无条件共享"})
        assert search(one, "公交").total == 1
        directory.create({"name": "公交站点信息", "provider_name": "示范区交通局",
                          "share_type": "无条件共享"})
        results = []
        threads = [threading.Thread(target=lambda c=c: results.append(search(c, "公交")))
                   for c in (one, two)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        # One thread indexes the change; one that finds it busy does not wait: it searches the
        # index as it is and says so.
        assert sum(r.refreshed for r in results) == 1
        assert all(r.total == 2 or (r.stale and r.total == 1) for r in results)
        assert search(one, "公交").total == search(two, "公交").total == 2
        facets = search(two, "", facet_limit=None).facets
        assert dict(facets["organisation"]) == {"示范区交通局": 2}
    finally:
        one.close()
        two.close()


def test_highlight_escapes_html(directory, workspace):
    directory.create({"name": "<b>企业</b>名录", "provider_name": "示范区市场监管局",
                      "share_type": "无条件共享", "summary": "企业 & 个体工商户" * 20})
    hit = search(workspace, "企业").hits[0]
    assert hit.name_highlighted == "&lt;b&gt;<mark>企业</mark>&lt;/b&gt;名录"
    assert "<mark>企业</mark> &amp; 个体" in hit.summary_snippet
    visible = html.unescape(re.sub(r"</?mark>", "", hit.summary_snippet))
    assert visible.endswith("…") and len(visible) == 81  # 80 characters and the ellipsis


# --- the CLI -----------------------------------------------------------------------------
def cli() -> typer.Typer:
    app = typer.Typer()
    app.callback()(set_options)
    app.command("search")(search_command.search)
    return app


def test_mulu_search_json(portals):
    workspace, _ = portals
    runner = CliRunner()
    result = runner.invoke(cli(), ["--home", str(workspace.root), "search", "社保卡",
                                   "--facet", "share_type=无条件共享", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["total"] == 2 and data["query"] == "社保卡"
    assert data["filters"] == {"share_type": ["无条件共享"]}
    assert {h["name"] for h in data["hits"]} == {"社会保障卡服务网点",
                                                 "社会保障卡“一站式”服务银行网点"}
    assert data["hits"][0]["name_highlighted"].startswith("<mark>社会保障卡</mark>")
    assert data["facets"]["share_type"] == [{"value": "无条件共享", "count": 2}]

    table = runner.invoke(cli(), ["--home", str(workspace.root), "search", "低保", "-n", "1"])
    assert table.exit_code == 0 and "2 matches" in table.output

    bad = runner.invoke(cli(), ["--home", str(workspace.root), "search", "x", "--facet",
                                "nonsense"])
    assert bad.exit_code == 1 and "key=value" in bad.output


def test_search_by_path_and_read_only_connection(portals):
    """Last: it adds an entry to the shared workspace."""
    workspace, con = portals
    assert search(workspace.metadata_db, "社保卡").total == 2
    directory = Directory.open(workspace, user="tester")
    directory.create({"name": "社保卡挂失", "provider_name": "六安市人社局",
                      "share_type": "无条件共享"})
    directory.close()
    with contextlib.closing(sqlite3.connect(
            f"file:{workspace.metadata_db}?mode=ro", uri=True)) as ro:
        ro.row_factory = sqlite3.Row
        stale = search(ro, "社保卡")  # cannot refresh: searches the index as it is
        assert stale.total == 2 and stale.refreshed == 0 and stale.stale
    assert search(con, "社保卡").total == 3
