"""The HTTP API in-process (FastAPI's TestClient over ``create_app``): REST, DCAT, freshness,
quality, the portal's search and entry pages, the CKAN Action API and its error envelope, and
the status of every kind of Mulu error. The real ``ckanapi`` client runs against a real
``mulu serve`` (the one test here that needs a server)."""

from __future__ import annotations

import datetime as dt
import json
import re
import time
import urllib.parse

import pytest
import rdflib
from api_server import serving
from fastapi import FastAPI
from fastapi.testclient import TestClient
from web_users import add_user, bearer

from catalog.directory import Directory
from catalog.importing.importer import import_file
from mulu.web import errors
from mulu.web.app import create_app
from schemas.errors import Conflict, Forbidden, InvalidInput, MuluError, NotFound, Unavailable
from warehouse.workspace import Workspace

# anhui_luan.json's 548 records hold 546 distinct ones (2 repeat word for word), plus the
# fixture's own entry.
ENTRIES = 547


@pytest.fixture(scope="module")
def site(tmp_path_factory, real_data):
    """A workspace with the Lu'an portal's entries and one of ours, and a client of its app."""
    workspace = Workspace(tmp_path_factory.mktemp("api") / "ws").ensure()
    directory = Directory.open(workspace, user="tester")
    try:
        import_file(directory, workspace, real_data / "cn-portals" / "anhui_luan.json")
        code = directory.create(
            {
                "name": "城乡低保对象名单",
                "provider_name": "示范区民政局",
                "share_type": "有条件共享",
                "update_cycle": "每月",
                "summary": "民政局每月汇总的城乡最低生活保障对象",
                "formats": ["csv"],
                "tags": ["社会救助"],
                "updated_at": dt.datetime(2025, 1, 5),
            }
        )
        directory.retire(
            directory.create(
                {
                    "name": "已撤销的目录",
                    "provider_name": "示范区档案局",
                    "share_type": "无条件共享",
                }
            )
        )
    finally:
        directory.close()
    # Real users: the civil-affairs bureau's officer reports its updates, a steward reviews.
    TOKENS["officer"] = add_user(workspace, "mz.officer", roles=("officer",), org="示范区民政局")
    TOKENS["steward"] = add_user(workspace, "steward", roles=("steward",), org="示范区民政局")
    # The client reads as a signed-in analyst, who sees the whole directory (the public sees
    # open entries only: tests/mulu/test_web_auth.py and the visibility tests).
    TOKENS["reader"] = add_user(workspace, "reader", roles=("analyst",), org="六安市市场监管局")
    with TestClient(create_app(workspace), headers=bearer(TOKENS["reader"])) as client:
        yield client, workspace, code


TOKENS: dict[str, str] = {}


def quoted(code: str) -> str:
    return urllib.parse.quote(code, safe="")


def ckan(client: TestClient, action: str, **params) -> tuple[int, dict]:
    response = client.get(f"/api/3/action/{action}", params=params)
    return response.status_code, response.json()


# --- REST ------------------------------------------------------------------------------------
def test_entries_are_listed_filtered_and_paged(site):
    client, _, code = site
    listed = client.get("/api/entries", params={"limit": 5}).json()
    assert listed["total"] == ENTRIES
    assert [e["code"] for e in listed["entries"]] == sorted(e["code"] for e in listed["entries"])
    assert len(listed["entries"]) == 5
    second = client.get("/api/entries", params={"limit": 5, "offset": 5}).json()
    assert not {e["code"] for e in second["entries"]} & {e["code"] for e in listed["entries"]}
    by_name = client.get("/api/entries", params={"org": "示范区民政局"}).json()
    assert [e["code"] for e in by_name["entries"]] == [code]  # the retired one is not listed
    provider_code = by_name["entries"][0]["provider_code"]
    by_code = client.get("/api/entries", params={"org": provider_code}).json()
    assert by_code["total"] == 1
    monthly = client.get("/api/entries", params={"org": "示范区民政局", "update_cycle": "每年"})
    assert monthly.json() == {"total": 0, "entries": []}
    shared = client.get("/api/entries", params={"share_type": "有条件共享", "limit": 1000}).json()
    assert shared["total"] == len(shared["entries"]) >= 1
    assert {e["share_type"] for e in shared["entries"]} == {"有条件共享"}


def test_an_entry_by_code_and_its_history(site):
    client, _, code = site
    entry = client.get(f"/api/entries/{code}").json()
    assert entry["name"] == "城乡低保对象名单"
    assert entry["formats"] == ["csv"]
    assert client.get(f"/api/entries/{code.replace('/', '-')}").json()["code"] == code
    history = client.get(f"/api/entries/{code}/history").json()
    assert history["history"][0]["action"] == "create"
    assert [u["updated_at"] for u in history["updates"]] == ["2025-01-05T00:00:00"]


def test_organisations_with_their_entry_counts(site):
    client, _, _ = site
    orgs = client.get("/api/organisations").json()
    by_name = {o["name"]: o for o in orgs}
    assert by_name["六安市市场监管局"]["entries"] > 0
    assert by_name["示范区民政局"]["entries"] == 1
    assert by_name["示范区档案局"]["entries"] == 0  # active entries only
    assert sum(o["entries"] for o in orgs) == ENTRIES
    org = client.get(f"/api/organisations/{quoted('示范区民政局')}").json()
    assert org["entries"] == 1
    assert client.get(f"/api/organisations/{org['code']}").json()["name"] == "示范区民政局"


def test_missing_entries_and_organisations_are_404(site):
    client, _, _ = site
    for path, named in (
        ("/api/entries/399999-999999", "399999/999999"),
        ("/api/entries/399999/999999/history", "399999/999999"),
        ("/api/entries/not-a-code", "not-a-code"),
        (f"/api/organisations/{quoted('没有这个单位')}", "没有这个单位"),
    ):
        response = client.get(path)
        assert response.status_code == 404, path
        assert named in response.json()["detail"]  # the message names what was asked for
    missing = client.post(
        "/api/entries/399999-999999/updates", json={}, headers=bearer(TOKENS["officer"])
    )
    assert missing.status_code == 404
    assert "信息资源代码" in missing.json()["detail"]
    assert client.get("/api/entries", params={"limit": 0}).status_code == 422  # FastAPI's own


def test_stats(site):
    client, _, _ = site
    stats = client.get("/api/stats").json()
    assert stats["entries"] == ENTRIES
    assert stats["retired"] == 1


def test_freshness_and_a_reported_update(site):
    client, _, code = site
    before = client.get("/api/freshness", params={"org": "示范区民政局"}).json()
    assert [e["status"] for e in before["entries"]] == ["overdue"]
    body = {"reported_by": "民政局", "note": "11月数据已更新"}
    anonymous = client.post(
        f"/api/entries/{code}/updates", json=body, headers={"Authorization": ""}
    )
    assert anonymous.status_code == 401
    reader = client.post(f"/api/entries/{code}/updates", json=body)  # an analyst: 403
    assert reader.status_code == 403
    response = client.post(
        f"/api/entries/{code}/updates", json=body, headers=bearer(TOKENS["officer"])
    )
    assert response.status_code == 201
    assert response.json()["code"] == code
    after = client.get("/api/freshness", params={"org": "示范区民政局"}).json()
    assert [e["status"] for e in after["entries"]] == ["fresh"]
    card = client.get("/api/freshness/scorecard").json()
    assert {r["provider_name"] for r in card} >= {"示范区民政局"}
    history = client.get(f"/api/entries/{code}/history").json()
    # The signed-in officer is recorded, not the name the body claims.
    assert history["updates"][-1]["reported_by"] == "mz.officer"


@pytest.mark.slow  # rdflib parses and writes the whole catalogue
def test_dcat_catalogue_as_json_ld_and_turtle(site):
    client, _, _ = site
    turtle = client.get("/catalog.ttl")
    assert turtle.headers["content-type"].startswith("text/turtle")
    graph = rdflib.Graph().parse(data=turtle.text, format="turtle")
    dcat = rdflib.Namespace("http://www.w3.org/ns/dcat#")
    assert len(set(graph.subjects(rdflib.RDF.type, dcat.Dataset))) == ENTRIES
    assert "@graph" in client.get("/catalog.jsonld").json()


def test_quality_endpoints_answer_without_runs(site):
    client, _, _ = site
    steward = bearer(TOKENS["steward"])
    assert client.get("/api/quality/runs", headers={"Authorization": ""}).status_code == 401
    assert client.get("/api/quality/runs", headers=steward).json() == []
    response = client.post(
        "/api/quality/runs/nope/reviews",
        json={"action": "accept", "reviewer": "王科长"},
        headers=steward,
    )
    assert response.status_code == 404  # no such run: not found, whatever the method
    assert "nope" in response.json()["detail"]
    openapi = client.get("/api/openapi.json").json()
    assert "/api/quality/runs/{run_id}/reviews" in openapi["paths"]


# --- portal ----------------------------------------------------------------------------------
@pytest.mark.slow
def test_portal_search_page_or_s_values_of_one_facet(site):
    client, _, _ = site

    def total(query: str) -> int:
        response = client.get(f"/?{query}")
        assert response.status_code == 200, response.text
        return int(re.search(r'<p id="total"><strong>(\d+)</strong>', response.text).group(1))

    share = urllib.parse.quote("share_type=")
    one, other = urllib.parse.quote("无条件共享"), urllib.parse.quote("有条件共享")
    either = total(f"facet={share}{one}&facet={share}{other}")
    assert either == total(f"facet={share}{one}") + total(f"facet={share}{other}") > 0
    assert client.get(f"/?facet={urllib.parse.quote('colour=red')}").status_code == 400


def test_portal_entry_page_and_a_missing_one(site):
    client, _, code = site
    page = client.get(f"/entry/{code}")
    assert page.status_code == 200
    assert "城乡低保对象名单" in page.text
    # 有条件共享, another organisation's reader: no rows before a request, a link to apply.
    assert f'href="/sharing/apply/{code}">申请共享</a>' in page.text
    missing = client.get("/entry/399999/999999")
    assert missing.status_code == 404
    assert missing.headers["content-type"].startswith("text/html")
    assert "399999/999999" in missing.text


# --- the error mapping -----------------------------------------------------------------------
@pytest.mark.parametrize(
    ("error", "status"),
    [
        (NotFound, 404),
        (InvalidInput, 400),
        (Conflict, 409),
        (Forbidden, 403),
        (Unavailable, 503),
        (MuluError, 500),
    ],
)
def test_each_kind_of_error_has_one_status(error, status):
    app = FastAPI()
    errors.register(app)

    @app.get("/api/fails")
    def api_fails() -> None:
        raise error("目录 301001/000001 出错")

    @app.get("/page")
    def page_fails() -> None:
        raise error("<b>目录</b> 出错")

    with TestClient(app, raise_server_exceptions=False) as client:
        api = client.get("/api/fails")
        assert api.status_code == status
        assert api.json() == {"detail": "目录 301001/000001 出错"}
        html = client.get("/page")
        assert html.status_code == status
        assert "&lt;b&gt;目录&lt;/b&gt; 出错" in html.text  # escaped, as written


# --- CKAN ------------------------------------------------------------------------------------
def test_ckan_actions_in_process(site):
    client, _, code = site
    status, names = ckan(client, "package_list")
    assert status == 200
    assert len(names["result"]) == ENTRIES
    assert code.replace("/", "-") in names["result"]
    _, page = ckan(client, "package_list", limit=2, offset=1)
    assert page["result"] == names["result"][1:3]
    _, package = ckan(client, "package_show", id=code.replace("/", "-"))
    assert package["result"]["organization"]["title"] == "示范区民政局"
    org_name = package["result"]["organization"]["name"]
    _, org = ckan(client, "organization_show", id=org_name, include_datasets="true")
    assert org["result"]["package_count"] == 1
    assert [p["id"] for p in org["result"]["packages"]] == [code]
    _, found = ckan(
        client,
        "package_search",
        q="低保",
        fq=f"organization:{org_name}",
        **{"facet.field": json.dumps(["organization", "res_format"])},
    )
    assert [p["id"] for p in found["result"]["results"]] == [code]
    assert found["result"]["facets"]["organization"] == {"示范区民政局": 1}
    _, listed = ckan(client, "organization_list", all_fields="true")
    assert sum(o["package_count"] for o in listed["result"]) == ENTRIES


@pytest.mark.parametrize(
    ("action", "params", "status", "kind"),
    [
        ("package_show", {"id": "no-such-package"}, 404, "Not Found Error"),
        ("package_show", {}, 409, "Validation Error"),
        ("organization_show", {"id": "nobody"}, 404, "Not Found Error"),
        ("package_search", {"rows": "many"}, 409, "Validation Error"),
        ("package_search", {"start": "-1"}, 409, "Validation Error"),
        ("package_search", {"facet.field": "123"}, 409, "Validation Error"),
        ("package_search", {"facet.field": '[["organization"]]'}, 409, "Validation Error"),
        ("package_search", {"facet.field": "[" * 5_000}, 409, "Validation Error"),  # too deep
        ("package_search", {"facet.field": "1" * 5_000}, 409, "Validation Error"),  # too long
        ("package_search", {"fq": "organization:nobody"}, 404, "Not Found Error"),
        ("package_list", {"limit": "1e999"}, 409, "Validation Error"),
        ("no_such_action", {}, 400, "Bad request"),
    ],
)
def test_ckan_errors_in_ckans_envelope(site, action, params, status, kind):
    client, _, _ = site
    answer_status, answer = ckan(client, action, **params)
    assert answer_status == status
    assert answer["success"] is False
    assert answer["error"]["__type"] == kind


def test_ckan_retired_entries_are_not_packages(site):
    client, workspace, _ = site
    directory = Directory.open(workspace)
    try:
        retired = next(
            e["code"]
            for e in directory.iter_entries(include_retired=True)
            if e["status"] == "retired"
        )
    finally:
        directory.close()
    status, _ = ckan(client, "package_show", id=retired)
    assert status == 404
    assert client.get(f"/api/entries/{retired}").json()["status"] == "retired"  # REST shows it


@pytest.mark.parametrize(
    "body",
    [
        b"[" * 100_000,  # deeper than any parser's recursion limit
        b'{"id": ',  # not JSON
        b'["package_list"]',  # JSON, but not an object of parameters
        b"\xff\xfe\x00",  # not UTF-8
        b'{"id": ' + b"1" * 5_000 + b"}",  # a number longer than Python converts
    ],
)
def test_ckan_bad_bodies_are_400(site, body):
    client, _, _ = site
    response = client.post(
        "/api/3/action/package_show", content=body, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400
    assert response.json()["success"] is False
    assert response.json()["error"]["__type"] == "Bad request"


def test_ckan_post_with_json_and_form_bodies(site):
    client, _, code = site
    by_json = client.post("/api/action/package_show", json={"id": code})
    assert by_json.json()["result"]["id"] == code
    by_form = client.post("/api/action/package_show", data={"id": code.replace("/", "-")})
    assert by_form.json()["result"]["id"] == code
    nested = client.post(
        "/api/action/package_search", json={"q": "低保", "facet.field": [{"deep": [[[]]]}]}
    )
    assert nested.status_code == 409


@pytest.mark.server
@pytest.mark.slow
def test_ckanapi_client_against_a_real_server(site):
    import ckanapi

    _, workspace, code = site
    with serving(workspace.root) as base:
        remote = ckanapi.RemoteCKAN(base, apikey=TOKENS["reader"])
        names = remote.action.package_list()
        assert len(names) == ENTRIES
        assert code.replace("/", "-") in names
        package = remote.action.package_show(id=code.replace("/", "-"))
        assert package["title"] == "城乡低保对象名单"
        assert package["organization"]["title"] == "示范区民政局"
        assert {e["key"]: e["value"] for e in package["extras"]}["update_cycle"] == "每月"
        assert [r["format"] for r in package["resources"]] == ["CSV"]
        orgs = remote.action.organization_list(all_fields=True)
        assert any(o["title"] == "六安市市场监管局" and o["package_count"] > 0 for o in orgs)
        org = remote.action.organization_show(id=package["organization"]["name"])
        assert org["package_count"] == 1
        with pytest.raises(ckanapi.NotFound):
            remote.action.package_show(id="no-such-package")
        with pytest.raises(ckanapi.ValidationError):
            remote.action.package_search(**{"facet.field": 123})
        found = remote.action.package_search(q="低保", rows=5)
        assert found["count"] >= 1
        assert found["results"][0]["id"] == code
        # GET-only clients too (as a browser or curl would call it).
        get_only = ckanapi.RemoteCKAN(base, apikey=TOKENS["reader"], get_only=True)
        assert get_only.action.package_show(id=code)["id"] == code


# --- DCAT files per catalogue state, the search index refreshed off the request path --------
HOSTILE_TEXT = '名称 "引号" \\ 反斜杠\n换行\t制表 \x01 <b>&amp;'


@pytest.fixture
def small(tmp_path):
    """A workspace of three entries with hostile text, and a client of its app."""
    workspace = Workspace(tmp_path / "ws").ensure()
    directory = Directory.open(workspace, user="tester")
    try:
        directory.add_organisations(
            [
                {
                    "code": "11340000MB0000001X",
                    "name": "区数据资源局",
                    "contact_name": "张三",
                    "contact_phone": "(0551) 1234",
                    "contact_email": "data@example.gov.cn",
                }
            ]
        )
        for i, (name, landing) in enumerate(
            [
                (HOSTILE_TEXT, 'http://example.gov.cn/a b{c}|^`"<>'),
                ("公交线路信息", "relative/page"),
                ("公交站点信息", None),
            ]
        ):
            directory.create(
                {
                    "name": name,
                    "provider_name": "区数据资源局",
                    "provider_code": "11340000MB0000001X",
                    "summary": HOSTILE_TEXT if i == 0 else "摘要",
                    "share_type": "无条件共享",
                    "open_type": "安全开放" if i else "无条件开放",
                    "update_cycle": "每月",
                    "formats": ["csv", "shp-x"],
                    "tags": ["交通", 'a "b"'],
                    "theme": "交通运输",
                    "landing_page": landing,
                    "data_items": [
                        {"name": "线路", "data_type": "字符型", "length": 20},
                        {"name": "说明", "data_type": "字符型", "description": HOSTILE_TEXT},
                    ],
                    "updated_at": dt.datetime(2025, 1, 5, 8, 30),
                }
            )
    finally:
        directory.close()
    reader = add_user(workspace, "reader", roles=("analyst",), org="区数据资源局")
    with TestClient(create_app(workspace), headers=bearer(reader)) as client:
        yield client, workspace


def test_dcat_turtle_is_the_json_ld_graph(small):
    """/catalog.ttl is written straight from the JSON-LD nodes (not through rdflib): it must
    be the same graph, hostile text (quotes, backslashes, control characters, IRIs with
    spaces and braces) included."""
    from rdflib.compare import isomorphic

    client, _ = small
    jsonld = rdflib.Graph().parse(data=client.get("/catalog.jsonld").text, format="json-ld")
    turtle = rdflib.Graph().parse(data=client.get("/catalog.ttl").text, format="turtle")
    assert len(turtle) > 60
    assert isomorphic(jsonld, turtle)
    titles = {str(o) for o in turtle.objects(None, rdflib.URIRef("http://purl.org/dc/terms/title"))}
    assert HOSTILE_TEXT in titles


def test_dcat_files_are_written_once_per_catalogue_state(small):
    client, workspace = small
    exports = client.app.state.web.exports
    first = client.get("/catalog.ttl").text
    assert client.get("/catalog.ttl").text == first
    client.get("/catalog.jsonld")
    client.get("/catalog.jsonld")
    assert exports.writes == 2  # one file per format
    code = client.get("/api/entries", params={"limit": 1}).json()["entries"][0]["code"]
    steward = add_user(workspace, "steward", roles=("steward",), org="区数据资源局")
    reported = client.post(
        f"/api/entries/{quoted(code)}/updates",
        json={"at": "2026-03-04T05:06:07", "reported_by": "交通局"},
        headers=bearer(steward),
    )
    assert reported.status_code == 201
    second = client.get("/catalog.ttl").text
    assert second != first
    assert "2026-03-04T05:06:07+08:00" in second
    assert exports.writes == 3
    # A change made by another process (the CLI) is seen too.
    directory = Directory.open(workspace, user="cli")
    try:
        directory.create(
            {"name": "公交票价", "provider_name": "区数据资源局", "share_type": "无条件共享"}
        )
    finally:
        directory.close()
    assert "公交票价" in client.get("/catalog.ttl").text
    assert exports.writes == 4


def test_a_search_never_indexes_in_the_request(small):
    """A change from another process is indexed by the app's refresher thread: the request
    that finds it queued answers from the index as it is, flagged stale, without indexing."""
    client, workspace = small
    assert client.get("/api/search", params={"q": "公交"}).json()["total"] == 2
    refresher = client.app.state.web.refresher
    assert refresher.running
    directory = Directory.open(workspace, user="cli")
    try:
        directory.create(
            {"name": "公交换乘站", "provider_name": "区数据资源局", "share_type": "无条件共享"}
        )
    finally:
        directory.close()
    seen = []
    deadline = dt.datetime.now() + dt.timedelta(seconds=20)
    while dt.datetime.now() < deadline:
        found = client.get("/api/search", params={"q": "公交"}).json()
        seen.append(found)
        if found["total"] == 3 and not found["stale"]:
            break
        time.sleep(0.1)
    assert seen[-1]["total"] == 3
    assert all(found["refreshed"] == 0 for found in seen)  # no request indexed anything
    assert refresher.refreshes >= 1


def test_a_search_before_the_index_was_ever_built_waits_for_it(tmp_path):
    """A new workspace: the first search waits for the first build, it never answers 0."""
    workspace = Workspace(tmp_path / "ws").ensure()
    directory = Directory.open(workspace, user="tester")
    try:
        for i in range(30):
            directory.create(
                {"name": f"公交线路{i}", "provider_name": "交通局", "share_type": "无条件共享"}
            )
    finally:
        directory.close()
    reader = add_user(workspace, "reader", roles=("analyst",), org="交通局")
    with TestClient(create_app(workspace), headers=bearer(reader)) as client:
        found = client.get("/api/search", params={"q": "公交"}).json()
        assert found["total"] == 30
        assert not found["stale"]
