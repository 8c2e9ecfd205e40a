"""Search: real SQLite FTS5 and real PostgreSQL tsvector/GIN (each test on both stores), real
jieba and pypinyin, real portal data; no mocks."""

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
from fastapi.testclient import TestClient
from postgres_store import create_database, database_url, drop_database
from typer.testing import CliRunner

from catalog.directory import Directory
from catalog.freshness.policies import remove_policy, set_policy
from catalog.freshness.sweep import statuses
from catalog.importing.importer import import_file
from catalog.search import FACETS, ranking, rebuild_index, refresh_index, search
from catalog.search.plan import plan_query
from catalog.search.text import pinyin_initials, query_words, segment
from mulu.cli import app as mulu
from mulu.web.app import create_app
from schemas.errors import InvalidInput
from warehouse.store import Store
from warehouse.workspace import Workspace

pytestmark = pytest.mark.both_stores

PORTALS = ("anhui_luan.json", "anhui_chizhou.json")


@pytest.fixture(
    scope="module",
    params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgresql)],
)
def portals(request, tmp_path_factory, real_data: Path):
    """A workspace holding two real city portals (2,196 Chinese entries), its store on SQLite
    or (named in its config/settings.yaml) on a PostgreSQL database of its own."""
    workspace = Workspace(tmp_path_factory.mktemp("search") / "ws").ensure()
    database = None
    if request.param == "postgresql":
        database = create_database(template=request.getfixturevalue("postgres_template"))
        workspace.settings_file.parent.mkdir(parents=True, exist_ok=True)
        workspace.settings_file.write_text(f"database_url: {database_url(database)}\n")
    try:
        directory = Directory.open(workspace, user="tester")
        for name in PORTALS:
            report = import_file(directory, workspace, real_data / "cn-portals" / name)
            assert report.created > 0
        directory.close()
        with Store.open(workspace) as store:
            assert store.database.dialect == request.param
            refresh_index(store)
            # The test's own reads of the ground truth, on the store's connection for this
            # thread.
            yield workspace, store, store.database.connection()
    finally:
        if database is not None:
            drop_database(database)


@contextlib.contextmanager
def another_writer(store: Store):
    """A connection of another program writing the store's database directly (not through a
    store): ``execute(sql with ? marks, params)`` in a transaction of its own."""
    if store.database.dialect == "sqlite":
        with contextlib.closing(sqlite3.connect(store.database.path)) as con:

            def execute(sql: str, params=()) -> None:
                with con:
                    con.execute(sql, params)

            yield execute
        return
    import psycopg

    with psycopg.connect(store.database.url, autocommit=True) as con:

        def execute(sql: str, params=()) -> None:
            con.execute(sql.replace("?", "%s"), params)

        yield execute


def names(result) -> list[str]:
    return [hit.name for hit in result.hits]


def plain_fts(con: sqlite3.Connection) -> sqlite3.Connection:
    """What Datasette gives: FTS5 with the unicode61 tokenizer over the raw text (a run of
    Han characters is one token), queried with each term quoted."""
    plain = sqlite3.connect(":memory:")
    plain.execute(
        "CREATE VIRTUAL TABLE plain USING fts5(code UNINDEXED, name, summary, "
        "provider_name, tags, tokenize = 'unicode61')"
    )
    plain.executemany(
        "INSERT INTO plain VALUES (?, ?, ?, ?, ?)",
        con.execute(
            "SELECT code, name, summary, provider_name, tags FROM entries WHERE status = 'active'"
        ).fetchall(),
    )
    return plain


def plain_search(plain: sqlite3.Connection, query: str) -> set[str]:
    escaped = " ".join('"' + term.replace('"', '""') + '"' for term in query.split())
    return {
        row[0] for row in plain.execute("SELECT code FROM plain WHERE plain MATCH ?", (escaped,))
    }


# --- segmentation and recall -------------------------------------------------------------
@pytest.mark.slow
def test_segmentation_of_names():
    assert segment("社保卡申领") == "社保 社保卡 申领"
    assert "社会保障" in segment("社会保障卡服务网点").split()
    assert query_words("社保卡 申领表") == ["社保卡", "申领", "表"]
    assert query_words("人口的统计") == ["人口", "统计"]  # stop words dropped


def test_finds_what_plain_unicode61_fts_cannot(portals):
    workspace, store, con = portals
    plain = plain_fts(con)
    # 社会保障卡服务网点 is one unicode61 token: neither 社保卡 nor 服务网点 finds it there.
    assert plain_search(plain, "社保卡") == set()
    assert plain_search(plain, "服务网点") == set()
    assert "社会保障卡服务网点" in names(search(store, "社保卡"))
    assert {"社会保障卡服务网点", "社会保障卡“一站式”服务银行网点"} <= set(
        names(search(store, "服务网点"))
    )
    # Abbreviations: 低保 = 最低生活保障, 医保 = 医疗保险.
    found = set(names(search(store, "低保")))
    assert {"智慧城市_城市低保对象综合统计表", "智慧城市_六安市农村居民最低生活保障统计表"} <= found
    assert all("医疗保险" in h.name for h in search(store, "医保", limit=50).hits)
    assert search(store, "医保").total >= 10
    # Latin and digits inside Chinese names, punctuation between words.
    assert "工商_企业基本信息" in names(search(store, "工商_企业基本信息"))
    assert search(store, "2020年").total > 100


def test_recall_above_plain_fts_on_chinese_queries(portals):
    """Ground truth: entries whose name contains the query. Every one is found (names are
    also indexed character by character), which plain unicode61 FTS falls far short of."""
    workspace, store, con = portals
    plain = plain_fts(con)
    queries = [
        "社会保障",
        "企业",
        "学校",
        "统计",
        "医疗保险",
        "城管",
        "垃圾",
        "养老机构",
        "行政许可",
        "财政",
        "基本情况",
        "名单",
        "服务网点",
        "公交",
    ]
    ours_total = plain_total = truth_total = 0
    active = con.execute("SELECT code, name FROM entries WHERE status = 'active'").fetchall()
    for query in queries:
        truth = {code for code, name in active if query in name}
        assert truth, query
        ours = {h.code for h in search(store, query, limit=5000).hits}
        assert truth <= ours, (query, sorted(truth - ours)[:5])
        ours_total += len(truth & ours)
        plain_total += len(truth & plain_search(plain, query))
        truth_total += len(truth)
    assert ours_total == truth_total
    assert plain_total < truth_total * 0.05  # 7 of 888


def test_one_word_matched_alternative_by_alternative_equals_the_whole_expression(portals):
    """A one-word query is matched alternative by alternative (so the ranking can reuse
    them); it must find exactly what the whole FTS5 expression finds."""
    workspace, store, con = portals
    for query in ("社保卡", "统计", "医保", "建筑业", "gs", "城管", "统计数据"):
        plan = plan_query(query)
        assert len(plan.alternatives) == 1, query
        assert len(plan.alternatives[0]) > 1, query
        ids = store.search.matching(plan.match).tolist()
        expected = {d["code"] for d in store.search.documents(ids).values()}
        assert expected, query
        assert {h.code for h in search(store, query, limit=100_000).hits} == expected, query


# --- codes and pinyin --------------------------------------------------------------------
def test_a_repeated_or_pasted_query_costs_what_its_distinct_words_cost(portals):
    """Words are ANDed: a word repeated asks nothing more, and only the first
    MAX_QUERY_WORDS distinct words count (the longest allowed query stays cheap)."""
    from catalog.search.text import MAX_QUERY_WORDS

    _, store, _ = portals
    once = search(store, "社保")
    repeated = search(store, " ".join(["社保"] * 150))
    assert repeated.total == once.total > 0
    assert [h.code for h in repeated.hits] == [h.code for h in once.hits]
    pasted = " ".join(f"词{i}" for i in range(40))
    assert len(plan_query(pasted).words) <= MAX_QUERY_WORDS
    assert len(query_words("社" * 300)) == 1  # jieba cuts it into one repeated word


def test_code_lookup(portals):
    workspace, store, con = portals
    code = con.execute("SELECT code FROM entries WHERE name = '社会保障卡服务网点'").fetchone()[0]
    for query in (code, code.replace("/", "-"), f" {code} "):
        result = search(store, query)
        assert result.hits[0].code == code
        assert result.hits[0].match == "exact_code"
    classification = code.split("/")[0]
    prefix = search(store, f"{classification}/0001", limit=3)
    assert prefix.hits
    assert all(h.code.startswith(f"{classification}/0001") for h in prefix.hits)
    assert {h.match for h in prefix.hits} == {"code_prefix"}
    assert (
        prefix.total
        == con.execute(
            "SELECT count(*) FROM entries WHERE code LIKE ? AND status = 'active'",
            (f"{classification}/0001%",),
        ).fetchone()[0]
    )


def test_pinyin_initials(directory, workspace):
    assert pinyin_initials("社保卡申领") == "sbksl sbk sl"
    assert pinyin_initials("重庆市人口") == "cqsrk cqs rk"  # 重 read chóng in 重庆
    code = directory.create(
        {
            "name": "社保卡申领",
            "provider_name": "示范区人社局",
            "share_type": "有条件共享",
            "update_cycle": "每月",
            "summary": "社保卡申领记录",
        }
    )
    directory.create(
        {
            "name": "城乡低保对象名单",
            "provider_name": "示范区民政局",
            "share_type": "有条件共享",
            "summary": "低保",
        }
    )
    for query in ("sbk", "SBKSL", "sl"):
        result = search(directory.store, query)
        assert [h.code for h in result.hits] == [code], query
    assert search(directory.store, "sbk").hits[0].name_highlighted == "<mark>社保卡</mark>申领"
    assert search(directory.store, "dbdx").hits[0].name == "城乡低保对象名单"
    assert search(directory.store, "xyz").total == 0


# --- ranking -----------------------------------------------------------------------------
def test_exact_name_first_then_names_containing_it(directory, workspace):
    base = {"provider_name": "示范区统计局", "share_type": "无条件共享", "update_cycle": "每月"}
    noisy = directory.create(
        {
            **base,
            "name": "年度报表",
            "summary": "人口统计 人口统计 人口统计 人口统计 人口统计",
            "tags": ["人口统计"],
        }
    )
    longer = directory.create({**base, "name": "常住人口统计年报", "summary": "年报"})
    exact = directory.create({**base, "name": "人口统计", "summary": "按年汇总"})
    apart = directory.create({**base, "name": "人口与户籍统计", "summary": "户籍"})
    result = search(directory.store, "人口统计")
    assert [h.code for h in result.hits[:2]] == [exact, longer]
    assert [h.match for h in result.hits[:2]] == ["exact_name", "name_contains"]
    assert set(h.code for h in result.hits[2:]) == {noisy, apart}
    assert result.hits[0].name_highlighted == "<mark>人口统计</mark>"
    assert result.ranking == "bm25"


def test_above_the_rank_limit_the_order_stays_tiered(portals, monkeypatch):
    workspace, store, con = portals
    exact = search(store, "建筑业", limit=10)
    monkeypatch.setattr(ranking, "RANK_LIMIT", 5)
    fast = search(store, "建筑业", limit=10)
    assert fast.ranking == "name_length"
    assert exact.ranking == "bm25"
    assert fast.total == exact.total
    assert fast.facets == exact.facets
    assert fast.hits[0].match == exact.hits[0].match == "exact_name"
    tiers = [h.match for h in fast.hits]
    order = ["exact_name", "exact_code", "code_prefix", "name_contains", "name_variant", "text"]
    assert tiers == sorted(tiers, key=order.index)
    lengths = [len(h.name) for h in fast.hits if h.match == "name_contains"]
    assert lengths == sorted(lengths)
    page2 = search(store, "建筑业", limit=10, offset=10)
    assert not {h.code for h in page2.hits} & {h.code for h in fast.hits}


def test_above_the_rank_limit_short_fields_come_before_items_and_summary(
    directory, workspace, monkeypatch
):
    base = {"provider_name": "示范区民政局", "share_type": "无条件共享"}
    in_items = directory.create(
        {
            **base,
            "name": "名册",
            "summary": "按月汇总",
            "data_items": [{"name": "身份证号", "data_type": "字符型"}],
        }
    )
    in_summary = directory.create({**base, "name": "表", "summary": "含身份证号"})
    in_tags = directory.create({**base, "name": "较长的一个名称的登记表", "tags": ["身份证号"]})
    monkeypatch.setattr(ranking, "RANK_LIMIT", 1)
    result = search(directory.store, "身份证号")
    assert result.ranking == "name_length"
    # The tagged entry first although its name is longest; then shorter names first.
    assert [h.code for h in result.hits] == [in_tags, in_summary, in_items]


# --- facets ------------------------------------------------------------------------------
def test_facet_counts_cover_all_matches(portals):
    workspace, store, con = portals
    result = search(store, "信息", limit=5, facet_limit=None)
    assert result.total > 100
    assert len(result.hits) == 5
    assert set(result.facets) == set(FACETS)
    codes = [h.code for h in search(store, "信息", limit=100_000).hits]
    assert len(codes) == result.total
    rows = con.execute(
        f"SELECT provider_name, share_type, update_cycle, formats FROM entries "
        f"WHERE code IN ({', '.join('?' * len(codes))})",
        codes,
    ).fetchall()
    assert dict(result.facets["organisation"]) == Counter(r[0] for r in rows)
    assert dict(result.facets["share_type"]) == Counter(r[1] for r in rows)
    assert dict(result.facets["update_cycle"]) == Counter(r[2] for r in rows if r[2])
    formats = Counter(f.upper() for r in rows for f in set(json.loads(r[3])))
    assert dict(result.facets["format"]) == formats
    assert sum(c for _, c in result.facets["freshness"]) == result.total


def test_facet_filters(portals):
    workspace, store, con = portals
    everything = search(store, "", facet_limit=None)
    assert (
        everything.total
        == con.execute("SELECT count(*) FROM entries WHERE status = 'active'").fetchone()[0]
    )
    org, count = everything.facets["organisation"][0]
    by_org = search(store, "", facets={"organisation": org})
    assert by_org.total == count
    assert all(h.provider_name == org for h in by_org.hits)
    # Chinese key, 提供方代码 instead of the name, case-insensitive format.
    provider_code = by_org.hits[0].provider_code
    assert search(store, "", facets={"提供方": provider_code}).total == count
    csv = dict(everything.facets["format"])["CSV"]
    assert search(store, "", facets={"格式": "csv"}).total == csv
    # AND across keys, OR within one.
    both = search(store, "", facets={"organisation": org, "format": "XLS"}, limit=1000)
    assert both.total == dict(by_org.facets["format"]).get("XLS", 0) > 0
    assert all(h.provider_name == org and "XLS" in h.formats for h in both.hits)
    second, count2 = everything.facets["organisation"][1]
    either = search(store, "", facets={"organisation": [org, second]})
    assert either.total == count + count2
    assert dict(either.facets["organisation"]) == {org: count, second: count2}
    # Freshness by value or Chinese name.
    overdue = dict(everything.facets["freshness"])["overdue"]
    assert search(store, "", facets={"freshness": "逾期"}).total == overdue
    assert search(store, "", facets={"organisation": "没有这个单位"}).total == 0
    with pytest.raises(InvalidInput, match="unknown facet"):
        search(store, "", facets={"colour": "red"})
    with pytest.raises(InvalidInput, match="unknown freshness"):
        search(store, "", facets={"freshness": "stale"})


@pytest.mark.slow
def test_freshness_facet_matches_the_sweep(portals):
    workspace, store, con = portals
    swept = {r["code"]: r["status"] for r in statuses(store)}
    hits = search(store, "", limit=100_000).hits
    assert {h.code: h.freshness for h in hits} == swept
    # A policy change (the organisation agreed yearly, ten years' grace) is seen: due soon.
    org = con.execute(
        "SELECT provider_code FROM entries WHERE update_cycle = '每月' "
        "GROUP BY provider_code ORDER BY count(*) DESC"
    ).fetchone()[0]
    before = dict(search(store, "", facets={"organisation": org}).facets["freshness"])
    set_policy(
        store, "organisation", org, user="tester", cycle="每年", grace=dt.timedelta(days=3650)
    )
    try:
        stats = refresh_index(store)
        assert stats.freshness_updated > 0
        assert stats.indexed == 0
        swept = {r["code"]: r["status"] for r in statuses(store)}
        assert {h.code: h.freshness for h in search(store, "", limit=100_000).hits} == swept
        after = dict(search(store, "", facets={"organisation": org}).facets["freshness"])
        assert "overdue" not in after
        assert after["due_soon"] == before["overdue"]
    finally:
        remove_policy(store, "organisation", org)
        assert refresh_index(store).freshness_updated > 0


# --- keeping in step ---------------------------------------------------------------------
def test_incremental_refresh_after_create_update_retire(directory, workspace):
    store = directory.store
    code = directory.create(
        {
            "name": "社会保障卡申领",
            "provider_name": "示范区人社局",
            "share_type": "有条件共享",
            "update_cycle": "每月",
            "summary": "社会保障卡申领记录",
            "data_items": [{"name": "姓名", "data_type": "字符型"}],
            "tags": ["社保"],
            "formats": ["xlsx"],
        }
    )
    first = search(store, "社保卡")
    assert first.refreshed == 1
    assert [h.code for h in first.hits] == [code]
    assert search(store, "社保卡").refreshed == 0  # nothing changed: nothing re-indexed
    assert search(store, "姓名").total == 1  # 信息项
    assert search(store, "人社局").total == 1  # 提供方

    directory.update(code, {"name": "居民医保参保登记"})
    result = search(store, "医疗保险")
    assert result.refreshed == 1
    assert [h.name for h in result.hits] == ["居民医保参保登记"]
    assert search(store, "申领").total == 1  # still in the summary
    assert search(store, "社会保障卡申领").hits[0].match != "exact_name"

    other = directory.create(
        {"name": "社会保障卡申领", "provider_name": "示范区人社局", "share_type": "无条件共享"}
    )
    directory.retire(code, reason="merged")
    result = search(store, "")
    assert [h.code for h in result.hits] == [other]
    assert search(store, "医疗保险").total == 0
    assert dict(result.facets["share_type"]) == {"无条件共享": 1}
    directory.restore(code)
    assert search(store, "医疗保险").total == 1

    # Another program writing the database directly (not through a store) is seen as well:
    # the triggers queue its changes.
    with another_writer(store) as execute:
        execute("UPDATE entries SET summary = '公共租赁住房' WHERE code = ?", (other,))
        assert [h.code for h in search(store, "公租房").hits] == [other]
        execute("DELETE FROM entry_history WHERE code = ?", (other,))
        execute("DELETE FROM entries WHERE code = ?", (other,))
    assert search(store, "公租房").total == 0
    assert search(store, "").total == 1

    assert rebuild_index(store).indexed == 1
    assert search(store, "医保").total == 1


def test_worker_threads_share_a_store_and_index_a_change_once(directory, workspace):
    """A web server's worker threads search through its one store (a connection each): each
    sees the others' refreshes, and two never index the same change at once."""
    import threading

    store = directory.store
    directory.create(
        {"name": "公交线路信息", "provider_name": "示范区交通局", "share_type": "无条件共享"}
    )
    assert search(store, "公交").total == 1
    directory.create(
        {"name": "公交站点信息", "provider_name": "示范区交通局", "share_type": "无条件共享"}
    )
    results = []
    threads = [
        threading.Thread(target=lambda: results.append(search(store, "公交"))) for _ in range(2)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # One thread indexes the change; one that finds it busy waits for it and does not redo
    # its work: both see the new entry.
    assert len(results) == 2
    assert sum(r.refreshed for r in results) == 1
    assert [r.total for r in results] == [2, 2]
    assert not any(r.stale for r in results)
    assert search(store, "公交").total == 2
    facets = search(store, "", facet_limit=None).facets
    assert dict(facets["organisation"]) == {"示范区交通局": 2}


def test_another_store_sees_the_same_index(directory, workspace):
    """Two stores on one database (two processes, or the CLI beside the server): what one
    indexes the other finds without indexing it again."""
    directory.create(
        {
            "name": "公共租赁住房保障对象",
            "provider_name": "示范区住建局",
            "share_type": "有条件共享",
        }
    )
    assert search(directory.store, "公租房").refreshed == 1
    with Store.open(workspace) as other:
        found = search(other, "公租房")
        assert [h.name for h in found.hits] == ["公共租赁住房保障对象"]
        assert found.refreshed == 0
        assert not found.stale


def test_highlight_escapes_html(directory, workspace):
    directory.create(
        {
            "name": "<b>企业</b>名录",
            "provider_name": "示范区市场监管局",
            "share_type": "无条件共享",
            "summary": "企业 & 个体工商户" * 20,
        }
    )
    hit = search(directory.store, "企业").hits[0]
    assert hit.name_highlighted == "&lt;b&gt;<mark>企业</mark>&lt;/b&gt;名录"
    assert "<mark>企业</mark> &amp; 个体" in hit.summary_snippet
    visible = html.unescape(re.sub(r"</?mark>", "", hit.summary_snippet))
    assert visible.endswith("…")
    assert len(visible) == 81


# --- the CLI and the web ------------------------------------------------------------------
def test_mulu_search_json(portals):
    workspace, _, _ = portals
    runner = CliRunner()
    home = ["--home", str(workspace.root)]
    result = runner.invoke(
        mulu, [*home, "search", "社保卡", "--facet", "share_type=无条件共享", "--json"]
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["total"] == 2
    assert data["query"] == "社保卡"
    assert data["filters"] == {"share_type": ["无条件共享"]}
    assert {h["name"] for h in data["hits"]} == {
        "社会保障卡服务网点",
        "社会保障卡“一站式”服务银行网点",
    }
    assert data["hits"][0]["name_highlighted"].startswith("<mark>社会保障卡</mark>")
    assert data["facets"]["share_type"] == [{"value": "无条件共享", "count": 2}]

    table = runner.invoke(mulu, [*home, "search", "低保", "-n", "1"])
    assert table.exit_code == 0
    assert "2 matches" in table.output

    # Bad input (InvalidInput) exits 2 with the reason.
    bad = runner.invoke(mulu, [*home, "search", "x", "--facet", "nonsense"])
    assert bad.exit_code == 2
    assert "key=value" in bad.output
    unknown = runner.invoke(mulu, [*home, "search", "x", "--facet", "colour=red"])
    assert unknown.exit_code == 2
    assert "unknown facet" in unknown.output


def test_api_and_portal_search(portals):
    """GET /api/search and the portal's page through the app's one store; a bad facet is 400."""
    from web_users import add_user, start_session

    workspace, _, _ = portals
    # Signed in (a portal session): the whole directory; the public side is tested in
    # tests/mulu/test_public_visibility.py.
    add_user(workspace, "searcher")
    secret, _ = start_session(workspace, "searcher")
    with TestClient(create_app(workspace), cookies={"mulu_session": secret}) as client:
        found = client.get("/api/search", params={"q": "社保卡", "facet": "共享类型=无条件共享"})
        assert found.status_code == 200
        data = found.json()
        assert data["total"] == 2
        assert data["filters"] == {"share_type": ["无条件共享"]}
        for facet in ("colour=red", "freshness=stale", "nonsense"):
            bad = client.get("/api/search", params={"q": "x", "facet": facet})
            assert bad.status_code == 400, facet
            assert "facet" in bad.json()["detail"] or "freshness" in bad.json()["detail"]
        page = client.get("/", params={"q": "低保"})
        assert page.status_code == 200
        assert "<mark>" in page.text
        assert client.get("/", params={"q": "x", "facet": "colour=red"}).status_code == 400


def test_changes_through_another_store_are_found(portals):
    """Last: it adds an entry to the shared workspace."""
    workspace, store, _ = portals
    assert search(store, "社保卡").total == 2
    directory = Directory.open(workspace, user="tester")
    directory.create(
        {"name": "社保卡挂失", "provider_name": "六安市人社局", "share_type": "无条件共享"}
    )
    directory.close()
    stale = search(store, "社保卡", refresh=False)  # asked not to index: the index as it is
    assert stale.total == 2
    assert stale.refreshed == 0
    assert stale.stale
    fresh = search(store, "社保卡")
    assert fresh.total == 3
    assert fresh.refreshed == 1
    assert not fresh.stale
