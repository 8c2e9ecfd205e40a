"""Search on a PostgreSQL workspace: through a real ``mulu serve`` over HTTP (the refresher
thread indexing a change another process made), and the same ranking as SQLite's FTS5 on the
same entries (bm25 scores equal to FTS5's, tier by tier)."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
from api_server import serving
from web_users import add_user, bearer

from catalog.directory import Directory
from catalog.search import ranking, search
from catalog.search.plan import plan_query
from warehouse.store import Store
from warehouse.workspace import Workspace

ENTRIES = [
    {
        "name": "社会保障卡申领",
        "provider_name": "示范区人社局",
        "share_type": "有条件共享",
        "update_cycle": "每月",
        "summary": "社会保障卡申领记录，含社保卡补换",
        "data_items": [{"name": "身份证号", "data_type": "字符型"}],
        "tags": ["社保"],
        "formats": ["xlsx"],
    },
    {
        "name": "社保卡",
        "provider_name": "示范区人社局",
        "share_type": "无条件共享",
        "summary": "社保卡发放",
    },
    {
        "name": "人口统计",
        "provider_name": "示范区统计局",
        "share_type": "无条件共享",
        "summary": "按年汇总的人口统计数据",
    },
    {
        "name": "年度报表",
        "provider_name": "示范区统计局",
        "share_type": "无条件共享",
        "summary": "人口统计 人口统计 人口 统计 数据",
        "tags": ["人口统计"],
    },
    {
        "name": "常住人口统计年报",
        "provider_name": "示范区统计局",
        "share_type": "有条件共享",
        "summary": "年报 统计数据",
        "formats": ["csv", "xls"],
    },
    {
        "name": "城乡低保对象名单",
        "provider_name": "示范区民政局",
        "share_type": "有条件共享",
        "summary": "最低生活保障对象",
    },
    {
        "name": "公交线路信息",
        "provider_name": "示范区交通局",
        "share_type": "无条件共享",
        "data_items": [{"name": "线路名称", "data_type": "字符型"}],
    },
]
QUERIES = ["社保卡", "人口统计", "统计数据", "低保", "sbk", "身份证号", "人口 统计", "公交 信息"]


def _workspace(root: Path, url: str | None) -> Workspace:
    workspace = Workspace(root).ensure()
    if url:
        workspace.settings_file.parent.mkdir(parents=True, exist_ok=True)
        workspace.settings_file.write_text(f"database_url: {url}\n")
    directory = Directory.open(workspace, user="tester")
    try:
        for entry in ENTRIES:
            directory.create(entry)
    finally:
        directory.close()
    return workspace


@pytest.mark.postgresql
@pytest.mark.server
@pytest.mark.slow
def test_search_api_on_a_postgresql_workspace(tmp_path, postgres_url):
    workspace = _workspace(tmp_path / "ws", postgres_url)
    secret = add_user(workspace, "reader", roles=("analyst",))
    with serving(workspace.root) as base:

        def get(q: str, **params: str) -> dict:
            url = f"{base}/api/search?" + urllib.parse.urlencode({"q": q, **params})
            request = urllib.request.Request(url, headers=bearer(secret))
            with urllib.request.urlopen(request, timeout=30) as response:
                return json.loads(response.read())

        found = get("社保卡")
        assert found["total"] == 2
        assert [h["name"] for h in found["hits"]] == ["社保卡", "社会保障卡申领"]
        assert [h["match"] for h in found["hits"]] == ["exact_name", "name_variant"]
        assert found["ranking"] == "bm25"
        assert found["hits"][1]["name_highlighted"] == "<mark>社会保障卡</mark>申领"
        facets = {f: {v["value"]: v["count"] for v in vs} for f, vs in found["facets"].items()}
        assert facets["share_type"] == {"有条件共享": 1, "无条件共享": 1}
        filtered = get("社保卡", facet="共享类型=无条件共享")
        assert [h["name"] for h in filtered["hits"]] == ["社保卡"]
        assert get("sbk")["hits"][0]["name"] == "社保卡"
        assert get("身份证号")["total"] == 1  # 信息项
        # A code, whole and as a prefix.
        code = found["hits"][0]["code"]
        assert get(code)["hits"][0]["match"] == "exact_code"
        # Another process adds an entry: the server's refresher indexes it.
        directory = Directory.open(workspace, user="cli")
        try:
            added = directory.create(
                {"name": "社保卡挂失", "provider_name": "示范区人社局", "share_type": "无条件共享"}
            )
        finally:
            directory.close()
        deadline = time.monotonic() + 20
        while True:
            again = get("社保卡")
            if (again["total"] == 3 and not again["stale"]) or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        assert again["total"] == 3
        assert added in {h["code"] for h in again["hits"]}
        with pytest.raises(urllib.error.HTTPError) as bad:
            get("x", facet="colour=red")
        assert bad.value.code == 400


@pytest.mark.postgresql
@pytest.mark.slow
def test_the_same_ranking_and_scores_as_sqlite(tmp_path, postgres_url):
    """The same entries in both stores: every query finds the same entries in the same order,
    and each FTS5 expression's bm25 scores are FTS5's."""
    lite = _workspace(tmp_path / "lite", None)
    pg = _workspace(tmp_path / "pg", postgres_url)
    with Store.open(lite) as a, Store.open(pg) as b:
        assert (a.database.dialect, b.database.dialect) == ("sqlite", "postgresql")
        for query in QUERIES:
            left, right = search(a, query, limit=100), search(b, query, limit=100)
            assert left.total == right.total > 0, query
            assert [h.code for h in left.hits] == [h.code for h in right.hits], query
            assert [h.match for h in left.hits] == [h.match for h in right.hits], query
            assert left.facets == right.facets, query
            plan = plan_query(query)
            for expression in [plan.match, plan.main_match, *plan.alternatives[0]]:
                assert _codes(a, a.search.matching(expression)) == _codes(
                    b, b.search.matching(expression)
                ), expression
            lite_scores = _scored(a, plan.match)
            assert lite_scores, query
            assert _scored(b, plan.match) == pytest.approx(lite_scores, abs=1), query


def _codes(store: Store, ids) -> set[str]:
    return {d["code"] for d in store.search.documents(ids.tolist()).values()}


def _scored(store: Store, expression: str) -> dict[str, int]:
    ids, scores = store.search.scored(expression, ranking.WEIGHTS)
    docs = store.search.documents(ids.tolist())
    return {docs[i]["code"]: int(s) for i, s in zip(ids.tolist(), scores.tolist(), strict=True)}


@pytest.mark.postgresql
@pytest.mark.slow
def test_scores_read_by_id_after_a_match_equal_a_fresh_search(tmp_path, postgres_url):
    """``scored`` reads the rows of an expression this thread matched a moment ago (or of each
    branch of its OR) by id: the same scores as a search that matched nothing before, and a
    write in between (a new generation) is seen, not the remembered ids."""
    from catalog.search import refresh_index
    from warehouse.store.postgres.search import PostgresSearch

    pg = _workspace(tmp_path / "pg", postgres_url)
    with Store.open(pg) as store:
        refresh_index(store)
        plan = plan_query("社保卡")
        for alternative in plan.alternatives[0]:
            store.search.matching(alternative)
        by_branches = _scored(store, plan.match)
        assert len(by_branches) == 2
        assert by_branches == _scored_fresh(store, plan.match)
        store.search.matching(plan.match)
        directory = Directory.open(pg, user="cli")
        try:
            added = directory.create(
                {"name": "社保卡挂失", "provider_name": "示范区人社局", "share_type": "无条件共享"}
            )
        finally:
            directory.close()
        refresh_index(store)
        after = _scored(store, plan.match)
        assert set(after) == set(by_branches) | {added}
        assert after == _scored_fresh(store, plan.match)
        assert isinstance(store.search, PostgresSearch)


def _scored_fresh(store: Store, expression: str) -> dict[str, int]:
    from warehouse.store.postgres.search import PostgresSearch

    fresh = PostgresSearch(store.database)  # nothing matched before: by the GIN index
    ids, scores = fresh.scored(expression, ranking.WEIGHTS)
    docs = fresh.documents(ids.tolist())
    return {docs[i]["code"]: int(s) for i, s in zip(ids.tolist(), scores.tolist(), strict=True)}
